//! Operator benchmark: N VirtualServers applied at once against the development stack with
//! zero platform latency. Reports the time until all are Ready, the writes per object (to the
//! VirtualServer objects, and to the API as a whole, events included) and the peak RSS of the
//! operator process. Run with `cargo bench -p suido --bench operator` (`SUIDO_BENCH_SIZES` picks
//! the sizes, default `1000,10000`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure ends it

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ListParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, ResourceExt};
use suido::dev::{DevConfig, DevStack};
use suido_api::v1alpha1::{Tenant, VirtualServer, VirtualServerSpec};
use suido_sim::{Durations, Rules};

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

async fn run(n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = DevConfig::new(dir.path());
    config.run_operator = false;
    config.sim_rules = Rules {
        durations: Durations {
            create_server_ms: 0,
            start_ms: 0,
            stop_ms: 0,
            resize_ms: 0,
            disk_ms: 0,
            delete_server_ms: 0,
            volume_ms: 0,
        },
        ..Rules::default()
    };
    config.sim_rules.quotas.global = suido_sim::Limits::default();
    let stack = DevStack::start(config).await.unwrap();
    let client = stack.client.clone();
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "bench"}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "bench"},
        "spec": {"type": "Vendor", "utility": "Bench", "environment": "Evaluation",
                 "namespaces": ["bench"], "contacts": {"severe": [{"name": "d", "email": "d@example.org"}]}}
    }))
    .unwrap();
    Api::<Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
    let api: Api<VirtualServer> = Api::namespaced(client.clone(), "bench");

    let versions: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>> = Arc::default();
    let seen = versions.clone();
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let watch_api = api.clone();
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

    let applied = Instant::now();
    let spec: VirtualServerSpec =
        serde_json::from_value(serde_json::json!({"size": "1CPU-2GB"})).unwrap();
    futures::stream::iter(0..n)
        .for_each_concurrent(8, |i| {
            let api = api.clone();
            let spec = spec.clone();
            async move {
                api.create(
                    &PostParams::default(),
                    &VirtualServer::new(&format!("vs-{i:05}"), spec),
                )
                .await
                .unwrap();
            }
        })
        .await;
    let apply_time = applied.elapsed();
    let rv_before = api
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version;

    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["operator", "--kubeconfig"])
        .arg(stack.kubeconfig())
        .args(["--sim-url", &stack.sim_url(), "--metrics", "127.0.0.1:0"])
        .env(
            "RUST_LOG",
            std::env::var("SUIDO_BENCH_LOG").unwrap_or_else(|_| "error".to_owned()),
        )
        .stdout(Stdio::null())
        .stderr(match std::env::var("SUIDO_BENCH_LOG_FILE") {
            Ok(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            Err(_) => Stdio::null(),
        })
        .spawn()
        .unwrap();
    let pid = child.id();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let ready = api
            .list(&ListParams::default())
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
            .count();
        if ready == n {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1800),
            "{ready}/{n} Ready after 30 min"
        );
    }
    let converge = start.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss = peak_rss_kib(pid);
    let rv_after = api
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version;
    child.kill().unwrap();
    child.wait().unwrap();
    watch.abort();
    let object_writes: usize = versions.lock().unwrap().values().map(|v| v.len() - 1).sum();
    let rv = |v: Option<String>| v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let api_writes = rv(rv_after).saturating_sub(rv(rv_before));
    println!(
        "n={n:>6}  apply {:>6.1} s ({:>5.0} creates/s)  all Ready after {:>6.1} s ({:>5.0} servers/s)  \
         writes/object {:.2} (objects) {:.2} (all API writes incl. events)  operator peak RSS {} MiB",
        apply_time.as_secs_f64(),
        n as f64 / apply_time.as_secs_f64(),
        converge.as_secs_f64(),
        n as f64 / converge.as_secs_f64(),
        object_writes as f64 / n as f64,
        api_writes as f64 / n as f64,
        rss / 1024,
    );
    stack.stop().await;
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are no sub-benchmarks
    }
    let sizes: Vec<usize> = std::env::var("SUIDO_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,10000".to_owned())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = vec![];
    for n in sizes {
        let t = Instant::now();
        runtime.block_on(run(n));
        results.push((n, t.elapsed()));
    }
    if let [(n1, t1), (n2, t2), ..] = results[..] {
        println!(
            "scaling: {}x the servers took {:.1}x the time",
            n2 / n1.max(1),
            t2.as_secs_f64() / t1.as_secs_f64()
        );
    }
}
