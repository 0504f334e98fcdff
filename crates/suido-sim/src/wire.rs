//! Request and response bodies of the simulator's HTTP API, shared by the server and the client.

use serde::{Deserialize, Serialize};
use suido_provider::{ClientToken, FailureLayer, ServerSize, ServerSpec, Tags, VolumeSpec};

/// `POST /v1/servers`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateServerRequest {
    /// Idempotency key.
    pub client_token: ClientToken,
    /// Tags of the new server.
    #[serde(default)]
    pub tags: Tags,
    /// What to build.
    pub spec: ServerSpec,
}

/// `POST /v1/volumes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateVolumeRequest {
    /// Idempotency key.
    pub client_token: ClientToken,
    /// Tags of the new volume.
    #[serde(default)]
    pub tags: Tags,
    /// What to create.
    pub spec: VolumeSpec,
}

/// `POST /v1/<family>` (load balancers, WAF, IDS/IPS, SMTP relays, backup jobs, snapshots,
/// restores): a create with its client token, tags and spec.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRequest<S> {
    /// Idempotency key.
    pub client_token: ClientToken,
    /// Tags of the new resource.
    #[serde(default)]
    pub tags: Tags,
    /// What to create.
    pub spec: S,
}

/// `PUT /v1/<family>/{id}`: the whole new spec.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRequest<S> {
    /// The spec to apply.
    pub spec: S,
}

/// `POST /admin/wafs/{id}/traffic`: requests to add to a WAF's counters.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct WafTraffic {
    /// Requests inspected.
    pub inspected: u64,
    /// Requests blocked.
    pub blocked: u64,
}

/// `POST /admin/ips/{id}/traffic`: events to add to an IDS/IPS's counters.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct IpsTraffic {
    /// Alerts raised.
    pub alerts: u64,
    /// Packets or connections dropped.
    pub drops: u64,
}

/// `POST /admin/smtp-relays/{id}/traffic`: messages to add to an SMTP relay's counters.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct SmtpTraffic {
    /// Messages accepted.
    pub accepted: u64,
    /// Messages rejected.
    pub rejected: u64,
}

/// `POST /admin/backup-jobs/{id}/fail-runs`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailRunsRequest {
    /// How many of the next runs fail (0 stops failing them).
    pub runs: u32,
}

/// `POST /admin/clock`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AdvanceClockRequest {
    /// How far to move the platform's clock ahead, in milliseconds.
    pub advance_ms: u64,
}

/// `GET /admin/clock` and the answer of `POST /admin/clock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockState {
    /// The platform's time.
    pub now: jiff::Timestamp,
    /// How far it is ahead of the system clock, in milliseconds.
    pub offset_ms: i64,
}

/// `POST /v1/servers/{id}/resize`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResizeRequest {
    /// The new size.
    pub size: ServerSize,
}

/// `POST /v1/servers/{id}/disks/{name}/grow` and `POST /v1/volumes/{id}/grow`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrowRequest {
    /// The new size in GB.
    pub size_gb: u32,
}

/// `POST /v1/volumes/{id}/attach`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttachRequest {
    /// The server to attach to.
    pub server_id: String,
}

/// `POST /admin/fail-host`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailHostRequest {
    /// The server taken down.
    pub server_id: String,
    /// For how long, in milliseconds.
    pub duration_ms: u64,
    /// The failed layer (default `Hypervisor`).
    #[serde(default = "hypervisor")]
    pub layer: FailureLayer,
}

fn hypervisor() -> FailureLayer {
    FailureLayer::Hypervisor
}

/// A list response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct List<T> {
    /// The items.
    pub items: Vec<T>,
}

/// The body of every error response.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// An error's code and message.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// `InvalidRequest`, `QuotaExceeded`, `FailedPrecondition`, `NotFound`, `Conflict`,
    /// `Unavailable` or `Timeout`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}
