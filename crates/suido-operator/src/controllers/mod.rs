//! One module per kind. The kinds that own a platform resource implement
//! [`crate::managed::ManagedKind`] and an actuator, and hold only what makes their kind different;
//! the lifecycle is in [`crate::managed`], and what the service-family kinds share is in
//! [`family`]. ServerRestore, a one-shot operation with no resource of its own to keep, and the
//! status-only Tenant and MaintenanceWindow have small reconciles built from the same pieces.

pub mod backup_policy;
pub mod block_volume;
pub mod family;
pub mod intrusion_prevention;
pub mod load_balancer;
pub mod maintenance_window;
pub mod server_restore;
pub mod server_snapshot;
pub mod smtp_relay;
pub mod tenant;
pub mod virtual_server;
pub mod waf_instance;
