//! Changes that need a stop, held by the disruption policy, end to end with the real kubectl: a
//! `NextMaintenanceWindow` resize runs when a window that stops servers opens (and the server
//! gets the window's Events), and a `NextStop` resize runs when the tenant stops the server.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::time::Duration;

use jiff::Timestamp;
use suido_e2e::{Kubectl, eventually, repo, start_stack};

const OPS: &str = "kawasemi-ops";

async fn apply_yaml(k: &Kubectl, dir: &std::path::Path, name: &str, yaml: &str) {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
}

fn server(name: &str, disruption: &str) -> String {
    format!(
        "apiVersion: infra.suido.dev/v1alpha1\nkind: VirtualServer\nmetadata:\n  name: {name}\n  namespace: {OPS}\nspec:\n  size: 1CPU-2GB\n  disruption: {disruption}\n"
    )
}

async fn status(k: &Kubectl, name: &str) -> String {
    k.get(
        "vs",
        name,
        OPS,
        r#"{.status.size} {.status.powerState} {.status.conditions[?(@.type=="RestartRequired")].status}"#,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_changes_run_in_the_window_or_at_the_tenants_stop() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    for f in ["00-namespaces.yaml", "01-tenants.yaml"] {
        k.ok(&[
            "apply",
            "-f",
            repo().join("examples").join(f).to_str().unwrap(),
        ])
        .await;
    }
    apply_yaml(
        &k,
        dir.path(),
        "w",
        &server("windowed", "NextMaintenanceWindow"),
    )
    .await;
    apply_yaml(&k, dir.path(), "s", &server("at-stop", "NextStop")).await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "vs",
        "--all",
        "-n",
        OPS,
        "--timeout=60s",
    ])
    .await;

    // A window opening in 15 s, announced now, stopping every tenant's servers.
    let now = Timestamp::now();
    let start = now + jiff::SignedDuration::from_secs(15);
    let end = now + jiff::SignedDuration::from_secs(600);
    apply_yaml(&k, dir.path(), "mw", &format!(
        "apiVersion: infra.suido.dev/v1alpha1\nkind: MaintenanceWindow\nmetadata:\n  name: soon\nspec:\n  start: \"{start}\"\n  end: \"{end}\"\n  announcedAt: \"{now}\"\n  scope:\n    allTenants: true\n  stopsServers: true\n"
    ))
    .await;
    eventually(
        "the window is announced",
        Duration::from_secs(20),
        || async {
            let s = k
                .ok(&["get", "mw", "soon", "-o", "jsonpath={.status.state}"])
                .await;
            (s == "Announced").then_some(())
        },
    )
    .await;
    for name in ["windowed", "at-stop"] {
        k.ok(&[
            "patch",
            "vs",
            name,
            "-n",
            OPS,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"size":"1CPU-4GB"}}"#,
        ])
        .await;
    }
    for name in ["windowed", "at-stop"] {
        eventually(
            &format!("{name} holds its change"),
            Duration::from_secs(20),
            || async { (status(&k, name).await == "1CPU-2GB Running True").then_some(()) },
        )
        .await;
    }
    // The window opens: the held resize runs in it.
    eventually(
        "the resize runs in the window",
        Duration::from_secs(60),
        || async { (status(&k, "windowed").await == "1CPU-4GB Running False").then_some(()) },
    )
    .await;
    let events = k.ok(&["get", "events", "-n", OPS, "-o", "json"]).await;
    assert!(
        events.contains("MaintenanceStarted"),
        "the server was told the window opened"
    );
    // NextStop is not affected by the window: it waits for the tenant's stop.
    assert_eq!(status(&k, "at-stop").await, "1CPU-2GB Running True");
    k.ok(&[
        "patch",
        "vs",
        "at-stop",
        "-n",
        OPS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"powerState":"Stopped"}}"#,
    ])
    .await;
    eventually(
        "the resize runs at the stop",
        Duration::from_secs(60),
        || async { (status(&k, "at-stop").await == "1CPU-4GB Stopped False").then_some(()) },
    )
    .await;
    stack.stop().await;
}
