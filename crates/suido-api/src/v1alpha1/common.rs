//! Fields shared by every managed kind: deletion and management policies, adoption, pausing,
//! and the common status block.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What happens to the platform resource when the Kubernetes object is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DeletionPolicy {
    // The platform resource is deleted with the object.
    #[default]
    Delete,
    // The platform resource is left running and only the object goes away.
    Orphan,
}

/// Whether Suido changes the platform resource or only reports on it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ManagementPolicy {
    // Suido creates, updates and deletes the platform resource.
    #[default]
    Manage,
    // Suido only reads the platform resource named by `externalId` into status.
    ObserveOnly,
}

/// The management fields every managed kind carries (flattened into its spec).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedSpec {
    /// What happens to the platform resource when this object is deleted: `Delete` (default)
    /// removes it, `Orphan` leaves it on the platform.
    #[serde(default)]
    #[schemars(extend("default" = "Delete"))]
    pub deletion_policy: DeletionPolicy,

    /// `Manage` (default) lets Suido create and change the platform resource; `ObserveOnly`
    /// only reads the resource named by `externalId` and never changes it.
    #[serde(default)]
    #[schemars(extend("default" = "Manage"))]
    pub management_policy: ManagementPolicy,

    /// Identifier of an existing platform resource to adopt instead of creating a new one.
    /// Required with `managementPolicy: ObserveOnly`. Cannot change once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("externalId cannot change once set"))]
    #[schemars(length(min = 1, max = 128))]
    pub external_id: Option<String>,

    /// Stops reconciliation of this object while true; the platform resource is left as it is.
    #[serde(default)]
    #[schemars(extend("default" = false))]
    pub paused: bool,
}

/// CEL rule (on a spec that flattens [`ManagedSpec`]) requiring `externalId` for observe-only.
pub const OBSERVE_ONLY_NEEDS_EXTERNAL_ID: &str =
    "!has(self.managementPolicy) || self.managementPolicy != 'ObserveOnly' || has(self.externalId)";

/// Message of [`OBSERVE_ONLY_NEEDS_EXTERNAL_ID`].
pub const OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE: &str =
    "spec.externalId is required when spec.managementPolicy is ObserveOnly";

/// CEL transition rule (on a spec that flattens [`ManagedSpec`]): `externalId` is chosen when the
/// object is created and can be neither added nor removed later. Changing it is refused by the
/// field's own rule. The controllers check the same against the resource in status.
pub const EXTERNAL_ID_FIXED: &str = "has(self.externalId) == has(oldSelf.externalId)";

/// Message of [`EXTERNAL_ID_FIXED`].
pub const EXTERNAL_ID_FIXED_MESSAGE: &str = "spec.externalId can only be set when the object is created: it cannot be added or removed later";

/// Lifecycle phase of a long-lived managed resource, for printer columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    // Accepted, not yet sent to the platform.
    Pending,
    // The platform is building the resource.
    Provisioning,
    // Built and in the desired state.
    Available,
    // A change is being applied.
    Updating,
    // A change waits for a stop, a maintenance window or the tenant.
    Waiting,
    // Built and powered off.
    Stopped,
    // Being removed from the platform.
    Deleting,
    // Only observed (managementPolicy ObserveOnly).
    Observed,
    // A terminal error needs the tenant's attention (see conditions).
    Failed,
}

/// Phase of a one-shot operation (snapshot, restore), for printer columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OperationPhase {
    // Accepted, not started.
    Pending,
    // Waiting for the source server to be stopped.
    WaitingForStop,
    // Stopping the source server.
    Stopping,
    // The platform is carrying the operation out.
    InProgress,
    // Done.
    Completed,
    // Failed (see conditions).
    Failed,
}

/// Status fields every managed kind carries (flattened into its status).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManagedStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// Current conditions: `Ready`, `Synced` and kind-specific ones, one per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,

    /// Identifier of the platform resource this object manages or observes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,

    /// One-word summary of the lifecycle, for `kubectl get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Which create attempt built the platform resource: absent for the first, 1 and up after
    /// the resource was lost on the platform and a replacement was ordered (each attempt orders
    /// under a client token of its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
}

/// A kind of resource that a WAF, an IDS/IPS or a backup can point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TargetKind {
    // A VirtualServer in the same namespace.
    VirtualServer,
    // A LoadBalancer in the same namespace.
    LoadBalancer,
}

/// A reference to a VirtualServer or LoadBalancer in the same namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetRef {
    /// Kind of the target: `VirtualServer` or `LoadBalancer`.
    pub kind: TargetKind,
    /// Name of the target in this namespace (cross-namespace references are not possible).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Alert severity of the platform's monitoring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Severity {
    // Notified to the utility (operator) and the vendor.
    Severe,
    // Notified to the vendor only.
    Minor,
}
