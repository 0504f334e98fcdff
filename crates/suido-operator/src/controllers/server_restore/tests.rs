//! Unit tests of the ServerRestore: source resolution (the newest recovery point, waits versus
//! refusals), the status of each phase, the Events, and the reconcile against a fake platform
//! (one restore per object across lost answers, nothing written once it ended, the record
//! removed on delete).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jiff::Timestamp;
use kube::runtime::controller::Action;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{
    ClientToken, Operation, OperationKind, OperationState, ProviderError, ProviderResult, Restore,
    RestoreKind, RestoreSourceSpec, RestoreSpec, RestoreState, Tags,
};

use super::flow::{self, Env, Side};
use super::steps::*;
use crate::context::Timing;

fn restore(yaml: &str) -> ServerRestore {
    let spec: ServerRestoreSpec = serde_yaml::from_str(&format!("serverName: db\n{yaml}")).unwrap();
    let mut r = ServerRestore::new("rollback", spec);
    r.metadata.namespace = Some("billing".into());
    r.metadata.uid = Some("uid-r".into());
    r.metadata.generation = Some(1);
    r
}

const FROM_BACKUP: &str = "type: DataRestore\nsource: {backup: {policyName: nightly}}";
const SYSTEM_FROM_SNAPSHOT: &str =
    "type: SystemRestore\nconfirmServerReplacement: db\nsource: {snapshotName: before}";

fn server(id: Option<&str>, os: &str) -> Arc<VirtualServer> {
    let spec = serde_yaml::from_str(&format!("size: 2CPU-8GB\nos: {os}")).unwrap();
    let mut vs = VirtualServer::new("db", spec);
    vs.metadata.namespace = Some("billing".into());
    vs.status = id.map(|id| {
        let mut s = VirtualServerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(vs)
}

fn policy(scope: &str, points: &[&str]) -> Arc<BackupPolicy> {
    let spec = serde_yaml::from_str(&format!(
        "serverName: db\nschedule: '0 2 * * *'\ngenerations: 7\nscope: {scope}"
    ))
    .unwrap();
    let mut bp = BackupPolicy::new("nightly", spec);
    bp.metadata.namespace = Some("billing".into());
    let mut status = BackupPolicyStatus::default();
    status.managed.external_id = Some("bkj-1".into());
    status.recovery_points = points
        .iter()
        .map(|id| RecoveryPointStatus {
            id: (*id).into(),
            taken_at: "2026-11-30T17:00:00Z".into(),
            kind: "Full".into(),
        })
        .collect();
    bp.status = Some(status);
    Arc::new(bp)
}

fn snapshot(server_name: &str, phase: OperationPhase) -> Arc<ServerSnapshot> {
    let spec = serde_yaml::from_str(&format!("serverName: {server_name}")).unwrap();
    let mut s = ServerSnapshot::new("before", spec);
    s.metadata.namespace = Some("billing".into());
    let mut status = ServerSnapshotStatus::default();
    status.managed.external_id = Some("snap-1".into());
    status.operation_phase = Some(phase);
    s.status = Some(status);
    Arc::new(s)
}

struct Caches {
    servers: Vec<Arc<VirtualServer>>,
    policies: Vec<Arc<BackupPolicy>>,
    snapshots: Vec<Arc<ServerSnapshot>>,
}

impl Caches {
    fn new() -> Self {
        Caches {
            servers: vec![server(Some("srv-1"), "RockyLinux")],
            policies: vec![policy("Image", &["rp-3", "rp-2"])],
            snapshots: vec![snapshot("db", OperationPhase::Completed)],
        }
    }
    fn objects(&self) -> Objects<'_> {
        Objects {
            servers: &self.servers,
            policies: &self.policies,
            snapshots: &self.snapshots,
        }
    }
}

fn waiting_reason(b: Blocked) -> &'static str {
    match b {
        Blocked::Waiting { reason, .. } => reason,
        Blocked::Refused { message, .. } => panic!("refused, not waiting: {message}"),
    }
}

