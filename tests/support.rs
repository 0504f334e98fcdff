//! Support for the end-to-end tests: a fast development stack, a bare API server, a kubectl
//! runner with its own discovery cache, and polling helpers.
//!
//! `SUIDO_APISERVER=real` runs every stack and bare server on a real kube-apiserver
//! (`tools/real-apiserver.sh`) instead of the local control plane.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test support: a failure is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use std::net::SocketAddr;

use suido::dev::{ApiServer, DevConfig, DevStack};
use suido_controlplane::{Config, ControlPlane, Handle};
use suido_operator::Timing;
use suido_provider::{BlockStorageProvider, ComputeProvider, Tags};
use suido_realapi::RealApiServer;
use suido_sim::{Durations, Rules, SimProvider};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Simulated platform rules with short, but not zero, operation durations, so that the
/// controllers really see operations in flight.
pub fn fast_rules() -> Rules {
    Rules {
        durations: Durations {
            create_server_ms: 300,
            start_ms: 100,
            stop_ms: 100,
            resize_ms: 150,
            disk_ms: 150,
            delete_server_ms: 100,
            volume_ms: 100,
        },
        ..Rules::default()
    }
}

/// Starts a development stack in `dir` with fast platform operations.
pub async fn start_stack(dir: &Path) -> DevStack {
    let mut config = DevConfig::new(dir);
    config.sim_rules = fast_rules();
    config.timing = Timing {
        poll: Duration::from_millis(200),
        resync: Duration::from_secs(60),
        delete_wait: Duration::from_secs(10),
        // Injected faults fail many calls in a row; keep retries frequent in tests.
        backoff_max: Duration::from_secs(2),
        ..Timing::default()
    };
    DevStack::start(config)
        .await
        .expect("the development stack starts")
}

/// An API server with nothing registered (no CRDs, no operator): the local control plane or,
/// with `SUIDO_APISERVER=real`, a real one. A real one is stopped when dropped.
pub enum BareServer {
    /// The local control plane.
    Local(Handle),
    /// A real kube-apiserver.
    Real(RealApiServer),
}

impl BareServer {
    /// Starts the server that `SUIDO_APISERVER` names, with its state in `dir`.
    pub async fn start(dir: &Path) -> BareServer {
        match ApiServer::from_env().unwrap() {
            ApiServer::Local => BareServer::Local(
                ControlPlane::start(Config::new(dir, SocketAddr::from(([127, 0, 0, 1], 0))))
                    .await
                    .unwrap(),
            ),
            ApiServer::Real => {
                let dir = dir.join("realapi");
                BareServer::Real(
                    tokio::task::spawn_blocking(move || {
                        RealApiServer::up(&suido_realapi::default_script(), &dir)
                    })
                    .await
                    .unwrap()
                    .unwrap(),
                )
            }
        }
    }

    /// Its admin kubeconfig.
    pub fn kubeconfig(&self) -> &Path {
        match self {
            BareServer::Local(h) => h.kubeconfig(),
            BareServer::Real(r) => r.kubeconfig(),
        }
    }

    /// Which server it is.
    pub fn apiserver(&self) -> ApiServer {
        match self {
            BareServer::Local(_) => ApiServer::Local,
            BareServer::Real(_) => ApiServer::Real,
        }
    }

    /// Stops it.
    pub async fn stop(self) {
        match self {
            BareServer::Local(h) => h.shutdown().await,
            BareServer::Real(mut r) => tokio::task::spawn_blocking(move || r.down())
                .await
                .unwrap()
                .unwrap(),
        }
    }
}

/// The real kubectl, pointed at one control plane with a private discovery cache.
pub struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

impl Kubectl {
    /// kubectl for `kubeconfig`, caching discovery under `cache`.
    pub fn new(kubeconfig: &Path, cache: &Path) -> Self {
        Kubectl {
            kubeconfig: kubeconfig.to_path_buf(),
            cache: cache.to_path_buf(),
        }
    }

    /// Runs kubectl with `args`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .output()
            .expect("kubectl runs")
    }

    /// Runs kubectl and returns its stdout, failing the test when it fails.
    pub async fn ok(&self, args: &[&str]) -> String {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let me = Kubectl::new(&self.kubeconfig, &self.cache);
        let out = tokio::task::spawn_blocking(move || {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            (refs.join(" "), me.run(&refs))
        })
        .await
        .unwrap();
        let (line, out) = out;
        assert!(
            out.status.success(),
            "kubectl {line} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// One JSONPath value of one object.
    pub async fn get(&self, kind: &str, name: &str, namespace: &str, jsonpath: &str) -> String {
        self.ok(&[
            "get",
            kind,
            name,
            "-n",
            namespace,
            "-o",
            &format!("jsonpath={jsonpath}"),
        ])
        .await
    }
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many servers and volumes the simulated platform holds.
pub async fn platform_counts(sim_url: &str) -> (usize, usize) {
    let sim = SimProvider::new(sim_url).unwrap();
    let servers = sim.list_servers(&Tags::new()).await.unwrap();
    let volumes = sim.list_volumes(&Tags::new()).await.unwrap();
    (servers.len(), volumes.len())
}

/// Helm from `SUIDO_HELM`, `PATH`, or installed by `.ci/install-helm.sh` into `target/tools`.
pub fn helm() -> PathBuf {
    if let Some(p) = std::env::var_os("SUIDO_HELM") {
        return p.into();
    }
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("helm"))
        .find(|p| p.is_file());
    if let Some(p) = on_path {
        return p;
    }
    let tools = repo().join("target/tools");
    let status = Command::new("bash")
        .arg(repo().join(".ci/install-helm.sh"))
        .arg(&tools)
        .status()
        .unwrap();
    assert!(status.success(), "installing helm into {}", tools.display());
    tools.join("helm")
}
