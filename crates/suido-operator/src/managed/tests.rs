//! The shared lifecycle tested once, against a fake platform whose behaviour is set by closures
//! and a recorder of status writes and Events. The kind under test is BlockVolume, whose own
//! steps are trivial here (no attachment), so every assertion is about the lifecycle.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{
    ClientToken, Operation, OperationKind, OperationState, ProviderError, ProviderResult, Tags,
    Volume, VolumePlan, VolumeSpec, VolumeState,
};

use super::lifecycle::{self, Effects, Env};
use super::{Acted, Actuator, Error, Flow};
use crate::context::Timing;
use crate::controllers::block_volume::steps::{self, Step, Target};
use crate::identity;

mod hooks;

type CreateHook = Box<dyn Fn(&ClientToken) -> ProviderResult<()> + Send + Sync>;

/// A platform of volumes. `before_create` runs before a create commits (an error means the
/// create did not happen); `after_create` after it committed (an error is an answer lost).
#[derive(Default)]
struct Fake {
    volumes: Mutex<Vec<Volume>>,
    creates: Mutex<Vec<String>>,
    deletes: Mutex<Vec<String>>,
    acts: Mutex<u32>,
    before_create: Option<CreateHook>,
    after_create: Option<CreateHook>,
    next: Mutex<u32>,
}

fn volume(id: &str, tags: Tags) -> Volume {
    Volume {
        id: id.into(),
        name: "data".into(),
        tags,
        state: VolumeState::Available,
        plan: VolumePlan::Iops2PerGb,
        size_gb: 100,
        attached_to: None,
        iscsi_target: format!("iqn.test:{id}"),
        client_token: ClientToken::new("t").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

fn done(id: &str, kind: OperationKind) -> Operation {
    Operation {
        id: format!("op-{id}"),
        kind,
        state: OperationState::Succeeded,
        resource_id: id.into(),
        client_token: None,
        created_at: Timestamp::UNIX_EPOCH,
        finished_at: None,
    }
}

impl Fake {
    fn holding(vols: Vec<Volume>) -> Self {
        Fake {
            volumes: Mutex::new(vols),
            ..Fake::default()
        }
    }
    fn ids(&self) -> Vec<String> {
        self.volumes
            .lock()
            .unwrap()
            .iter()
            .map(|v| v.id.clone())
            .collect()
    }
}

#[async_trait]
impl Actuator<BlockVolume> for Fake {
    async fn resolve(&self, bv: &BlockVolume) -> Result<Target, Error> {
        steps::target(bv, &[])
    }
    async fn get(&self, id: &str) -> ProviderResult<Volume> {
        self.volumes
            .lock()
            .unwrap()
            .iter()
            .find(|v| v.id == id)
            .cloned()
            .ok_or_else(|| ProviderError::not_found(format!("volume {id} does not exist")))
    }
    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Volume>> {
        Ok(self
            .volumes
            .lock()
            .unwrap()
            .iter()
            .filter(|v| suido_provider::tags_match(&v.tags, selector))
            .cloned()
            .collect())
    }
    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &VolumeSpec,
    ) -> ProviderResult<Operation> {
        if let Some(hook) = &self.before_create {
            hook(token)?;
        }
        let id = {
            let mut n = self.next.lock().unwrap();
            *n += 1;
            format!("vol-new-{n}")
        };
        let mut v = volume(&id, tags.clone());
        v.size_gb = spec.size_gb;
        self.volumes.lock().unwrap().push(v);
        self.creates.lock().unwrap().push(token.as_str().to_owned());
        if let Some(hook) = &self.after_create {
            hook(token)?;
        }
        Ok(done(&id, OperationKind::CreateVolume))
    }
    async fn act(
        &self,
        _bv: &BlockVolume,
        desired: &VolumeSpec,
        volume: &mut Volume,
        target: &Target,
    ) -> Result<Acted<Step>, Error> {
        *self.acts.lock().unwrap() += 1;
        let step = steps::plan(desired, volume, target);
        Ok(Acted {
            flow: if step == Step::Done {
                Flow::Settled
            } else {
                Flow::Poll
            },
            step,
            notes: vec![],
        })
    }
    async fn prepare_delete(&self, bv: &BlockVolume, _volume: &Volume) -> Result<(), Error> {
        if bv.spec.deletion_protection {
            return Err(Error::Blocked {
                reason: reasons::DELETION_PROTECTED,
                message: "spec.deletionProtection is true".into(),
            });
        }
        Ok(())
    }
    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.deletes.lock().unwrap().push(id.to_owned());
        self.volumes.lock().unwrap().retain(|v| v.id != id);
        Ok(done(id, OperationKind::DeleteVolume))
    }
}

