//! What a kind supplies to the shared lifecycle: [`ManagedKind`] (its desired state, status and
//! verdicts, all pure) and [`Actuator`] (its platform calls). Everything else — tenancy,
//! adoption, the create marker, lost resources, deletion and error handling — is written once in
//! the lifecycle.
//!
//! Two optional hooks let a kind hold back the lifecycle without owning it:
//! [`Actuator::ready_to_create`] keeps a create from being ordered until something outside the
//! resource is right (a snapshot needs its server stopped; a backup job needs its server
//! built), shown as a [`Hold`]; [`Actuator::release`] undoes what the object did to other
//! resources (a server it stopped) before the object goes, whatever becomes of its own resource.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{ManagedSpec, ManagedStatus, Phase};
use suido_provider::{ClientToken, Operation, ProviderResult, Tags};

use super::error::Error;
use crate::conditions::Desired;
use crate::context::Context;
use crate::feeds::Feeds;
use crate::status::HasStatus;

/// Where a platform resource is in its life, as far as the shared lifecycle cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// The platform is still creating it.
    Building,
    /// Built (possibly with an operation running on it).
    Built,
    /// The platform is deleting it.
    Deleting,
    /// The platform reports it broken.
    Error,
}

/// A platform resource as the shared lifecycle sees it.
pub trait External: Clone + Debug + Send + Sync {
    /// The platform's id.
    fn id(&self) -> &str;
    /// Its tags (owner uid, kind, namespace, name, tenant).
    fn tags(&self) -> &Tags;
    /// When the platform created it.
    fn created_at(&self) -> Timestamp;
    /// Where it is in its life.
    fn lifecycle(&self) -> Lifecycle;
}

/// How to go on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Something runs on the platform: look again after the poll interval.
    Poll,
    /// The resource matches the spec: look again after the drift interval.
    Settled,
    /// Settled, but something is due sooner (a maintenance window opens).
    SettledFor(Duration),
}

/// A Normal Event about a step the platform was asked to take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// CamelCase reason, e.g. `Resizing`.
    pub reason: &'static str,
    /// What was done, in words.
    pub message: String,
}

/// Why a create waits, from [`Actuator::ready_to_create`]. Nothing is ordered; the object shows
/// phase `Waiting` and `Ready=False` with this reason and message, and keeps whatever it had in
/// `status.externalId` and `status.attempt` (so a lost resource stays lost until replaced).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// The `Ready` reason, e.g. `WaitingForStop`.
    pub reason: &'static str,
    /// What the create waits for, and what the tenant can do about it.
    pub message: String,
    /// How to go on (`Poll` while something the hook started runs).
    pub flow: Flow,
    /// Normal Events about steps the hook took (a server it stopped).
    pub notes: Vec<Note>,
}

/// What [`Actuator::act`] did.
#[derive(Clone, Debug)]
pub struct Acted<S> {
    /// The step it decided on (and carried out, unless it waits).
    pub step: S,
    /// How to go on.
    pub flow: Flow,
    /// Events to publish.
    pub notes: Vec<Note>,
}

/// The phase and `Ready` condition of a built resource, decided by the kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The phase for `kubectl get`.
    pub phase: Phase,
    /// The `Ready` condition.
    pub ready: Desired,
}