#[test]
fn a_backup_source_is_the_newest_recovery_point_unless_one_is_named() {
    let c = Caches::new();
    let r = resolve(&restore(FROM_BACKUP), &c.objects()).unwrap();
    assert_eq!(
        r.spec,
        RestoreSpec {
            server_id: "srv-1".into(),
            kind: RestoreKind::Data {
                paths: vec!["/".into()]
            },
            source: RestoreSourceSpec::RecoveryPoint {
                job_id: "bkj-1".into(),
                point_id: "rp-3".into()
            },
        }
    );
    assert_eq!(r.from, "rp-3");
    assert_eq!(r.label, "recovery point rp-3 of BackupPolicy nightly");
    let named = restore(
        "type: DataRestore\npaths: ['D:\\exports']\nsource: {backup: {policyName: nightly, recoveryPoint: rp-2}}",
    );
    let r = resolve(&named, &c.objects()).unwrap();
    assert_eq!(r.from, "rp-2");
    assert_eq!(
        r.spec.kind,
        RestoreKind::Data {
            paths: vec!["D:\\exports".into()]
        }
    );
    // A retry keeps the point chosen before, while the policy still holds it.
    let mut retry = restore(FROM_BACKUP);
    retry.status = Some(ServerRestoreStatus {
        restored_from: Some("rp-2".into()),
        ..Default::default()
    });
    assert_eq!(resolve(&retry, &c.objects()).unwrap().from, "rp-2");
    // Windows: everything is restored from C:\.
    let windows = Caches {
        servers: vec![server(Some("srv-1"), "WindowsServer")],
        ..Caches::new()
    };
    assert_eq!(
        resolve(&restore(FROM_BACKUP), &windows.objects())
            .unwrap()
            .spec
            .kind,
        RestoreKind::Data {
            paths: vec!["C:\\".into()]
        }
    );
}

#[test]
fn missing_or_unready_references_wait_and_impossible_ones_are_refused() {
    let mut c = Caches::new();
    let named_gone =
        restore("type: DataRestore\nsource: {backup: {policyName: nightly, recoveryPoint: rp-1}}");
    assert_eq!(
        waiting_reason(resolve(&named_gone, &c.objects()).unwrap_err()),
        reasons::REFERENCE_NOT_FOUND
    );
    c.policies = vec![policy("Image", &[])];
    assert_eq!(
        waiting_reason(resolve(&restore(FROM_BACKUP), &c.objects()).unwrap_err()),
        reasons::REFERENCE_NOT_READY
    );
    c.policies = vec![];
    let missing = resolve(&restore(FROM_BACKUP), &c.objects()).unwrap_err();
    assert_eq!(
        missing,
        Blocked::Waiting {
            reason: reasons::REFERENCE_NOT_FOUND,
            message:
                "spec.source.backup.policyName nightly: no BackupPolicy of that name in namespace billing"
                    .into()
        }
    );
    c.servers = vec![server(None, "RockyLinux")];
    assert_eq!(
        waiting_reason(resolve(&restore(FROM_BACKUP), &c.objects()).unwrap_err()),
        reasons::REFERENCE_NOT_READY
    );
    let mut c = Caches::new();
    c.snapshots = vec![snapshot("db", OperationPhase::WaitingForStop)];
    assert_eq!(
        waiting_reason(resolve(&restore(SYSTEM_FROM_SNAPSHOT), &c.objects()).unwrap_err()),
        reasons::REFERENCE_NOT_READY
    );
    c.snapshots = vec![snapshot("web", OperationPhase::Completed)];
    assert!(matches!(
        resolve(&restore(SYSTEM_FROM_SNAPSHOT), &c.objects()).unwrap_err(),
        Blocked::Refused { .. }
    ));
    let mut c = Caches::new();
    c.policies = vec![policy("DataOnly", &["rp-3"])];
    let system = restore(
        "type: SystemRestore\nconfirmServerReplacement: db\nsource: {backup: {policyName: nightly}}",
    );
    let Blocked::Refused { message, .. } = resolve(&system, &c.objects()).unwrap_err() else {
        panic!("a system restore from a data backup is refused");
    };
    assert!(message.contains("needs an Image backup"), "{message}");
}

fn platform(state: RestoreState, system: bool) -> Restore {
    Restore {
        id: "rst-1".into(),
        tags: Default::default(),
        state,
        client_token: ClientToken::new("serverrestore-uid-r").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: RestoreSpec {
            server_id: "srv-1".into(),
            kind: if system {
                RestoreKind::System
            } else {
                RestoreKind::Data {
                    paths: vec!["/".into()],
                }
            },
            source: RestoreSourceSpec::Snapshot {
                snapshot_id: "snap-1".into(),
            },
        },
        error: (state == RestoreState::Failed).then(|| "host down".to_owned()),
        new_server_id: (system && state == RestoreState::Succeeded).then(|| "srv-2".to_owned()),
        finished_at: state
            .is_done()
            .then(|| "2026-12-01T01:00:00Z".parse().unwrap()),
    }
}