/// Records status writes (only real changes, as the memo does) and Events.
#[derive(Default)]
struct Recorder {
    writes: Mutex<Vec<BlockVolumeStatus>>,
    events: Mutex<Vec<(bool, String, String)>>,
}

impl Recorder {
    fn writes(&self) -> usize {
        self.writes.lock().unwrap().len()
    }
    fn warnings(&self) -> Vec<String> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.0)
            .map(|e| e.1.clone())
            .collect()
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

#[async_trait]
impl Effects<BlockVolume> for Recorder {
    async fn write_status(
        &self,
        obj: &mut BlockVolume,
        status: &BlockVolumeStatus,
    ) -> Result<bool, kube::Error> {
        if obj.status.as_ref() == Some(status) {
            return Ok(false);
        }
        obj.status = Some(status.clone());
        self.writes.lock().unwrap().push(status.clone());
        Ok(true)
    }
    async fn event(&self, _obj: &BlockVolume, warning: bool, reason: &str, _a: &str, note: String) {
        self.events
            .lock()
            .unwrap()
            .push((warning, reason.to_owned(), note));
    }
}

fn tenant(name: &str, t: TenantType, ns: &str) -> Arc<Tenant> {
    let mut tn = Tenant::new(
        name,
        TenantSpec {
            tenant_type: t,
            utility: "Kawasemi".into(),
            environment: Environment::Production,
            namespaces: vec![ns.into()],
            contacts: Contacts {
                severe: vec![],
                minor: vec![],
            },
        },
    );
    tn.metadata.name = Some(name.into());
    Arc::new(tn)
}

fn bv(name: &str, uid: &str, extra: &str) -> BlockVolume {
    let spec: BlockVolumeSpec =
        serde_yaml::from_str(&format!("plan: 2IOPS/GB\nsizeGb: 100\n{extra}")).unwrap();
    let mut bv = BlockVolume::new(name, spec);
    bv.metadata.namespace = Some("billing".into());
    bv.metadata.uid = Some(uid.into());
    bv.metadata.generation = Some(1);
    bv
}

fn timing() -> Timing {
    Timing {
        poll: Duration::from_millis(10),
        delete_wait: Duration::from_millis(50),
        ..Timing::default()
    }
}

fn ours(uid: &str, tenant: &str) -> Tags {
    identity::tags("BlockVolume", "billing", "data", uid, tenant)
}

struct World {
    tenants: Vec<Arc<Tenant>>,
    claims: Vec<Arc<BlockVolume>>,
    timing: Timing,
}

impl World {
    fn new() -> Self {
        World {
            tenants: vec![
                tenant("vendor", TenantType::Vendor, "billing"),
                tenant("other", TenantType::Vendor, "elsewhere"),
            ],
            claims: vec![],
            timing: timing(),
        }
    }
    fn env(&self) -> Env<'_, BlockVolume> {
        Env {
            tenants: &self.tenants,
            claims: &self.claims,
            timing: &self.timing,
        }
    }
    async fn apply(
        &self,
        obj: &mut BlockVolume,
        fake: &Fake,
        rec: &Recorder,
    ) -> Result<kube::runtime::controller::Action, Error> {
        lifecycle::apply(obj, &self.env(), fake, rec).await
    }
}

