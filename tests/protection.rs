//! Snapshots, restores and backups end to end with the real kubectl: a snapshot of a running
//! server with `WaitForStop` waits, with a condition; with `StopServer` it stops the server,
//! takes the image and starts it again; a system restore leaves the old server gone and a new
//! one running, with the VirtualServer Ready on it; a once-a-minute backup keeps exactly N
//! generations (the platform's clock is moved ahead instead of waiting minutes).

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::time::Duration;

use suido_e2e::{Kubectl, eventually, repo, start_stack};
use suido_provider::ComputeProvider;
use suido_sim::{SimAdmin, SimProvider};

const OPS: &str = "kawasemi-ops";

async fn apply_yaml(k: &Kubectl, dir: &std::path::Path, name: &str, yaml: &str) {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    k.ok(&["apply", "-f", path.to_str().unwrap()]).await;
}

async fn until(k: &Kubectl, what: &str, kind: &str, name: &str, path: &str, want: &str) {
    eventually(what, Duration::from_secs(90), || async {
        (k.get(kind, name, OPS, path).await == want).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_restores_and_backups_follow_the_specification() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    let examples = repo().join("examples");
    for f in [
        "00-namespaces.yaml",
        "01-tenants.yaml",
        "11-operator-servers.yaml",
    ] {
        k.ok(&["apply", "-f", examples.join(f).to_str().unwrap()])
            .await;
    }
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "vs/ops-files",
        "-n",
        OPS,
        "--timeout=90s",
    ])
    .await;
    let sim = SimProvider::new(&stack.sim_url()).unwrap();
    let admin = SimAdmin::new(&stack.sim_url()).unwrap();
    let old = k.get("vs", "ops-files", OPS, "{.status.externalId}").await;

    // WaitForStop on a running server: it waits and says so; nothing is taken.
    apply_yaml(&k, dir.path(), "wait", &format!(
        "apiVersion: infra.suido.dev/v1alpha1\nkind: ServerSnapshot\nmetadata:\n  name: waits\n  namespace: {OPS}\nspec:\n  serverName: ops-files\n"
    ))
    .await;
    until(
        &k,
        "the snapshot waits for a stop",
        "snap",
        "waits",
        r#"{.status.operationPhase} {.status.conditions[?(@.type=="Ready")].reason}"#,
        "WaitingForStop WaitingForStop",
    )
    .await;
    let message = k
        .get(
            "snap",
            "waits",
            OPS,
            r#"{.status.conditions[?(@.type=="Ready")].message}"#,
        )
        .await;
    assert!(message.contains("ops-files"), "{message}");
    assert_eq!(
        admin.list("snapshots").await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    k.ok(&["delete", "snap", "waits", "-n", OPS, "--timeout=60s"])
        .await;

    // StopServer: stopped, imaged, started again.
    k.ok(&[
        "apply",
        "-f",
        examples.join("operations/snapshot.yaml").to_str().unwrap(),
    ])
    .await;
    until(
        &k,
        "the snapshot is taken",
        "snap",
        "ops-files-before-upgrade",
        r#"{.status.operationPhase} {.status.conditions[?(@.type=="Ready")].status}"#,
        "Completed True",
    )
    .await;
    until(
        &k,
        "the server runs again",
        "vs",
        "ops-files",
        "{.status.powerState}",
        "Running",
    )
    .await;

    // A system restore from the snapshot: the old server is deleted, a new one is built, and
    // the VirtualServer follows it.
    k.ok(&[
        "apply",
        "-f",
        examples
            .join("operations/system-restore.yaml")
            .to_str()
            .unwrap(),
    ])
    .await;
    until(
        &k,
        "the restore succeeds",
        "rst",
        "ops-files-rollback",
        "{.status.phase}",
        "Succeeded",
    )
    .await;
    let new = k
        .get("rst", "ops-files-rollback", OPS, "{.status.newServerId}")
        .await;
    assert!(!new.is_empty() && new != old);
    assert_eq!(
        k.get(
            "rst",
            "ops-files-rollback",
            OPS,
            "{.status.previousServerId}"
        )
        .await,
        old
    );
    assert!(
        sim.get_server(&old).await.is_err(),
        "the pre-restore server is deleted"
    );
    // The VirtualServer notices at its next look at the platform (the drift interval).
    eventually(
        "the VirtualServer follows the new server",
        Duration::from_secs(90),
        || async {
            let out = k
                .get(
                    "vs",
                    "ops-files",
                    OPS,
                    r#"{.status.externalId} {.status.conditions[?(@.type=="Ready")].status}"#,
                )
                .await;
            (out == format!("{new} True")).then_some(())
        },
    )
    .await;
    let events = k.ok(&["get", "events", "-n", OPS, "-o", "json"]).await;
    assert!(
        events.contains("\"Replaced\""),
        "a Replaced Event on the VirtualServer"
    );

    // A backup every minute, two generations kept.
    apply_yaml(&k, dir.path(), "bkp", &format!(
        "apiVersion: infra.suido.dev/v1alpha1\nkind: BackupPolicy\nmetadata:\n  name: every-minute\n  namespace: {OPS}\nspec:\n  serverName: ops-files\n  schedule: \"* * * * *\"\n  generations: 2\n  mode: Incremental\n"
    ))
    .await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "bkp/every-minute",
        "-n",
        OPS,
        "--timeout=60s",
    ])
    .await;
    for minute in 0..5 {
        admin.advance_clock(Duration::from_secs(61)).await.unwrap();
        // Status follows at the policy's next look; a label change makes it look now.
        k.ok(&[
            "label",
            "bkp",
            "every-minute",
            "-n",
            OPS,
            "--overwrite",
            &format!("tick={minute}"),
        ])
        .await;
    }
    until(
        &k,
        "two generations kept",
        "bkp",
        "every-minute",
        "{.status.storedGenerations} {.status.recoveryPoints[*].kind}",
        "2 Incremental Full",
    )
    .await;
    let jobs = admin.list("backup-jobs").await.unwrap();
    let points = jobs["items"][0]["recoveryPoints"].as_array().unwrap().len();
    assert_eq!(points, 2, "{jobs}");
    stack.stop().await;
}
