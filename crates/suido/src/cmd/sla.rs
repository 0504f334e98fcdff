//! `suido sla`: evaluates one month of an outage ledger with `suido-sla` and
//! prints the report as JSON or as tables for people.

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use suido_sla::jiff;
use suido_sla::{DEFAULT_TIME_ZONE, Ledger, Month, evaluate_month, time_zone};

/// SLA subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Evaluate a month's outage ledger: availability, counted and excluded
    /// downtime, and the refund per server and tenant.
    Evaluate(EvaluateArgs),
}

/// Arguments of `suido sla evaluate`.
#[derive(Debug, clap::Args)]
pub struct EvaluateArgs {
    /// The calendar month to evaluate, YYYY-MM, in the zone given by --tz.
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    month: Month,
    /// The outage ledger, JSON (see docs/sla.md).
    #[arg(long, value_name = "FILE.json")]
    ledger: PathBuf,
    /// The evaluation instant, RFC 3339 with an offset; open outages run to
    /// it and later time is ignored. Defaults to the current time.
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    now: Option<jiff::Timestamp>,
    /// The IANA time zone that calendar months are taken in.
    #[arg(long, value_name = "ZONE", default_value = DEFAULT_TIME_ZONE)]
    tz: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    format: Format,
}

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// The report as JSON (camelCase), for machines.
    Json,
    /// Plain-text tables, for people.
    Table,
}

fn parse_month(value: &str) -> Result<Month, String> {
    value
        .parse()
        .map_err(|e: suido_sla::SlaError| e.to_string())
}

fn parse_now(value: &str) -> Result<jiff::Timestamp, String> {
    value.parse().map_err(|e: jiff::Error| {
        format!("expected an RFC 3339 time with an offset, e.g. 2026-11-01T09:00:00+09:00 ({e})")
    })
}

/// Runs an SLA subcommand.
pub fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Evaluate(args) => evaluate(args),
    }
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    let tz = time_zone(&args.tz).context("--tz")?;
    let text = std::fs::read_to_string(&args.ledger)
        .with_context(|| format!("reading ledger {}", args.ledger.display()))?;
    let ledger = Ledger::from_json_str(&text)
        .with_context(|| format!("invalid ledger {}", args.ledger.display()))?;
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    let report = evaluate_month(&ledger, args.month, now, &tz)?;
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&report)?),
        Format::Table => report.to_table(),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        // A reader that stops early (`| head`) is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report"),
    }
}
