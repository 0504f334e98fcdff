//! Long-running operations: what they do, how far they are, and the record a caller polls.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::ProviderError;
use crate::types::ClientToken;

/// What an operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperationKind {
    /// Build a server.
    CreateServer,
    /// Power a server on.
    StartServer,
    /// Power a server off.
    StopServer,
    /// Change a server's size.
    ResizeServer,
    /// Add a disk to a server.
    AttachDisk,
    /// Enlarge a server's disk.
    GrowDisk,
    /// Remove a disk from a server.
    DetachDisk,
    /// Delete a server.
    DeleteServer,
    /// Create a block volume.
    CreateVolume,
    /// Enlarge a block volume.
    GrowVolume,
    /// Attach a block volume to a server.
    AttachVolume,
    /// Detach a block volume from its server.
    DetachVolume,
    /// Delete a block volume.
    DeleteVolume,
    /// Build a load balancer.
    CreateLoadBalancer,
    /// Apply a new spec to a load balancer.
    UpdateLoadBalancer,
    /// Delete a load balancer.
    DeleteLoadBalancer,
    /// Build a WAF.
    CreateWaf,
    /// Apply a new spec to a WAF.
    UpdateWaf,
    /// Delete a WAF.
    DeleteWaf,
    /// Build an IDS/IPS.
    CreateIps,
    /// Apply a new spec to an IDS/IPS.
    UpdateIps,
    /// Delete an IDS/IPS.
    DeleteIps,
    /// Set up an SMTP relay.
    CreateSmtpRelay,
    /// Apply a new spec to an SMTP relay.
    UpdateSmtpRelay,
    /// Delete an SMTP relay.
    DeleteSmtpRelay,
    /// Register a backup job.
    CreateBackupJob,
    /// Apply new settings to a backup job.
    UpdateBackupJob,
    /// Delete a backup job and its recovery points.
    DeleteBackupJob,
    /// Take a snapshot of a stopped server.
    CreateSnapshot,
    /// Delete a snapshot and its image.
    DeleteSnapshot,
    /// Run a data or system restore.
    CreateRestore,
    /// Remove the record of a finished restore.
    DeleteRestore,
}

/// Progress of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum OperationState {
    /// Accepted, not started.
    Pending,
    /// In progress.
    Running,
    /// Done.
    Succeeded,
    /// Ended without doing its work.
    Failed {
        /// Why.
        error: ProviderError,
    },
}

impl OperationState {
    /// Whether the operation has ended (succeeded or failed).
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            OperationState::Succeeded | OperationState::Failed { .. }
        )
    }
}

/// A long-running operation. Its id can be polled again after a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// Platform id of the operation.
    pub id: String,
    /// What it does.
    pub kind: OperationKind,
    /// Progress.
    #[serde(flatten)]
    pub state: OperationState,
    /// The resource it works on (server, volume, load balancer, restore, ...).
    pub resource_id: String,
    /// The client token of the create it belongs to, for creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<ClientToken>,
    /// When it was accepted.
    pub created_at: Timestamp,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn operation_state_is_flattened_with_its_error() -> Result<(), Box<dyn std::error::Error>> {
        let op = Operation {
            id: "op-1".into(),
            kind: OperationKind::AttachVolume,
            state: OperationState::Failed {
                error: ProviderError::not_found("server srv-2"),
            },
            resource_id: "vol-1".into(),
            client_token: None,
            created_at: "2026-11-26T00:00:00Z".parse()?,
            finished_at: Some("2026-11-26T00:00:01Z".parse()?),
        };
        let v = serde_json::to_value(&op)?;
        assert_eq!(v["state"], "Failed");
        assert_eq!(v["error"]["class"], "notFound");
        assert_eq!(v["kind"], "AttachVolume");
        let back: Operation = serde_json::from_value(v)?;
        assert_eq!(back, op);
        assert!(back.state.is_done());
        let running: OperationState = serde_json::from_value(json!({"state": "Running"}))?;
        assert!(!running.is_done());
        Ok(())
    }

    #[test]
    fn kinds_of_the_new_families_use_their_names() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_value(OperationKind::CreateLoadBalancer)?,
            json!("CreateLoadBalancer")
        );
        assert_eq!(
            serde_json::from_value::<OperationKind>(json!("DeleteRestore"))?,
            OperationKind::DeleteRestore
        );
        Ok(())
    }
}
