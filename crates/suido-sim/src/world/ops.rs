//! Operations: what each one does when it completes ([`Action`]), starting them, completing
//! the due ones, and releasing what they held.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use suido_provider::{
    BackupJobSpec, ClientToken, Disk, IpsSpec, LoadBalancerSpec, Operation, OperationKind,
    OperationState, ProviderError, ProviderResult, ResourceState, ServerSize, SmtpRelaySpec,
    WafSpec,
};

use super::family::{Common, Family, with_kind};
use super::{Tx, after};
use crate::store::Key;

/// What an operation does when it completes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub(crate) enum Action {
    CreateServer,
    StartServer,
    StopServer,
    ResizeServer {
        size: ServerSize,
    },
    AttachDisk {
        disk: Disk,
    },
    GrowDisk {
        name: String,
        size_gb: u32,
    },
    DetachDisk {
        name: String,
    },
    DeleteServer,
    CreateVolume,
    GrowVolume {
        size_gb: u32,
    },
    AttachVolume {
        server_id: String,
    },
    DetachVolume,
    DeleteVolume,
    /// Build (or take, or run) a resource of a service family.
    Create {
        family: Family,
    },
    UpdateLoadBalancer {
        spec: LoadBalancerSpec,
    },
    UpdateWaf {
        spec: WafSpec,
    },
    UpdateIps {
        spec: IpsSpec,
    },
    UpdateSmtpRelay {
        spec: SmtpRelaySpec,
    },
    UpdateBackupJob {
        spec: BackupJobSpec,
    },
    /// Delete a resource of a service family.
    Delete {
        family: Family,
    },
}

impl Action {
    pub(crate) fn kind(&self) -> OperationKind {
        match self {
            Action::CreateServer => OperationKind::CreateServer,
            Action::StartServer => OperationKind::StartServer,
            Action::StopServer => OperationKind::StopServer,
            Action::ResizeServer { .. } => OperationKind::ResizeServer,
            Action::AttachDisk { .. } => OperationKind::AttachDisk,
            Action::GrowDisk { .. } => OperationKind::GrowDisk,
            Action::DetachDisk { .. } => OperationKind::DetachDisk,
            Action::DeleteServer => OperationKind::DeleteServer,
            Action::CreateVolume => OperationKind::CreateVolume,
            Action::GrowVolume { .. } => OperationKind::GrowVolume,
            Action::AttachVolume { .. } => OperationKind::AttachVolume,
            Action::DetachVolume => OperationKind::DetachVolume,
            Action::DeleteVolume => OperationKind::DeleteVolume,
            Action::Create { family } => family.create_kind(),
            Action::UpdateLoadBalancer { .. } => OperationKind::UpdateLoadBalancer,
            Action::UpdateWaf { .. } => OperationKind::UpdateWaf,
            Action::UpdateIps { .. } => OperationKind::UpdateIps,
            Action::UpdateSmtpRelay { .. } => OperationKind::UpdateSmtpRelay,
            Action::UpdateBackupJob { .. } => OperationKind::UpdateBackupJob,
            Action::Delete { family } => family.delete_kind(),
        }
    }

    /// The service family whose record the operation works on, if any.
    fn family(&self) -> Option<Family> {
        match self {
            Action::Create { family } | Action::Delete { family } => Some(*family),
            Action::UpdateLoadBalancer { .. } => Some(Family::LoadBalancer),
            Action::UpdateWaf { .. } => Some(Family::Waf),
            Action::UpdateIps { .. } => Some(Family::Ips),
            Action::UpdateSmtpRelay { .. } => Some(Family::SmtpRelay),
            Action::UpdateBackupJob { .. } => Some(Family::BackupJob),
            _ => None,
        }
    }
}

/// An operation and what it will do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OpRecord {
    pub op: Operation,
    pub action: Action,
    pub due: Timestamp,
    /// For creates: the request the client token was first used for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A server the operation holds busy besides its own resource (a snapshot or a restore
    /// holds its server), released when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holds_server: Option<String>,
}

