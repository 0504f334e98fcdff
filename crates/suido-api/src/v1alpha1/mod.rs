//! Version `v1alpha1` of the `infra.suido.dev` API.

mod backup;
mod common;
pub mod conditions;
mod load_balancer;
mod maintenance;
mod protection;
mod restore;
mod server;
mod sla_report;
mod smtp;
mod snapshot;
mod tenant;
mod volume;

pub use backup::*;
pub use common::*;
pub use load_balancer::*;
pub use maintenance::*;
pub use protection::*;
pub use restore::*;
pub use server::*;
pub use sla_report::*;
pub use smtp::*;
pub use snapshot::*;
pub use tenant::*;
pub use volume::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The API version string, `infra.suido.dev/v1alpha1`.
pub const API_VERSION: &str = "infra.suido.dev/v1alpha1";

/// Every CustomResourceDefinition of this version, in a stable order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        Tenant::crd(),
        MaintenanceWindow::crd(),
        VirtualServer::crd(),
        BlockVolume::crd(),
        LoadBalancer::crd(),
        WafInstance::crd(),
        BackupPolicy::crd(),
        ServerSnapshot::crd(),
        ServerRestore::crd(),
        SmtpRelay::crd(),
        IntrusionPrevention::crd(),
        ServiceLevelReport::crd(),
    ]
}
