//! `suido control-plane`: placeholder until the control plane crate lands.

/// Arguments of `suido control-plane`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("suido control-plane is not built yet")
}
