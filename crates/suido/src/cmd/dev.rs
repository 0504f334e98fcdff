//! `suido dev`: the local control plane, the simulated platform and the operator in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use std::io::Write as _;

use anyhow::Context as _;
use suido::dev::{ApiServer, DevConfig, DevStack};

/// Arguments of `suido dev`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory: the control plane's database, `kubeconfig`, and the simulated
    /// platform's state in `sim/`. Kept across runs.
    #[arg(long, default_value = ".suido-dev")]
    pub data: PathBuf,
    /// The API server: `local`, the embedded local control plane, or `real`, a kube-apiserver
    /// with etcd and kube-controller-manager started by `tools/real-apiserver.sh` in
    /// `DATA/realapi` (built first when not cached). Without the flag, `SUIDO_APISERVER`
    /// chooses, and `local` when that is unset.
    #[arg(long, value_name = "local|real")]
    pub apiserver: Option<ApiServer>,
    /// Local control plane address (plain HTTP, loopback only; the real API server picks free
    /// ports).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Simulated platform address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub sim_listen: SocketAddr,
    /// Operator metrics and probes address.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub metrics: SocketAddr,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    super::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    // Checked here so that a wrong SUIDO_APISERVER is an error, not DevConfig::new's panic.
    let apiserver = match args.apiserver {
        Some(a) => a,
        None => ApiServer::from_env()?,
    };
    runtime.block_on(async move {
        let mut config = DevConfig::new(&args.data);
        config.apiserver = apiserver;
        config.listen = args.listen;
        config.sim_listen = args.sim_listen;
        config.probe_addr = args.metrics;
        let stack = DevStack::start(config).await?;
        let kubeconfig = std::fs::canonicalize(stack.kubeconfig())
            .unwrap_or_else(|_| stack.kubeconfig().to_path_buf());
        let mut text = String::new();
        match apiserver {
            ApiServer::Local => text.push_str("Suido is running on its embedded defaults.\n"),
            ApiServer::Real => text
                .push_str("Suido is running on a real kube-apiserver (tools/real-apiserver.sh).\n"),
        }
        text.push_str(&format!("  control plane      {}\n", stack.api_url()));
        text.push_str(&format!("  simulated platform {}\n", stack.sim_url()));
        if let Some(addr) = stack.probe_addr {
            text.push_str(&format!("  operator metrics   http://{addr}/metrics\n"));
        }
        text.push_str("\nPoint kubectl at it and apply the examples:\n");
        text.push_str(&format!("  export KUBECONFIG={}\n", kubeconfig.display()));
        text.push_str("  kubectl apply -f examples/\n  kubectl get suido\n\n");
        text.push_str(&format!(
            "Ctrl-C stops everything; state is kept in {}.\n",
            args.data.display()
        ));
        // A closed stdout (the reader went away) must not stop a running stack.
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        drop(out);
        super::wait_for_signal().await;
        stack.stop().await;
        Ok(())
    })
}
