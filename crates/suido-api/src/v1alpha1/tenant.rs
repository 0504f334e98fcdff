//! `Tenant` (cluster-scoped): a utility (operator tenant) or a vendor working for one, the
//! namespaces it owns and its alert contacts.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A tenant of the shared platform. Its type decides which services its namespaces may use:
/// WAF, the management console, load balancers, IDS/IPS and DeepSecurity are vendor-only.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "Tenant",
    shortname = "tn",
    category = "suido",
    status = "TenantStatus",
    doc = "A tenant of the shared platform: a water utility (Operator) or a vendor working for one (Vendor), with the namespaces it owns.",
    printcolumn(
        name = "Type",
        type_ = "string",
        json_path = ".spec.type",
        description = "Vendor or Operator"
    ),
    printcolumn(
        name = "Utility",
        type_ = "string",
        json_path = ".spec.utility",
        description = "Water utility"
    ),
    printcolumn(
        name = "Environment",
        type_ = "string",
        json_path = ".spec.environment",
        description = "Production, Development or Evaluation"
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
        name = "Namespaces",
        type_ = "string",
        json_path = ".spec.namespaces",
        priority = 1,
        description = "Namespaces owned"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// `Operator` (the water utility itself) or `Vendor` (an application vendor working for a
    /// utility). Cannot change.
    #[serde(rename = "type")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.type cannot change"))]
    pub tenant_type: TenantType,

    /// The water utility this tenant is or works for.
    #[schemars(length(min = 1, max = 256))]
    pub utility: String,

    /// `Production`, `Development` or `Evaluation`. Outages in development and evaluation
    /// environments are excluded from the SLA.
    pub environment: Environment,

    /// Namespaces this tenant owns; each may belong to one tenant only.
    #[schemars(length(min = 1, max = 64), extend("x-kubernetes-list-type" = "set"))]
    #[schemars(inner(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    ))]
    pub namespaces: Vec<String>,

    /// Who receives monitoring alerts.
    pub contacts: Contacts,
}

/// Tenant types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum TenantType {
    Operator,
    Vendor,
}

/// Tenant environments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Environment {
    Production,
    Development,
    Evaluation,
}

/// Alert contacts. Severe alerts go to the utility and the vendor; minor alerts to the vendor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contacts {
    /// Contacts for severe alerts (at least one).
    #[schemars(length(min = 1, max = 16))]
    pub severe: Vec<Contact>,
    /// Contacts for minor alerts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub minor: Vec<Contact>,
}

/// A person or desk that receives alerts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Name of the person or desk.
    #[schemars(length(min = 1, max = 256))]
    pub name: String,
    /// Mail address.
    #[schemars(length(min = 3, max = 254), extend("format" = "email"))]
    pub email: String,
    /// Telephone number, if alerts should also call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^\+?[0-9][0-9 -]{3,30}$"))]
    pub phone: Option<String>,
}

/// Observed state of a tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// The `metadata.generation` this status was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current conditions: `Ready` (every namespace is honoured: no earlier Tenant claims it)
    /// and `Deleting` (while managed objects hold the Tenant's deletion).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The namespaces this Tenant owns and is honoured for, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Namespaces of `spec.namespaces` that an earlier Tenant already owns, so they are not
    /// honoured for this one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<NamespaceConflict>,
    /// How many Suido objects live in the Tenant's namespaces, by kind.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub managed_objects: std::collections::BTreeMap<String, u32>,
}

/// A namespace claimed by more than one Tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceConflict {
    /// The namespace.
    pub namespace: String,
    /// The Tenant that owns it (the earliest claim).
    pub owner: String,
}
