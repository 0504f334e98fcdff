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
    /// Administer a running simulator: list and delete resources, set faults, fail hosts, add
    /// traffic, fail backups, move the clock.
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
    /// Behave as a platform without idempotency tokens: a create with a token already used
    /// makes a new resource every time (for crash tests of the operator's own markers).
    #[arg(long)]
    no_idempotency_tokens: bool,
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
    /// Print the resources of one kind, or the operations, as JSON.
    List {
        /// What to list.
        #[arg(value_enum, default_value = "servers")]
        what: ListWhat,
    },
    /// Delete a resource at once, as a platform operator on the console would.
    Delete {
        /// Its kind.
        #[arg(value_enum)]
        kind: ResourceArg,
        /// Its id.
        id: String,
    },
    /// Add traffic to the counters of a WAF, an IDS/IPS or an SMTP relay.
    Traffic(TrafficArgs),
    /// Make the next runs of a backup job fail.
    FailBackup {
        /// Id of the backup job.
        #[arg(long)]
        job: String,
        /// How many runs fail (0 stops failing them).
        #[arg(long)]
        runs: u32,
    },
    /// Show the platform's clock, or move it ahead (due operations and backups run at once).
    Clock {
        /// How far to move it ahead: a number with unit ms, s, m or h (e.g. 1h).
        #[arg(long, value_parser = parse_duration)]
        advance: Option<Duration>,
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

/// Options of `suido sim admin traffic`: one target, and the counters of its kind.
#[derive(Debug, clap::Args)]
#[group(skip)]
#[command(group = clap::ArgGroup::new("target").required(true).multiple(false))]
struct TrafficArgs {
    /// Id of a WAF (with --inspected and --blocked).
    #[arg(long, group = "target")]
    waf: Option<String>,
    /// Id of an IDS/IPS (with --alerts and --drops).
    #[arg(long, group = "target")]
    ips: Option<String>,
    /// Id of an SMTP relay (with --accepted and --rejected).
    #[arg(long, group = "target")]
    smtp: Option<String>,
    /// WAF requests inspected.
    #[arg(long, conflicts_with_all = ["ips", "smtp"])]
    inspected: Option<u64>,
    /// WAF requests blocked.
    #[arg(long, conflicts_with_all = ["ips", "smtp"])]
    blocked: Option<u64>,
    /// IDS/IPS alerts.
    #[arg(long, conflicts_with_all = ["waf", "smtp"])]
    alerts: Option<u64>,
    /// IDS/IPS drops.
    #[arg(long, conflicts_with_all = ["waf", "smtp"])]
    drops: Option<u64>,
    /// SMTP messages accepted.
    #[arg(long, conflicts_with_all = ["waf", "ips"])]
    accepted: Option<u64>,
    /// SMTP messages rejected.
    #[arg(long, conflicts_with_all = ["waf", "ips"])]
    rejected: Option<u64>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ListWhat {
    Servers,
    Volumes,
    Operations,
    LoadBalancers,
    Wafs,
    Ips,
    SmtpRelays,
    BackupJobs,
    Snapshots,
    Restores,
}

impl ListWhat {
    fn route(self) -> &'static str {
        match self {
            ListWhat::Servers => "servers",
            ListWhat::Volumes => "volumes",
            ListWhat::Operations => "operations",
            ListWhat::LoadBalancers => "load-balancers",
            ListWhat::Wafs => "wafs",
            ListWhat::Ips => "ips",
            ListWhat::SmtpRelays => "smtp-relays",
            ListWhat::BackupJobs => "backup-jobs",
            ListWhat::Snapshots => "snapshots",
            ListWhat::Restores => "restores",
        }
    }
}

/// A kind of resource that `delete` removes.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ResourceArg {
    Server,
    Volume,
    LoadBalancer,
    Waf,
    Ips,
    SmtpRelay,
    BackupJob,
    Snapshot,
    Restore,
}

impl ResourceArg {
    fn route(self) -> &'static str {
        match self {
            ResourceArg::Server => "servers",
            ResourceArg::Volume => "volumes",
            ResourceArg::LoadBalancer => "load-balancers",
            ResourceArg::Waf => "wafs",
            ResourceArg::Ips => "ips",
            ResourceArg::SmtpRelay => "smtp-relays",
            ResourceArg::BackupJob => "backup-jobs",
            ResourceArg::Snapshot => "snapshots",
            ResourceArg::Restore => "restores",
        }
    }
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
        config.rules.make_instant();
    }
    if args.no_idempotency_tokens {
        config.rules.idempotency_tokens = false;
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
        AdminCommand::List { what } => print_json(&admin.list(what.route()).await?),
        AdminCommand::Delete { kind, id } => {
            admin.delete(kind.route(), &id).await?;
            print_json(&serde_json::json!({"deleted": id, "kind": kind.route()}))
        }
        AdminCommand::Traffic(t) => traffic(&admin, t).await,
        AdminCommand::FailBackup { job, runs } => {
            print_json(&admin.fail_backup_runs(&job, runs).await?)
        }
        AdminCommand::Clock { advance } => match advance {
            Some(by) => print_json(&admin.advance_clock(by).await?),
            None => print_json(&admin.clock().await?),
        },
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

async fn traffic(admin: &SimAdmin, t: TrafficArgs) -> anyhow::Result<()> {
    let n = |v: Option<u64>| v.unwrap_or(0);
    if let Some(id) = &t.waf {
        print_json(&admin.waf_traffic(id, n(t.inspected), n(t.blocked)).await?)
    } else if let Some(id) = &t.ips {
        print_json(&admin.ips_traffic(id, n(t.alerts), n(t.drops)).await?)
    } else if let Some(id) = &t.smtp {
        print_json(&admin.smtp_traffic(id, n(t.accepted), n(t.rejected)).await?)
    } else {
        anyhow::bail!("give one of --waf, --ips or --smtp")
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

    #[derive(Debug, clap::Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        use clap::Parser;
        Cli::try_parse_from(std::iter::once("sim").chain(args.iter().copied()))
    }

    #[test]
    fn admin_commands_parse_and_traffic_counters_match_their_target() {
        let ok = [
            vec!["admin", "--url", "u", "list", "load-balancers"],
            vec!["admin", "--url", "u", "delete", "backup-job", "bkj-000001"],
            vec![
                "admin",
                "--url",
                "u",
                "traffic",
                "--waf",
                "waf-1",
                "--inspected",
                "5",
            ],
            vec![
                "admin",
                "--url",
                "u",
                "traffic",
                "--smtp",
                "s",
                "--rejected",
                "1",
            ],
            vec![
                "admin",
                "--url",
                "u",
                "fail-backup",
                "--job",
                "bkj-1",
                "--runs",
                "2",
            ],
            vec!["admin", "--url", "u", "clock", "--advance", "1h"],
            vec!["serve", "--state", "d", "--no-idempotency-tokens"],
        ];
        for args in ok {
            assert!(parse(&args).is_ok(), "{args:?}: {:?}", parse(&args).err());
        }
        let bad = [
            vec![
                "admin",
                "--url",
                "u",
                "traffic",
                "--ips",
                "i",
                "--inspected",
                "5",
            ],
            vec!["admin", "--url", "u", "traffic", "--waf", "w", "--ips", "i"],
            vec!["admin", "--url", "u", "traffic", "--inspected", "5"],
            vec!["admin", "--url", "u", "delete", "gizmo", "x"],
        ];
        for args in bad {
            assert!(parse(&args).is_err(), "{args:?} parsed");
        }
    }
}
