//! `suido dev`: the local control plane, the simulated platform and the operator in one process.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use suido::dev::{DevConfig, DevStack};

/// Arguments of `suido dev`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Data directory: the control plane's database, `kubeconfig`, and the simulated
    /// platform's state in `sim/`. Kept across runs.
    #[arg(long, default_value = ".suido-dev")]
    pub data: PathBuf,
    /// Control plane address (plain HTTP, loopback only).
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
    runtime.block_on(async move {
        let mut config = DevConfig::new(&args.data);
        config.listen = args.listen;
        config.sim_listen = args.sim_listen;
        config.probe_addr = args.metrics;
        let stack = DevStack::start(config).await?;
        let kubeconfig = std::fs::canonicalize(stack.kubeconfig())
            .unwrap_or_else(|_| stack.kubeconfig().to_path_buf());
        println!("Suido is running on its embedded defaults.");
        println!("  control plane      {}", stack.api_url());
        println!("  simulated platform {}", stack.sim_url());
        if let Some(addr) = stack.probe_addr {
            println!("  operator metrics   http://{addr}/metrics");
        }
        println!();
        println!("Point kubectl at it and apply the examples:");
        println!("  export KUBECONFIG={}", kubeconfig.display());
        println!("  kubectl apply -f examples/");
        println!("  kubectl get suido");
        println!();
        println!(
            "Ctrl-C stops everything; state is kept in {}.",
            args.data.display()
        );
        super::wait_for_signal().await;
        stack.stop().await;
        Ok(())
    })
}
