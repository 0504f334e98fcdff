//! `suido sla`: placeholder until the SLA crate lands.

/// SLA subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Evaluate a month's outage ledger.
    Evaluate,
}

pub fn run(_command: Command) -> anyhow::Result<()> {
    anyhow::bail!("suido sla is not built yet")
}
