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
    /// `InvalidRequest`, `QuotaExceeded`, `NotFound`, `Conflict`, `Unavailable` or `Timeout`.
    pub code: String,
    /// What went wrong.
    pub message: String,
}
