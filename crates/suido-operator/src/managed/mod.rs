//! The lifecycle of a managed resource, written once and shared by every kind that builds
//! something on the platform.
//!
//! - [`kind`]: what a kind supplies — [`ManagedKind`] (pure build, status and verdicts) and
//!   [`Actuator`] (its platform calls and steps, with the optional create gate and release).
//! - [`lifecycle`]: tenancy, adoption, the create marker, lost resources, status, failure
//!   status and deletion, over an actuator and [`Effects`].
//! - [`adoption`]: which platform resource an object owns or may adopt.
//! - [`references`]: references within a namespace and the generic watch mapper.
//! - [`controller`]: the finalizer, spans, metrics, memo, error policy and the kube-runtime
//!   controller.
//! - [`error`]: the one error type.
//!
//! `docs/operator.md` walks through adding a kind.

pub mod adoption;
pub mod controller;
pub mod error;
pub mod kind;
pub mod lifecycle;
pub mod references;
#[cfg(test)]
mod tests;

pub use error::Error;
pub use kind::{Acted, Actuator, External, Flow, Hold, Lifecycle, ManagedKind, Note, Verdict};
pub use lifecycle::{Effects, Env, Observation};
pub use references::{Reference, Refers};
