//! The lifecycle's optional hooks: a create held by [`Actuator::ready_to_create`] orders nothing
//! and shows phase `Waiting`, also when it holds the replacement of a lost resource; and
//! [`Actuator::release`] runs first in every cleanup and can hold it.

use super::*;
use crate::managed::Hold;

/// The fake platform, with a create gate and a release that can be set.
#[derive(Default)]
struct Gated {
    inner: Fake,
    hold: Mutex<Option<Hold>>,
    asked: Mutex<u32>,
    release: Mutex<Option<String>>,
    released: Mutex<u32>,
}

impl Gated {
    fn holding(&self, hold: Option<Hold>) {
        *self.hold.lock().unwrap() = hold;
    }
}

#[async_trait]
impl Actuator<BlockVolume> for Gated {
    async fn resolve(&self, bv: &BlockVolume) -> Result<Target, Error> {
        self.inner.resolve(bv).await
    }
    async fn get(&self, id: &str) -> ProviderResult<Volume> {
        self.inner.get(id).await
    }
    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Volume>> {
        self.inner.list(selector).await
    }
    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &VolumeSpec,
    ) -> ProviderResult<Operation> {
        self.inner.create(token, tags, spec).await
    }
    async fn ready_to_create(
        &self,
        _bv: &BlockVolume,
        _target: &Target,
    ) -> Result<Option<Hold>, Error> {
        *self.asked.lock().unwrap() += 1;
        Ok(self.hold.lock().unwrap().clone())
    }
    async fn act(
        &self,
        bv: &BlockVolume,
        desired: &VolumeSpec,
        volume: &mut Volume,
        target: &Target,
    ) -> Result<Acted<Step>, Error> {
        self.inner.act(bv, desired, volume, target).await
    }
    async fn release(&self, _bv: &BlockVolume) -> Result<(), Error> {
        *self.released.lock().unwrap() += 1;
        match self.release.lock().unwrap().clone() {
            Some(why) => Err(Error::Pending(why)),
            None => Ok(()),
        }
    }
    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.inner.delete(id).await
    }
}

fn waiting_for_stop() -> Hold {
    Hold {
        reason: reasons::WAITING_FOR_STOP,
        message: "stop VirtualServer web to go on".into(),
        flow: Flow::Settled,
        notes: vec![super::super::Note {
            reason: "Stopping",
            message: "stopping VirtualServer web".into(),
        }],
    }
}

#[tokio::test]
async fn a_held_create_orders_nothing_shows_waiting_and_goes_on_once_released() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Gated::default();
    fake.holding(Some(waiting_for_stop()));
    let mut obj = bv("data", "u20", "");
    let action = lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(
        action,
        kube::runtime::controller::Action::requeue(w.timing.drift)
    );
    assert!(fake.inner.ids().is_empty(), "nothing ordered");
    let status = obj.status.clone().unwrap();
    assert_eq!(status.managed.phase, Some(Phase::Waiting));
    assert_eq!(
        condition(&obj, cond::READY),
        (
            "False".into(),
            reasons::WAITING_FOR_STOP.into(),
            "stop VirtualServer web to go on".into()
        )
    );
    assert_eq!(condition(&obj, cond::SYNCED).0, "True");
    assert_eq!(
        rec.reasons(),
        ["Stopping"],
        "the hold's notes are published"
    );
    // Held again: the same status, no second write.
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(rec.writes(), 1);
    // Released: the marker, the create, the final status.
    fake.holding(None);
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(*fake.inner.creates.lock().unwrap(), ["blockvolume-u20"]);
    assert_eq!(
        rec.writes.lock().unwrap()[1].managed.phase,
        Some(Phase::Provisioning)
    );
    assert_eq!(condition(&obj, cond::READY).0, "True");
    // Built: the gate is not asked again.
    let asked = *fake.asked.lock().unwrap();
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(*fake.asked.lock().unwrap(), asked);
}

#[tokio::test]
async fn a_held_replacement_stays_lost_and_is_announced_once_when_ordered() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Gated::default();
    let mut obj = bv("data", "u21", "");
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    fake.inner.volumes.lock().unwrap().clear();
    fake.holding(Some(waiting_for_stop()));
    for _ in 0..2 {
        lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
            .await
            .unwrap();
    }
    let status = obj.status.clone().unwrap();
    assert_eq!(status.managed.phase, Some(Phase::Waiting));
    assert_eq!(
        status.managed.external_id.as_deref(),
        Some("vol-new-1"),
        "still lost, not forgotten"
    );
    assert!(rec.warnings().is_empty(), "no Lost event while held");
    fake.holding(None);
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(rec.warnings(), [reasons::LOST]);
    assert_eq!(
        *fake.inner.creates.lock().unwrap(),
        ["blockvolume-u21", "blockvolume-u21-r1"],
        "the replacement under a token of its own"
    );
}

#[tokio::test]
async fn release_runs_first_in_every_cleanup_and_can_hold_it() {
    let (w, rec) = (World::new(), Recorder::default());
    let fake = Gated::default();
    let mut obj = bv("data", "u22", "");
    lifecycle::apply(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    *fake.release.lock().unwrap() = Some("starting VirtualServer web again".into());
    let err = lifecycle::cleanup(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap_err();
    assert!(!err.is_terminal());
    assert_eq!(fake.inner.ids().len(), 1, "nothing deleted while held");
    *fake.release.lock().unwrap() = None;
    lifecycle::cleanup(&mut obj, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert!(fake.inner.ids().is_empty());
    // Also with nothing built, and with Orphan.
    let mut never = bv("never", "u23", "");
    lifecycle::cleanup(&mut never, &w.env(), &fake, &rec)
        .await
        .unwrap();
    let mut orphan = bv("keep", "u24", "deletionPolicy: Orphan");
    lifecycle::cleanup(&mut orphan, &w.env(), &fake, &rec)
        .await
        .unwrap();
    assert_eq!(*fake.released.lock().unwrap(), 4);
}