fn ready(status: &ServerRestoreStatus) -> (String, String, String) {
    let c = status
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn now() -> Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

#[test]
fn each_phase_has_its_status_and_the_end_is_announced_once() {
    let r = restore(SYSTEM_FROM_SNAPSHOT);
    let waiting = Blocked::Waiting {
        reason: reasons::REFERENCE_NOT_FOUND,
        message: "no".into(),
    };
    let s = desired_status(&r, Seen::Blocked(&waiting), now());
    assert_eq!(s.phase, Some(RestorePhase::Pending));
    assert_eq!(ready(&s).1, reasons::REFERENCE_NOT_FOUND);
    let c = Caches::new();
    let resolved = resolve(&r, &c.objects()).unwrap();
    let marker = desired_status(&r, Seen::Ordering(&resolved), now());
    assert_eq!(marker.phase, Some(RestorePhase::Pending));
    assert_eq!(marker.restored_from.as_deref(), Some("snap-1"));
    assert!(marker.operation_id.is_none());
    let running = desired_status(
        &r,
        Seen::Platform(&platform(RestoreState::Running, true)),
        now(),
    );
    assert_eq!(running.phase, Some(RestorePhase::Running));
    assert_eq!(running.operation_id.as_deref(), Some("rst-1"));
    assert_eq!(ready(&running).1, reasons::IN_PROGRESS);
    assert_eq!(announce(marker.phase, &running), None);
    let mut r2 = r.clone();
    r2.status = Some(running.clone());
    let done = desired_status(
        &r2,
        Seen::Platform(&platform(RestoreState::Succeeded, true)),
        now(),
    );
    assert_eq!(done.phase, Some(RestorePhase::Succeeded));
    assert_eq!(done.previous_server_id.as_deref(), Some("srv-1"));
    assert_eq!(done.new_server_id.as_deref(), Some("srv-2"));
    assert_eq!(done.completed_at.as_deref(), Some("2026-12-01T01:00:00Z"));
    assert_eq!(
        ready(&done),
        (
            "True".into(),
            reasons::SUCCEEDED.into(),
            "VirtualServer db was rebuilt from snap-1 as server srv-2; server srv-1 was deleted"
                .into()
        )
    );
    let said = announce(running.phase, &done).unwrap();
    assert_eq!((said.warning, said.reason), (false, "Restored"));
    assert_eq!(announce(done.phase, &done), None, "once");
    // The same sighting later gives the same status.
    r2.status = Some(done.clone());
    let later = desired_status(
        &r2,
        Seen::Platform(&platform(RestoreState::Succeeded, true)),
        "2026-12-02T00:00:00Z".parse().unwrap(),
    );
    assert_eq!(later, done);
    assert!(is_done(&r2));
    let failed = desired_status(
        &r,
        Seen::Platform(&platform(RestoreState::Failed, false)),
        now(),
    );
    assert_eq!(failed.phase, Some(RestorePhase::Failed));
    assert!(
        failed.previous_server_id.is_none(),
        "a data restore replaces nothing"
    );
    assert_eq!(ready(&failed).2, "the system restore failed: host down");
    let said = announce(Some(RestorePhase::Running), &failed).unwrap();
    assert_eq!((said.warning, said.reason), (true, "RestoreFailed"));
}

fn op(kind: OperationKind, state: OperationState) -> Operation {
    Operation {
        id: "op-1".into(),
        kind,
        state,
        resource_id: "rst-1".into(),
        client_token: None,
        created_at: Timestamp::UNIX_EPOCH,
        finished_at: None,
    }
}

/// A platform of restores and a recorder of status writes and Events.
#[derive(Default)]
struct Fake {
    restores: Mutex<Vec<Restore>>,
    creates: Mutex<u32>,
    deletes: Mutex<Vec<String>>,
    /// The next create commits and then its answer is lost.
    lose_answer: Mutex<bool>,
    /// The next create is refused with this error.
    refuse: Mutex<Option<ProviderError>>,
    /// Servers the platform no longer has.
    gone: Mutex<Vec<String>>,
    writes: Mutex<u32>,
    events: Mutex<Vec<(bool, String)>>,
}

#[async_trait]
impl Side for Fake {
    async fn get(&self, id: &str) -> ProviderResult<Restore> {
        self.restores
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(id))
    }
    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Restore>> {
        Ok(self
            .restores
            .lock()
            .unwrap()
            .iter()
            .filter(|r| suido_provider::tags_match(&r.tags, selector))
            .cloned()
            .collect())
    }
    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &RestoreSpec,
    ) -> ProviderResult<Operation> {
        if let Some(e) = self.refuse.lock().unwrap().take() {
            return Err(e);
        }
        *self.creates.lock().unwrap() += 1;
        let mut r = platform(RestoreState::Running, spec.kind == RestoreKind::System);
        r.tags = tags.clone();
        r.client_token = token.clone();
        r.spec = spec.clone();
        self.restores.lock().unwrap().push(r);
        if std::mem::take(&mut *self.lose_answer.lock().unwrap()) {
            return Err(ProviderError::transient("timeout"));
        }
        Ok(op(OperationKind::CreateRestore, OperationState::Running))
    }
    async fn server_exists(&self, id: &str) -> ProviderResult<bool> {
        Ok(!self.gone.lock().unwrap().iter().any(|g| g == id))
    }
    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.deletes.lock().unwrap().push(id.to_owned());
        self.restores.lock().unwrap().retain(|r| r.id != id);
        Ok(op(OperationKind::DeleteRestore, OperationState::Succeeded))
    }
    async fn write_status(
        &self,
        obj: &mut ServerRestore,
        status: &ServerRestoreStatus,
    ) -> Result<bool, kube::Error> {
        if obj.status.as_ref() == Some(status) {
            return Ok(false);
        }
        obj.status = Some(status.clone());
        *self.writes.lock().unwrap() += 1;
        Ok(true)
    }
    async fn event(&self, _obj: &ServerRestore, warning: bool, reason: &str, _note: String) {
        self.events
            .lock()
            .unwrap()
            .push((warning, reason.to_owned()));
    }
}

