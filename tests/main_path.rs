//! The mission's main path, end to end: `kubectl apply -f examples/` against the development
//! stack, every VirtualServer and BlockVolume Ready, a resize through stop/resize/start, a held
//! change, attachment in both statuses, deletion protection, and `kubectl delete` leaving the
//! simulated platform with nothing.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::time::Duration;

use suido_e2e::{Kubectl, eventually, platform_counts, repo, start_stack};

const BILLING: &str = "kawasemi-billing";
const OPS: &str = "kawasemi-ops";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_converge_change_and_delete_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let stack = start_stack(dir.path()).await;
    let k = Kubectl::new(stack.kubeconfig(), &dir.path().join("kubectl-cache"));
    let examples = repo().join("examples");
    let examples = examples.to_str().unwrap();

    k.ok(&["apply", "-f", examples]).await;
    for kind in ["vs", "bv"] {
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
    let table = k.ok(&["get", "vs", "-A"]).await;
    assert_eq!(table.matches("Available").count(), 4, "{table}");

    // The attachment shows in the status of both objects.
    assert_eq!(
        k.get("bv", "billing-db-data", BILLING, "{.status.attachedTo}")
            .await,
        "billing-db"
    );
    assert_eq!(
        k.get("vs", "billing-db", BILLING, "{.status.volumes[0]}")
            .await,
        "billing-db-data"
    );
    assert_eq!(
        k.get(
            "vs",
            "billing-db",
            BILLING,
            r#"{.status.conditions[?(@.type=="Attached")].status}"#
        )
        .await,
        "True"
    );
    assert_eq!(
        k.get("bv", "ops-archive", OPS, "{.status.attachedTo}")
            .await,
        "ops-files"
    );

    // A size change on a running server with disruption Immediate: stop, resize, start.
    k.ok(&[
        "patch",
        "vs",
        "ops-files",
        "-n",
        OPS,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":"4CPU-16GB"}}"#,
    ])
    .await;
    eventually("ops-files resized and running", Duration::from_secs(60), || async {
        let out = k
            .get("vs", "ops-files", OPS, "{.status.size} {.status.powerState} {.status.phase} {.status.observedGeneration}")
            .await;
        (out == "4CPU-16GB Running Available 2").then_some(())
    })
    .await;
    let reasons = k
        .ok(&[
            "get",
            "events",
            "-n",
            OPS,
            "--field-selector",
            "involvedObject.name=ops-files",
            "-o",
            "jsonpath={.items[*].reason}",
        ])
        .await;
    let order: Vec<usize> = ["Creating", "Stopping", "Resizing", "Starting"]
        .iter()
        .map(|r| {
            reasons
                .find(r)
                .unwrap_or_else(|| panic!("no {r} event in: {reasons}"))
        })
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "events out of order: {reasons}"
    );
    assert_eq!(
        k.get(
            "vs",
            "ops-files",
            OPS,
            r#"{.status.conditions[?(@.type=="RestartRequired")].status}"#
        )
        .await,
        "False"
    );

    // disruption NextMaintenanceWindow: no window is open, so the change waits visibly.
    k.ok(&[
        "patch",
        "vs",
        "billing-web-1",
        "-n",
        BILLING,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"size":"4CPU-16GB"}}"#,
    ])
    .await;
    k.ok(&[
        "wait",
        "--for=condition=RestartRequired",
        "vs/billing-web-1",
        "-n",
        BILLING,
        "--timeout=60s",
    ])
    .await;
    assert_eq!(
        k.get("vs", "billing-web-1", BILLING, "{.status.size}")
            .await,
        "2CPU-8GB"
    );
    assert_eq!(
        k.get(
            "vs",
            "billing-web-1",
            BILLING,
            "{.status.pendingChanges[0]}"
        )
        .await,
        "size 2CPU-8GB -> 4CPU-16GB"
    );
    assert_eq!(
        k.get("vs", "billing-web-1", BILLING, "{.status.phase}")
            .await,
        "Waiting"
    );

    // Paused: Synced says so, and a spec change is not carried out.
    k.ok(&[
        "patch",
        "vs",
        "billing-web-2",
        "-n",
        BILLING,
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"paused":true,"powerState":"Stopped"}}"#,
    ])
    .await;
    eventually("Synced shows Paused", Duration::from_secs(30), || async {
        let reason = k
            .get(
                "vs",
                "billing-web-2",
                BILLING,
                r#"{.status.conditions[?(@.type=="Synced")].reason}"#,
            )
            .await;
        (reason == "Paused").then_some(())
    })
    .await;
    assert_eq!(
        k.get("vs", "billing-web-2", BILLING, "{.status.powerState}")
            .await,
        "Running"
    );

    // Deletion protection holds the volume, and says why.
    k.ok(&[
        "delete",
        "bv",
        "billing-db-data",
        "-n",
        BILLING,
        "--wait=false",
    ])
    .await;
    eventually(
        "deletion refused by protection",
        Duration::from_secs(30),
        || async {
            let reason = k
                .get(
                    "bv",
                    "billing-db-data",
                    BILLING,
                    r#"{.status.conditions[?(@.type=="Ready")].reason}"#,
                )
                .await;
            (reason == "DeletionProtected").then_some(())
        },
    )
    .await;
    // Without protection it is still attached to a live server: refused, not silently deleted.
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
    eventually(
        "deletion refused while attached",
        Duration::from_secs(30),
        || async {
            let message = k
                .get(
                    "bv",
                    "billing-db-data",
                    BILLING,
                    r#"{.status.conditions[?(@.type=="Ready")].message}"#,
                )
                .await;
            message
                .contains("attached to VirtualServer billing-db")
                .then_some(())
        },
    )
    .await;
    assert_eq!(platform_counts(&stack.sim_url()).await, (4, 2));

    // Everything goes, and the platform keeps nothing (billing-db would be orphaned otherwise).
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
    k.ok(&[
        "delete",
        "-f",
        examples,
        "--ignore-not-found",
        "--timeout=120s",
    ])
    .await;
    eventually("the platform is empty", Duration::from_secs(60), || async {
        (platform_counts(&stack.sim_url()).await == (0, 0)).then_some(())
    })
    .await;
    let left = k.ok(&["get", "vs,bv", "-A", "-o", "name"]).await;
    assert!(left.trim().is_empty(), "objects left: {left}");
    stack.stop().await;
}