fn condition(obj: &BlockVolume, t: &str) -> (String, String, String) {
    let c = obj
        .status
        .as_ref()
        .unwrap()
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[tokio::test]
async fn a_create_writes_the_marker_then_the_final_status_and_nothing_on_a_resync() {
    let (w, fake, rec) = (World::new(), Fake::default(), Recorder::default());
    let mut obj = bv("data", "u1", "");
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(*fake.creates.lock().unwrap(), ["blockvolume-u1"]);
    let marker = rec.writes.lock().unwrap()[0].clone();
    assert_eq!(marker.managed.phase, Some(Phase::Provisioning));
    assert_eq!(rec.writes(), 2, "marker and final status");
    assert_eq!(condition(&obj, cond::READY).0, "True");
    let status = obj.status.as_ref().unwrap();
    assert_eq!(status.managed.external_id.as_deref(), Some("vol-new-1"));
    let vol = fake.get("vol-new-1").await.unwrap();
    assert_eq!(
        vol.tags.get(identity::TAG_TENANT).map(String::as_str),
        Some("vendor")
    );
    assert_eq!(
        vol.tags.get(identity::TAG_UID).map(String::as_str),
        Some("u1")
    );
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(rec.writes(), 2, "a resync writes nothing");
    assert_eq!(fake.creates.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_crash_between_the_marker_and_the_create_creates_once() {
    let (w, rec) = (World::new(), Recorder::default());
    // The first run wrote the marker and died before the create reached the platform.
    let fake = Fake {
        before_create: Some(Box::new(|_| {
            Err(ProviderError::transient("connection reset"))
        })),
        ..Fake::default()
    };
    let mut obj = bv("data", "u1", "");
    assert!(w.apply(&mut obj, &fake, &rec).await.is_err());
    assert_eq!(
        obj.status.as_ref().unwrap().managed.phase,
        Some(Phase::Provisioning)
    );
    assert!(fake.ids().is_empty());
    let fake = Fake::default();
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(fake.ids(), ["vol-new-1"]);
}

#[tokio::test]
async fn a_create_whose_answer_was_lost_is_adopted_by_tag_not_repeated() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Fake {
        after_create: Some(Box::new(|_| Err(ProviderError::transient("timeout")))),
        ..Fake::default()
    };
    let mut obj = bv("data", "u1", "");
    let err = w.apply(&mut obj, &fake, &rec).await.unwrap_err();
    assert!(!err.is_terminal());
    let fake = Fake::holding(fake.volumes.lock().unwrap().clone());
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert!(fake.creates.lock().unwrap().is_empty(), "no second create");
    assert_eq!(fake.ids().len(), 1);
    assert_eq!(condition(&obj, cond::READY).0, "True");
}

#[tokio::test]
async fn a_lost_resource_is_replaced_once_under_a_new_token() {
    let (w, fake, rec) = (World::new(), Fake::default(), Recorder::default());
    let mut obj = bv("data", "u1", "");
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    fake.volumes.lock().unwrap().clear(); // deleted behind Suido's back
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(rec.warnings(), [reasons::LOST]);
    assert_eq!(
        *fake.creates.lock().unwrap(),
        ["blockvolume-u1", "blockvolume-u1-r1"]
    );
    let status = obj.status.as_ref().unwrap();
    assert_eq!(status.managed.attempt, Some(1));
    assert_eq!(status.managed.external_id.as_deref(), Some("vol-new-2"));
    let marker = rec.writes.lock().unwrap()[2].clone();
    let ready = marker
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .unwrap()
        .clone();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::LOST)
    );
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(rec.warnings().len(), 1, "one Warning for one loss");
}

#[tokio::test]
async fn a_resource_replaced_on_the_platform_is_followed() {
    let (w, rec) = (World::new(), Recorder::default());
    let mut obj = bv("data", "u1", "");
    let mut status = BlockVolumeStatus::default();
    status.managed.external_id = Some("vol-old".into());
    status.managed.phase = Some(Phase::Available);
    obj.status = Some(status);
    let fake = Fake::holding(vec![volume("vol-restored", ours("u1", "vendor"))]);
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert!(fake.creates.lock().unwrap().is_empty());
    assert_eq!(rec.reasons(), ["Replaced"]);
    assert_eq!(
        obj.status.unwrap().managed.external_id.as_deref(),
        Some("vol-restored")
    );
}

