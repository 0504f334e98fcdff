//! `MaintenanceWindow` (cluster-scoped): platform maintenance, announced or not, that may stop
//! servers. Announced windows are excluded from the SLA; changes that wait for a window run in it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A maintenance window of the platform.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "MaintenanceWindow",
    shortname = "mw",
    category = "suido",
    status = "MaintenanceWindowStatus",
    doc = "Platform maintenance: when it runs, when it was announced, whom it affects and whether it stops servers.",
    printcolumn(
        name = "Start",
        type_ = "string",
        json_path = ".spec.start",
        description = "Start (RFC 3339)"
    ),
    printcolumn(
        name = "End",
        type_ = "string",
        json_path = ".spec.end",
        description = "End (RFC 3339)"
    ),
    printcolumn(
        name = "Stops-Servers",
        type_ = "boolean",
        json_path = ".spec.stopsServers",
        description = "Whether servers are stopped"
    ),
    printcolumn(
        name = "State",
        type_ = "string",
        json_path = ".status.state",
        description = "Scheduled, Announced, InProgress or Completed"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "Announced",
        type_ = "string",
        json_path = ".spec.announcedAt",
        priority = 1,
        description = "When it was announced"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("timestamp(self.end) > timestamp(self.start)").message("spec.end must be after spec.start").field_path(".end"))]
#[x_kube(validation = Rule::new("!has(self.announcedAt) || timestamp(self.announcedAt) <= timestamp(self.start)").message("spec.announcedAt must not be after spec.start; leave it out for unannounced emergency maintenance").field_path(".announcedAt"))]
#[x_kube(validation = Rule::new("self.scope.allTenants != (has(self.scope.tenants) && size(self.scope.tenants) > 0)").message("spec.scope needs either allTenants: true or a non-empty tenants list, not both").field_path(".scope"))]
pub struct MaintenanceWindowSpec {
    /// Start of the window (RFC 3339, e.g. `2026-12-05T01:00:00+09:00`).
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub start: String,

    /// End of the window (RFC 3339), after `start`.
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub end: String,

    /// When the window was announced to tenants (portal or mail), at or before `start`. Absent
    /// means unannounced emergency maintenance, whose downtime counts against the SLA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("format" = "date-time"))]
    pub announced_at: Option<String>,

    /// Which tenants the window affects.
    pub scope: MaintenanceScope,

    /// Whether the maintenance stops servers. Changes waiting for a window
    /// (`disruption: NextMaintenanceWindow`) only run in windows that stop servers.
    #[serde(default)]
    pub stops_servers: bool,

    /// What the maintenance is for, as announced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub description: Option<String>,
}

/// The tenants a maintenance window affects.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceScope {
    /// Every tenant of the platform.
    #[serde(default)]
    pub all_tenants: bool,
    /// Names of the Tenants affected, when not all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), inner(length(min = 1, max = 253)), extend("x-kubernetes-list-type" = "set"))]
    pub tenants: Vec<String>,
}

/// Where a maintenance window is in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MaintenanceState {
    // Before the start, not announced (or announced after the start).
    Scheduled,
    // Before the start, announced before it.
    Announced,
    // Between the start and the end.
    InProgress,
    // After the end.
    Completed,
}

/// Observed state of a maintenance window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MaintenanceWindowStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Scheduled`, `Announced`, `InProgress` or `Completed`, from the window's times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<MaintenanceState>,
    /// The Tenants the window affects, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub affected_tenants: Vec<String>,
    /// Current conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
