//! `LoadBalancer`: a virtual load balancer on the server segment (vendor tenants only), single or
//! redundant with VRRP, with listeners, TLS offload, backends and a health check.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE,
};

/// Desired state of a load balancer. Vendor tenants only: the CRD cannot see the tenant, so the
/// LoadBalancer controller enforces it and reports the `TenantPolicy` condition.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "LoadBalancer",
    namespaced,
    shortname = "lb",
    category = "suido",
    status = "LoadBalancerStatus",
    doc = "A virtual load balancer on the server segment (vendor tenants only): single or VRRP-redundant, with listeners, TLS offload, backends and a health check.",
    printcolumn(
        name = "Topology",
        type_ = "string",
        json_path = ".spec.topology",
        description = "Single or Redundant"
    ),
    printcolumn(
        name = "Mbps",
        type_ = "integer",
        json_path = ".spec.throughputMbps",
        description = "Maximum throughput"
    ),
    printcolumn(
        name = "Address",
        type_ = "string",
        json_path = ".status.address",
        description = "Virtual address"
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
        name = "Backends",
        type_ = "integer",
        json_path = ".status.healthyBackends",
        priority = 1,
        description = "Healthy backends"
    ),
    printcolumn(
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform load balancer id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new("(self.topology == 'Redundant') == has(self.vrrp)").message("spec.vrrp (virtualAddress and groupId) is required when spec.topology is Redundant, and not allowed when it is Single").field_path(".vrrp"))]
pub struct LoadBalancerSpec {
    /// `Single` or `Redundant` (a VRRP pair sharing a virtual address).
    pub topology: LoadBalancerTopology,

    /// VRRP settings, required for `Redundant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vrrp: Option<Vrrp>,

    /// Maximum throughput in Mbps from the menu: 50, 200 or 1000.
    #[schemars(extend("enum" = [50, 200, 1000]))]
    pub throughput_mbps: u32,

    /// Balancing algorithm: `RoundRobin` (default) or `LeastConnections`.
    #[serde(default)]
    pub algorithm: BalancingAlgorithm,

    /// Where clients connect: protocol, port and, for HTTPS, TLS termination (SSL offload).
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["port"]))]
    pub listeners: Vec<Listener>,

    /// The VirtualServers that receive traffic, by name or by label selector, in this namespace.
    #[schemars(length(min = 1, max = 64))]
    pub backends: Vec<Backend>,

    /// Health check of the backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// Load balancer topology.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum LoadBalancerTopology {
    Single,
    Redundant,
}

/// VRRP settings of a redundant pair.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Vrrp {
    /// The virtual IPv4 address the pair shares on the server segment.
    #[schemars(extend("format" = "ipv4"))]
    pub virtual_address: String,
    /// VRRP group (virtual router) id, 1 to 255.
    #[schemars(range(min = 1, max = 255))]
    pub group_id: u32,
}

/// Balancing algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum BalancingAlgorithm {
    #[default]
    RoundRobin,
    LeastConnections,
}

/// Listener protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ListenerProtocol {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

/// A listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.protocol == 'HTTPS') == has(self.tls)").message("spec.listeners[].tls is required for protocol HTTPS and only allowed there").field_path(".tls"))]
pub struct Listener {
    /// Protocol: `TCP`, `HTTP` or `HTTPS` (TLS terminated on the load balancer).
    pub protocol: ListenerProtocol,
    /// Port clients connect to, 1 to 65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// TLS termination for `HTTPS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsTermination>,
}

/// TLS termination (SSL offload).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsTermination {
    /// Name of a `kubernetes.io/tls` Secret in this namespace holding the certificate and key.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
}

/// A backend: VirtualServers by name or by label selector, and the port they serve on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.serverName) != has(self.selector)").message("spec.backends[] needs exactly one of serverName or selector"))]
pub struct Backend {
    /// Name of a VirtualServer in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub server_name: Option<String>,
    /// Label selector over the VirtualServers of this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Port the servers listen on, 1 to 65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u32,
    /// Relative weight, 1 to 100 (default 1).
    #[serde(default = "default_weight")]
    #[schemars(range(min = 1, max = 100))]
    pub weight: u32,
}

fn default_weight() -> u32 {
    1
}

/// Health check protocol.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HealthCheckProtocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "HTTP")]
    Http,
    #[serde(rename = "HTTPS")]
    Https,
}

/// Health check of the backends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.protocol != 'TCP' || !has(self.path)").message("spec.healthCheck.path is only for HTTP and HTTPS checks").field_path(".path"))]
#[x_kube(validation = Rule::new("self.timeoutSeconds < self.intervalSeconds").message("spec.healthCheck.timeoutSeconds must be less than intervalSeconds").field_path(".timeoutSeconds"))]
pub struct HealthCheck {
    /// `TCP` (default: connect), `HTTP` or `HTTPS` (expects a 2xx or 3xx answer).
    #[serde(default)]
    pub protocol: HealthCheckProtocol,
    /// Request path for HTTP and HTTPS checks, e.g. `/healthz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), regex(pattern = r"^/"))]
    pub path: Option<String>,
    /// Seconds between checks, 1 to 300 (default 10).
    #[serde(default = "default_interval")]
    #[schemars(range(min = 1, max = 300))]
    pub interval_seconds: u32,
    /// Seconds before a check fails, 1 to 60 (default 5).
    #[serde(default = "default_timeout")]
    #[schemars(range(min = 1, max = 60))]
    pub timeout_seconds: u32,
    /// Failed checks in a row before a backend is taken out, 1 to 10 (default 3).
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 1, max = 10))]
    pub unhealthy_threshold: u32,
}

fn default_interval() -> u32 {
    10
}

fn default_timeout() -> u32 {
    5
}

fn default_threshold() -> u32 {
    3
}

/// One resolved backend server and its health.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackendStatus {
    /// Name of the VirtualServer in this namespace.
    pub server: String,
    /// Its address on the server segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Port traffic is sent to.
    pub port: u32,
    /// Whether it passes the health check.
    pub healthy: bool,
}

/// Observed state of a load balancer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LoadBalancerStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// The address clients connect to (the VRRP virtual address when redundant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Backend servers resolved from names and selectors, with their health as the platform's
    /// health check reports it, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["server"]))]
    pub backends: Vec<BackendStatus>,
    /// How many backends pass the health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_backends: Option<u32>,
}
