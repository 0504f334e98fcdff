//! The embedded-defaults stack: the local control plane, the simulated platform and the
//! operator in one process, with Suido's CRDs registered.
//!
//! [`DevConfig::apiserver`] chooses the API server: the local control plane (the default), or a
//! real kube-apiserver with etcd and kube-controller-manager, started by
//! `tools/real-apiserver.sh up DATA/realapi` and stopped with the stack (`SUIDO_APISERVER=real`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ListParams, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use suido_controlplane::{ControlPlane, Handle};
use suido_operator::{OperatorConfig, PlatformSettings, Timing};
use suido_realapi::RealApiServer;
pub use suido_realapi::{ApiServer, InvalidApiServer};
use suido_sim::{Rules, Sim, SimConfig, SimHandle, SimProvider};
use tokio::sync::{oneshot, watch};

/// Settings of the development stack.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// Data directory: the control plane's database and `kubeconfig` (with the real API server,
    /// its state in `realapi/`), and `sim/` for the simulated platform's state.
    pub data_dir: PathBuf,
    /// The API server: the local control plane, or a real kube-apiserver.
    pub apiserver: ApiServer,
    /// `tools/real-apiserver.sh`, which starts and stops the real API server.
    pub real_apiserver_script: PathBuf,
    /// Control plane address (the local control plane only; the real one picks free ports).
    pub listen: SocketAddr,
    /// Simulated platform address.
    pub sim_listen: SocketAddr,
    /// Operator probe and metrics address.
    pub probe_addr: SocketAddr,
    /// Operation durations and quotas of the simulated platform.
    pub sim_rules: Rules,
    /// Operator timing.
    pub timing: Timing,
    /// Whether to run the operator in this process (tests that run it as a separate process,
    /// to kill it, turn this off).
    pub run_operator: bool,
}

impl DevConfig {
    /// Defaults: everything on 127.0.0.1 with free ports, default durations, the API server
    /// that `SUIDO_APISERVER` names (the local control plane when it is unset).
    ///
    /// # Panics
    ///
    /// When `SUIDO_APISERVER` names neither `local` nor `real`; callers that want an error
    /// instead check [`ApiServer::from_env`] first.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        DevConfig {
            data_dir: data_dir.into(),
            apiserver: ApiServer::from_env().unwrap_or_else(|e| panic!("{e}")),
            real_apiserver_script: suido_realapi::default_script(),
            listen: any,
            sim_listen: any,
            probe_addr: any,
            sim_rules: Rules::default(),
            timing: Timing::default(),
            run_operator: true,
        }
    }
}

/// The API server a stack runs against.
enum Server {
    Local(Handle),
    /// Stopped by `DevStack::stop`, or when dropped (a failed test's stack too).
    Real(RealApiServer),
}

/// A running stack.
pub struct DevStack {
    control_plane: Server,
    sim: SimHandle,
    stop: watch::Sender<bool>,
    operator: Option<tokio::task::JoinHandle<()>>,
    /// Where the operator's `/metrics`, `/healthz` and `/readyz` listen, when it runs here.
    pub probe_addr: Option<SocketAddr>,
    /// A client of the control plane.
    pub client: Client,
}

/// A client for the kubeconfig at `path`.
pub async fn client_for(path: &Path) -> anyhow::Result<Client> {
    let kubeconfig =
        Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("loading the kubeconfig")?;
    Client::try_from(config).context("building the Kubernetes client")
}

/// Registers (or updates) every Suido CRD with server-side apply.
pub async fn register_crds(client: &Client) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("suido").force();
    for crd in suido_api::v1alpha1::crds() {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .with_context(|| format!("registering CRD {name}"))?;
    }
    Ok(())
}

