//! Operator benchmark: N VirtualServers applied at once against the development stack with
//! zero platform latency, on the local control plane and on a real kube-apiserver in one run.
//!
//! For each API server and size it reports the time until all are Ready, the writes per object
//! (to the VirtualServer objects; to the bench namespace, Events included, counted by watch; and
//! the API server's resourceVersion delta, which on the real server is etcd's revision and so
//! counts every write in the cluster), the peak RSS of the operator process and the CPU time of
//! each process. Then, with the operator stopped, it measures the API server's write ceiling:
//! status merge patches of 1,000 fresh VirtualServers in another namespace from 1 and from 4
//! clients, with the CPU time per write of each process and, on the real server, the
//! apiserver's own split of its time per write (from its `/metrics`). A table with the ratios
//! ends the run.
//!
//! Run with `cargo bench -p suido --bench operator`. `SUIDO_BENCH_APISERVERS` picks the servers
//! (default `local,real`, in that order); `SUIDO_BENCH_SIZES` picks the sizes for every server
//! (default `1000,10000` on the local control plane and `1000` on the real one).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark: a failure ends it

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Namespace};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use suido::dev::{ApiServer, DevConfig, DevStack, client_for};
use suido_api::v1alpha1::{Tenant, VirtualServer, VirtualServerSpec};
use suido_sim::{Durations, Rules};

/// The namespace of the objects the operator converges.
const BENCH_NS: &str = "bench";
/// The namespace of the write-ceiling objects (no Tenant lists it; no operator runs then).
const CEILING_NS: &str = "bench-ceiling";
/// VirtualServers the ceiling patches, round robin.
const CEILING_OBJECTS: usize = 1000;
/// Status patches per ceiling measurement (each of 1 and 4 clients).
const CEILING_WRITES: usize = 2000;
/// Creates in flight while the objects are applied.
const CREATES_IN_FLIGHT: usize = 8;

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

/// The 1-minute load average, from `/proc/loadavg`.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

/// User and system CPU seconds of process `pid` so far (0 once it has gone), from
/// `/proc/PID/stat` (USER_HZ is 100 on Linux).
fn cpu_seconds(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The fields after the command name, which may hold spaces, start with field 3.
            let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
            let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
            Some((ticks(14)? + ticks(15)?) / 100.0)
        })
        .unwrap_or(0.0)
}

