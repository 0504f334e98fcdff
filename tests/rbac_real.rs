//! RBAC proven on the real kube-apiserver (tools/real-apiserver.sh, RBAC on, every request
//! audited). The Helm chart is installed, then the operator runs with a token of the chart's
//! ServiceAccount, so every call it makes goes through RBAC. It must bring every example to
//! Ready and delete them again. The audit log then shows which verbs it used: the chart's
//! ClusterRole and leader Role must grant no verb on a resource that the operator never used.
//! A tenant bound to `suido-tenant-edit` may edit its VirtualServers, but is refused writes to
//! their status and to ServiceLevelReports.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use suido_e2e::{Kubectl, helm, repo};
use suido_operator::{LeaderConfig, OperatorConfig, PlatformSettings, Timing};
use suido_realapi::RealApiServer;
use suido_sim::{Sim, SimConfig, SimProvider};
use tokio::sync::watch;

const KINDS: &str = "virtualservers,blockvolumes,loadbalancers,wafinstances,\
                     intrusionpreventions,backuppolicies,smtprelays,serversnapshots,\
                     serverrestores,tenants";
const OPERATOR: &str = "system:serviceaccount:suido-system:suido-operator";

/// A kubeconfig like `admin`'s, for the bearer `token`.
fn kubeconfig_with_token(admin: &Path, token: &str, out: &Path) {
    let text = std::fs::read_to_string(admin).unwrap();
    let mut doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    for user in doc["users"].as_sequence_mut().unwrap() {
        user["user"] = serde_yaml::to_value(serde_json::json!({ "token": token })).unwrap();
    }
    std::fs::write(out, serde_yaml::to_string(&doc).unwrap()).unwrap();
}

/// (apiGroup, resource[/subresource], verb) of every request `user` made that RBAC allowed.
fn used_by(audit: &Path, user: &str) -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(audit).unwrap();
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let e: Value = serde_json::from_str(line).unwrap();
        if e["user"]["username"] != user
            || e["annotations"]["authorization.k8s.io/decision"] != "allow"
        {
            continue;
        }
        let Some(r) = e["objectRef"]["resource"].as_str() else {
            continue;
        };
        let resource = match e["objectRef"]["subresource"].as_str() {
            Some(sub) => format!("{r}/{sub}"),
            None => r.to_owned(),
        };
        let group = e["objectRef"]["apiGroup"].as_str().unwrap_or("").to_owned();
        used.insert((group, resource, e["verb"].as_str().unwrap().to_owned()));
    }
    used
}

