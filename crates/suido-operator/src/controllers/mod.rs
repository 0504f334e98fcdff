//! One module per kind. Each implements [`crate::managed::ManagedKind`] and an actuator, and
//! holds only what makes its kind different; the lifecycle is in [`crate::managed`]. What the
//! service-family kinds share is in [`family`].

pub mod block_volume;
pub mod family;
pub mod intrusion_prevention;
pub mod load_balancer;
pub mod maintenance_window;
pub mod smtp_relay;
pub mod tenant;
pub mod virtual_server;
pub mod waf_instance;
