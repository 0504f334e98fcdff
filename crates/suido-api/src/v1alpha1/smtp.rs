//! `SmtpRelay`: outbound mail relay from servers to external addresses.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE,
};

/// Desired state of the SMTP relay. Outbound only: the platform receives no mail, so there is no
/// inbound setting. The sender address must be in the domain the platform designates; the
/// schema checks the address form and the SmtpRelay controller checks the domain against the
/// operator's configured designated domain, reporting `Ready=False` with reason `InvalidSpec`.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "SmtpRelay",
    namespaced,
    shortname = "smtp",
    category = "suido",
    status = "SmtpRelayStatus",
    doc = "Outbound mail relay from VirtualServers to external addresses, with a sender in the platform's designated domain.",
    printcolumn(
        name = "Sender",
        type_ = "string",
        json_path = ".spec.senderAddress",
        description = "Sender address"
    ),
    printcolumn(
        name = "Relay",
        type_ = "string",
        json_path = ".status.relayEndpoint",
        description = "Host:port servers send to"
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
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform relay id"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
pub struct SmtpRelaySpec {
    /// Names of the VirtualServers in this namespace allowed to send through the relay.
    #[schemars(length(min = 1, max = 256), inner(length(min = 1, max = 253)), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_servers: Vec<String>,

    /// Envelope sender address, in the platform's designated sender domain.
    #[schemars(length(min = 3, max = 254), extend("format" = "email"))]
    pub sender_address: String,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// Observed state of the SMTP relay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SmtpRelayStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// The platform SMTP server the allowed servers send to, as `host:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_endpoint: Option<String>,
    /// Messages the relay accepted for delivery, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted: Option<u64>,
    /// Messages the relay refused, as the platform reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// The VirtualServers of `spec.allowedServers` that are built and allowed to relay.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_servers: Vec<String>,
}
