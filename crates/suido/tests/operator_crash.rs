//! Crash test: while 150 VirtualServers converge, the operator process is killed with SIGKILL
//! at random points and started again, ten times; halfway, every server is also resized, so the
//! kills land in creates and in stop/resize/start sequences (checked: platform operations of
//! those kinds were running at some kills). Afterwards every server is Ready at its new size and
//! the platform holds exactly one server per VirtualServer: none duplicated, none leaked. Then
//! everything is deleted with a kill in the middle, and the platform ends with no server.
//!
//! Beside the servers, 20 LoadBalancers (backends chosen by label among those servers) and 20
//! BackupPolicies (one per server) converge through the same kills: each ends Ready with exactly
//! one platform load balancer or backup job, and none is left after the deletes.
//!
//! It runs twice: on a platform that deduplicates creates by client token, and on one that does
//! not (as OpenStack does not), where only the operator's marker and lookup by tag prevent
//! duplicates. The kill schedule is seeded; the seed is printed, and `SUIDO_CRASH_SEED=N`
//! replays it.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use suido::dev::{DevConfig, DevStack};
use suido_api::v1alpha1::{BackupPolicy, LoadBalancer, VirtualServer, VirtualServerSpec};
use suido_provider::{
    BackupProvider, ComputeProvider, LoadBalancerProvider, OperationKind, ServerState, Tags,
};
use suido_sim::{Durations, Rules, SimProvider};

const SERVERS: usize = 150;
const KILLS: usize = 10;
const BALANCERS: usize = 20;
const BACKUPS: usize = 20;

/// An operator process, killed when dropped so that a failing test leaves no process behind.
struct Operator(Child);

