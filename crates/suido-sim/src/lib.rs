//! The simulated IaaS platform: the embedded default backend of Suido.
//!
//! [`Sim::start`] serves a small HTTP/JSON API (see `docs/sim.md`) on a loopback address, keeps
//! its servers, volumes, service-family resources (load balancers, WAF, IDS/IPS, SMTP relays,
//! backup jobs, snapshots, restores) and operations in a redb database under the state
//! directory (so a restart from the same directory finds them again, pending operations and
//! backup schedules included), completes operations after configurable durations, runs the
//! backup jobs on their schedules, enforces quotas, and injects faults. [`SimProvider`]
//! is the HTTP client implementing the `suido-provider` traits against it; [`SimAdmin`] drives
//! the admin endpoints.

mod client;
pub mod config;
mod cron;
pub mod faults;
mod server;
mod store;
pub mod wire;
mod world;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use client::{SimAdmin, SimProvider};
pub use config::{Durations, Limits, Quotas, Rules, ServiceDurations, SimConfig};
pub use faults::{FaultSettings, HostFailure};
pub use server::{Sim, SimHandle};

/// Why the simulator could not start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// A file or directory could not be used.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The database failed.
    #[error("state database: {0}")]
    Store(String),
    /// A stored record could not be read.
    #[error("state database record {key} is corrupt: {source}")]
    Corrupt {
        /// The record's key.
        key: String,
        /// The cause.
        source: serde_json::Error,
    },
    /// Bad configuration.
    #[error("{0}")]
    Config(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}