impl Fake {
    fn finish(&self, state: RestoreState) {
        for r in self.restores.lock().unwrap().iter_mut() {
            r.state = state;
            r.new_server_id = Some("srv-2".into());
            r.finished_at = Some(now());
        }
    }
    fn reasons(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .map(|e| e.1.clone())
            .collect()
    }
}

fn tenant() -> Arc<Tenant> {
    let spec = serde_yaml::from_str(
        "type: Vendor\nutility: Kawasemi\nenvironment: Production\nnamespaces: [billing]\ncontacts: {severe: [], minor: []}",
    )
    .unwrap();
    let mut t = Tenant::new("vendor", spec);
    t.metadata.name = Some("vendor".into());
    Arc::new(t)
}

async fn apply(
    obj: &mut ServerRestore,
    c: &Caches,
    fake: &Fake,
) -> Result<Action, crate::managed::Error> {
    let tenants = vec![tenant()];
    let timing = Timing::default();
    let env = Env {
        tenants: &tenants,
        servers: &c.servers,
        policies: &c.policies,
        snapshots: &c.snapshots,
        timing: &timing,
    };
    flow::apply(obj, &env, fake).await
}

#[tokio::test]
async fn a_restore_is_ordered_once_followed_to_its_end_and_then_left_alone() {
    let (c, fake) = (Caches::new(), Fake::default());
    let mut obj = restore(SYSTEM_FROM_SNAPSHOT);
    // The create commits but its answer is lost: the marker is there, and the retry finds the
    // restore by its uid tag instead of ordering a second one.
    *fake.lose_answer.lock().unwrap() = true;
    assert!(apply(&mut obj, &c, &fake).await.is_err());
    let marker = obj.status.clone().unwrap();
    assert_eq!(marker.phase, Some(RestorePhase::Pending));
    assert_eq!(marker.restored_from.as_deref(), Some("snap-1"));
    apply(&mut obj, &c, &fake).await.unwrap();
    assert_eq!(*fake.creates.lock().unwrap(), 1);
    assert_eq!(
        obj.status.as_ref().unwrap().phase,
        Some(RestorePhase::Running)
    );
    assert_eq!(
        obj.status.as_ref().unwrap().operation_id.as_deref(),
        Some("rst-1")
    );
    fake.finish(RestoreState::Succeeded);
    apply(&mut obj, &c, &fake).await.unwrap();
    let status = obj.status.clone().unwrap();
    assert_eq!(status.phase, Some(RestorePhase::Succeeded));
    assert_eq!(status.new_server_id.as_deref(), Some("srv-2"));
    assert_eq!(fake.reasons(), ["Restored"]);
    // Ended: nothing more is read or written, even if the platform changes.
    let writes = *fake.writes.lock().unwrap();
    fake.finish(RestoreState::Failed);
    assert_eq!(
        apply(&mut obj, &c, &fake).await.unwrap(),
        Action::await_change()
    );
    assert_eq!(*fake.writes.lock().unwrap(), writes);
    assert_eq!(*fake.creates.lock().unwrap(), 1);
    // Deleting the object removes the platform's record.
    flow::cleanup(&obj, &fake).await.unwrap();
    assert_eq!(*fake.deletes.lock().unwrap(), ["rst-1"]);
}

