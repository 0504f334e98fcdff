//! Crash test: while 200 VirtualServers converge, the operator process is killed with SIGKILL
//! at random points and started again, ten times; halfway, every server is also resized, so the
//! kills land in creates and in stop/resize/start sequences. Afterwards every server is Ready at
//! its new size and the platform holds exactly one server per VirtualServer: none duplicated,
//! none leaked.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use suido::dev::{DevConfig, DevStack};
use suido_api::v1alpha1::{VirtualServer, VirtualServerSpec};
use suido_provider::{ComputeProvider, Tags};
use suido_sim::{Durations, Rules, SimProvider};

const SERVERS: usize = 200;
const KILLS: usize = 10;
const NS: &str = "crash-test";

fn operator(kubeconfig: &std::path::Path, sim_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(["operator", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--sim-url", sim_url, "--metrics", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_operators_leave_no_duplicates_and_no_leaks() {
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
        ..Rules::default()
    };
    let stack = DevStack::start(config).await.unwrap();
    let client = stack.client.clone();
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}
    }))
    .unwrap();
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap();
    let tenant: suido_api::v1alpha1::Tenant = serde_json::from_value(serde_json::json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "Tenant",
        "metadata": {"name": "crash-vendor"},
        "spec": {"type": "Vendor", "utility": "Kawasemi", "environment": "Development",
                 "namespaces": [NS], "contacts": {"severe": [{"name": "desk", "email": "desk@example.org"}]}}
    }))
    .unwrap();
    Api::<suido_api::v1alpha1::Tenant>::all(client.clone())
        .create(&PostParams::default(), &tenant)
        .await
        .unwrap();
    let api: Api<VirtualServer> = Api::namespaced(client.clone(), NS);
    for i in 0..SERVERS {
        let spec: VirtualServerSpec = serde_json::from_value(
            serde_json::json!({"size": "1CPU-2GB", "disruption": "Immediate"}),
        )
        .unwrap();
        api.create(
            &PostParams::default(),
            &VirtualServer::new(&format!("vs-{i:03}"), spec),
        )
        .await
        .unwrap();
    }

    let kubeconfig = stack.kubeconfig().to_path_buf();
    let sim_url = stack.sim_url();
    let mut ready_after_kill = vec![];
    for kill in 0..KILLS {
        if kill == KILLS / 2 {
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
        tokio::time::sleep(Duration::from_millis(fastrand::u64(300..2000))).await;
        child.kill().unwrap(); // SIGKILL: no shutdown path runs
        child.wait().unwrap();
        let size = if kill < KILLS / 2 {
            "1CPU-2GB"
        } else {
            "1CPU-4GB"
        };
        ready_after_kill.push(ready_count(&api, size).await);
    }
    eprintln!("Ready after each kill: {ready_after_kill:?}");
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
        if ready == SERVERS {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(240),
            "only {ready} of {SERVERS} servers Ready"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let sim = SimProvider::new(&sim_url).unwrap();
    let servers = sim.list_servers(&Tags::new()).await.unwrap();
    let mut per_uid: BTreeMap<String, usize> = BTreeMap::new();
    for s in &servers {
        *per_uid
            .entry(s.tags.get("suido.dev/uid").cloned().unwrap_or_default())
            .or_default() += 1;
    }
    let objects = api.list(&ListParams::default()).await.unwrap().items;
    assert_eq!(
        servers.len(),
        SERVERS,
        "one platform server per VirtualServer"
    );
    for vs in &objects {
        let uid = vs.metadata.uid.clone().unwrap();
        assert_eq!(
            per_uid.get(&uid),
            Some(&1),
            "{} has exactly one server",
            vs.metadata.name.as_deref().unwrap_or("?")
        );
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
    stack.stop().await;
}
