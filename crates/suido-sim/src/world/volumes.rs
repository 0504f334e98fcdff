//! Block storage volumes: validation, quotas, the volume operations and their effects.

use suido_provider::catalog::{VOLUME_SIZES_GB, list_text};
use suido_provider::{
    ClientToken, Operation, OperationKind, ProviderError, ProviderResult, ServerState, Tags,
    Volume, VolumeSpec, VolumeState, tags_match,
};

use super::ops::Action;
use super::{Tx, World, check_name, check_tags};
use crate::store::Key;

impl World {
    pub(crate) fn volume(&self, id: &str) -> ProviderResult<&Volume> {
        self.volumes
            .get(id)
            .ok_or_else(|| ProviderError::not_found(format!("volume {id} does not exist")))
    }

    pub(crate) fn list_volumes(&self, selector: &Tags) -> Vec<Volume> {
        self.volumes
            .values()
            .filter(|v| tags_match(&v.tags, selector))
            .cloned()
            .collect()
    }
}

fn check_volume_size(field: &str, size_gb: u32) -> ProviderResult<()> {
    if !VOLUME_SIZES_GB.contains(&size_gb) {
        return Err(ProviderError::invalid(format!(
            "{field} {size_gb} is not on the block storage menu; allowed: {} (GB)",
            list_text(&VOLUME_SIZES_GB)
        )));
    }
    Ok(())
}