#[tokio::test]
async fn adopting_another_tenants_resource_is_refused_and_reveals_nothing() {
    let (w, rec) = (World::new(), Recorder::default());
    let foreign = volume("vol-theirs", ours("their-uid", "other"));
    let fake = Fake::holding(vec![foreign]);
    let mut obj = bv("grab", "u2", "externalId: vol-theirs");
    let err = w.apply(&mut obj, &fake, &rec).await.unwrap_err();
    assert!(err.is_terminal());
    let (status, reason, message) = condition(&obj, cond::READY);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", reasons::ADOPTION_REFUSED)
    );
    // The same words as for an id that does not exist at all.
    let mut missing = bv("grab", "u2", "externalId: vol-nothing");
    w.apply(&mut missing, &fake, &Recorder::default())
        .await
        .unwrap_err();
    let (_, _, missing_message) = condition(&missing, cond::READY);
    assert_eq!(
        message.replace("vol-theirs", "X"),
        missing_message.replace("vol-nothing", "X")
    );
    for secret in ["other", "their-uid", "iqn", "100"] {
        assert!(!message.contains(secret), "{message} leaks {secret}");
    }
    assert_eq!(*fake.acts.lock().unwrap(), 0, "nothing was done to it");
    assert!(obj.status.unwrap().managed.external_id.is_none());
    // Deleting the refused object never touches the resource.
    let mut doomed = bv("grab", "u2", "externalId: vol-theirs");
    lifecycle::cleanup(&mut doomed, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert!(fake.deletes.lock().unwrap().is_empty());
    assert_eq!(fake.ids(), ["vol-theirs"]);
}

#[tokio::test]
async fn a_tenant_adopts_its_own_resource_and_deletes_it_with_delete_policy() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Fake::holding(vec![volume("vol-mine", ours("gone-uid", "vendor"))]);
    let mut obj = bv("adopt", "u3", "externalId: vol-mine");
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(*fake.acts.lock().unwrap(), 1);
    assert_eq!(condition(&obj, cond::READY).0, "True");
    assert_eq!(
        obj.status.as_ref().unwrap().managed.external_id.as_deref(),
        Some("vol-mine")
    );
    lifecycle::cleanup(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(*fake.deletes.lock().unwrap(), ["vol-mine"]);
}

#[tokio::test]
async fn a_second_claim_on_one_resource_is_refused() {
    let mut w = World::new();
    let fake = Fake::holding(vec![volume("vol-shared", ours("gone-uid", "vendor"))]);
    let mut first = bv("first", "u4", "externalId: vol-shared");
    first.metadata.creation_timestamp = Some(Time("2026-12-01T00:00:00Z".parse().unwrap()));
    let mut second = bv("second", "u5", "externalId: vol-shared");
    second.metadata.creation_timestamp = Some(Time("2026-12-02T00:00:00Z".parse().unwrap()));
    w.claims = vec![Arc::new(first.clone()), Arc::new(second.clone())];
    w.apply(&mut first, &fake, &Recorder::default())
        .await
        .unwrap();
    let err = w
        .apply(&mut second, &fake, &Recorder::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reasons::ALREADY_MANAGED);
    // A resource whose creating object still exists cannot be adopted either.
    let fake = Fake::holding(vec![volume("vol-built", ours("u6", "vendor"))]);
    w.claims = vec![Arc::new(bv("builder", "u6", ""))];
    let mut thief = bv("thief", "u7", "externalId: vol-built");
    let err = w
        .apply(&mut thief, &fake, &Recorder::default())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reasons::ALREADY_MANAGED);
    assert!(!err.to_string().contains("builder"));
}

#[tokio::test]
async fn external_id_added_or_removed_after_build_is_refused() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Fake::holding(vec![
        volume("vol-1", ours("u8", "vendor")),
        volume("vol-2", ours("gone", "vendor")),
    ]);
    let mut added = bv("data", "u8", "externalId: vol-2");
    let mut status = BlockVolumeStatus::default();
    status.managed.external_id = Some("vol-1".into());
    added.status = Some(status.clone());
    let err = w.apply(&mut added, &fake, &rec).await.unwrap_err();
    assert_eq!(err.reason(), reasons::EXTERNAL_ID_CHANGED);
    // Adopted vol-2, then spec.externalId removed: refused, and no new volume is built.
    let mut removed = bv("data", "u9", "");
    status.managed.external_id = Some("vol-2".into());
    removed.status = Some(status);
    let err = w.apply(&mut removed, &fake, &rec).await.unwrap_err();
    assert_eq!(err.reason(), reasons::EXTERNAL_ID_CHANGED);
    assert!(fake.creates.lock().unwrap().is_empty());
}

