//! Convergence under injected platform faults (20 % transient errors and timeouts after
//! commit) of VirtualServers, BackupPolicies and LoadBalancers without duplicates, and the API write budget: at most 3 writes per object on create
//! and none on a no-op resync.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use suido::dev::{DevConfig, DevStack};
use suido_api::v1alpha1::{BackupPolicy, LoadBalancer, Tenant, VirtualServer, VirtualServerSpec};
use suido_e2e::{eventually, fast_rules};
use suido_operator::Timing;
use suido_provider::{ComputeProvider, Tags};
use suido_sim::{FaultSettings, SimAdmin, SimProvider};

async fn tenant_namespace(client: &Client, ns: &str) {
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": format!("{ns}-vendor")},
        "spec": {"type": "Vendor", "utility": "Kawasemi", "environment": "Development",
                 "namespaces": [ns], "contacts": {"severe": [{"name": "desk", "email": "desk@example.org"}]}}
    }))
    .unwrap();
    Api::<Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
}

async fn create_servers(api: &Api<VirtualServer>, n: usize, spec: serde_json::Value) {
    for i in 0..n {
        let spec: VirtualServerSpec = serde_json::from_value(spec.clone()).unwrap();
        api.create(
            &PostParams::default(),
            &VirtualServer::new(&format!("vs-{i:03}"), spec),
        )
        .await
        .unwrap();
    }
}

async fn all_ready(api: &Api<VirtualServer>, n: usize) -> bool {
    let items = api.list(&ListParams::default()).await.unwrap().items;
    items.len() == n
        && items.iter().all(|vs| {
            vs.status.as_ref().is_some_and(|s| {
                s.managed
                    .conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
}

fn stack_config(dir: &std::path::Path, resync: Duration) -> DevConfig {
    let mut config = DevConfig::new(dir);
    config.sim_rules = fast_rules();
    config.timing = Timing {
        poll: Duration::from_millis(200),
        drift: resync,
        resync,
        delete_wait: Duration::from_secs(10),
        // Injected faults fail many calls in a row; keep retries frequent in tests.
        backoff_max: Duration::from_secs(2),
        ..Timing::default()
    };
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_transient_errors_and_timeouts_after_commit() {
    converges_under_faults(true).await;
}

/// The same on a platform without idempotency tokens: only the operator's marker and lookup by
/// tag keep a create whose answer was lost from being repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converges_under_faults_on_a_platform_without_tokens() {
    converges_under_faults(false).await;
}

async fn converges_under_faults(idempotency_tokens: bool) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = stack_config(dir.path(), Duration::from_secs(60));
    config.sim_rules.idempotency_tokens = idempotency_tokens;
    let stack = DevStack::start(config).await.unwrap();
    let admin = SimAdmin::new(&stack.sim_url()).unwrap();
    admin
        .set_faults(&FaultSettings {
            seed: 7,
            error_rate: 0.2,
            timeout_after_commit_rate: 0.1,
            latency_ms: 0,
            host_failures: vec![],
        })
        .await
        .unwrap();
    tenant_namespace(&stack.client, "faulty").await;
    let api: Api<VirtualServer> = Api::namespaced(stack.client.clone(), "faulty");
    let n = 30;
    create_servers(
        &api,
        n,
        serde_json::json!({"size": "2CPU-4GB", "monitoring": {"icmp": {"severity": "Severe"}}}),
    )
    .await;
    // Backup policies for some of them, so that a second kind meets the same faults.
    let policies: Api<BackupPolicy> = Api::namespaced(stack.client.clone(), "faulty");
    let backed_up = 5;
    for i in 0..backed_up {
        let policy: BackupPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "infra.suido.dev/v1alpha1", "kind": "BackupPolicy",
            "metadata": {"name": format!("bkp-{i:03}")},
            "spec": {"serverName": format!("vs-{i:03}"), "schedule": "0 2 * * *", "generations": 3}
        }))
        .unwrap();
        policies
            .create(&PostParams::default(), &policy)
            .await
            .unwrap();
    }
    // And load balancers in front of them, chosen by label: a third kind, with references.
    let balancers: Api<LoadBalancer> = Api::namespaced(stack.client.clone(), "faulty");
    let lbs = 4;
    for i in 0..lbs {
        let lb: LoadBalancer = serde_json::from_value(serde_json::json!({
            "apiVersion": "infra.suido.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": format!("lb-{i:03}")},
            "spec": {"topology": "Single", "throughputMbps": 50,
                     "listeners": [{"protocol": "TCP", "port": 5432}],
                     "backends": [{"serverName": format!("vs-{:03}", 10 + i), "port": 5432}]}
        }))
        .unwrap();
        balancers.create(&PostParams::default(), &lb).await.unwrap();
    }
    eventually(
        "every server, policy and load balancer Ready despite faults",
        Duration::from_secs(180),
        || async {
            let policies_ready = policies
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|p| {
                    p.status.as_ref().is_some_and(|s| {
                        s.managed
                            .conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
                })
                .count();
            let balancers_ready = balancers
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .iter()
                .filter(|b| {
                    b.status.as_ref().is_some_and(|s| {
                        s.managed
                            .conditions
                            .iter()
                            .any(|c| c.type_ == "Ready" && c.status == "True")
                    })
                })
                .count();
            (all_ready(&api, n).await && policies_ready == backed_up && balancers_ready == lbs)
                .then_some(())
        },
    )
    .await;
    // Faults off again, so that the checks below read the platform reliably.
    admin.clear_faults().await.unwrap();
    let servers = SimProvider::new(&stack.sim_url())
        .unwrap()
        .list_servers(&Tags::new())
        .await
        .unwrap();
    assert_eq!(servers.len(), n, "no duplicates");
    let uids: BTreeSet<String> = servers
        .iter()
        .map(|s| s.tags["suido.dev/uid"].clone())
        .collect();
    assert_eq!(uids.len(), n, "one server per object");
    let jobs = admin.list("backup-jobs").await.unwrap();
    assert_eq!(
        jobs["items"].as_array().unwrap().len(),
        backed_up,
        "one backup job per policy"
    );
    let platform_lbs = admin.list("load-balancers").await.unwrap();
    let lb_uids: BTreeSet<&str> = platform_lbs["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tags"]["suido.dev/uid"].as_str().unwrap())
        .collect();
    assert_eq!(
        (
            platform_lbs["items"].as_array().unwrap().len(),
            lb_uids.len()
        ),
        (lbs, lbs),
        "one platform load balancer per LoadBalancer"
    );
    // The faults were real: the operator saw transient errors and retried.
    let metrics = reqwest_metrics(stack.probe_addr.unwrap()).await;
    assert!(
        metrics.contains("result=\"transient\""),
        "the operator met transient errors:\n{metrics}"
    );
    stack.stop().await;
}