impl Tx<'_> {
    pub(super) fn volume_mut(&mut self, id: &str) -> ProviderResult<&mut Volume> {
        self.dirty.insert(Key::Volume(id.to_string()));
        self.world
            .volumes
            .get_mut(id)
            .ok_or_else(|| ProviderError::not_found(format!("volume {id} does not exist")))
    }

    fn check_volume_quota(&self, tags: &Tags, add_gb: u64) -> ProviderResult<()> {
        for (scope, limits, tenant) in self.scopes(tags) {
            let used: u64 = self
                .world
                .volumes
                .values()
                .filter(|v| self.in_scope(&v.tags, &tenant))
                .map(|v| u64::from(v.size_gb))
                .sum();
            if let Some(max) = limits.max_volume_gb
                && used.saturating_add(add_gb) > max
            {
                return Err(ProviderError::quota(format!(
                    "{scope} may have at most {max} GB of block storage, has {used} and asks for {add_gb} more"
                )));
            }
        }
        Ok(())
    }

    fn release_volume(&mut self, id: &str, op_id: &str) {
        if let Ok(v) = self.volume_mut(id)
            && v.operation.as_deref() == Some(op_id)
        {
            v.operation = None;
        }
    }

    pub(super) fn apply_volume(
        &mut self,
        action: &Action,
        id: &str,
        op_id: &str,
    ) -> ProviderResult<()> {
        match action {
            Action::CreateVolume => {
                self.volume_mut(id)?.state = VolumeState::Available;
                self.release_volume(id, op_id);
            }
            Action::GrowVolume { size_gb } => {
                self.volume_mut(id)?.size_gb = *size_gb;
                self.release_volume(id, op_id);
            }
            Action::AttachVolume { server_id } => {
                self.volume_mut(id)?;
                self.release_volume(id, op_id);
                let usable = self
                    .world
                    .servers
                    .get(server_id)
                    .is_some_and(|r| r.server.state != ServerState::Deleting);
                if !usable {
                    return Err(ProviderError::not_found(format!(
                        "server {server_id} no longer exists"
                    )));
                }
                let server = self.server_mut(server_id)?;
                if !server.server.volumes.iter().any(|v| v == id) {
                    server.server.volumes.push(id.to_string());
                }
                let vol = self.volume_mut(id)?;
                vol.state = VolumeState::Attached;
                vol.attached_to = Some(server_id.clone());
            }
            Action::DetachVolume => {
                let vol = self.volume_mut(id)?;
                let server = vol.attached_to.take();
                vol.state = VolumeState::Available;
                self.release_volume(id, op_id);
                if let Some(s) = server
                    && let Ok(rec) = self.server_mut(&s)
                {
                    rec.server.volumes.retain(|v| v != id);
                }
            }
            Action::DeleteVolume => {
                self.volume_mut(id)?;
                self.world.volumes.remove(id);
            }
            _ => {
                return Err(ProviderError::transient(format!(
                    "operation {op_id} has no volume action"
                )));
            }
        }
        Ok(())
    }

    pub(crate) fn create_volume(
        &mut self,
        token: ClientToken,
        tags: Tags,
        spec: VolumeSpec,
    ) -> ProviderResult<(Operation, bool)> {
        check_tags(&tags)?;
        check_name("spec.name", &spec.name)?;
        check_volume_size("spec.sizeGb", spec.size_gb)?;
        let fingerprint = serde_json::to_string(&(&tags, &spec))
            .map_err(|e| ProviderError::invalid(e.to_string()))?;
        let key = format!("volume:{token}");
        if let Some(op) = self.replay(&key, &fingerprint, "volume")? {
            return Ok((op, false));
        }
        self.check_volume_quota(&tags, u64::from(spec.size_gb))?;
        let id = self.new_id("vol");
        let volume = Volume {
            id: id.clone(),
            name: spec.name,
            tags,
            state: VolumeState::Creating,
            plan: spec.plan,
            size_gb: spec.size_gb,
            attached_to: None,
            iscsi_target: format!("iqn.2026-01.invalid.sim:{id}"),
            client_token: token.clone(),
            operation: None,
            created_at: self.now,
        };
        self.world.volumes.insert(id.clone(), volume);
        self.dirty.insert(Key::Volume(id.clone()));
        let ms = self.rules.durations.volume_ms;
        let op = self.start_op(
            Action::CreateVolume,
            &id,
            ms,
            Some(token),
            Some(fingerprint),
        );
        self.remember_token(key, &op);
        if !op.state.is_done() {
            self.volume_mut(&id)?.operation = Some(op.id.clone());
        }
        Ok((op, true))
    }

    fn busy_volume(
        &self,
        id: &str,
        kind: Option<OperationKind>,
    ) -> ProviderResult<Option<Operation>> {
        let vol = self.world.volume(id)?;
        let Some(op_id) = &vol.operation else {
            return Ok(None);
        };
        let op = self.world.operation(op_id)?;
        if Some(op.kind) == kind {
            return Ok(Some(op.clone()));
        }
        Err(ProviderError::conflict(format!(
            "volume {id} is busy with operation {op_id} ({:?})",
            op.kind
        )))
    }

    fn volume_op(&mut self, id: &str, action: Action) -> ProviderResult<Operation> {
        let op = self.start_op(action, id, self.rules.durations.volume_ms, None, None);
        if !op.state.is_done() {
            self.volume_mut(id)?.operation = Some(op.id.clone());
        }
        Ok(op)
    }

    pub(crate) fn grow_volume(&mut self, id: &str, size_gb: u32) -> ProviderResult<Operation> {
        check_volume_size("sizeGb", size_gb)?;
        self.busy_volume(id, None)?;
        let vol = self.world.volume(id)?;
        if vol.state == VolumeState::Deleting {
            return Err(ProviderError::conflict(format!(
                "volume {id} is being deleted"
            )));
        }
        if size_gb <= vol.size_gb {
            return Err(ProviderError::invalid(format!(
                "sizeGb {size_gb} must be larger than the volume's {} GB: volumes only grow",
                vol.size_gb
            )));
        }
        let tags = vol.tags.clone();
        self.check_volume_quota(&tags, u64::from(size_gb - vol.size_gb))?;
        self.volume_op(id, Action::GrowVolume { size_gb })
    }

    pub(crate) fn attach_volume(&mut self, id: &str, server_id: &str) -> ProviderResult<Operation> {
        self.busy_volume(id, None)?;
        let vol = self.world.volume(id)?;
        match (&vol.state, &vol.attached_to) {
            (VolumeState::Available, _) => {}
            (VolumeState::Attached, Some(s)) => {
                return Err(ProviderError::conflict(format!(
                    "volume {id} is already attached to server {s}; detach it first"
                )));
            }
            (state, _) => {
                return Err(ProviderError::conflict(format!(
                    "volume {id} must be Available to attach; it is {state:?}"
                )));
            }
        }
        let server = &self.world.server(server_id)?.server;
        if server.state == ServerState::Deleting {
            return Err(ProviderError::conflict(format!(
                "server {server_id} is being deleted"
            )));
        }
        let action = Action::AttachVolume {
            server_id: server_id.to_string(),
        };
        self.volume_op(id, action)
    }

    pub(crate) fn detach_volume(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_volume(id, Some(OperationKind::DetachVolume))? {
            return Ok(op);
        }
        let vol = self.world.volume(id)?;
        if vol.state != VolumeState::Attached {
            return Err(ProviderError::conflict(format!(
                "volume {id} is not attached; it is {:?}",
                vol.state
            )));
        }
        self.volume_op(id, Action::DetachVolume)
    }

    pub(crate) fn delete_volume(&mut self, id: &str) -> ProviderResult<Operation> {
        if let Some(op) = self.busy_volume(id, Some(OperationKind::DeleteVolume))? {
            return Ok(op);
        }
        let vol = self.world.volume(id)?;
        if let Some(s) = &vol.attached_to {
            return Err(ProviderError::conflict(format!(
                "volume {id} is attached to server {s}; detach it first"
            )));
        }
        self.volume_mut(id)?.state = VolumeState::Deleting;
        self.volume_op(id, Action::DeleteVolume)
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{OperationState, VolumePlan};

    use super::*;
    use crate::config::{Durations, Rules};
    use crate::world::after;
    use crate::world::testkit::{server_spec as spec, t0, token};

    #[test]
    fn an_attach_to_a_server_deleted_meanwhile_fails_and_leaves_the_volume_available()
    -> ProviderResult<()> {
        let mut rules = Rules {
            durations: Durations::instant(),
            ..Rules::default()
        };
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let server = tx
            .create_server(token("s"), Tags::new(), spec("1CPU-2GB"))?
            .0
            .resource_id;
        let vspec = VolumeSpec {
            name: "v".into(),
            plan: VolumePlan::Iops2PerGb,
            size_gb: 100,
        };
        let vol = tx
            .create_volume(token("v"), Tags::new(), vspec)?
            .0
            .resource_id;

        rules.durations.volume_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let attach = tx.attach_volume(&vol, &server)?;
        tx.delete_server(&server)?;
        let mut later = Tx::new(&mut world, after(t0(), 1000), &rules);
        assert_eq!(later.complete_due(), 1);
        match &world.operation(&attach.id)?.state {
            OperationState::Failed { error } => assert_eq!(error.label(), "not_found"),
            other => panic!("attach ended {other:?}"),
        }
        let v = world.volume(&vol)?;
        assert_eq!(
            (v.state, v.attached_to.clone(), v.operation.clone()),
            (VolumeState::Available, None, None)
        );
        Ok(())
    }
}