/// The requests of the operator that RBAC refused, shortened.
fn forbidden(audit: &Path) -> Vec<String> {
    std::fs::read_to_string(audit)
        .unwrap()
        .lines()
        .filter(|l| {
            l.contains(OPERATOR) && l.contains(r#""authorization.k8s.io/decision":"forbid""#)
        })
        .map(|l| l.chars().take(400).collect())
        .collect()
}

/// (apiGroup, resource, verb) granted by the rules of a rendered Role or ClusterRole.
fn granted(role: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for rule in role["rules"].as_array().unwrap() {
        for g in rule["apiGroups"].as_array().unwrap() {
            for r in rule["resources"].as_array().unwrap() {
                for v in rule["verbs"].as_array().unwrap() {
                    out.insert((
                        g.as_str().unwrap().to_owned(),
                        r.as_str().unwrap().to_owned(),
                        v.as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_runs_under_its_service_account_with_no_unused_verb() {
    let dir = tempfile::tempdir().unwrap();
    let api_dir = dir.path().join("realapi");
    let server = tokio::task::spawn_blocking({
        let d = api_dir.clone();
        move || RealApiServer::up(&suido_realapi::default_script(), &d)
    })
    .await
    .unwrap()
    .unwrap();
    let api_dir = server.dir().to_path_buf();
    let admin = server.kubeconfig().to_path_buf();
    let k = Kubectl::new(&admin, &dir.path().join("kubectl-cache"));

    // The chart, as a platform engineer installs it: CRDs, ServiceAccount, roles.
    let chart = repo().join("charts/suido");
    let out = Command::new(helm())
        .args(["install", "suido", chart.to_str().unwrap()])
        .args(["--namespace", "suido-system", "--create-namespace"])
        .arg("--kubeconfig")
        .arg(&admin)
        .output()
        .expect("helm runs (CI installs it with .ci/install-helm.sh)");
    assert!(
        out.status.success(),
        "helm install failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd",
        "--all",
        "--timeout=60s",
    ])
    .await;

    // The operator, with a token of the chart's ServiceAccount.
    let token = k
        .ok(&[
            "create",
            "token",
            "suido-operator",
            "-n",
            "suido-system",
            "--duration=2h",
        ])
        .await;
    let operator_kubeconfig = dir.path().join("operator.kubeconfig");
    kubeconfig_with_token(&admin, token.trim(), &operator_kubeconfig);
    let mut sim_config = SimConfig::new(dir.path().join("sim"));
    sim_config.rules.make_instant();
    let sim = Sim::start(sim_config).await.unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let operator = tokio::spawn({
        let client = suido::dev::client_for(&operator_kubeconfig).await.unwrap();
        let platform = Arc::new(SimProvider::new(&sim.url()).unwrap());
        async move {
            suido_operator::run(
                OperatorConfig {
                    client,
                    platform,
                    settings: PlatformSettings::default(),
                    probe_addr: "127.0.0.1:0".parse().unwrap(),
                    timing: Timing {
                        poll: Duration::from_millis(200),
                        ..Timing::default()
                    },
                    leader: Some(LeaderConfig::new("suido-system", "rbac-test")),
                },
                stop_rx,
                |_| {},
            )
            .await
        }
    });

    let examples = repo().join("examples");
    k.ok(&["apply", "-f", examples.to_str().unwrap()]).await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "virtualservers,blockvolumes,loadbalancers,wafinstances,intrusionpreventions,\
         backuppolicies,smtprelays,tenants",
        "--all",
        "-A",
        "--timeout=180s",
    ])
    .await;

    // The one-off operations: a snapshot (the server stopped and started again) and a system
    // restore from it.
    let operations = repo().join("examples/operations");
    let snapshot = operations.join("snapshot.yaml");
    k.ok(&["apply", "-f", snapshot.to_str().unwrap()]).await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "serversnapshot/ops-files-before-upgrade",
        "-n",
        "kawasemi-ops",
        "--timeout=60s",
    ])
    .await;
    let restore = operations.join("system-restore.yaml");
    k.ok(&["apply", "-f", restore.to_str().unwrap()]).await;
    k.ok(&[
        "wait",
        "--for=jsonpath={.status.phase}=Succeeded",
        "serverrestore/ops-files-rollback",
        "-n",
        "kawasemi-ops",
        "--timeout=60s",
    ])
    .await;

    // A tenant's own credentials: edit, but no status and no ServiceLevelReports.
    k.ok(&["create", "serviceaccount", "desk", "-n", "kawasemi-billing"])
        .await;
    k.ok(&[
        "create",
        "rolebinding",
        "desk-edit",
        "-n",
        "kawasemi-billing",
        "--clusterrole=suido-tenant-edit",
        "--serviceaccount=kawasemi-billing:desk",
    ])
    .await;
    let tenant_token = k
        .ok(&["create", "token", "desk", "-n", "kawasemi-billing"])
        .await;
    let tenant_kubeconfig = dir.path().join("tenant.kubeconfig");
    kubeconfig_with_token(&admin, tenant_token.trim(), &tenant_kubeconfig);
    let tenant = Kubectl::new(&tenant_kubeconfig, &dir.path().join("tenant-cache"));
    let ns = ["-n", "kawasemi-billing"];
    tenant
        .ok(&["label", "vs", "billing-db", "owner=desk", ns[0], ns[1]])
        .await;
    let refused = |args: &[&str]| {
        let out = tenant.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "kubectl {args:?} was allowed:\n{text}"
        );
        assert!(text.contains("forbidden"), "kubectl {args:?}:\n{text}");
    };
    refused(&[
        "patch",
        "vs",
        "billing-db",
        "-n",
        "kawasemi-billing",
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status":{"phase":"Failed"}}"#,
    ]);
    let report = dir.path().join("report.yaml");
    std::fs::write(
        &report,
        "apiVersion: infra.suido.dev/v1alpha1\nkind: ServiceLevelReport\nmetadata:\n  name: forged\n  \
         namespace: kawasemi-billing\nspec:\n  month: \"2026-11\"\n  serverName: billing-db\n",
    )
    .unwrap();
    refused(&["create", "-f", report.to_str().unwrap()]);
    refused(&[
        "delete",
        "servicelevelreport",
        "forged",
        "-n",
        "kawasemi-billing",
    ]);

    // Deletion too goes through the operator's rights (finalizers, platform cleanup). The
    // protected volume is released first.
    k.ok(&[
        "patch",
        "bv",
        "billing-db-data",
        "-n",
        "kawasemi-billing",
        "--type=merge",
        "-p",
        r#"{"spec":{"deletionProtection":false}}"#,
    ])
    .await;
    let operations_kinds = "serverrestores,serversnapshots";
    k.ok(&[
        "delete",
        operations_kinds,
        "--all",
        "-n",
        "kawasemi-ops",
        "--wait=false",
    ])
    .await;
    k.ok(&["delete", "-f", examples.to_str().unwrap(), "--wait=false"])
        .await;
    let start = std::time::Instant::now();
    loop {
        let left = k.ok(&["get", KINDS, "-A", "-o", "name"]).await;
        if left.trim().is_empty() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let denied = forbidden(&api_dir.join("audit.log"));
            panic!("left after the deletes:\n{left}\nrefused to the operator:\n{denied:#?}");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop.send(true);
    operator.await.unwrap().unwrap();

    // Which rights the operator used, from the audit log; nothing the chart grants goes unused.
    let used = used_by(&api_dir.join("audit.log"), OPERATOR);
    let denied = forbidden(&api_dir.join("audit.log"));
    assert!(
        denied.is_empty(),
        "RBAC refused the operator:\n{}",
        denied.join("\n")
    );
    let mut grants = BTreeSet::new();
    for (kind, name, ns) in [
        ("clusterrole", "suido-operator", None),
        ("role", "suido-operator-leader", Some("suido-system")),
    ] {
        let mut args = vec!["get", kind, name, "-o", "json"];
        if let Some(ns) = ns {
            args.extend(["-n", ns]);
        }
        let role: Value = serde_json::from_str(&k.ok(&args).await).unwrap();
        grants.extend(granted(&role));
    }
    let unused: Vec<_> = grants.difference(&used).collect();
    eprintln!("the operator used: {used:#?}");
    assert!(unused.is_empty(), "granted but never used: {unused:#?}");
    drop(server);
    sim.shutdown().await;
}
