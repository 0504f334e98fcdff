//! Suido's operator: the controllers that reconcile Suido's custom resources against the
//! platform through the provider traits, with metrics and health probes.

pub mod backoff;
pub mod conditions;
pub mod context;
pub mod controllers;
pub mod identity;
pub mod metrics;
pub mod status;
pub mod tenancy;
