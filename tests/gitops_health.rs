//! How GitOps tools read Suido's status. Argo CD and Flux compute the health of custom
//! resources with kstatus (sigs.k8s.io/cli-utils). After `kubectl apply -f examples/` has
//! converged, every example object must read Current. A vendor-only kind in an operator tenant's
//! namespace (a terminal refusal) must read Failed, and a size change held for the next
//! maintenance window (work in progress) InProgress. The objects are read back with kubectl and
//! judged by the Go test in tools/kstatus, which runs kstatus itself.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use suido_e2e::{Kubectl, eventually, repo, start_stack};

/// The kinds of the examples, as kubectl names them, with the namespaced ones first.
const KINDS: &[&str] = &[
    "virtualservers.infra.suido.dev",
    "blockvolumes.infra.suido.dev",
    "loadbalancers.infra.suido.dev",
    "wafinstances.infra.suido.dev",
    "intrusionpreventions.infra.suido.dev",
    "backuppolicies.infra.suido.dev",
    "smtprelays.infra.suido.dev",
    "secrets",
    "tenants.infra.suido.dev",
    "maintenancewindows.infra.suido.dev",
];

const READY_KINDS: &str = "virtualservers,blockvolumes,loadbalancers,wafinstances,\
                           intrusionpreventions,backuppolicies,smtprelays,tenants";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_read_current_refusals_failed_and_held_work_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    let examples = repo().join("examples");
    k.ok(&["apply", "-f", examples.to_str().unwrap()]).await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        READY_KINDS,
        "--all",
        "-A",
        "--timeout=180s",
    ])
    .await;

    let mut cases = vec![];
    for kind in KINDS {
        let list: Value =
            serde_json::from_str(&k.ok(&["get", kind, "-A", "-o", "json"]).await).unwrap();
        for item in list["items"].as_array().unwrap() {
            // Only the examples' objects: a Secret the control plane made is not ours to judge.
            let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
            if *kind == "secrets" && !ns.starts_with("kawasemi") {
                continue;
            }
            cases.push(json!({"expect": "Current", "object": item}));
        }
    }
    assert!(cases.len() >= 15, "the examples were read: {}", cases.len());

    // A terminal refusal: a WAF (vendor-only) in the operator tenant's namespace.
    let refused = dir.path().join("refused.yaml");
    std::fs::write(
        &refused,
        "apiVersion: infra.suido.dev/v1alpha1\nkind: WafInstance\nmetadata:\n  name: ops-waf\n  \
         namespace: kawasemi-ops\nspec:\n  plan: 2CPU-4GB\n  functions:\n    signatureInspection: \
         true\n  protects:\n    - kind: VirtualServer\n      name: ops-files\n",
    )
    .unwrap();
    k.ok(&["apply", "-f", refused.to_str().unwrap()]).await;
    // Work in progress: a resize of a running server held for the next maintenance window.
    k.ok(&[
        "patch",
        "vs",
        "ops-files",
        "-n",
        "kawasemi-ops",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":"4CPU-16GB","disruption":"NextMaintenanceWindow"}}"#,
    ])
    .await;
    let condition = |kind: &'static str, name: &'static str, type_: &'static str| {
        let k = &k;
        async move {
            k.get(
                kind,
                name,
                "kawasemi-ops",
                &format!(r#"{{.status.conditions[?(@.type=="{type_}")].status}}"#),
            )
            .await
        }
    };
    eventually("the WAF refused", Duration::from_secs(30), || async {
        (condition("wafinstance", "ops-waf", "Stalled").await == "True").then_some(())
    })
    .await;
    eventually("the resize held", Duration::from_secs(30), || async {
        (condition("vs", "ops-files", "Reconciling").await == "True").then_some(())
    })
    .await;
    for (kind, name, expect) in [
        ("wafinstance", "ops-waf", "Failed"),
        ("vs", "ops-files", "InProgress"),
    ] {
        let object: Value = serde_json::from_str(
            &k.ok(&["get", kind, name, "-n", "kawasemi-ops", "-o", "json"])
                .await,
        )
        .unwrap();
        cases.retain(|c| c["object"]["metadata"]["uid"] != object["metadata"]["uid"]);
        cases.push(json!({"expect": expect, "object": object}));
    }

    let file = dir.path().join("kstatus-cases.json");
    std::fs::write(&file, serde_json::to_vec_pretty(&cases).unwrap()).unwrap();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("go")
            .args(["test", "-count=1", "-v", "./..."])
            .current_dir(repo().join("tools/kstatus"))
            .env("SUIDO_KSTATUS_CASES", &file)
            .output()
            .expect("go runs (CI installs it)")
    })
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "kstatus disagrees:\n{text}");
    eprintln!("{text}");
    stack.stop().await;
}