/// The processes a run splits CPU time between: this one (the simulated platform, the counting
/// watches and the Ready poll; with the local server also the control plane), and the real
/// server's three, whose pids `tools/real-apiserver.sh` keeps in `DIR/NAME.pid`.
struct Processes(Vec<(&'static str, u32)>);

impl Processes {
    fn new(server: ApiServer, data_dir: &Path) -> Processes {
        let mut processes = vec![("bench", std::process::id())];
        if server == ApiServer::Real {
            for name in ["kube-apiserver", "etcd", "kube-controller-manager"] {
                let file = data_dir.join("realapi").join(format!("{name}.pid"));
                let pid = std::fs::read_to_string(&file).unwrap();
                processes.push((name, pid.trim().parse().unwrap()));
            }
        }
        Processes(processes)
    }

    fn with(&self, name: &'static str, pid: u32) -> Processes {
        let mut processes = self.0.clone();
        processes.push((name, pid));
        Processes(processes)
    }

    fn cpu(&self) -> Vec<f64> {
        self.0.iter().map(|&(_, pid)| cpu_seconds(pid)).collect()
    }

    /// The CPU seconds each process used since `before` (from [`Processes::cpu`]), divided by
    /// `per`, as `name value` pairs with `unit`.
    fn since(&self, before: &[f64], per: f64, unit: &str) -> String {
        self.0
            .iter()
            .zip(self.cpu().iter().zip(before))
            .map(|((name, _), (after, before))| {
                format!("{name} {:.2}{unit}", (after - before) / per)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The real apiserver's own `/metrics` (Prometheus text).
async fn apiserver_metrics(client: &Client) -> String {
    client
        .request_text(http::Request::get("/metrics").body(vec![]).unwrap())
        .await
        .unwrap()
}

/// The sum of histogram `name` over the series whose labels contain each of `labels`.
fn histogram_sum(metrics: &str, name: &str, labels: &[&str]) -> f64 {
    let sum = format!("{name}_sum");
    metrics
        .lines()
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, labelset) = series.split_once('{').unwrap_or((series, ""));
            (metric == sum && labels.iter().all(|l| labelset.contains(l)))
                .then(|| value.parse::<f64>().ok())?
        })
        .sum()
}

/// Where the real apiserver's time per status patch went between two scrapes of its metrics,
/// in milliseconds per write (summed over concurrent requests, so not wall time at 4 clients).
fn apiserver_breakdown(before: &str, after: &str, writes: usize) -> String {
    let ms = |name: &str, labels: &[&str]| {
        (histogram_sum(after, name, labels) - histogram_sum(before, name, labels)) * 1000.0
            / writes as f64
    };
    format!(
        "request handler {:.2} ms (in it: etcd {:.2} ms, CRD schema validation {:.2} ms, CEL \
         rules {:.2} ms, admission {:.2} ms); filters before it (authentication, authorization, \
         priority and fairness, audit) {:.2} ms",
        ms(
            "apiserver_request_duration_seconds",
            &[
                r#"resource="virtualservers""#,
                r#"subresource="status""#,
                r#"verb="PATCH""#
            ]
        ),
        ms(
            "etcd_request_duration_seconds",
            &[r#"resource="virtualservers""#]
        ),
        ms("apiextensions_apiserver_validation_ratcheting_seconds", &[]),
        ms("apiserver_cel_evaluation_duration_seconds", &[]),
        ms(
            "apiserver_admission_step_admission_duration_seconds",
            &[r#"operation="UPDATE""#]
        ),
        ms("apiserver_request_filter_duration_seconds", &[]),
    )
}

/// What a watch of one kind in one namespace saw: the distinct resourceVersions of each object.
#[derive(Default)]
struct Seen {
    versions: BTreeMap<String, BTreeSet<String>>,
    /// Versions already there when the watch first synced (not writes made during the bench).
    baseline: usize,
    /// Lists after the first: a relisting watch can miss versions, so the counts may be low.
    relists: usize,
}

impl Seen {
    /// Distinct versions seen since the first sync: every create and every change.
    fn writes(&self) -> usize {
        self.versions.values().map(BTreeSet::len).sum::<usize>() - self.baseline
    }
}

/// Watches `api`, recording every version of every object, until the returned task is aborted;
/// returns once the watch has synced.
async fn count_versions<K>(api: Api<K>) -> (Arc<Mutex<Seen>>, tokio::task::JoinHandle<()>)
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let record = seen.clone();
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut synced = Some(synced_tx);
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        while let Some(event) = stream.next().await {
            let mut seen = record.lock().unwrap();
            match event {
                Ok(watcher::Event::Init) if synced.is_none() => seen.relists += 1,
                Ok(watcher::Event::InitDone) => {
                    if let Some(tx) = synced.take() {
                        seen.baseline = seen.versions.values().map(BTreeSet::len).sum();
                        let _ = tx.send(());
                    }
                }
                Ok(watcher::Event::Apply(obj)) | Ok(watcher::Event::InitApply(obj)) => {
                    let rv = obj.resource_version().unwrap_or_default();
                    seen.versions.entry(obj.name_any()).or_default().insert(rv);
                }
                _ => {}
            }
        }
    });
    synced_rx.await.unwrap();
    (seen, task)
}

async fn create_namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
}

/// Creates `vs-00000` … in `api`'s namespace, `CREATES_IN_FLIGHT` at a time.
async fn create_servers(api: &Api<VirtualServer>, n: usize) {
    let spec: VirtualServerSpec =
        serde_json::from_value(serde_json::json!({"size": "1CPU-2GB"})).unwrap();
    futures::stream::iter(0..n)
        .for_each_concurrent(CREATES_IN_FLIGHT, |i| {
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
}

/// The API server's current resourceVersion, from a list of one VirtualServer.
async fn resource_version(api: &Api<VirtualServer>) -> u64 {
    api.list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// One write-ceiling measurement.
struct Ceiling {
    writes_per_s: f64,
    /// CPU milliseconds per write of each process.
    cpu: String,
    /// The real apiserver's own split of its time per write.
    apiserver: Option<String>,
}

/// `CEILING_WRITES` status merge patches (`application/merge-patch+json` on `/status`) of the
/// ceiling objects from `clients` clients, each with its own connection and task, each patch one
/// write (a new condition message, numbered from `seq`). At any moment the clients patch
/// different objects.
async fn ceiling(stack: &DevStack, processes: &Processes, clients: usize, seq: usize) -> Ceiling {
    let mut apis: Vec<Api<VirtualServer>> = vec![];
    for _ in 0..clients {
        let api = Api::namespaced(client_for(stack.kubeconfig()).await.unwrap(), CEILING_NS);
        // Connect (and, on the real server, do the TLS handshake) before the clock starts.
        api.get_metadata("vs-00000").await.unwrap();
        apis.push(api);
    }
    let real = stack.apiserver() == ApiServer::Real;
    let metrics = if real {
        Some(apiserver_metrics(&stack.client).await)
    } else {
        None
    };
    let cpu = processes.cpu();
    let per = CEILING_WRITES / clients;
    let start = Instant::now();
    let tasks: Vec<_> = apis
        .into_iter()
        .enumerate()
        .map(|(t, api)| {
            tokio::spawn(async move {
                for i in 0..per {
                    let k = i * clients + t;
                    let patch = serde_json::json!({"status": {
                        "observedGeneration": 1,
                        "phase": "Available",
                        "conditions": [{
                            "type": "Ready", "status": "True", "reason": "Bench",
                            "message": format!("write {}", seq + k),
                            "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1,
                        }],
                    }});
                    api.patch_status(
                        &format!("vs-{:05}", k % CEILING_OBJECTS),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let writes = per * clients;
    let writes_per_s = writes as f64 / start.elapsed().as_secs_f64();
    let cpu = processes.since(&cpu, writes as f64 / 1000.0, " ms");
    let apiserver = match metrics {
        Some(before) => Some(apiserver_breakdown(
            &before,
            &apiserver_metrics(&stack.client).await,
            writes,
        )),
        None => None,
    };
    Ceiling {
        writes_per_s,
        cpu,
        apiserver,
    }
}

/// The figures of one run: one API server, one size.
struct Run {
    server: ApiServer,
    n: usize,
    load: f64,
    apply: Duration,
    converge: Duration,
    /// Writes to the VirtualServers after their creates.
    object_writes: usize,
    /// Writes in the bench namespace after the creates: the VirtualServers' and the Events'.
    namespace_writes: usize,
    /// The API server's resourceVersion delta over the same time.
    rv_writes: u64,
    relists: usize,
    rss_kib: u64,
    /// CPU seconds of each process until all were Ready.
    cpu_converge: String,
    ceiling_1: Ceiling,
    ceiling_4: Ceiling,
}

impl Run {
    fn per_object(&self, writes: f64) -> f64 {
        writes / self.n as f64
    }

    /// The operator's writes per second (bench namespace) while it converged.
    fn operator_writes_per_s(&self) -> f64 {
        self.namespace_writes as f64 / self.converge.as_secs_f64()
    }
}

async fn run(server: ApiServer, n: usize) -> Run {
    let load = load_average();
    let dir = tempfile::tempdir().unwrap();
    let mut config = DevConfig::new(dir.path());
    config.apiserver = server;
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
    let processes = Processes::new(server, dir.path());
    let client = stack.client.clone();
    create_namespace(&client, BENCH_NS).await;
    let tenant: Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "bench"},
        "spec": {"type": "Vendor", "utility": "Bench", "environment": "Evaluation",
                 "namespaces": [BENCH_NS], "contacts": {"severe": [{"name": "d", "email": "d@example.org"}]}}
    }))
    .unwrap();
    Api::<Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
    let api: Api<VirtualServer> = Api::namespaced(client.clone(), BENCH_NS);
    let (servers, servers_watch) = count_versions(api.clone()).await;
    let (events, events_watch) =
        count_versions(Api::<Event>::namespaced(client.clone(), BENCH_NS)).await;

    let applied = Instant::now();
    create_servers(&api, n).await;
    let apply = applied.elapsed();
    let rv_before = resource_version(&api).await;
    let events_before = events.lock().unwrap().writes();

    let cpu_before = processes.cpu();
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
    let with_operator = processes.with("operator", pid);
    let cpu_before = [cpu_before, vec![0.0]].concat();
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
    let cpu_converge = with_operator.since(&cpu_before, 1.0, " s");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_kib = peak_rss_kib(pid);
    let rv_after = resource_version(&api).await;
    child.kill().unwrap();
    child.wait().unwrap();
    servers_watch.abort();
    events_watch.abort();
    let (object_writes, namespace_writes, relists) = {
        let (servers, events) = (servers.lock().unwrap(), events.lock().unwrap());
        let object_writes = servers.writes() - n;
        (
            object_writes,
            object_writes + events.writes() - events_before,
            servers.relists + events.relists,
        )
    };

    // The write ceiling, with the operator gone: fresh objects in a namespace of their own.
    create_namespace(&client, CEILING_NS).await;
    create_servers(
        &Api::namespaced(client.clone(), CEILING_NS),
        CEILING_OBJECTS,
    )
    .await;
    let ceiling_1 = ceiling(&stack, &processes, 1, 0).await;
    let ceiling_4 = ceiling(&stack, &processes, 4, CEILING_WRITES).await;

    let run = Run {
        server,
        n,
        load,
        apply,
        converge,
        object_writes,
        namespace_writes,
        rv_writes: rv_after.saturating_sub(rv_before),
        relists,
        rss_kib,
        cpu_converge,
        ceiling_1,
        ceiling_4,
    };
    println!(
        "{server:>5} n={n:>6}  apply {:>6.1} s ({:>5.0} creates/s)  all Ready after {:>6.1} s ({:>5.0} servers/s)  \
         writes/object {:.2} (objects) {:.2} (namespace, events incl.) {:.2} (resourceVersion delta)  \
         operator peak RSS {} MiB  ceiling {:.0} / {:.0} writes/s (1 / 4 clients)  load {:.2}{}",
        apply.as_secs_f64(),
        n as f64 / apply.as_secs_f64(),
        converge.as_secs_f64(),
        n as f64 / converge.as_secs_f64(),
        run.per_object(object_writes as f64),
        run.per_object(namespace_writes as f64),
        run.per_object(run.rv_writes as f64),
        rss_kib / 1024,
        run.ceiling_1.writes_per_s,
        run.ceiling_4.writes_per_s,
        load,
        if relists > 0 {
            format!("  ({relists} watch relists: the write counts may be low)")
        } else {
            String::new()
        },
    );
    stack.stop().await;
    run
}

fn print_table(runs: &[Run]) {
    println!();
    println!(
        "| server | N | all Ready | writes/object (objects / namespace / rv delta) | operator writes/s | ceiling 1 client | ceiling 4 clients | operator / ceiling (4 clients) | peak RSS | load |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for r in runs {
        println!(
            "| {} | {} | {:.1} s ({:.0} servers/s) | {:.2} / {:.2} / {:.2} | {:.0} | {:.0} | {:.0} | {:.2} | {} MiB | {:.2} |",
            r.server,
            r.n,
            r.converge.as_secs_f64(),
            r.n as f64 / r.converge.as_secs_f64(),
            r.per_object(r.object_writes as f64),
            r.per_object(r.namespace_writes as f64),
            r.per_object(r.rv_writes as f64),
            r.operator_writes_per_s(),
            r.ceiling_1.writes_per_s,
            r.ceiling_4.writes_per_s,
            r.operator_writes_per_s() / r.ceiling_4.writes_per_s,
            r.rss_kib / 1024,
            r.load,
        );
    }
    println!();
    for r in runs {
        println!(
            "{} n={}: CPU until all Ready ({:.1} s): {}",
            r.server,
            r.n,
            r.converge.as_secs_f64(),
            r.cpu_converge
        );
        for (clients, c) in [(1, &r.ceiling_1), (4, &r.ceiling_4)] {
            println!(
                "{} n={}: ceiling, {clients} client(s), CPU per write: {}",
                r.server, r.n, c.cpu
            );
            if let Some(apiserver) = &c.apiserver {
                println!(
                    "{} n={}: ceiling, {clients} client(s), apiserver per write: {apiserver}",
                    r.server, r.n
                );
            }
        }
    }
    for r in runs.iter().filter(|r| r.relists > 0) {
        println!(
            "{} n={}: the counting watches relisted {} times, so its write counts may be low",
            r.server, r.n, r.relists
        );
    }
    for real in runs.iter().filter(|r| r.server == ApiServer::Real) {
        let Some(local) = runs
            .iter()
            .find(|r| r.server == ApiServer::Local && r.n == real.n)
        else {
            continue;
        };
        println!(
            "real / local at n={}: all Ready {:.2}x the time, create {:.2}x the time, ceiling {:.2}x (1 client) {:.2}x (4 clients), operator writes/s {:.2}x",
            real.n,
            real.converge.as_secs_f64() / local.converge.as_secs_f64(),
            real.apply.as_secs_f64() / local.apply.as_secs_f64(),
            real.ceiling_1.writes_per_s / local.ceiling_1.writes_per_s,
            real.ceiling_4.writes_per_s / local.ceiling_4.writes_per_s,
            real.operator_writes_per_s() / local.operator_writes_per_s(),
        );
    }
    for server in [ApiServer::Local, ApiServer::Real] {
        let sized: Vec<&Run> = runs.iter().filter(|r| r.server == server).collect();
        if let [a, b, ..] = sized[..] {
            println!(
                "scaling on {server}: {:.0}x the servers took {:.1}x the time to all Ready",
                b.n as f64 / a.n.max(1) as f64,
                b.converge.as_secs_f64() / a.converge.as_secs_f64()
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benchmarks; there are no sub-benchmarks
    }
    let servers: Vec<ApiServer> = std::env::var("SUIDO_BENCH_APISERVERS")
        .unwrap_or_else(|_| "local,real".to_owned())
        .split(',')
        .map(|s| s.trim().parse().unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let sizes = |server| -> Vec<usize> {
        match std::env::var("SUIDO_BENCH_SIZES") {
            Ok(v) => v
                .split(',')
                .map(|s| {
                    s.trim()
                        .parse()
                        .expect("SUIDO_BENCH_SIZES: sizes, comma-separated")
                })
                .collect(),
            Err(_) if server == ApiServer::Local => vec![1000, 10_000],
            Err(_) => vec![1000],
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let mut runs = vec![];
    for server in servers {
        for n in sizes(server) {
            runs.push(runtime.block_on(run(server, n)));
        }
    }
    print_table(&runs);
    println!(
        "whole run {:.0} s, load {:.2} at the end",
        started.elapsed().as_secs_f64(),
        load_average()
    );
}
