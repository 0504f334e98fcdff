//! `suido operator`: run every controller against a Kubernetes API server and a platform.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use suido_operator::{LeaderConfig, OperatorConfig, PlatformSettings, Timing};
use suido_sim::SimProvider;
use tokio::sync::watch;

/// The platforms Suido can drive.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Provider {
    /// The simulated platform (`suido sim serve`).
    Sim,
}

/// Arguments of `suido operator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kubeconfig to use; without it, the in-cluster config or `~/.kube/config`.
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Which platform to drive.
    #[arg(long, value_enum, default_value = "sim")]
    pub provider: Provider,
    /// URL of the simulated platform.
    #[arg(long, required_if_eq("provider", "sim"))]
    pub sim_url: Option<String>,
    /// Metrics and probes address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub metrics: SocketAddr,
    /// Seconds between looks at the platform for a settled object (drift and lost resources
    /// are noticed within this interval).
    #[arg(long, default_value_t = 60)]
    pub drift_seconds: u64,
    /// Ceiling in seconds of the per-object backoff after transient errors.
    #[arg(long, default_value_t = 300)]
    pub backoff_max_seconds: u64,
    /// The sender domain the platform designates for the SMTP relay.
    #[arg(long, default_value = "suido-relay.example")]
    pub smtp_sender_domain: String,
    /// Run the controllers only while this replica holds the leader Lease (for several
    /// replicas); a standby takes over within about 12 s of the leader's end.
    #[arg(long)]
    pub leader_elect: bool,
    /// Namespace of the leader Lease (default: $POD_NAMESPACE, else `default`).
    #[arg(long)]
    pub leader_namespace: Option<String>,
    /// This replica's identity in the Lease (default: $HOSTNAME, else a random one).
    #[arg(long)]
    pub leader_identity: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    super::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        let client = match &args.kubeconfig {
            Some(path) => suido::dev::client_for(path).await?,
            None => kube::Client::try_default()
                .await
                .context("no --kubeconfig, and no in-cluster or default kubeconfig")?,
        };
        let provider = match args.provider {
            Provider::Sim => {
                let url = args
                    .sim_url
                    .as_deref()
                    .context("--sim-url is required with --provider sim")?;
                Arc::new(SimProvider::new(url).context("--sim-url")?)
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(async move {
            super::wait_for_signal().await;
            let _ = stop.send(true);
        });
        suido_operator::run(
            OperatorConfig {
                client,
                platform: provider,
                settings: PlatformSettings {
                    smtp_sender_domain: args.smtp_sender_domain.clone(),
                },
                probe_addr: args.metrics,
                timing: Timing {
                    drift: std::time::Duration::from_secs(args.drift_seconds.max(1)),
                    backoff_max: std::time::Duration::from_secs(args.backoff_max_seconds.max(1)),
                    ..Timing::default()
                },
                leader: args.leader_elect.then(|| {
                    let namespace = args
                        .leader_namespace
                        .clone()
                        .or_else(|| std::env::var("POD_NAMESPACE").ok())
                        .unwrap_or_else(|| "default".to_owned());
                    let identity = args
                        .leader_identity
                        .clone()
                        .or_else(|| std::env::var("HOSTNAME").ok())
                        .unwrap_or_else(|| format!("suido-{}", std::process::id()));
                    LeaderConfig::new(namespace, identity)
                }),
            },
            stop_rx,
            |addr| eprintln!("metrics and probes on http://{addr}"),
        )
        .await?;
        Ok(())
    })
}
