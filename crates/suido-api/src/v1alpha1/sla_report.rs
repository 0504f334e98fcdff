//! `ServiceLevelReport`: the monthly SLA ledger of one tenant's namespace, written only by the
//! operator (tenants get read access). Availability figures are exact decimal strings.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A monthly service level report. The operator creates and fills it; tenants only read it
/// (the chart's RBAC grants tenants no write access to this kind).
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "ServiceLevelReport",
    namespaced,
    shortname = "slr",
    category = "suido",
    status = "ServiceLevelReportStatus",
    doc = "The monthly SLA ledger of the VirtualServers in a namespace: availability, downtime counted and excluded with causes, and the refund.",
    printcolumn(
        name = "Month",
        type_ = "string",
        json_path = ".spec.month",
        description = "Calendar month"
    ),
    printcolumn(
        name = "Servers",
        type_ = "integer",
        json_path = ".status.serverCount",
        description = "Servers covered"
    ),
    printcolumn(
        name = "Worst",
        type_ = "string",
        json_path = ".status.worstAvailability",
        description = "Lowest availability"
    ),
    printcolumn(
        name = "Refund",
        type_ = "string",
        json_path = ".status.maxRefundPercent",
        description = "Highest refund percentage"
    ),
    printcolumn(
        name = "Final",
        type_ = "boolean",
        json_path = ".status.final",
        description = "Month closed"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLevelReportSpec {
    /// Calendar month in the platform's time zone, `YYYY-MM`. Cannot change.
    #[schemars(regex(pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])$"))]
    #[x_kube(validation = kube::core::Rule::new("self == oldSelf").message("spec.month cannot change"))]
    pub month: String,

    /// Name of the Tenant the report is for.
    #[schemars(length(min = 1, max = 253))]
    pub tenant: String,
}

/// The report, computed by the operator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceLevelReportStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// True once the month is over and the figures no longer change.
    #[serde(default)]
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Month-to-date reports are computed up to this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computed_until: Option<String>,
    /// How many servers the report covers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_count: Option<u32>,
    /// Lowest availability among the servers, in percent (e.g. `99.9712`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_availability: Option<String>,
    /// Highest refund among the servers, in percent of the month's fee (`0`, `1`, `3` or `10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_refund_percent: Option<String>,
    /// Per-server figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers: Vec<ServerAvailability>,
}

/// One server's month.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerAvailability {
    /// Name of the VirtualServer.
    pub server: String,
    /// Monthly availability in percent, exact to four decimals, rounded down (e.g. `99.9712`).
    pub availability: String,
    /// Downtime counted against the platform, in milliseconds (exact, as the SLA ledger keeps it).
    pub counted_downtime_ms: u64,
    /// Downtime excluded from the SLA, in milliseconds.
    pub excluded_downtime_ms: u64,
    /// Refund in percent of the month's fee: `0`, `1`, `3` or `10`.
    #[schemars(extend("enum" = [0, 1, 3, 10]))]
    pub refund_percent: u32,
    /// The outages with their cause and whether they count.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outages: Vec<OutageRecord>,
}

/// One outage interval in the report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutageRecord {
    /// Start (RFC 3339).
    pub start: String,
    /// End (RFC 3339); absent while the outage is still open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Cause, as the SLA ledger names it: e.g. `hostOrHypervisorFault`, `guestOsFault`,
    /// `announcedMaintenance`, `unknown` (see docs/sla.md).
    pub cause: String,
    /// Whether the interval counts against the platform.
    pub counted: bool,
    /// Why it counts or is excluded, citing the SLA rule (§3.4 item or table 4-1).
    pub reason: String,
}
