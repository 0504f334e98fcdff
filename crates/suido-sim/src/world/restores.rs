//! Restores from a recovery point or a snapshot of the same server. A data restore leaves the
//! (running) server as it is. A system restore deletes the pre-restore server and builds a new
//! one with its spec, tags and monitoring and a new id; the server's backup jobs and snapshots
//! follow it to the new id, and its block volumes are detached. The server is held busy while
//! the restore runs; a running restore cannot be cancelled, and deleting a finished one only
//! removes its record.

use std::collections::BTreeMap;

use jiff::Timestamp;
use suido_provider::{
    BackupScopeKind, ClientToken, Disk, Operation, ProviderError, ProviderResult, ResourceState,
    Restore, RestoreKind, RestoreSourceSpec, RestoreSpec, RestoreState, Server, ServerState, Tags,
};

use super::checks::{check_unique, no_such};
use super::family::{Family, Kind};
use super::ops::Action;
use super::servers::ServerRecord;
use super::{BackupFamily, SnapshotFamily, Tx, World, address_for};
use crate::store::Key;

/// The restore family.
pub(crate) struct RestoreFamily;

fn check_paths(paths: &[String]) -> ProviderResult<()> {
    if paths.is_empty() {
        return Err(ProviderError::invalid(
            "spec.kind.paths must list at least one path to restore",
        ));
    }
    for (i, p) in paths.iter().enumerate() {
        let windows = p.len() >= 3 && p.as_bytes()[1] == b':' && p.as_bytes()[2] == b'\\';
        if !(p.starts_with('/') || windows) || p.chars().any(char::is_control) {
            return Err(ProviderError::invalid(format!(
                "spec.kind.paths[{i}] `{p}` must be an absolute path (/var/lib/app or D:\\data)"
            )));
        }
    }
    check_unique("spec.kind.paths", paths)
}

impl Kind for RestoreFamily {
    const FAMILY: Family = Family::Restore;
    type Spec = RestoreSpec;
    type Record = Restore;
    type Resource = Restore;

    fn table(world: &World) -> &BTreeMap<String, Restore> {
        &world.restores
    }

    fn table_mut(world: &mut World) -> &mut BTreeMap<String, Restore> {
        &mut world.restores
    }

    fn validate(
        tx: &Tx<'_>,
        tags: &Tags,
        spec: &RestoreSpec,
        _id: Option<&str>,
    ) -> ProviderResult<()> {
        let id = &spec.server_id;
        if !tx.server_visible(tags, id) {
            return Err(no_such("spec.serverId", "server", id));
        }
        let server = &tx.world.server(id)?.server;
        match &spec.kind {
            RestoreKind::Data { paths } => {
                check_paths(paths)?;
                if server.state != ServerState::Running {
                    return Err(ProviderError::precondition(format!(
                        "spec.serverId: server {id} must be Running for a data restore; it is {:?}",
                        server.state
                    )));
                }
            }
            RestoreKind::System => {
                if matches!(server.state, ServerState::Building | ServerState::Deleting) {
                    return Err(ProviderError::precondition(format!(
                        "spec.serverId: server {id} is {:?}; a system restore needs a built server",
                        server.state
                    )));
                }
            }
        }
        if let Some(op) = &server.operation {
            return Err(ProviderError::conflict(format!(
                "server {id} is busy with operation {op}"
            )));
        }
        tx.check_restore_source(tags, spec)
    }

    fn build(
        tx: &mut Tx<'_>,
        id: &str,
        token: ClientToken,
        tags: Tags,
        spec: RestoreSpec,
    ) -> ProviderResult<Restore> {
        Ok(Restore {
            id: id.to_string(),
            tags,
            state: RestoreState::Running,
            client_token: token,
            operation: None,
            created_at: tx.now,
            spec,
            error: None,
            new_server_id: None,
            finished_at: None,
        })
    }

    fn started(tx: &mut Tx<'_>, id: &str, op: &Operation) -> ProviderResult<()> {
        let server = tx.world.record::<RestoreFamily>(id)?.spec.server_id.clone();
        tx.hold_server(op, &server)
    }

    fn check_delete(tx: &Tx<'_>, id: &str) -> ProviderResult<()> {
        let state = tx.world.record::<RestoreFamily>(id)?.state;
        if !state.is_done() {
            return Err(ProviderError::conflict(format!(
                "restore {id} is {state:?}; a restore cannot be cancelled, delete it once it has ended"
            )));
        }
        Ok(())
    }

    fn update_action(_spec: RestoreSpec) -> Option<Action> {
        None
    }

    fn present(_world: &World, restore: &Restore, _now: Timestamp) -> Restore {
        restore.clone()
    }
}

