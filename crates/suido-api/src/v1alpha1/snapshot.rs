//! `ServerSnapshot`: an image of a stopped VirtualServer.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE, OperationPhase,
};

/// Desired snapshot of a virtual server. Taking one needs the server stopped, and the platform
/// detaches its disks while it works, so network adapter settings may be reset. The spec cannot
/// change once created: a snapshot is taken once.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "ServerSnapshot",
    namespaced,
    shortname = "snap",
    category = "suido",
    status = "ServerSnapshotStatus",
    doc = "An image of a VirtualServer, taken while the server is stopped.",
    printcolumn(
        name = "Server",
        type_ = "string",
        json_path = ".spec.serverName",
        description = "Source VirtualServer"
    ),
    printcolumn(
        name = "Stop",
        type_ = "string",
        json_path = ".spec.stopPolicy",
        description = "How the stop is obtained"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.operationPhase",
        description = "Progress"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Taken",
        type_ = "date",
        json_path = ".status.takenAt",
        priority = 1,
        description = "When the image was taken"
    ),
    printcolumn(
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform snapshot id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new("self.serverName == oldSelf.serverName && self.stopPolicy == oldSelf.stopPolicy").message("a ServerSnapshot is taken once: spec.serverName and spec.stopPolicy cannot change"))]
pub struct ServerSnapshotSpec {
    /// Name of the VirtualServer in this namespace to take the image of.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: String,

    /// How the required stop is obtained: `WaitForStop` (default) waits until the tenant stops
    /// the server (the `Ready` condition says it is waiting); `StopServer` lets Suido stop the
    /// server, take the image and start it again if it was running.
    #[serde(default)]
    pub stop_policy: SnapshotStopPolicy,

    /// Deletion, management, adoption and pausing. With `Delete`, deleting this object deletes
    /// the image on the platform.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// How a snapshot obtains the stop it needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SnapshotStopPolicy {
    #[default]
    WaitForStop,
    StopServer,
}

/// Observed state of a snapshot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerSnapshotStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// Progress of the snapshot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_phase: Option<OperationPhase>,
    /// When the image was taken (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Size of the image in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<u32>,
}
