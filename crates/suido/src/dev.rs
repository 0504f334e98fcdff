//! The embedded-defaults stack: the local control plane, the simulated platform and the
//! operator in one process, with Suido's CRDs registered.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};
use suido_controlplane::{ControlPlane, Handle};
use suido_operator::{OperatorConfig, PlatformSettings, Timing};
use suido_sim::{Rules, Sim, SimConfig, SimHandle, SimProvider};
use tokio::sync::{oneshot, watch};

/// Settings of the development stack.
#[derive(Clone, Debug)]
pub struct DevConfig {
    /// Data directory: the control plane's database and `kubeconfig`, and `sim/` for the
    /// simulated platform's state.
    pub data_dir: PathBuf,
    /// Control plane address.
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
    /// Defaults: everything on 127.0.0.1 with free ports, default durations.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        DevConfig {
            data_dir: data_dir.into(),
            listen: any,
            sim_listen: any,
            probe_addr: any,
            sim_rules: Rules::default(),
            timing: Timing::default(),
            run_operator: true,
        }
    }
}

/// A running stack.
pub struct DevStack {
    control_plane: Handle,
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

impl DevStack {
    /// Starts the control plane, the simulated platform and the operator.
    pub async fn start(config: DevConfig) -> anyhow::Result<DevStack> {
        let control_plane = ControlPlane::start(suido_controlplane::Config::new(
            &config.data_dir,
            config.listen,
        ))
        .await
        .context("starting the control plane")?;
        let mut sim_config = SimConfig::new(config.data_dir.join("sim"));
        sim_config.listen = config.sim_listen;
        sim_config.rules = config.sim_rules.clone();
        let sim = Sim::start(sim_config)
            .await
            .context("starting the simulated platform")?;
        let client = client_for(control_plane.kubeconfig()).await?;
        register_crds(&client).await?;
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

    /// The control plane's URL.
    pub fn api_url(&self) -> String {
        self.control_plane.url()
    }

    /// The simulated platform's URL.
    pub fn sim_url(&self) -> String {
        self.sim.url()
    }

    /// Stops the operator, then the simulated platform and the control plane.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Some(operator) = self.operator {
            let _ = operator.await;
        }
        self.sim.shutdown().await;
        self.control_plane.shutdown().await;
    }
}
