//! `suido crds`: print every CRD as multi-document YAML.

/// Arguments of `suido crds`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    Ok(())
}