/// The operator's /metrics text, read with a plain HTTP/1.1 request.
async fn reqwest_metrics(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_costs_at_most_three_writes_and_a_resync_none() {
    let dir = tempfile::tempdir().unwrap();
    // A short resync, so that several no-op resyncs happen while we count.
    let stack = DevStack::start(stack_config(dir.path(), Duration::from_secs(1)))
        .await
        .unwrap();
    tenant_namespace(&stack.client, "counted").await;
    let api: Api<VirtualServer> = Api::namespaced(stack.client.clone(), "counted");
    let versions: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
    let seen = versions.clone();
    let watch_api = api.clone();
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let watch = tokio::spawn(async move {
        let mut synced = Some(synced_tx);
        let mut stream = watcher(watch_api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::InitDone) => {
                    if let Some(tx) = synced.take() {
                        let _ = tx.send(());
                    }
                }
                Ok(watcher::Event::Apply(vs)) | Ok(watcher::Event::InitApply(vs)) => {
                    let rv = vs.resource_version().unwrap_or_default();
                    seen.lock()
                        .unwrap()
                        .entry(vs.name_any())
                        .or_default()
                        .insert(rv);
                }
                _ => {}
            }
        }
    });
    synced_rx.await.unwrap();
    let n = 20;
    create_servers(
        &api,
        n,
        serde_json::json!({"size": "2CPU-8GB", "disks": [{"name": "data", "sizeGb": 100}],
                           "monitoring": {"processes": [{"name": "nginx", "severity": "Minor"}]}}),
    )
    .await;
    eventually("every server Ready", Duration::from_secs(120), || async {
        all_ready(&api, n).await.then_some(())
    })
    .await;
    // Let the watch catch up with the last status writes.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_create = versions.lock().unwrap().clone();
    assert_eq!(after_create.len(), n);
    for (name, rvs) in &after_create {
        // One version is the tenant's create; the rest are the operator's writes.
        let writes = rvs.len() - 1;
        assert!(writes <= 3, "{name}: {writes} writes on create ({rvs:?})");
    }
    // Several resyncs (every second) of settled objects must write nothing.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after_resync = versions.lock().unwrap().clone();
    assert_eq!(after_create, after_resync, "a no-op resync wrote");
    let metrics = reqwest_metrics(stack.probe_addr.unwrap()).await;
    let reconciles: f64 = metrics
        .lines()
        .find(|l| l.starts_with("suido_reconciles_total{controller=\"virtualserver\"}"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(
        reconciles >= (n * 4) as f64,
        "resyncs did run: {reconciles} reconciles"
    );
    let gauge =
        format!("suido_managed_resources{{kind=\"VirtualServer\",phase=\"Available\"}} {n}");
    eventually(
        "the managed-resources gauge",
        Duration::from_secs(15),
        || async {
            reqwest_metrics(stack.probe_addr.unwrap())
                .await
                .contains(&gauge)
                .then_some(())
        },
    )
    .await;
    watch.abort();
    stack.stop().await;
}
