//! `suido control-plane`: run the local Kubernetes-compatible API server
//! until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use suido_controlplane::{Config, ControlPlane};

/// Arguments of `suido control-plane`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory for the database and the kubeconfig (`DIR/kubeconfig`).
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on (plain HTTP; use 127.0.0.1).
    #[arg(long, default_value = "127.0.0.1:6443")]
    pub listen: SocketAddr,
    /// Number of past events a watch can resume from.
    #[arg(long, default_value_t = 10_000)]
    pub watch_history: usize,
}

/// Runs the control plane until Ctrl-C or SIGTERM.
pub fn run(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init()
        .ok();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    let result = runtime.block_on(async move {
        let mut config = Config::new(args.data, args.listen);
        config.watch_history = args.watch_history;
        let handle = ControlPlane::start(config)
            .await
            .context("starting the control plane")?;
        println!("listening on {}", handle.url());
        println!("kubeconfig: {}", handle.kubeconfig().display());
        wait_for_signal().await;
        handle.shutdown().await;
        Ok(())
    });
    // The database is closed by now; idle blocking threads need not linger.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    result
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
