//! One module per kind. The kinds that own a platform resource implement
//! [`crate::managed::ManagedKind`] and an actuator, and hold only what makes their kind different;
//! the lifecycle is in [`crate::managed`]. ServerRestore, a one-shot operation with no resource
//! of its own to keep, has a small reconcile of its own built from the same pieces.

pub mod backup_policy;
pub mod block_volume;
pub mod server_restore;
pub mod server_snapshot;
pub mod virtual_server;
