//! Suido's local control plane: a single-process, Kubernetes-compatible API
//! server that kubectl, Helm and kube-rs controllers can talk to.
//!
//! Start it with [`ControlPlane::start`]; it stores objects durably under
//! the data directory (redb, fsync on commit) and writes a kubeconfig
//! pointing at its plain-HTTP address. See `docs/control-plane.md` for what
//! is implemented and how it differs from kube-apiserver.

pub mod admission;
pub mod api;
pub mod discovery;
pub mod events;
pub mod openapi;
pub mod patch;
pub mod proto;
pub mod registry;
pub mod selectors;
pub mod server;
pub mod ssa;
pub mod status;
pub mod store;
pub mod table;
pub mod util;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// Settings of a control plane.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the database and the kubeconfig.
    pub data_dir: PathBuf,
    /// Address to listen on; use port 0 for any free port.
    pub listen: SocketAddr,
    /// How many past events watches can resume from.
    pub watch_history: usize,
    /// How often idle watches get a BOOKMARK.
    pub bookmark_interval: Duration,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Config {
    /// Defaults for a data directory and listen address.
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> Config {
        Config {
            data_dir: data_dir.into(),
            listen,
            watch_history: 10_000,
            bookmark_interval: Duration::from_secs(10),
            max_body_bytes: 3 * 1024 * 1024,
        }
    }
}

/// Errors starting the control plane.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Filesystem or socket problem.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Setting up the initial objects failed.
    #[error("bootstrap: {0}")]
    Bootstrap(String),
    /// The server has no authentication, so it only listens on loopback.
    #[error(
        "refusing to listen on {0}: the control plane has no authentication; use a loopback address such as 127.0.0.1"
    )]
    NotLoopback(SocketAddr),
}

/// The control plane entry point.
pub struct ControlPlane;

/// A running control plane.
pub struct Handle {
    addr: SocketAddr,
    kubeconfig: PathBuf,
    state: Arc<api::State>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ControlPlane {
    /// Opens the store, binds the listener, writes the kubeconfig and starts
    /// serving on the current tokio runtime. Only loopback addresses are
    /// accepted: there is no authentication.
    pub async fn start(config: Config) -> Result<Handle, StartError> {
        if !config.listen.ip().is_loopback() {
            return Err(StartError::NotLoopback(config.listen));
        }
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| StartError::Io(config.data_dir.display().to_string(), e))?;
        let db_path = config.data_dir.join("state.redb");
        let store = store::Store::open(&db_path, config.watch_history)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Io(config.listen.to_string(), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| StartError::Io(config.listen.to_string(), e))?;
        let state = Arc::new(api::State::new(
            store,
            addr.to_string(),
            config.bookmark_interval,
            config.max_body_bytes,
        ));
        let st = state.clone();
        tokio::task::spawn_blocking(move || st.ensure_default_namespaces())
            .await
            .map_err(|e| StartError::Bootstrap(e.to_string()))?
            .map_err(|e| StartError::Bootstrap(e.message))?;
        let kubeconfig = config.data_dir.join("kubeconfig");
        write_kubeconfig(&kubeconfig, addr)
            .map_err(|e| StartError::Io(kubeconfig.display().to_string(), e))?;
        let (tx, rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, state.clone(), rx));
        tracing::info!(%addr, data = %config.data_dir.display(), "control plane listening");
        Ok(Handle {
            addr,
            kubeconfig,
            state,
            shutdown: tx,
            task,
        })
    }
}

impl Handle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Path of the kubeconfig written at start.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Drops the watch history so that every resuming watch gets 410
    /// Expired and relists (for tests).
    pub fn compact_watch_history(&self) {
        self.state.store.compact_history();
    }

    /// Compacts the watch history and ends every open watch with an
    /// in-stream 410 Expired, as when a watcher falls too far behind: each
    /// client has to relist (for tests).
    pub fn expire_watches(&self) {
        self.state.store.compact_history();
        self.state.expire.send_modify(|n| *n += 1);
    }

    /// How many list requests were served so far.
    pub fn lists_served(&self) -> u64 {
        self.state
            .lists_served
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.state.store.current_rv()
    }

    /// Waits until the server stops (it only stops through `shutdown`).
    pub async fn wait(&mut self) {
        let _ = (&mut self.task).await;
    }

    /// Stops accepting, ends every connection and watch, and closes the
    /// database, so the same data directory can be opened again.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
        // Blocking handlers still running hold the state; give them time.
        let state = self.state;
        for _ in 0..200 {
            if Arc::strong_count(&state) == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(state);
        tracing::info!("control plane stopped");
    }
}

fn write_kubeconfig(path: &Path, addr: SocketAddr) -> std::io::Result<()> {
    let text = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: suido
  cluster:
    server: http://{addr}
contexts:
- name: suido
  context:
    cluster: suido
    user: suido
    namespace: default
current-context: suido
users:
- name: suido
  user: {{}}
preferences: {{}}
"
    );
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