impl Tx<'_> {
    /// Starts an operation; with a zero duration it completes at once.
    pub(crate) fn start_op(
        &mut self,
        action: Action,
        resource_id: &str,
        duration_ms: u64,
        token: Option<ClientToken>,
        fingerprint: Option<String>,
    ) -> Operation {
        let id = self.new_id("op");
        let op = Operation {
            id: id.clone(),
            kind: action.kind(),
            state: OperationState::Running,
            resource_id: resource_id.to_string(),
            client_token: token,
            created_at: self.now,
            finished_at: None,
        };
        let started = op.clone();
        self.world.ops.insert(
            id.clone(),
            OpRecord {
                op,
                action,
                due: after(self.now, duration_ms),
                fingerprint,
                holds_server: None,
            },
        );
        self.dirty.insert(Key::Op(id.clone()));
        if duration_ms == 0 {
            self.finish(&id);
        }
        self.world
            .ops
            .get(&id)
            .map(|r| r.op.clone())
            .unwrap_or(started)
    }

    /// Marks `server_id` busy with a running operation `op` of another resource.
    pub(crate) fn hold_server(&mut self, op: &Operation, server_id: &str) -> ProviderResult<()> {
        if op.state.is_done() {
            return Ok(());
        }
        self.server_mut(server_id)?.server.operation = Some(op.id.clone());
        if let Some(rec) = self.world.ops.get_mut(&op.id) {
            rec.holds_server = Some(server_id.to_string());
            self.dirty.insert(Key::Op(op.id.clone()));
        }
        Ok(())
    }

    /// Completes every running operation due at `now`; returns how many.
    pub(crate) fn complete_due(&mut self) -> usize {
        let due: Vec<String> = self
            .world
            .ops
            .iter()
            .filter(|(_, r)| !r.op.state.is_done() && r.due <= self.now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &due {
            self.finish(id);
        }
        due.len()
    }

    /// Applies an operation's effect and marks it done.
    fn finish(&mut self, op_id: &str) {
        let Some(rec) = self.world.ops.get(op_id) else {
            return;
        };
        let action = rec.action.clone();
        let resource = rec.op.resource_id.clone();
        let result = self.apply(&action, &resource, op_id);
        if let Err(e) = &result {
            tracing::info!(op = op_id, error = %e, "operation failed");
        }
        self.end_op(op_id, result);
        if let Some(family) = action.family() {
            let failed_create = matches!(action, Action::Create { .. })
                && self
                    .world
                    .ops
                    .get(op_id)
                    .is_some_and(|r| matches!(r.op.state, OperationState::Failed { .. }));
            with_kind!(family, K => {
                if failed_create
                    && let Ok(rec) = self.record_mut::<K>(&resource)
                    && rec.state().is_some()
                {
                    rec.set_state(ResourceState::Error);
                }
                self.release::<K>(&resource, op_id);
            });
        }
    }

    /// Records how an operation ended and releases the server it held.
    pub(crate) fn end_op(&mut self, op_id: &str, result: ProviderResult<()>) {
        let now = self.now;
        let mut held = None;
        if let Some(rec) = self.world.ops.get_mut(op_id) {
            rec.op.state = match result {
                Ok(()) => OperationState::Succeeded,
                Err(error) => OperationState::Failed { error },
            };
            rec.op.finished_at = Some(now);
            held = rec.holds_server.clone();
        }
        self.dirty.insert(Key::Op(op_id.to_string()));
        if let Some(server) = held {
            self.release_server(&server, op_id);
        }
    }

    /// Fails every running operation on `resource_id` at once (its resource was removed
    /// behind the platform API's back).
    pub(crate) fn fail_ops_on(&mut self, resource_id: &str, why: &str) {
        let running: Vec<String> = self
            .world
            .ops
            .iter()
            .filter(|(_, r)| !r.op.state.is_done() && r.op.resource_id == resource_id)
            .map(|(id, _)| id.clone())
            .collect();
        for op_id in running {
            self.end_op(&op_id, Err(ProviderError::not_found(why.to_string())));
        }
    }

    fn apply(&mut self, action: &Action, id: &str, op_id: &str) -> ProviderResult<()> {
        match action {
            Action::Create { family } => match family {
                Family::LoadBalancer => self.load_balancer_built(id, op_id),
                Family::Waf => self.settle::<super::guards::WafFamily>(id, op_id),
                Family::Ips => self.settle::<super::guards::IpsFamily>(id, op_id),
                Family::SmtpRelay => self.smtp_relay_built(id, op_id),
                Family::BackupJob => self.backup_job_registered(id, op_id),
                Family::Snapshot => self.snapshot_taken(id, op_id),
                Family::Restore => self.restore_run(id, op_id),
            },
            Action::UpdateLoadBalancer { spec } => self.load_balancer_updated(id, spec, op_id),
            Action::UpdateWaf { spec } => {
                self.record_mut::<super::guards::WafFamily>(id)?.spec = spec.clone();
                self.settle::<super::guards::WafFamily>(id, op_id)
            }
            Action::UpdateIps { spec } => {
                self.record_mut::<super::guards::IpsFamily>(id)?.spec = spec.clone();
                self.settle::<super::guards::IpsFamily>(id, op_id)
            }
            Action::UpdateSmtpRelay { spec } => {
                self.record_mut::<super::guards::SmtpFamily>(id)?.spec = spec.clone();
                self.settle::<super::guards::SmtpFamily>(id, op_id)
            }
            Action::UpdateBackupJob { spec } => self.backup_job_updated(id, spec, op_id),
            Action::Delete { family } => {
                with_kind!(*family, K => self.remove::<K>(id).map(|_| ()))
            }
            Action::CreateVolume
            | Action::GrowVolume { .. }
            | Action::AttachVolume { .. }
            | Action::DetachVolume
            | Action::DeleteVolume => self.apply_volume(action, id, op_id),
            _ => self.apply_server(action, id, op_id),
        }
    }
}
