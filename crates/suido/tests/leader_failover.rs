//! Leader election: two `suido operator --leader-elect` replicas share one Lease. The standby
//! makes no platform call and no reconcile while the leader runs. Killing the leader with
//! SIGKILL while servers are being built hands the Lease to the standby within 15 s. The new
//! leader finishes the work with exactly one platform server per VirtualServer.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, PostParams};
use suido::dev::{DevConfig, DevStack};
use suido_api::v1alpha1::{VirtualServer, VirtualServerSpec};
use suido_provider::{ComputeProvider, Tags};
use suido_sim::{Durations, Rules, SimProvider};

const SERVERS: usize = 40;

/// An operator replica, killed when dropped so that a failing test leaves no process behind.
struct Replica {
    child: Child,
    metrics: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn replica(kubeconfig: &std::path::Path, sim_url: &str, identity: &str) -> Replica {
    let mut child = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["operator", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--sim-url", sim_url, "--metrics", "127.0.0.1:0"])
        .args(["--leader-elect", "--leader-namespace", "default"])
        .args(["--leader-identity", identity])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The first line on stderr names the metrics address; the rest is drained.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let metrics = line.trim().rsplit(' ').next().unwrap().to_owned();
    std::thread::spawn(move || for _ in stderr.lines() {});
    Replica { child, metrics }
}

/// The replica's /metrics text.
async fn metrics(r: &Replica) -> String {
    let url = format!("{}/metrics", r.metrics);
    tokio::task::spawn_blocking(move || {
        let out = Command::new("curl").args(["-s", &url]).output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .unwrap()
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("suido-operator")
        .await
        .unwrap()
        .and_then(|l| l.spec)
        .and_then(|s| s.holder_identity)
}

async fn ready(api: &Api<VirtualServer>) -> usize {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|vs| {
            vs.status.as_ref().is_some_and(|s| {
                s.managed
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_hands_over_within_15_seconds_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = DevConfig::new(dir.path());
    config.run_operator = false;
    config.sim_rules = Rules {
        durations: Durations {
            create_server_ms: 1500,
            ..Durations::instant()
        },
        // Without token deduplication, only the operator's marker and lookup prevent a
        // second server when the new leader takes over a create in flight.
        idempotency_tokens: false,
        ..Rules::default()
    };
    let stack = DevStack::start(config).await.unwrap();
    let client = stack.client.clone();
    let ns = "failover";
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let tenant: suido_api::v1alpha1::Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": "failover-vendor"},
        "spec": {"type": "Vendor", "utility": "Kawasemi", "environment": "Development",
                 "namespaces": [ns], "contacts": {"severe": [{"name": "desk", "email": "desk@example.org"}]}}
    }))
    .unwrap();
    Api::<suido_api::v1alpha1::Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();

    let kubeconfig = stack.kubeconfig().to_path_buf();
    let sim_url = stack.sim_url();
    let leases: Api<Lease> = Api::namespaced(client.clone(), "default");
    let first = replica(&kubeconfig, &sim_url, "replica-a");
    let start = Instant::now();
    while holder(&leases).await.as_deref() != Some("replica-a") {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "replica-a never led"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let second = replica(&kubeconfig, &sim_url, "replica-b");

    let api: Api<VirtualServer> = Api::namespaced(client.clone(), ns);
    for i in 0..SERVERS {
        let spec: VirtualServerSpec =
            serde_json::from_value(serde_json::json!({"size": "1CPU-2GB"})).unwrap();
        api.create(
            &PostParams::default(),
            &VirtualServer::new(&format!("vs-{i:03}"), spec),
        )
        .await
        .unwrap();
    }
    // Kill the leader while creates run (each takes 1.5 s on the platform).
    let sim = SimProvider::new(&sim_url).unwrap();
    let start = Instant::now();
    while sim.list_servers(&Tags::new()).await.unwrap().len() < SERVERS / 4 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the leader built nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let standby = metrics(&second).await;
    assert!(
        !standby.contains("suido_reconciles_total{")
            && !standby.contains("suido_provider_calls_total{"),
        "the standby reconciled or called the platform:\n{standby}"
    );
    assert!(
        ready(&api).await < SERVERS,
        "the kill lands before everything is built"
    );
    drop(first); // SIGKILL
    let killed = Instant::now();
    while holder(&leases).await.as_deref() != Some("replica-b") {
        assert!(
            killed.elapsed() < Duration::from_secs(15),
            "the standby did not take the lease within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let handover = killed.elapsed();
    eprintln!("lease handed over {handover:?} after the kill");

    while ready(&api).await < SERVERS {
        assert!(
            killed.elapsed() < Duration::from_secs(120),
            "the new leader did not finish"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let servers = sim.list_servers(&Tags::new()).await.unwrap();
    let mut per_uid: BTreeMap<String, usize> = BTreeMap::new();
    for s in &servers {
        *per_uid
            .entry(s.tags.get("suido.dev/uid").cloned().unwrap_or_default())
            .or_default() += 1;
    }
    assert_eq!(
        servers.len(),
        SERVERS,
        "one server per VirtualServer: {per_uid:?}"
    );
    assert!(per_uid.values().all(|n| *n == 1), "{per_uid:?}");
    let lease = leases.get("suido-operator").await.unwrap().spec.unwrap();
    assert_eq!(lease.lease_transitions, Some(1), "one handover");
    drop(second);
    stack.stop().await;
}
