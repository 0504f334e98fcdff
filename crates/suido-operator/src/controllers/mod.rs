//! One module per kind. Each implements [`crate::managed::ManagedKind`] and an actuator, and
//! holds only what makes its kind different; the lifecycle is in [`crate::managed`].

pub mod backup_policy;
pub mod block_volume;
pub mod server_restore;
pub mod server_snapshot;
pub mod virtual_server;