#[tokio::test]
async fn observe_only_reads_and_never_acts_or_deletes_and_orphan_keeps_the_resource() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Fake::holding(vec![volume("vol-seen", ours("gone", "vendor"))]);
    let mut obj = bv(
        "seen",
        "u10",
        "externalId: vol-seen\nmanagementPolicy: ObserveOnly",
    );
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    assert_eq!(*fake.acts.lock().unwrap(), 0);
    assert_eq!(
        obj.status.as_ref().unwrap().managed.phase,
        Some(Phase::Observed)
    );
    assert_eq!(obj.status.as_ref().unwrap().size_gb, Some(100));
    lifecycle::cleanup(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    let mut orphan = bv("keep", "u11", "deletionPolicy: Orphan");
    w.apply(&mut orphan, &fake, &rec).await.unwrap();
    lifecycle::cleanup(&mut orphan, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert!(fake.deletes.lock().unwrap().is_empty());
    assert_eq!(fake.ids().len(), 2);
    assert!(rec.reasons().iter().filter(|r| *r == "Orphaned").count() == 2);
}

#[tokio::test]
async fn a_delete_waits_until_gone_and_a_held_delete_is_reported() {
    let (w, fake, rec) = (World::new(), Fake::default(), Recorder::default());
    let mut obj = bv("data", "u12", "");
    w.apply(&mut obj, &fake, &rec).await.unwrap();
    lifecycle::cleanup(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert!(fake.ids().is_empty());
    let mut protected = bv("safe", "u13", "deletionProtection: true");
    w.apply(&mut protected, &fake, &rec).await.unwrap();
    let err = lifecycle::cleanup(&mut protected, &w.env(), &fake, &rec)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reasons::DELETION_PROTECTED);
    assert_eq!(fake.ids().len(), 1);
    assert_eq!(
        condition(&protected, cond::READY).1,
        reasons::DELETION_PROTECTED
    );
}

#[tokio::test]
async fn tenant_rules_and_repeated_failures_write_once() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Fake::default();
    let mut lonely = bv("data", "u14", "");
    lonely.metadata.namespace = Some("nobody".into());
    let err = w.apply(&mut lonely, &fake, &rec).await.unwrap_err();
    assert!(err.is_terminal() && err.is_tenant_rule());
    assert_eq!(condition(&lonely, cond::TENANT_POLICY).0, "False");
    assert!(fake.ids().is_empty());
    let flaky = Fake {
        before_create: Some(Box::new(|_| Err(ProviderError::transient("503 busy")))),
        ..Fake::default()
    };
    let (w2, rec2) = (World::new(), Recorder::default());
    let mut obj = bv("data", "u15", "");
    for _ in 0..3 {
        w2.apply(&mut obj, &flaky, &rec2).await.unwrap_err();
    }
    assert_eq!(
        rec2.writes(),
        2,
        "the marker and one failure status for three failures"
    );
    assert_eq!(condition(&obj, cond::SYNCED).1, reasons::RECONCILE_ERROR);
}

#[tokio::test]
async fn paused_objects_say_so_and_touch_nothing() {
    let (fake, rec) = (Fake::default(), Recorder::default());
    let mut obj = bv("data", "u16", "paused: true");
    lifecycle::record_paused(&mut obj, &rec).await.unwrap();
    lifecycle::record_paused(&mut obj, &rec).await.unwrap();
    assert_eq!(rec.writes(), 1);
    assert_eq!(condition(&obj, cond::SYNCED).1, reasons::PAUSED);
    assert!(fake.ids().is_empty());
    assert_eq!(obj.name_any(), "data");
}
