//! Provider traits for the shared platform's IaaS APIs, and the plain domain types they use.
//!
//! Controllers hold `Arc<dyn ComputeProvider>`, `Arc<dyn BlockStorageProvider>`,
//! `Arc<dyn HealthProvider>`, one of the service-family traits (`LoadBalancerProvider`,
//! `WafProvider`, `IntrusionPreventionProvider`, `SmtpRelayProvider`, `BackupProvider`,
//! `SnapshotProvider`, `RestoreProvider`), or one `Arc<dyn Platform>`, so the traits are object
//! safe (through `async-trait`). This crate knows nothing of Kubernetes: mapping from the CRD types
//! happens in the controllers.
//!
//! Every long-running call returns an [`Operation`] whose id can be polled with
//! [`Operations::get_operation`], also after a restart of the caller. Creates carry a
//! [`ClientToken`]: creating again with the same token returns the first operation (and so the
//! same resource) instead of a duplicate, which is how a caller adopts the result of a create
//! whose answer it never saw.

pub mod catalog;
pub mod error;
pub mod network;
pub mod operation;
pub mod protection;
pub mod resource;
pub mod traits;
pub mod types;

pub use error::{ProviderError, ProviderResult, TerminalKind};
pub use network::*;
pub use protection::*;
pub use resource::ResourceState;
pub use traits::{
    BackupProvider, BlockStorageProvider, ComputeProvider, HealthProvider,
    IntrusionPreventionProvider, LoadBalancerProvider, Operations, Platform, RestoreProvider,
    SmtpRelayProvider, SnapshotProvider, WafProvider,
};
pub use types::*;