/// Waits until every Suido CRD is `Established`: the local control plane establishes a CRD as
/// it creates it, kube-apiserver a moment later, and until then its kind is not served.
pub async fn wait_for_crds(client: &Client, timeout: Duration) -> anyhow::Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let want: Vec<String> = suido_api::v1alpha1::crds()
        .into_iter()
        .filter_map(|crd| crd.metadata.name)
        .collect();
    let start = Instant::now();
    loop {
        let crds = api
            .list(&ListParams::default())
            .await
            .context("listing CRDs")?;
        let established = |name: &String| {
            crds.items.iter().any(|crd| {
                crd.metadata.name.as_ref() == Some(name)
                    && crd
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|cs| {
                            cs.iter()
                                .any(|c| c.type_ == "Established" && c.status == "True")
                        })
            })
        };
        let missing: Vec<&String> = want.iter().filter(|n| !established(n)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        if start.elapsed() > timeout {
            anyhow::bail!("CRDs not Established within {timeout:?}: {missing:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl DevStack {
    /// Starts the API server (the local control plane in process, or the real one through
    /// `tools/real-apiserver.sh`), the simulated platform and the operator.
    pub async fn start(config: DevConfig) -> anyhow::Result<DevStack> {
        let control_plane = match config.apiserver {
            ApiServer::Local => Server::Local(
                ControlPlane::start(suido_controlplane::Config::new(
                    &config.data_dir,
                    config.listen,
                ))
                .await
                .context("starting the control plane")?,
            ),
            ApiServer::Real => {
                let script = config.real_apiserver_script.clone();
                let dir = config.data_dir.join("realapi");
                Server::Real(
                    tokio::task::spawn_blocking(move || RealApiServer::up(&script, &dir))
                        .await
                        .context("starting the real API server")?
                        .context("starting the real API server")?,
                )
            }
        };
        let mut sim_config = SimConfig::new(config.data_dir.join("sim"));
        sim_config.listen = config.sim_listen;
        sim_config.rules = config.sim_rules.clone();
        let sim = Sim::start(sim_config)
            .await
            .context("starting the simulated platform")?;
        let client = client_for(control_plane.kubeconfig()).await?;
        register_crds(&client).await?;
        wait_for_crds(&client, Duration::from_secs(60)).await?;
        let provider = Arc::new(
            SimProvider::new(&sim.url()).context("building the simulated platform's client")?,
        );
        let (stop, stop_rx) = watch::channel(false);
        if !config.run_operator {
            return Ok(DevStack {
                control_plane,
                sim,
                stop,
                operator: None,
                probe_addr: None,
                client,
            });
        }
        let (bound_tx, bound_rx) = oneshot::channel();
        let operator_config = OperatorConfig {
            client: client.clone(),
            platform: provider,
            settings: PlatformSettings::default(),
            probe_addr: config.probe_addr,
            timing: config.timing.clone(),
            leader: None,
        };
        let operator = tokio::spawn(async move {
            let result = suido_operator::run(operator_config, stop_rx, |addr| {
                let _ = bound_tx.send(addr);
            })
            .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the operator stopped");
            }
        });
        let probe_addr = bound_rx
            .await
            .context("the operator stopped before binding its probe endpoint")?;
        Ok(DevStack {
            control_plane,
            sim,
            stop,
            operator: Some(operator),
            probe_addr: Some(probe_addr),
            client,
        })
    }

    /// The kubeconfig that points at the control plane.
    pub fn kubeconfig(&self) -> &Path {
        self.control_plane.kubeconfig()
    }

    /// The API server's URL.
    pub fn api_url(&self) -> String {
        match &self.control_plane {
            Server::Local(handle) => handle.url(),
            Server::Real(real) => real.url().to_owned(),
        }
    }

    /// Which API server the stack runs against.
    pub fn apiserver(&self) -> ApiServer {
        match self.control_plane {
            Server::Local(_) => ApiServer::Local,
            Server::Real(_) => ApiServer::Real,
        }
    }

    /// The simulated platform's URL.
    pub fn sim_url(&self) -> String {
        self.sim.url()
    }

    /// Stops the operator, then the simulated platform and the API server.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(operator) = self.operator {
            let _ = operator.await;
        }
        self.sim.shutdown().await;
        match self.control_plane {
            Server::Local(handle) => handle.shutdown().await,
            Server::Real(mut real) => {
                match tokio::task::spawn_blocking(move || real.down()).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!(error = %e, "stopping the real API server"),
                    Err(e) => tracing::error!(error = %e, "stopping the real API server"),
                }
            }
        }
    }
}

impl Server {
    fn kubeconfig(&self) -> &Path {
        match self {
            Server::Local(handle) => handle.kubeconfig(),
            Server::Real(real) => real.kubeconfig(),
        }
    }
}