impl Operator {
    fn kill(&mut self) -> std::io::Result<()> {
        self.0.kill()
    }
    fn wait(&mut self) -> std::io::Result<std::process::ExitStatus> {
        self.0.wait()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn operator(kubeconfig: &std::path::Path, sim_url: &str) -> Operator {
    Operator(
        Command::new(env!("CARGO_BIN_EXE_suido"))
            .args(["operator", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--sim-url", sim_url, "--metrics", "127.0.0.1:0"])
            .args(["--backoff-max-seconds", "5"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Servers Ready at `size` with the current generation observed.
async fn ready_count(api: &Api<VirtualServer>, size: &str) -> usize {
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|vs| {
            vs.status.as_ref().is_some_and(|s| {
                s.size.is_some_and(|z| z.as_str() == size)
                    && s.managed.observed_generation == vs.metadata.generation
                    && s.managed
                        .conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .count()
}

/// Objects of a service kind that are Ready with the current generation observed.
async fn ready_objects<K>(api: &Api<K>) -> usize
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    api.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|o| {
            let v = serde_json::to_value(o).unwrap();
            v["status"]["observedGeneration"] == v["metadata"]["generation"]
                && v["status"]["conditions"].as_array().is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Ready" && c["status"] == "True")
                })
        })
        .count()
}

/// Tag `suido.dev/uid` values of platform resources, counted.
fn per_uid<'a>(tags: impl Iterator<Item = &'a Tags>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for t in tags {
        *counts
            .entry(t.get("suido.dev/uid").cloned().unwrap_or_default())
            .or_default() += 1;
    }
    counts
}

/// Every object has exactly one platform resource tagged with its UID, and there are no others.
fn one_each<K: kube::Resource>(what: &str, objects: &[K], counts: &BTreeMap<String, usize>) {
    assert_eq!(
        counts.values().sum::<usize>(),
        objects.len(),
        "one platform {what} per object: {counts:?}"
    );
    for o in objects {
        let uid = o.meta().uid.clone().unwrap();
        assert_eq!(
            counts.get(&uid),
            Some(&1),
            "{} has exactly one platform {what}",
            o.meta().name.as_deref().unwrap_or("?")
        );
    }
}

/// Platform operations of `kind` running now.
async fn running(sim: &SimProvider, kind: OperationKind) -> usize {
    sim.list_operations()
        .await
        .unwrap()
        .iter()
        .filter(|op| op.kind == kind && !op.state.is_done())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_operators_leave_no_duplicates_and_no_leaks() {
    crash_run(true, "crash-dedup").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_operators_leave_no_duplicates_on_a_platform_without_tokens() {
    crash_run(false, "crash-no-tokens").await;
}

async fn crash_run(idempotency_tokens: bool, ns: &str) {
    let seed = std::env::var("SUIDO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("{ns}: kill schedule seed {seed} (replay with SUIDO_CRASH_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut config = DevConfig::new(dir.path());
    config.run_operator = false;
    config.sim_rules = Rules {
        durations: Durations {
            create_server_ms: 1000,
            start_ms: 50,
            stop_ms: 50,
            resize_ms: 50,
            disk_ms: 50,
            delete_server_ms: 50,
            volume_ms: 50,
        },
        idempotency_tokens,
        ..Rules::default()
    };
    let stack = DevStack::start(config).await.unwrap();
    let client = stack.client.clone();
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
        "metadata": {"name": format!("{ns}-vendor")},
        "spec": {"type": "Vendor", "utility": "Kawasemi", "environment": "Development",
                 "namespaces": [ns], "contacts": {"severe": [{"name": "desk", "email": "desk@example.org"}]}}
    }))
    .unwrap();
    Api::<suido_api::v1alpha1::Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
    let api: Api<VirtualServer> = Api::namespaced(client.clone(), ns);
    for i in 0..SERVERS {
        let spec: VirtualServerSpec = serde_json::from_value(
            serde_json::json!({"size": "1CPU-2GB", "disruption": "Immediate"}),
        )
        .unwrap();
        api.create(&PostParams::default(), &{
            let mut vs = VirtualServer::new(&format!("vs-{i:03}"), spec);
            vs.metadata.labels = Some([("group".to_string(), format!("g{}", i % 5))].into());
            vs
        })
        .await
        .unwrap();
    }

    let lbs: Api<LoadBalancer> = Api::namespaced(client.clone(), ns);
    for i in 0..BALANCERS {
        let lb: LoadBalancer = serde_json::from_value(serde_json::json!({
            "apiVersion": "infra.suido.dev/v1alpha1", "kind": "LoadBalancer",
            "metadata": {"name": format!("lb-{i:02}")},
            "spec": {"topology": "Single", "throughputMbps": 50,
                     "listeners": [{"protocol": "HTTP", "port": 80}],
                     "backends": [{"selector": {"matchLabels": {"group": format!("g{}", i % 5)}},
                                   "port": 8080}]}
        }))
        .unwrap();
        lbs.create(&PostParams::default(), &lb).await.unwrap();
    }
    let backups: Api<BackupPolicy> = Api::namespaced(client.clone(), ns);
    for i in 0..BACKUPS {
        let bkp: BackupPolicy = serde_json::from_value(serde_json::json!({
            "apiVersion": "infra.suido.dev/v1alpha1", "kind": "BackupPolicy",
            "metadata": {"name": format!("bkp-{i:02}")},
            "spec": {"serverName": format!("vs-{i:03}"), "scope": "Image",
                     "schedule": "0 2 * * *", "timeZone": "Asia/Tokyo", "generations": 3}
        }))
        .unwrap();
        backups.create(&PostParams::default(), &bkp).await.unwrap();
    }

    let kubeconfig = stack.kubeconfig().to_path_buf();
    let sim_url = stack.sim_url();
    let sim = SimProvider::new(&sim_url).unwrap();
    let mut ready_after_kill = vec![];
    let (mut in_creates, mut in_resizes) = (0, 0);
    for kill in 0..KILLS {
        if kill == KILLS / 2 {
            // The resizes must meet built servers, or no stop/resize/start runs for a kill to
            // interrupt. Against the local control plane the short lives above build most of
            // them; kube-apiserver takes longer per write here (about 150-250 ms a PATCH under
            // this burst on two cores, against a few ms), so it may have built none yet: one
            // operator then runs (and is killed) once a third are Ready.
            if ready_count(&api, "1CPU-2GB").await < SERVERS / 3 {
                let mut child = operator(&kubeconfig, &sim_url);
                let start = Instant::now();
                while ready_count(&api, "1CPU-2GB").await < SERVERS / 3 {
                    assert!(
                        start.elapsed() < Duration::from_secs(120),
                        "a third of the servers Ready before the resizes"
                    );
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                child.kill().unwrap();
                child.wait().unwrap();
            }
            for i in 0..SERVERS {
                api.patch(
                    &format!("vs-{i:03}"),
                    &PatchParams::default(),
                    &Patch::Merge(serde_json::json!({"spec": {"size": "1CPU-4GB"}})),
                )
                .await
                .unwrap();
            }
        }
        let mut child = operator(&kubeconfig, &sim_url);
        tokio::time::sleep(Duration::from_millis(rng.u64(300..2000))).await;
        child.kill().unwrap(); // SIGKILL: no shutdown path runs
        child.wait().unwrap();
        if running(&sim, OperationKind::CreateServer).await > 0 {
            in_creates += 1;
        }
        // Mid-sequence: a stop, resize or start still runs, or a server is left stopped
        // between the stop and the start.
        let stopped = sim
            .list_servers(&Tags::new())
            .await
            .unwrap()
            .iter()
            .filter(|s| s.state == ServerState::Stopped)
            .count();
        if kill >= KILLS / 2
            && stopped
                + running(&sim, OperationKind::ResizeServer).await
                + running(&sim, OperationKind::StopServer).await
                + running(&sim, OperationKind::StartServer).await
                > 0
        {
            in_resizes += 1;
        }
        let size = if kill < KILLS / 2 {
            "1CPU-2GB"
        } else {
            "1CPU-4GB"
        };
        ready_after_kill.push(ready_count(&api, size).await);
    }
    eprintln!(
        "{ns}: Ready after each kill: {ready_after_kill:?}; kills during creates {in_creates}, during stop/resize/start {in_resizes}"
    );
    assert!(in_creates > 0, "no kill landed while creates ran");
    assert!(in_resizes > 0, "no kill landed while resizes ran");
    assert!(
        ready_after_kill[0] < SERVERS,
        "the first kill interrupted the creates"
    );
    assert!(
        ready_after_kill[KILLS / 2] < SERVERS,
        "a kill interrupted the resizes"
    );

    let mut child = operator(&kubeconfig, &sim_url);
    let start = Instant::now();
    loop {
        let ready = ready_count(&api, "1CPU-4GB").await;
        let (ready_lbs, ready_bkps) = (ready_objects(&lbs).await, ready_objects(&backups).await);
        if ready == SERVERS && ready_lbs == BALANCERS && ready_bkps == BACKUPS {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "only {ready} of {SERVERS} servers, {ready_lbs} of {BALANCERS} load balancers and \
             {ready_bkps} of {BACKUPS} backup policies Ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let servers = sim.list_servers(&Tags::new()).await.unwrap();
    let objects = api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        servers.len(),
        SERVERS,
        "one platform server per VirtualServer"
    );
    one_each(
        "server",
        &objects,
        &per_uid(servers.iter().map(|s| &s.tags)),
    );
    for vs in &objects {
        let uid = vs.metadata.uid.clone().unwrap();
        let id = vs
            .status
            .as_ref()
            .unwrap()
            .managed
            .external_id
            .clone()
            .unwrap();
        assert!(
            servers
                .iter()
                .any(|s| s.id == id && s.tags["suido.dev/uid"] == uid)
        );
    }

    let balancers = sim.list_load_balancers(&Tags::new()).await.unwrap();
    one_each(
        "load balancer",
        &lbs.list(&ListParams::default()).await.unwrap().items,
        &per_uid(balancers.iter().map(|b| &b.tags)),
    );
    let jobs = sim.list_backup_jobs(&Tags::new()).await.unwrap();
    one_each(
        "backup job",
        &backups.list(&ListParams::default()).await.unwrap().items,
        &per_uid(jobs.iter().map(|j| &j.tags)),
    );

    // Delete everything, with a kill while the deletes run.
    lbs.delete_collection(&Default::default(), &ListParams::default())
        .await
        .unwrap();
    backups
        .delete_collection(&Default::default(), &ListParams::default())
        .await
        .unwrap();
    api.delete_collection(&Default::default(), &ListParams::default())
        .await
        .unwrap();
    let mut child = operator(&kubeconfig, &sim_url);
    tokio::time::sleep(Duration::from_millis(rng.u64(200..1200))).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let left_at_kill = sim.list_servers(&Tags::new()).await.unwrap().len();
    eprintln!("{ns}: {left_at_kill} servers left when the delete was killed");
    let mut child = operator(&kubeconfig, &sim_url);
    let start = Instant::now();
    loop {
        let objects = api.list(&ListParams::default()).await.unwrap().items.len()
            + lbs.list(&ListParams::default()).await.unwrap().items.len()
            + backups
                .list(&ListParams::default())
                .await
                .unwrap()
                .items
                .len();
        let servers = sim.list_servers(&Tags::new()).await.unwrap().len();
        let balancers = sim.list_load_balancers(&Tags::new()).await.unwrap().len();
        let jobs = sim.list_backup_jobs(&Tags::new()).await.unwrap().len();
        if objects == 0 && servers == 0 && balancers == 0 && jobs == 0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{objects} objects, {servers} servers, {balancers} load balancers and {jobs} \
             backup jobs left after the deletes"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stack.stop().await;
}
