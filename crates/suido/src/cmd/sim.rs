//! `suido sim`: placeholder until the simulated platform lands.

/// Simulated platform subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve the simulated platform.
    Serve,
}

pub fn run(_command: Command) -> anyhow::Result<()> {
    anyhow::bail!("suido sim is not built yet")
}
