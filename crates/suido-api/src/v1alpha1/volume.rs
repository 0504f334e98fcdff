//! `BlockVolume`: an I/O-guaranteed block storage volume (iSCSI), optionally attached to a
//! VirtualServer in the same namespace.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE,
};

/// The sizes of the block storage menu (table 2-12), in GB, for both plans.
pub const BLOCK_VOLUME_SIZES_GB: [u32; 8] = [100, 250, 500, 1000, 2000, 4000, 8000, 12000];

/// Desired state of a block storage volume.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "BlockVolume",
    namespaced,
    shortname = "bv",
    category = "suido",
    status = "BlockVolumeStatus",
    doc = "An I/O-guaranteed block storage volume (iSCSI) from the platform's menu, optionally attached to a VirtualServer in the same namespace.",
    printcolumn(
        name = "Plan",
        type_ = "string",
        json_path = ".spec.plan",
        description = "IOPS per GB plan"
    ),
    printcolumn(
        name = "Size-GB",
        type_ = "integer",
        json_path = ".spec.sizeGb",
        description = "Size in GB"
    ),
    printcolumn(
        name = "Server",
        type_ = "string",
        json_path = ".status.attachedTo",
        description = "VirtualServer it is attached to"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform volume id"
    ),
    printcolumn(
        name = "Protected",
        type_ = "boolean",
        json_path = ".spec.deletionProtection",
        priority = 1,
        description = "Deletion protection"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
pub struct BlockVolumeSpec {
    /// Performance plan: `2IOPS/GB` or `4IOPS/GB`. Suido has no plan change on the platform, so
    /// the plan cannot change; create a new volume instead.
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.plan cannot change; create a new volume with the other plan"))]
    pub plan: BlockStoragePlan,

    /// Size in GB from the menu: 100, 250, 500, 1000, 2000, 4000, 8000 or 12000. It may only grow.
    #[schemars(extend("enum" = [100, 250, 500, 1000, 2000, 4000, 8000, 12000]))]
    #[x_kube(validation = Rule::new("self >= oldSelf").message("spec.sizeGb may only grow"))]
    pub size_gb: u32,

    /// The VirtualServer to attach the volume to. Only servers in this namespace can be named,
    /// so a volume is never attached across namespaces. Absent means detached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_to: Option<VolumeAttachment>,

    /// While true, Suido refuses to delete the volume on the platform: deleting the object waits
    /// (with the `Ready` condition saying why) until this is set to false.
    #[serde(default)]
    pub deletion_protection: bool,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// The block storage plans (table 2-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BlockStoragePlan {
    #[serde(rename = "2IOPS/GB")]
    Iops2PerGb,
    #[serde(rename = "4IOPS/GB")]
    Iops4PerGb,
}

impl BlockStoragePlan {
    /// Guaranteed IOPS per GB.
    pub fn iops_per_gb(self) -> u32 {
        match self {
            BlockStoragePlan::Iops2PerGb => 2,
            BlockStoragePlan::Iops4PerGb => 4,
        }
    }
}

/// Where a volume is attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeAttachment {
    /// Name of a VirtualServer in the same namespace.
    #[schemars(length(min = 1, max = 253))]
    pub server_name: String,
}

/// Observed state of a block volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockVolumeStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// Size on the platform now, in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_gb: Option<u32>,
    /// Name of the VirtualServer the volume is attached to now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// iSCSI target of the volume on the storage network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iscsi_target: Option<String>,
}