impl Tx<'_> {
    /// The recovery point or snapshot must exist, be the tenant's and belong to the server.
    fn check_restore_source(&self, tags: &Tags, spec: &RestoreSpec) -> ProviderResult<()> {
        let server = &spec.server_id;
        match &spec.source {
            RestoreSourceSpec::RecoveryPoint { job_id, point_id } => {
                let job = self
                    .world
                    .backup_jobs
                    .get(job_id)
                    .filter(|r| self.same_tenant(tags, &r.job.tags))
                    .ok_or_else(|| no_such("spec.source.jobId", "backup job", job_id))?;
                if &job.job.spec.server_id != server {
                    return Err(ProviderError::invalid(format!(
                        "spec.source.jobId: backup job {job_id} does not back up server {server}"
                    )));
                }
                if !job.job.recovery_points.iter().any(|p| &p.id == point_id) {
                    return Err(ProviderError::invalid(format!(
                        "spec.source.pointId: backup job {job_id} has no recovery point {point_id}"
                    )));
                }
                if spec.kind == RestoreKind::System && job.job.spec.scope != BackupScopeKind::Image
                {
                    return Err(ProviderError::invalid(format!(
                        "spec.kind: a system restore needs an Image backup; backup job {job_id} backs up data only"
                    )));
                }
            }
            RestoreSourceSpec::Snapshot { snapshot_id } => {
                let snap = self
                    .world
                    .snapshots
                    .get(snapshot_id)
                    .filter(|s| self.same_tenant(tags, &s.tags))
                    .ok_or_else(|| no_such("spec.source.snapshotId", "snapshot", snapshot_id))?;
                if &snap.server_id != server {
                    return Err(ProviderError::invalid(format!(
                        "spec.source.snapshotId: snapshot {snapshot_id} is not an image of server {server}"
                    )));
                }
                if snap.state != ResourceState::Available {
                    return Err(ProviderError::precondition(format!(
                        "spec.source.snapshotId: snapshot {snapshot_id} is {:?}; it must be Available",
                        snap.state
                    )));
                }
            }
        }
        Ok(())
    }

    /// Completes a restore: records how it ended on the restore and returns that for the
    /// operation.
    pub(super) fn restore_run(&mut self, id: &str, _op_id: &str) -> ProviderResult<()> {
        let restore = self.world.record::<RestoreFamily>(id)?.clone();
        let result = self.carry_out(&restore);
        let now = self.now;
        let rec = self.record_mut::<RestoreFamily>(id)?;
        rec.finished_at = Some(now);
        match &result {
            Ok(new_server) => {
                rec.state = RestoreState::Succeeded;
                rec.new_server_id = new_server.clone();
            }
            Err(e) => {
                rec.state = RestoreState::Failed;
                rec.error = Some(e.message().to_string());
            }
        }
        tracing::info!(restore = id, ok = result.is_ok(), "restore ended");
        result.map(|_| ())
    }

    /// Does the restore; for a system restore returns the new server's id.
    fn carry_out(&mut self, restore: &Restore) -> ProviderResult<Option<String>> {
        let server_id = &restore.spec.server_id;
        let old = self.world.servers.get(server_id).cloned().ok_or_else(|| {
            ProviderError::not_found(format!("server {server_id} no longer exists"))
        })?;
        let source_there = match &restore.spec.source {
            RestoreSourceSpec::RecoveryPoint { job_id, point_id } => self
                .world
                .record::<BackupFamily>(job_id)
                .is_ok_and(|r| r.job.recovery_points.iter().any(|p| &p.id == point_id)),
            RestoreSourceSpec::Snapshot { snapshot_id } => {
                self.world.record::<SnapshotFamily>(snapshot_id).is_ok()
            }
        };
        if !source_there {
            return Err(ProviderError::not_found(
                "the recovery point or snapshot of the restore no longer exists",
            ));
        }
        match restore.spec.kind {
            RestoreKind::Data { .. } => {
                if old.server.state != ServerState::Running {
                    return Err(ProviderError::precondition(format!(
                        "server {server_id} stopped during the data restore; it is {:?}",
                        old.server.state
                    )));
                }
                Ok(None)
            }
            RestoreKind::System => self.rebuild(&old, restore).map(Some),
        }
    }

    /// Deletes `old` and builds its replacement; returns the new id.
    fn rebuild(&mut self, old: &ServerRecord, restore: &Restore) -> ProviderResult<String> {
        let old_id = old.server.id.clone();
        let new_id = self.new_id("srv");
        let mut disks = Vec::new();
        for d in &old.server.disks {
            disks.push(Disk {
                id: self.new_id("disk"),
                name: d.name.clone(),
                size_gb: d.size_gb,
            });
        }
        let s = &old.server;
        let server = Server {
            id: new_id.clone(),
            name: s.name.clone(),
            tags: s.tags.clone(),
            state: ServerState::Running,
            size: s.size,
            os: s.os,
            os_disk_gb: s.os_disk_gb,
            packages: s.packages.clone(),
            antivirus: s.antivirus,
            rds_licenses: s.rds_licenses,
            address: Some(address_for(&new_id)),
            disks,
            volumes: Vec::new(),
            monitoring: s.monitoring.clone(),
            client_token: restore.client_token.clone(),
            operation: None,
            created_at: self.now,
        };
        self.remove_server(&old_id)?;
        self.world.servers.insert(
            new_id.clone(),
            ServerRecord {
                server,
                outage: None,
            },
        );
        self.dirty.insert(Key::Server(new_id.clone()));
        let jobs: Vec<String> = self
            .world
            .backup_jobs
            .iter()
            .filter(|(_, r)| r.job.spec.server_id == old_id)
            .map(|(id, _)| id.clone())
            .collect();
        for job in jobs {
            self.record_mut::<BackupFamily>(&job)?.job.spec.server_id = new_id.clone();
        }
        let snaps: Vec<String> = self
            .world
            .snapshots
            .iter()
            .filter(|(_, s)| s.server_id == old_id)
            .map(|(id, _)| id.clone())
            .collect();
        for snap in snaps {
            self.record_mut::<SnapshotFamily>(&snap)?.server_id = new_id.clone();
        }
        tracing::info!(old = %old_id, new = %new_id, "system restore replaced the server");
        Ok(new_id)
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{
        BackupJobSpec, BackupModeKind, DiskSpec, OperationState, SnapshotSpec, VolumePlan,
        VolumeSpec, VolumeState,
    };

    use super::*;
    use crate::world::testkit::{at, instant, server_spec, t0, tenant, token};

    /// A stopped server of tenant `a` with a data disk, an attached volume and a snapshot.
    fn setup(world: &mut World) -> (String, String, String) {
        let rules = instant();
        let mut tx = Tx::new(world, t0(), &rules);
        let mut spec = server_spec("2CPU-8GB");
        spec.disks = vec![DiskSpec {
            name: "data".into(),
            size_gb: 100,
        }];
        let mut tags = tenant("a");
        tags.insert("suido.dev/uid".into(), "u-1".into());
        let srv = tx
            .create_server(token("s"), tags, spec)
            .map(|(op, _)| op.resource_id)
            .unwrap_or_default();
        let vol = tx
            .create_volume(
                token("v"),
                tenant("a"),
                VolumeSpec {
                    name: "v".into(),
                    plan: VolumePlan::Iops2PerGb,
                    size_gb: 100,
                },
            )
            .map(|(op, _)| op.resource_id)
            .unwrap_or_default();
        let _ = tx.attach_volume(&vol, &srv);
        let _ = tx.stop_server(&srv);
        let snap = tx
            .create::<SnapshotFamily>(
                token("p"),
                tenant("a"),
                SnapshotSpec {
                    name: "p".into(),
                    server_id: srv.clone(),
                },
            )
            .map(|(op, _)| op.resource_id)
            .unwrap_or_default();
        (srv, vol, snap)
    }

    fn system_from(server: &str, snapshot: &str) -> RestoreSpec {
        RestoreSpec {
            server_id: server.into(),
            kind: RestoreKind::System,
            source: RestoreSourceSpec::Snapshot {
                snapshot_id: snapshot.into(),
            },
        }
    }

    #[test]
    fn a_system_restore_replaces_the_server_and_keeps_its_tags() -> ProviderResult<()> {
        let mut rules = instant();
        let mut world = World::default();
        let (srv, vol, snap) = setup(&mut world);
        let old = world.server(&srv)?.server.clone();
        rules.service_durations.restore_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let op = tx
            .create::<RestoreFamily>(token("r"), tenant("a"), system_from(&srv, &snap))?
            .0;
        assert_eq!(world.server(&srv)?.server.operation.as_ref(), Some(&op.id));
        assert_eq!(world.restores[&op.resource_id].state, RestoreState::Running);
        Tx::new(&mut world, at(1), &rules).tick();
        assert_eq!(world.operation(&op.id)?.state, OperationState::Succeeded);
        let restore = &world.restores[&op.resource_id];
        assert_eq!(restore.state, RestoreState::Succeeded);
        assert_eq!(restore.finished_at, Some(at(1)));
        let new_id = restore.new_server_id.clone().unwrap_or_default();
        assert!(
            world.server(&srv).is_err(),
            "the pre-restore server is deleted"
        );
        let new = &world.server(&new_id)?.server;
        assert_ne!(new.id, old.id);
        assert_eq!(new.tags, old.tags);
        assert_eq!((new.name.as_str(), new.size), (old.name.as_str(), old.size));
        assert_eq!(new.disks.len(), 1);
        assert_eq!(new.state, ServerState::Running);
        assert_eq!(world.snapshots[&snap].server_id, new_id);
        let v = world.volume(&vol)?;
        assert_eq!(
            (v.state, v.attached_to.clone()),
            (VolumeState::Available, None)
        );
        // A finished restore's record is removed at once; the snapshot can go now too.
        let mut tx = Tx::new(&mut world, at(1), &rules);
        let del = tx.delete::<RestoreFamily>(&op.resource_id)?;
        assert_eq!(del.state, OperationState::Succeeded);
        assert!(world.restores.is_empty());
        Ok(())
    }

    #[test]
    fn sources_must_belong_to_the_server() -> ProviderResult<()> {
        let mut rules = instant();
        let mut world = World::default();
        let (srv, _, snap) = setup(&mut world);
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let other = tx
            .create_server(token("o"), tenant("a"), server_spec("1CPU-2GB"))?
            .0
            .resource_id;
        let job = tx
            .create::<BackupFamily>(
                token("j"),
                tenant("a"),
                BackupJobSpec {
                    name: "j".into(),
                    server_id: other.clone(),
                    scope: BackupScopeKind::DataOnly,
                    schedule: "0 * * * *".into(),
                    time_zone: "UTC".into(),
                    generations: 2,
                    mode: BackupModeKind::Full,
                    merge_schedule: None,
                },
            )?
            .0
            .resource_id;
        tx.run_backup(&job, t0());
        let point = world.backup_jobs[&job].job.recovery_points[0].id.clone();
        let data = |paths: Vec<&str>| RestoreKind::Data {
            paths: paths.into_iter().map(String::from).collect(),
        };
        let from_point = |server: &str, kind: RestoreKind, point: &str| RestoreSpec {
            server_id: server.into(),
            kind,
            source: RestoreSourceSpec::RecoveryPoint {
                job_id: job.clone(),
                point_id: point.into(),
            },
        };
        let cases = [
            (
                system_from(&other, &snap),
                "spec.source.snapshotId",
                "invalid_request",
            ),
            (
                from_point(&srv, RestoreKind::System, &point),
                "spec.source.jobId",
                "invalid_request",
            ),
            (
                from_point(&other, data(vec!["/srv"]), "rp-9"),
                "spec.source.pointId",
                "invalid_request",
            ),
            (
                from_point(&other, RestoreKind::System, &point),
                "needs an Image backup",
                "invalid_request",
            ),
            (
                from_point(&other, data(vec!["relative"]), &point),
                "spec.kind.paths[0]",
                "invalid_request",
            ),
            (
                from_point(&srv, data(vec!["/srv"]), &point),
                "must be Running",
                "failed_precondition",
            ),
        ];
        for (spec, expected, label) in cases {
            let err = Tx::new(&mut world, t0(), &rules)
                .create::<RestoreFamily>(token("r"), tenant("a"), spec)
                .err();
            let Some(err) = err else {
                panic!("accepted; expected {expected}");
            };
            assert_eq!(err.label(), label, "{err}");
            assert!(err.message().contains(expected), "{err} / {expected}");
        }
        // Another tenant's snapshot "does not exist".
        let err = Tx::new(&mut world, t0(), &rules)
            .create::<RestoreFamily>(token("r"), tenant("b"), system_from(&srv, &snap))
            .err();
        assert!(err.is_some_and(|e| e.message().contains("does not exist")));
        // A data restore of the other server works and leaves it as it was.
        rules.service_durations.restore_ms = 1000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let op = tx
            .create::<RestoreFamily>(
                token("d"),
                tenant("a"),
                from_point(&other, data(vec!["/srv"]), &point),
            )?
            .0;
        assert_eq!(
            tx.delete::<RestoreFamily>(&op.resource_id)
                .err()
                .map(|e| e.label()),
            Some("conflict"),
            "a running restore cannot be cancelled"
        );
        assert_eq!(
            tx.delete::<BackupFamily>(&job).err().map(|e| e.label()),
            Some("conflict"),
            "a job being restored from stays"
        );
        Tx::new(&mut world, at(1), &rules).tick();
        let restore = &world.restores[&op.resource_id];
        assert_eq!(
            (restore.state, restore.new_server_id.clone()),
            (RestoreState::Succeeded, None)
        );
        assert_eq!(world.server(&other)?.server.operation, None);
        Ok(())
    }
}
