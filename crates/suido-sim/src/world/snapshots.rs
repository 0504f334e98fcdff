//! Snapshots: an image of a server, which the platform only takes while the server is stopped
//! (refused with a failed precondition otherwise). The server is held busy until the image is
//! taken. Deleting a snapshot deletes its image.

use std::collections::BTreeMap;

use jiff::Timestamp;
use suido_provider::{
    ClientToken, Operation, ProviderError, ProviderResult, ResourceState, RestoreSourceSpec,
    ServerState, Snapshot, SnapshotSpec, Tags,
};

use super::checks::no_such;
use super::family::{Common, Family, Kind, common};
use super::ops::Action;
use super::servers::ServerRecord;
use super::{Tx, World, check_name};

common!(Snapshot);

/// The snapshot family.
pub(crate) struct SnapshotFamily;

/// The size of a server's image: its OS disk and additional disks.
pub(crate) fn image_gb(rec: &ServerRecord) -> u32 {
    rec.server.os_disk_gb + rec.server.disks.iter().map(|d| d.size_gb).sum::<u32>()
}

impl Kind for SnapshotFamily {
    const FAMILY: Family = Family::Snapshot;
    type Spec = SnapshotSpec;
    type Record = Snapshot;
    type Resource = Snapshot;

    fn table(world: &World) -> &BTreeMap<String, Snapshot> {
        &world.snapshots
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, Snapshot> {
        &mut world.snapshots
    }

    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &SnapshotSpec,
        _id: Option<&str>,
    ) -> ProviderResult<()> {
        check_name("spec.name", &spec.name)?;
        let id = &spec.server_id;
        if !tx.server_visible(tags, id) {
            return Err(no_such("spec.serverId", "server", id));
        }
        let server = &tx.world.server(id)?.server;
        if server.state != ServerState::Stopped {
            return Err(ProviderError::precondition(format!(
                "spec.serverId: server {id} must be Stopped to take a snapshot; it is {:?}",
                server.state
            )));
        }
        if let Some(op) = &server.operation {
            return Err(ProviderError::conflict(format!(
                "server {id} is busy with operation {op}"
            )));
        }
        Ok(())
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: SnapshotSpec,
    ) -> ProviderResult<Snapshot> {
        let size_gb = image_gb(tx.world.server(&spec.server_id)?);
        Ok(Snapshot {
            id: id.to_string(),
            tags,
            state: ResourceState::Creating,
            client_token: token,
            operation: None,
            created_at: tx.now,
            server_id: spec.server_id.clone(),
            spec,
            size_gb,
            taken_at: None,
        })
    }

    fn started(tx: &mut Tx<'_>, id: &str, op: &Operation) -> ProviderResult<()> {
        let server = tx.world.record::<SnapshotFamily>(id)?.server_id.clone();
        tx.hold_server(op, &server)
    }

    fn check_delete(tx: &Tx<'_>, id: &str) -> ProviderResult<()> {
        tx.check_no_restore_from(id, "snapshot")
    }

    fn update_action(_spec: SnapshotSpec) -> Option<Action> {
        None
    }

    fn present(_world: &World, snap: &Snapshot, _now: Timestamp) -> Snapshot {
        snap.clone()
    }
}

impl Tx<'_> {
    pub(super) fn snapshot_taken(&mut self, id: &str, op_id: &str) -> ProviderResult<()> {
        let server = self.world.record::<SnapshotFamily>(id)?.server_id.clone();
        let size_gb = match self.world.servers.get(&server) {
            Some(rec) => image_gb(rec),
            None => {
                return Err(ProviderError::not_found(format!(
                    "server {server} no longer exists; no image was taken"
                )));
            }
        };
        let now = self.now;
        let snap = self.record_mut::<SnapshotFamily>(id)?;
        snap.size_gb = size_gb;
        snap.taken_at = Some(now);
        self.settle::<SnapshotFamily>(id, op_id)
    }

    /// Refuses to delete a snapshot or backup job that a running restore reads from.
    pub(super) fn check_no_restore_from(&self, id: &str, noun: &str) -> ProviderResult<()> {
        let reading = self.world.restores.values().find(|r| {
            r.operation().is_some()
                && match &r.spec.source {
                    RestoreSourceSpec::Snapshot { snapshot_id } => snapshot_id == id,
                    RestoreSourceSpec::RecoveryPoint { job_id, .. } => job_id == id,
                }
        });
        if let Some(r) = reading {
            return Err(ProviderError::conflict(format!(
                "{noun} {id} is being read by restore {}; delete it once the restore has ended",
                r.id
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::OperationState;

    use super::*;
    use crate::world::testkit::{at, instant, server_spec, t0, token};

    #[test]
    fn a_snapshot_needs_a_stopped_server_and_holds_it() -> ProviderResult<()> {
        let mut rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let srv = tx
            .create_server(token("s"), Tags::new(), server_spec("1CPU-2GB"))?
            .0
            .resource_id;
        let spec = SnapshotSpec {
            name: "before-upgrade".into(),
            server_id: srv.clone(),
        };
        let err = tx
            .create::<SnapshotFamily>(token("p"), Tags::new(), spec.clone())
            .err();
        let Some(err) = err else {
            panic!("a snapshot of a running server was taken");
        };
        assert_eq!(err.label(), "failed_precondition");
        assert!(err.message().contains("must be Stopped") && err.message().contains("Running"));
        assert!(err.is_terminal());
        tx.stop_server(&srv)?;

        rules.service_durations.snapshot_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let op = tx
            .create::<SnapshotFamily>(token("p"), Tags::new(), spec)?
            .0;
        assert_eq!(
            tx.start_server(&srv).err().map(|e| e.label()),
            Some("conflict"),
            "the server is held while the image is taken"
        );
        Tx::new(&mut world, at(1), &rules).tick();
        assert_eq!(world.operation(&op.id)?.state, OperationState::Succeeded);
        let snap = &world.snapshots[&op.resource_id];
        assert_eq!((snap.state, snap.size_gb), (ResourceState::Available, 40));
        assert_eq!(snap.taken_at, Some(at(1)));
        assert_eq!(world.server(&srv)?.server.operation, None);
        // A replay of the create is answered although the server runs again by now.
        let mut tx = Tx::new(&mut world, at(1), &rules);
        tx.start_server(&srv)?;
        let spec = SnapshotSpec {
            name: "before-upgrade".into(),
            server_id: srv.clone(),
        };
        let (replay, new) = tx.create::<SnapshotFamily>(token("p"), Tags::new(), spec)?;
        assert_eq!((replay.id, new), (op.id, false));
        Ok(())
    }
}
