//! `suido sim`: serve the simulated IaaS platform, or administer a running one.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use suido_provider::FailureLayer;
use suido_sim::{FaultSettings, Rules, Sim, SimAdmin, SimConfig};

/// Simulated platform subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the simulated platform on a loopback address until interrupted.
    Serve(ServeArgs),
    /// Administer a running simulator: list resources, set faults, fail hosts.
    Admin(AdminArgs),
}

/// Options of `suido sim serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory of the durable state (created when missing).
    #[arg(long)]
    state: PathBuf,
    /// Loopback address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:7480")]
    listen: SocketAddr,
    /// JSON fault file (seed, errorRate, timeoutAfterCommitRate, latencyMs, hostFailures).
    #[arg(long)]
    faults: Option<PathBuf>,
    /// JSON rules file: operation durations and quotas (see docs/sim.md).
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Complete every operation at once (all durations 0), for benchmarks.
    #[arg(long)]
    instant: bool,
    /// Global limit on servers.
    #[arg(long)]
    max_servers: Option<u32>,
    /// Global limit on vCPUs.
    #[arg(long)]
    max_vcpus: Option<u32>,
    /// Global limit on block storage GB.
    #[arg(long)]
    max_volume_gb: Option<u64>,
}

/// Options of `suido sim admin`.
#[derive(Debug, clap::Args)]
pub struct AdminArgs {
    /// Base URL of the simulator, e.g. http://127.0.0.1:7480.
    #[arg(long)]
    url: String,
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, clap::Subcommand)]
enum AdminCommand {
    /// Print servers, volumes or operations as JSON.
    List {
        /// What to list.
        #[arg(value_enum, default_value = "servers")]
        what: ListWhat,
    },
    /// Show, set or clear injected faults.
    #[command(subcommand)]
    Faults(FaultsCommand),
    /// Take a server down as if its host failed.
    FailHost {
        /// Id of the server.
        #[arg(long)]
        server: String,
        /// How long it stays down: a number with unit ms, s, m or h (e.g. 30s).
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Duration,
        /// The failed layer.
        #[arg(long, value_enum, default_value = "hypervisor")]
        layer: LayerArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ListWhat {
    Servers,
    Volumes,
    Operations,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LayerArg {
    Hypervisor,
    Network,
    GuestOs,
}

#[derive(Debug, clap::Subcommand)]
enum FaultsCommand {
    /// Print the faults in force.
    Show,
    /// Replace the faults (options not given are 0).
    Set {
        /// Share of API requests refused with 503, 0 to 1.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Share of mutating requests committed but answered 504, 0 to 1.
        #[arg(long, default_value_t = 0.0)]
        timeout_after_commit_rate: f64,
        /// Latency added to every API request, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Seed of the fault generator.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Remove every fault.
    Clear,
}

/// Parses `500ms`, `30s`, `2m` or `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 30s, 2m or 1h"))?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => {
            return Err(format!("`{text}`: unit must be ms, s, m or h (e.g. 30s)"));
        }
    };
    ms.map(Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// Runs a `suido sim` subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    match command {
        Command::Serve(args) => runtime.block_on(serve(args)),
        Command::Admin(args) => runtime.block_on(admin(args)),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let mut config = SimConfig::new(&args.state);
    config.listen = args.listen;
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the rules file {}", path.display()))?;
        config.rules = serde_json::from_str::<Rules>(&text)
            .with_context(|| format!("rules file {}", path.display()))?;
    }
    if args.instant {
        config.rules.durations = suido_sim::Durations::instant();
    }
    let global = &mut config.rules.quotas.global;
    global.max_servers = args.max_servers.or(global.max_servers);
    global.max_vcpus = args.max_vcpus.or(global.max_vcpus);
    global.max_volume_gb = args.max_volume_gb.or(global.max_volume_gb);
    if let Some(path) = &args.faults {
        config.faults = FaultSettings::from_file(path)?;
    }
    let handle = Sim::start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "suido sim listening on {}", handle.url())?;
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn wait_for_signal() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}

#[cfg(not(unix))]
async fn wait_for_signal() -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

async fn admin(args: AdminArgs) -> anyhow::Result<()> {
    let admin = SimAdmin::new(&args.url)?;
    match args.command {
        AdminCommand::List { what } => {
            let what = match what {
                ListWhat::Servers => "servers",
                ListWhat::Volumes => "volumes",
                ListWhat::Operations => "operations",
            };
            print_json(&admin.list(what).await?)
        }
        AdminCommand::Faults(FaultsCommand::Show) => print_json(&admin.faults().await?),
        AdminCommand::Faults(FaultsCommand::Set {
            error_rate,
            timeout_after_commit_rate,
            latency_ms,
            seed,
        }) => {
            let settings = FaultSettings {
                seed,
                error_rate,
                timeout_after_commit_rate,
                latency_ms,
                host_failures: Vec::new(),
            };
            settings.validate()?;
            print_json(&admin.set_faults(&settings).await?)
        }
        AdminCommand::Faults(FaultsCommand::Clear) => print_json(&admin.clear_faults().await?),
        AdminCommand::FailHost {
            server,
            duration,
            layer,
        } => {
            let layer = match layer {
                LayerArg::Hypervisor => FailureLayer::Hypervisor,
                LayerArg::Network => FailureLayer::PlatformNetwork,
                LayerArg::GuestOs => FailureLayer::GuestOs,
            };
            print_json(&admin.fail_host(&server, duration, layer).await?)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        for bad in ["30", "s", "3 s", "10d", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