/// A Suido kind that manages one platform resource.
pub trait ManagedKind: HasStatus<Status: Send + Sync> + Send + Sync + 'static {
    /// The kind, e.g. `VirtualServer`: client tokens, tags and messages.
    const KIND: &'static str;
    /// The controller's name in metrics and logs, e.g. `virtualserver`.
    const NAME: &'static str;
    /// What the platform resource is called in messages, e.g. `server`.
    const NOUN: &'static str;
    /// The finalizer that holds the object until its platform resource is gone (or orphaned).
    const FINALIZER: &'static str;
    /// Whether the kind shows the `ReferencesResolved` condition (set by its `observe`). A
    /// reference that fails to resolve then shows there too, not only in `Ready`.
    const REFERENCES_CONDITION: bool = false;

    /// What the platform should build (the build step's output).
    type Desired: Send + Sync;
    /// The platform resource.
    type External: External;
    /// The kind's plan steps.
    type Step: Clone + Debug + Send + Sync;
    /// The referenced objects, resolved (servers, secrets, policies).
    type Refs: Send + Sync;

    /// The management fields of the spec.
    fn management(&self) -> &ManagedSpec;
    /// The managed block of a status.
    fn managed(status: &Self::Status) -> &ManagedStatus;
    /// The managed block of a status, to change.
    fn managed_mut(status: &mut Self::Status) -> &mut ManagedStatus;
    /// The vendor-only features the object asks for, in words (empty when none).
    fn vendor_only(&self) -> Vec<&'static str> {
        vec![]
    }
    /// The build step: what the platform should hold. Pure.
    fn build(&self, refs: &Self::Refs) -> Result<Self::Desired, Error>;
    /// The Normal Event note when a create is ordered.
    fn creating_note(desired: &Self::Desired) -> String;
    /// Whether a step ends the first build (so the marker gives way to the real status).
    fn settled(step: &Self::Step) -> bool;
    /// The kind's status fields and extra conditions for what was seen (also with nothing built
    /// yet). Pure.
    fn observe(
        &self,
        status: &mut Self::Status,
        external: Option<&Self::External>,
        step: Option<&Self::Step>,
        refs: Option<&Self::Refs>,
    ) -> Vec<Desired>;
    /// Phase and `Ready` of a built, managed resource after `step`. Pure.
    fn verdict(&self, external: &Self::External, step: &Self::Step) -> Verdict;

    /// The controller's own store: the objects that could claim the same resource.
    fn store(ctx: &Context) -> &Store<Self>;
    /// The platform calls for this kind.
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_>;
    /// Adds the kind's own watches (references) to its controller.
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self>;
}

/// The platform side of a kind.
#[async_trait]
pub trait Actuator<K: ManagedKind>: Send + Sync {
    /// Resolves the object's references (cache reads, or gets of Secrets). No writes.
    async fn resolve(&self, obj: &K) -> Result<K::Refs, Error>;
    /// One resource by id.
    async fn get(&self, id: &str) -> ProviderResult<K::External>;
    /// The resources carrying every tag of `selector`.
    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<K::External>>;
    /// Orders the resource.
    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &K::Desired,
    ) -> ProviderResult<Operation>;
    /// Whether the resource may be ordered now (it is absent, or lost and to be replaced).
    /// `Ok(None)` orders it; `Ok(Some(hold))` orders nothing this time and shows the hold. The
    /// hook may take steps towards the create (stop a server), and is asked again on every
    /// reconcile until it answers `None`. The default never holds.
    async fn ready_to_create(&self, _obj: &K, _refs: &K::Refs) -> Result<Option<Hold>, Error> {
        Ok(None)
    }
    /// Plans the next step for a built resource and carries it out. `external` may be updated
    /// in place when a step takes effect at once.
    async fn act(
        &self,
        obj: &K,
        desired: &K::Desired,
        external: &mut K::External,
        refs: &K::Refs,
    ) -> Result<Acted<K::Step>, Error>;
    /// What must happen before the resource may be deleted (delete gates, detaching). `Ok` lets
    /// the delete go on; `Err(Pending)` waits; a terminal error holds the object.
    async fn prepare_delete(&self, _obj: &K, _external: &K::External) -> Result<(), Error> {
        Ok(())
    }
    /// Undoes, before the object goes, what it did to resources other than its own (starts a
    /// server it stopped). Runs first in every cleanup, with `Orphan`, observe-only and nothing
    /// built too. `Ok` lets the cleanup go on; `Err(Pending)` waits. The default does nothing.
    async fn release(&self, _obj: &K) -> Result<(), Error> {
        Ok(())
    }
    /// Deletes the resource.
    async fn delete(&self, id: &str) -> ProviderResult<Operation>;
}
