//! The service kinds end to end with the real kubectl: after `kubectl apply -f examples/` every
//! object of every kind is Ready; vendor-only kinds in an operator tenant's namespace get
//! `TenantPolicy=False` and build nothing; references to nothing or across namespaces get
//! conditions that say which; deleting everything leaves the platform with nothing of any kind.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::time::Duration;

use suido_e2e::{Kubectl, eventually, repo, start_stack};
use suido_sim::SimAdmin;

const BILLING: &str = "kawasemi-billing";
const OPS: &str = "kawasemi-ops";

/// Every platform family and how many resources the simulator holds of it.
async fn platform_holdings(sim_url: &str) -> Vec<(&'static str, usize)> {
    let admin = SimAdmin::new(sim_url).unwrap();
    let mut out = vec![];
    for family in [
        "servers",
        "volumes",
        "load-balancers",
        "wafs",
        "ips",
        "smtp-relays",
        "backup-jobs",
        "snapshots",
        "restores",
    ] {
        let list = admin.list(family).await.unwrap();
        let n = list["items"].as_array().map_or(0, Vec::len);
        out.push((family, n));
    }
    out
}

async fn condition(k: &Kubectl, kind: &str, name: &str, ns: &str, t: &str) -> String {
    k.get(
        kind,
        name,
        ns,
        &format!(
            r#"{{.status.conditions[?(@.type=="{t}")].status}} {{.status.conditions[?(@.type=="{t}")].reason}}"#
        ),
    )
    .await
}

async fn apply_yaml(k: &Kubectl, dir: &std::path::Path, name: &str, yaml: &str) {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_is_ready_and_the_rules_hold() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    let examples = repo().join("examples");
    k.ok(&["apply", "-f", examples.to_str().unwrap()]).await;
    for kind in ["tn", "mw", "vs", "bv", "lb", "waf", "ips", "smtp", "bkp"] {
        k.ok(&[
            "wait",
            "--for=condition=Ready",
            kind,
            "--all",
            "-A",
            "--timeout=120s",
        ])
        .await;
    }
    // The load balancer resolved its backends by label, with their health.
    assert_eq!(
        k.get("lb", "billing-lb", BILLING, "{.status.healthyBackends}")
            .await,
        "2"
    );
    assert_eq!(
        k.get("lb", "billing-lb", BILLING, "{.status.address}")
            .await,
        "10.20.30.10"
    );
    assert_eq!(
        k.get("waf", "billing-waf", BILLING, "{.status.protectedTargets}")
            .await,
        "1"
    );
    assert_eq!(
        k.get("ips", "billing-ips", BILLING, "{.status.protectedTargets}")
            .await,
        "2"
    );
    assert!(
        !k.get("smtp", "billing-mail", BILLING, "{.status.relayEndpoint}")
            .await
            .is_empty()
    );
    let mw = eventually("the window's state", Duration::from_secs(30), || async {
        let out = k
            .ok(&[
                "get",
                "mw",
                "hypervisor-patch-2026-12",
                "-o",
                "jsonpath={.status.state} {.status.affectedTenants}",
            ])
            .await;
        (!out.trim().is_empty()).then_some(out)
    })
    .await;
    assert!(
        mw.contains("kawasemi-water") && mw.contains("seiryu-systems"),
        "{mw}"
    );
    eventually("the Tenant's counts", Duration::from_secs(30), || async {
        let out = k
            .ok(&[
                "get",
                "tn",
                "seiryu-systems",
                "-o",
                "jsonpath={.status.managedObjects.VirtualServer}",
            ])
            .await;
        (out == "3").then_some(())
    })
    .await;
    let before = platform_holdings(&stack.sim_url()).await;

    // Vendor-only kinds in the operator tenant's namespace: refused, nothing built.
    let waf = std::fs::read_to_string(examples.join("32-waf.yaml"))
        .unwrap()
        .replace(BILLING, OPS)
        .replace(
            "kind: LoadBalancer\n      name: billing-lb",
            "kind: VirtualServer\n      name: ops-files",
        );
    apply_yaml(&k, dir.path(), "ops-waf", &waf).await;
    let lb = std::fs::read_to_string(examples.join("31-load-balancer.yaml"))
        .unwrap()
        .replace(BILLING, OPS)
        .replace("groupId: 51", "groupId: 52");
    apply_yaml(&k, dir.path(), "ops-lb", &lb).await;
    for (kind, name) in [("waf", "billing-waf"), ("lb", "billing-lb")] {
        eventually(
            &format!("{kind} refused in {OPS}"),
            Duration::from_secs(30),
            || async {
                let c = condition(&k, kind, name, OPS, "TenantPolicy").await;
                (c == "False VendorOnlyFeature").then_some(())
            },
        )
        .await;
    }
    assert_eq!(
        platform_holdings(&stack.sim_url()).await,
        before,
        "nothing was built"
    );

    // References to nothing, and across namespaces.
    let ips = |name: &str, target: &str| {
        format!(
            "apiVersion: infra.suido.dev/v1alpha1\nkind: IntrusionPrevention\nmetadata:\n  name: {name}\n  namespace: {BILLING}\nspec:\n  targets:\n    - kind: VirtualServer\n      name: {target}\n"
        )
    };
    apply_yaml(
        &k,
        dir.path(),
        "ips-none",
        &ips("ips-none", "no-such-server"),
    )
    .await;
    apply_yaml(
        &k,
        dir.path(),
        "ips-across",
        &ips("ips-across", "kawasemi-ops/ops-files"),
    )
    .await;
    for (name, reason) in [
        ("ips-none", "ReferenceNotFound"),
        ("ips-across", "CrossNamespaceReference"),
    ] {
        eventually(
            &format!("{name} {reason}"),
            Duration::from_secs(30),
            || async {
                let c = condition(&k, "ips", name, BILLING, "Ready").await;
                (c == format!("False {reason}")).then_some(())
            },
        )
        .await;
    }
    assert_eq!(
        platform_holdings(&stack.sim_url()).await,
        before,
        "nothing was built"
    );

    // Deleting everything leaves the platform empty of every kind.
    k.ok(&[
        "patch",
        "bv",
        "billing-db-data",
        "-n",
        BILLING,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"deletionProtection":false}}"#,
    ])
    .await;
    for f in [
        "50-smtp-relay.yaml",
        "40-backup-policy.yaml",
        "33-intrusion-prevention.yaml",
        "32-waf.yaml",
        "31-load-balancer.yaml",
    ] {
        k.ok(&[
            "delete",
            "-f",
            examples.join(f).to_str().unwrap(),
            "--timeout=90s",
        ])
        .await;
    }
    k.ok(&["delete", "ips", "--all", "-n", BILLING, "--timeout=60s"])
        .await;
    k.ok(&["delete", "waf,lb", "--all", "-n", OPS, "--timeout=60s"])
        .await;
    k.ok(&[
        "patch",
        "vs",
        "billing-db",
        "-n",
        BILLING,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"deletionPolicy":"Delete"}}"#,
    ])
    .await;
    k.ok(&["delete", "vs,bv", "--all", "-A", "--timeout=90s"])
        .await;
    let start = std::time::Instant::now();
    loop {
        let h = platform_holdings(&stack.sim_url()).await;
        if h.iter().all(|(_, n)| *n == 0) {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let events = k
                .ok(&["get", "events", "-A", "--sort-by=.lastTimestamp"])
                .await;
            let vols = SimAdmin::new(&stack.sim_url())
                .unwrap()
                .list("volumes")
                .await
                .unwrap();
            panic!("the platform still holds {h:?}\n{vols}\n{events}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stack.stop().await;
}
