//! Suido's operator: the controllers that reconcile Suido's custom resources against the
//! platform through the provider traits, with metrics and health probes.

pub mod backoff;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod convert;
mod declare;
pub mod feeds;
pub mod http;
pub mod identity;
pub mod leader;
pub mod managed;
pub mod metrics;
mod run;
pub mod status;
pub mod tenancy;

pub use context::{PlatformSettings, Timing};
pub use leader::LeaderConfig;
pub use run::{OperatorConfig, RunError, run};
