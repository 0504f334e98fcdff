//! `WafInstance` and `IntrusionPrevention`: the vendor-only security services that protect
//! servers and load balancers.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE, TargetRef,
};

/// Desired state of a WAF. Vendor tenants only: enforced by the controller, which reports the
/// `TenantPolicy` condition (the CRD cannot see the tenant). The tenant configures the rules.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "WafInstance",
    namespaced,
    shortname = "waf",
    category = "suido",
    status = "WafInstanceStatus",
    doc = "A web application firewall (vendor tenants only) in front of servers or load balancers.",
    printcolumn(
        name = "Plan",
        type_ = "string",
        json_path = ".spec.plan",
        description = "CPU-memory plan"
    ),
    printcolumn(
        name = "Targets",
        type_ = "integer",
        json_path = ".status.protectedTargets",
        description = "Targets protected"
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
        description = "Platform WAF id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
pub struct WafInstanceSpec {
    /// Plan from the menu (table 2-8): `2CPU-4GB` or `4CPU-6GB`, one interface each.
    pub plan: WafPlan,

    /// Which of the five WAF functions are on.
    #[serde(default)]
    pub functions: WafFunctions,

    /// What the WAF protects: VirtualServers or LoadBalancers in this namespace.
    #[schemars(length(min = 1, max = 32))]
    pub protects: Vec<TargetRef>,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// WAF plans (table 2-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum WafPlan {
    #[serde(rename = "2CPU-4GB")]
    Cpu2Mem4,
    #[serde(rename = "4CPU-6GB")]
    Cpu4Mem6,
}

/// The five functions of the WAF (table 2-7).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WafFunctions {
    /// Signature-based inspection of web traffic (default on).
    #[serde(default = "on")]
    pub signature_inspection: bool,
    /// DoS protection (default on).
    #[serde(default = "on")]
    pub dos_protection: bool,
    /// Access control by IP address; absent means no lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_access_control: Option<IpAccessControl>,
    /// Antivirus scanning of uploads (default off).
    #[serde(default)]
    pub antivirus: bool,
    /// Blocking by IP reputation (default off).
    #[serde(default)]
    pub ip_reputation: bool,
}

impl Default for WafFunctions {
    fn default() -> Self {
        WafFunctions {
            signature_inspection: true,
            dos_protection: true,
            ip_access_control: None,
            antivirus: false,
            ip_reputation: false,
        }
    }
}

fn on() -> bool {
    true
}

/// IP allow and deny lists.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IpAccessControl {
    /// CIDRs allowed; when not empty, every other source is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), extend("x-kubernetes-list-type" = "set"))]
    pub allow: Vec<Cidr>,
    /// CIDRs refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 256), extend("x-kubernetes-list-type" = "set"))]
    pub deny: Vec<Cidr>,
}

/// An IPv4 or IPv6 network in CIDR notation, such as `203.0.113.0/24`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("format" = "cidr"))]
pub struct Cidr(pub String);

/// Observed state of a WAF.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WafInstanceStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// How many of `spec.protects` resolve to existing, protected targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_targets: Option<u32>,
    /// Requests the WAF has inspected, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_inspected: Option<u64>,
    /// Requests the WAF has blocked, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_blocked: Option<u64>,
}

/// Desired state of the intrusion prevention (IDS/IPS) service, which blocks malicious traffic
/// when the utility reaches the platform. Vendor tenants only, enforced by the controller.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "IntrusionPrevention",
    namespaced,
    shortname = "ips",
    category = "suido",
    status = "IntrusionPreventionStatus",
    doc = "Intrusion detection and prevention (IDS/IPS, vendor tenants only) for servers and load balancers.",
    printcolumn(
        name = "Profile",
        type_ = "string",
        json_path = ".spec.profile",
        description = "Policy profile"
    ),
    printcolumn(
        name = "Targets",
        type_ = "integer",
        json_path = ".status.protectedTargets",
        description = "Targets protected"
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
        description = "Platform policy id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
pub struct IntrusionPreventionSpec {
    /// Policy profile: `DetectOnly` logs matches without blocking, `Balanced` (default) blocks
    /// high-confidence attacks, `Strict` blocks every match. The tenant tunes the rules.
    #[serde(default)]
    pub profile: IpsProfile,

    /// What is protected: VirtualServers or LoadBalancers in this namespace.
    #[schemars(length(min = 1, max = 64))]
    pub targets: Vec<TargetRef>,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// IDS/IPS policy profiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum IpsProfile {
    DetectOnly,
    #[default]
    Balanced,
    Strict,
}

/// Observed state of the intrusion prevention service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntrusionPreventionStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// How many of `spec.targets` resolve to existing, protected targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected_targets: Option<u32>,
    /// Matches the service has raised, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<u64>,
    /// Packets or connections the service has dropped, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drops: Option<u64>,
}