#[tokio::test]
async fn a_restore_waits_for_its_references_and_a_refused_one_fails_for_good() {
    let fake = Fake::default();
    let mut c = Caches::new();
    c.snapshots = vec![];
    let mut obj = restore(SYSTEM_FROM_SNAPSHOT);
    apply(&mut obj, &c, &fake).await.unwrap();
    let status = obj.status.clone().unwrap();
    assert_eq!(status.phase, Some(RestorePhase::Pending));
    assert_eq!(ready(&status).1, reasons::REFERENCE_NOT_FOUND);
    assert_eq!(*fake.creates.lock().unwrap(), 0);
    assert!(fake.reasons().is_empty(), "no Event while waiting");
    // The VirtualServer still names a server a system restore replaced: wait for it to follow.
    fake.gone.lock().unwrap().push("srv-1".into());
    let mut after_replace = restore(FROM_BACKUP);
    apply(&mut after_replace, &c, &fake).await.unwrap();
    let status = after_replace.status.clone().unwrap();
    assert_eq!(status.phase, Some(RestorePhase::Pending));
    assert!(ready(&status).2.contains("no longer has"));
    assert_eq!(*fake.creates.lock().unwrap(), 0);
    fake.gone.lock().unwrap().clear();
    // The server is stopped: a data restore waits for it to run.
    let c = Caches::new();
    let mut data = restore(FROM_BACKUP);
    *fake.refuse.lock().unwrap() = Some(ProviderError::precondition(
        "spec.serverId: server srv-1 must be Running for a data restore; it is Stopped",
    ));
    apply(&mut data, &c, &fake).await.unwrap();
    assert_eq!(
        data.status.as_ref().unwrap().phase,
        Some(RestorePhase::Pending)
    );
    assert_eq!(
        ready(data.status.as_ref().unwrap()).1,
        reasons::REFERENCE_NOT_READY
    );
    // The platform refuses it as invalid: Failed, announced, not retried.
    *fake.refuse.lock().unwrap() =
        Some(ProviderError::invalid("spec.source.pointId: no such point"));
    let mut bad = restore(FROM_BACKUP);
    bad.metadata.uid = Some("uid-bad".into());
    apply(&mut bad, &c, &fake).await.unwrap();
    assert_eq!(
        bad.status.as_ref().unwrap().phase,
        Some(RestorePhase::Failed)
    );
    assert_eq!(fake.reasons(), ["RestoreFailed"]);
    assert_eq!(
        apply(&mut bad, &c, &fake).await.unwrap(),
        Action::await_change()
    );
}

#[tokio::test]
async fn deleting_a_running_restore_waits_for_its_end() {
    let (c, fake) = (Caches::new(), Fake::default());
    let mut obj = restore(FROM_BACKUP);
    apply(&mut obj, &c, &fake).await.unwrap();
    assert_eq!(fake.reasons(), ["Restoring"]);
    let err = flow::cleanup(&obj, &fake).await.unwrap_err();
    assert!(!err.is_terminal());
    assert!(fake.deletes.lock().unwrap().is_empty());
    fake.finish(RestoreState::Succeeded);
    flow::cleanup(&obj, &fake).await.unwrap();
    assert_eq!(*fake.deletes.lock().unwrap(), ["rst-1"]);
}
