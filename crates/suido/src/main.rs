//! The `suido` command line: one binary with a subcommand per job.

mod cmd;

use clap::{Parser, Subcommand};

/// Suido: declarative infrastructure for the water utilities' shared IT platform.
#[derive(Debug, Parser)]
#[command(name = "suido", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run Suido on its embedded defaults: local control plane, simulated platform, operator.
    Dev(cmd::dev::Args),
    /// Run the controllers against a Kubernetes API server and a platform.
    Operator(cmd::operator::Args),
    /// Print every CustomResourceDefinition as multi-document YAML.
    Crds(cmd::crds::Args),
    /// Service-level (SLA) arithmetic: monthly availability and refunds.
    #[command(subcommand)]
    Sla(cmd::sla::Command),
    /// Run the local Kubernetes-compatible control plane.
    ControlPlane(cmd::control_plane::Args),
    /// The simulated IaaS platform: serve it, or administer a running one.
    #[command(subcommand)]
    Sim(cmd::sim::Command),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Dev(args) => cmd::dev::run(args),
        Command::Operator(args) => cmd::operator::run(args),
        Command::Crds(args) => cmd::crds::run(args),
        Command::Sla(command) => cmd::sla::run(command),
        Command::ControlPlane(args) => cmd::control_plane::run(args),
        Command::Sim(command) => cmd::sim::run(command),
    }
}
