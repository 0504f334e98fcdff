//! The lifecycle of a managed object, written once for every kind: tenancy, adoption, the
//! create path (marker before the call, client token, tags, operation polling), lost
//! resources, the kind's create gate ([`Hold`]), the kind's steps, status, failure status, and
//! deletion (release, then orphan or delete, with a wait until gone).
//!
//! It talks to the platform only through an [`Actuator`] and to Kubernetes only through
//! [`Effects`], so it is tested against fakes of both (see `managed::tests`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::controller::Action;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{DeletionPolicy, ManagementPolicy, Phase, Tenant};
use suido_provider::{Operation, OperationState, ProviderError, ProviderResult};

use super::adoption::{self, Found};
use super::error::Error;
use super::kind::{Actuator, External, Flow, Hold, Lifecycle, ManagedKind, Verdict};
use crate::conditions::{self, Desired, Progress};
use crate::context::Timing;
use crate::identity;
use crate::tenancy::{self, Owner};

/// The Kubernetes side effects of a reconcile: status writes and Events.
#[async_trait]
pub trait Effects<K: ManagedKind>: Send + Sync {
    /// Writes `status` when it differs from `obj`'s, and updates `obj`. Returns whether it wrote.
    async fn write_status(&self, obj: &mut K, status: &K::Status) -> Result<bool, kube::Error>;
    /// Publishes an Event about `obj` (best effort).
    async fn event(&self, obj: &K, warning: bool, reason: &str, action: &str, note: String);
}

/// What a reconcile reads besides the object: the caches, and the timing knobs.
pub struct Env<'a, K> {
    /// Every Tenant.
    pub tenants: &'a [Arc<Tenant>],
    /// Every object of the kind (for duplicate claims).
    pub claims: &'a [Arc<K>],
    /// Timing knobs.
    pub timing: &'a Timing,
}

/// What a reconcile saw and did, for the status.
pub struct Observation<K: ManagedKind> {
    /// The platform resource, once found or built.
    pub external: Option<K::External>,
    /// The step taken on it.
    pub step: Option<K::Step>,
    /// The references, once resolved.
    pub refs: Option<K::Refs>,
    /// Whether only observing.
    pub observe_only: bool,
}

impl<K: ManagedKind> Observation<K> {
    fn nothing(observe_only: bool) -> Self {
        Observation {
            external: None,
            step: None,
            refs: None,
            observe_only,
        }
    }
}

fn observe_only<K: ManagedKind>(obj: &K) -> bool {
    obj.management().management_policy == ManagementPolicy::ObserveOnly
}

/// The Tenant that owns the object's namespace, once its vendor-only rules are checked.
pub fn tenant_of<K: ManagedKind>(obj: &K, tenants: &[Arc<Tenant>]) -> Result<Arc<Tenant>, Error> {
    let namespace = obj.namespace().unwrap_or_default();
    let tenant = match tenancy::owner(tenants, &namespace) {
        Owner::Tenant(t) => t,
        Owner::None => return Err(Error::NoTenant(namespace)),
    };
    tenancy::vendor_only(&tenant, &obj.vendor_only()).map_err(Error::TenantPolicy)?;
    Ok(tenant)
}

/// The `Ready` condition while nothing is built: building, or replacing a lost resource.
fn unbuilt_ready<K: ManagedKind>(attempt: Option<u32>) -> Desired {
    match attempt {
        Some(n) => Desired::new(
            cond::READY,
            false,
            reasons::LOST,
            format!(
                "the {} built before is gone from the platform; a replacement is being built (attempt {n})",
                K::NOUN
            ),
        ),
        None => Desired::new(
            cond::READY,
            false,
            reasons::PROVISIONING,
            format!("the platform is building the {}", K::NOUN),
        ),
    }
}

/// The status for what a reconcile observed. Deterministic: the same observation gives the same
/// status, and conditions keep their transition times unless they flip. Until the first build
/// settles, every step in between shows as the Provisioning marker, so that creating an object
/// costs no status writes beyond the marker and the final status.
pub fn desired_status<K: ManagedKind>(obj: &K, obs: &Observation<K>, now: Timestamp) -> K::Status {
    let refs = obs.refs.as_ref();
    let creating = obj
        .status_ref()
        .is_none_or(|s| matches!(K::managed(s).phase, None | Some(Phase::Provisioning)));
    let settled = obs.step.as_ref().is_some_and(K::settled)
        || obs
            .external
            .as_ref()
            .is_some_and(|e| e.lifecycle() == Lifecycle::Error);
    if creating && !settled && !obs.observe_only && obs.external.is_some() {
        return shaped(obj, None, None, refs, false, None, now);
    }
    shaped(
        obj,
        obs.external.as_ref(),
        obs.step.as_ref(),
        refs,
        obs.observe_only,
        None,
        now,
    )
}

/// The status while [`Actuator::ready_to_create`] holds the create: phase `Waiting`, `Ready`
/// from the hold, and `status.externalId` kept (a lost resource stays lost until replaced).
pub fn held_status<K: ManagedKind>(
    obj: &K,
    refs: Option<&K::Refs>,
    hold: &Hold,
    now: Timestamp,
) -> K::Status {
    shaped(obj, None, None, refs, false, Some(hold), now)
}

fn shaped<K: ManagedKind>(
    obj: &K,
    external: Option<&K::External>,
    step: Option<&K::Step>,
    refs: Option<&K::Refs>,
    observe_only: bool,
    hold: Option<&Hold>,
    now: Timestamp,
) -> K::Status {
    let generation = obj.meta().generation;
    let mut status = obj.status_ref().cloned().unwrap_or_default();
    let managed = K::managed_mut(&mut status);
    managed.observed_generation = generation;
    let mut desired = vec![
        Desired::new(cond::SYNCED, true, reasons::RECONCILE_SUCCESS, ""),
        Desired::new(
            cond::TENANT_POLICY,
            true,
            reasons::AVAILABLE,
            "the tenant allows this object",
        ),
    ];
    let noun = K::NOUN;
    let verdict = match (external, hold) {
        (None, Some(hold)) => Verdict {
            phase: Phase::Waiting,
            ready: Desired::new(cond::READY, false, hold.reason, hold.message.clone()),
        },
        (None, None) => {
            managed.external_id = None;
            Verdict {
                phase: Phase::Provisioning,
                ready: unbuilt_ready::<K>(managed.attempt),
            }
        }
        (Some(e), _) => {
            let lifecycle = e.lifecycle();
            managed.external_id = (lifecycle != Lifecycle::Building).then(|| e.id().to_owned());
            let plain = |phase, ok, reason, message: String| Verdict {
                phase,
                ready: Desired::new(cond::READY, ok, reason, message),
            };
            match (lifecycle, step) {
                (Lifecycle::Building, _) => plain(
                    Phase::Provisioning,
                    false,
                    reasons::PROVISIONING,
                    format!("the platform is building the {noun}"),
                ),
                (Lifecycle::Deleting, _) => plain(
                    Phase::Deleting,
                    false,
                    reasons::PROVISIONING,
                    format!("the platform is deleting the {noun}"),
                ),
                (Lifecycle::Error, _) => plain(
                    Phase::Failed,
                    false,
                    reasons::RECONCILE_ERROR,
                    format!("the platform reports the {noun} in error"),
                ),
                _ if observe_only => plain(
                    Phase::Observed,
                    true,
                    reasons::OBSERVE_ONLY,
                    format!("observing the platform {noun}; Suido changes nothing"),
                ),
                (Lifecycle::Built, Some(step)) => obj.verdict(e, step),
                (Lifecycle::Built, None) => plain(
                    Phase::Updating,
                    false,
                    reasons::PROVISIONING,
                    "applying changes on the platform".to_owned(),
                ),
            }
        }
    };
    managed.phase = Some(verdict.phase);
    let ready = verdict.ready.status == conditions::Status::True;
    let progress = match verdict.phase {
        Phase::Available | Phase::Observed | Phase::Stopped if ready => Progress::Done,
        Phase::Failed => Progress::Stalled(verdict.ready.reason, verdict.ready.message.clone()),
        // Ready, but part of the spec is not in force yet (a change held for a window).
        _ if ready => Progress::Working(reasons::CHANGES_PENDING, verdict.ready.message.clone()),
        _ => Progress::Working(verdict.ready.reason, verdict.ready.message.clone()),
    };
    desired.push(verdict.ready);
    desired.extend(obj.observe(&mut status, external, step, refs));
    let conditions = &mut K::managed_mut(&mut status).conditions;
    conditions::set_all(conditions, desired, generation, now);
    conditions::set_progress(conditions, progress, generation, now);
    status
}

/// The status after a failed reconcile: the error in `Synced` and, when it waits for the user,
/// in `Ready` (and `TenantPolicy` for tenant rules) too.
pub fn failed_status<K: ManagedKind>(obj: &K, error: &Error, now: Timestamp) -> K::Status {
    let generation = obj.meta().generation;
    let mut status = obj.status_ref().cloned().unwrap_or_default();
    let message = error.inner().to_string();
    let mut desired = vec![Desired::new(
        cond::SYNCED,
        false,
        error.reason(),
        message.clone(),
    )];
    if error.is_terminal() {
        let managed = K::managed_mut(&mut status);
        managed.observed_generation = generation;
        if !matches!(error.inner(), Error::Blocked { .. }) {
            managed.phase = Some(Phase::Failed);
        }
        desired.push(Desired::new(
            cond::READY,
            false,
            error.reason(),
            message.clone(),
        ));
        if error.is_tenant_rule() {
            desired.push(Desired::new(
                cond::TENANT_POLICY,
                false,
                error.reason(),
                message.clone(),
            ));
        }
        // Kinds that show `ReferencesResolved` keep it in step with a reference error.
        let shown = K::managed(&status)
            .conditions
            .iter()
            .any(|c| c.type_ == cond::REFERENCES_RESOLVED);
        if (shown || K::REFERENCES_CONDITION) && matches!(error.inner(), Error::Reference { .. }) {
            desired.push(Desired::new(
                cond::REFERENCES_RESOLVED,
                false,
                error.reason(),
                message,
            ));
        }
    }
    let conditions = &mut K::managed_mut(&mut status).conditions;
    conditions::set_all(conditions, desired, generation, now);
    // A transient error leaves the progress as it was: a built object does not read as in
    // progress for every failed call, and a retry follows anyway.
    if error.is_terminal() {
        let progress = Progress::Stalled(error.reason(), error.inner().to_string());
        conditions::set_progress(conditions, progress, generation, now);
    }
    status
}

/// The outcome of a platform operation: `Ok(Some(resource id))` when it succeeded, `Ok(None)`
/// while it runs, and its error when it failed.
pub fn operation_result(op: &Operation) -> Result<Option<&str>, Error> {
    match &op.state {
        OperationState::Succeeded => Ok(Some(op.resource_id.as_str())),
        OperationState::Failed { error } => Err(error.clone().into()),
        OperationState::Pending | OperationState::Running => Ok(None),
    }
}

/// Polls `get` until the platform answers NotFound (`Ok(true)`), or until `timing.delete_wait`
/// has passed (`Ok(false)`: still there, look again later). Other errors are returned.
pub async fn wait_until_gone<T, F, Fut>(timing: &Timing, mut get: F) -> ProviderResult<bool>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ProviderResult<T>>,
{
    let deadline = tokio::time::Instant::now() + timing.delete_wait;
    loop {
        match get().await {
            Err(ProviderError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e),
            Ok(_) if tokio::time::Instant::now() >= deadline => return Ok(false),
            Ok(_) => tokio::time::sleep(timing.poll.min(Duration::from_millis(200))).await,
        }
    }
}

/// Records `error` in status (a write only when it changed, so a repeated failure writes once)
/// and, when it waits for the user, as a Warning Event; then returns it.
pub async fn record_failure<K: ManagedKind>(
    obj: &mut K,
    effects: &dyn Effects<K>,
    error: Error,
) -> Result<Action, Error> {
    let status = failed_status(obj, &error, Timestamp::now());
    match effects.write_status(obj, &status).await {
        Ok(true) if error.is_terminal() => {
            effects
                .event(obj, true, error.reason(), "Reconcile", error.to_string())
                .await;
        }
        Ok(_) => {}
        Err(write) => tracing::warn!(error = %write, "could not record the error in status"),
    }
    Err(error)
}

/// Orders the resource: the marker first (so that a crash between the call and the next status
/// write is visible, and the next reconcile adopts by tag), then the create under the attempt's
/// client token. Returns the resource when the platform built it at once.
#[allow(clippy::too_many_arguments)]
async fn create<K: ManagedKind>(
    obj: &mut K,
    tenant: &str,
    desired: &K::Desired,
    refs: &K::Refs,
    attempt: Option<u32>,
    actuator: &dyn Actuator<K>,
    effects: &dyn Effects<K>,
) -> Result<Option<K::External>, Error> {
    let marked = obj.status_ref().is_some_and(|s| {
        let m = K::managed(s);
        m.phase == Some(Phase::Provisioning) && m.external_id.is_none() && m.attempt == attempt
    });
    // A marker for this attempt is already in status (a retry after a failed create): writing
    // it again would only flip `Synced` back and forth on every retry.
    if !marked {
        let mut base = obj.clone();
        let mut status = base.status_ref().cloned().unwrap_or_default();
        K::managed_mut(&mut status).attempt = attempt;
        K::managed_mut(&mut status).external_id = None;
        *base.status_slot() = Some(status);
        let marker = shaped(&base, None, None, Some(refs), false, None, Timestamp::now());
        // Written into `obj` too: the final status builds on it, so nothing is written twice.
        effects.write_status(obj, &marker).await?;
    }
    let uid = obj.uid().unwrap_or_default();
    let token = identity::client_token(K::KIND, &uid, attempt)?;
    let namespace = obj.namespace().unwrap_or_default();
    let tags = identity::tags(K::KIND, &namespace, &obj.name_any(), &uid, tenant);
    let op = actuator.create(&token, &tags, desired).await?;
    effects
        .event(obj, false, "Creating", "Create", K::creating_note(desired))
        .await;
    match operation_result(&op)? {
        Some(id) => Ok(Some(actuator.get(id).await?)),
        None => Ok(None),
    }
}

/// When to look again after a step or a hold.
fn requeue(flow: Flow, timing: &Timing) -> Action {
    match flow {
        Flow::Poll => Action::requeue(timing.poll),
        Flow::Settled => Action::requeue(timing.drift),
        Flow::SettledFor(d) => Action::requeue(d.min(timing.drift)),
    }
}

/// Brings the platform one step closer to the spec and reports what it saw, and the hold when
/// the kind kept a create from being ordered.
async fn converge<K: ManagedKind>(
    obj: &mut K,
    env: &Env<'_, K>,
    actuator: &dyn Actuator<K>,
    effects: &dyn Effects<K>,
) -> Result<(Observation<K>, Option<Hold>, Action), Error> {
    let tenant = tenant_of(obj, env.tenants)?.name_any();
    let refs = actuator.resolve(obj).await?;
    let desired = obj.build(&refs)?;
    let observe_only = observe_only(obj);
    let mut obs = Observation::nothing(observe_only);
    let poll = Action::requeue(env.timing.poll);
    let attempt = obj.status_ref().and_then(|s| K::managed(s).attempt);
    let found = adoption::find(obj, &tenant, env.claims, actuator).await?;
    if !observe_only && matches!(found, Found::Lost { .. } | Found::Absent) {
        // Asked before the Lost event, so that a held replacement is announced once, when it
        // is ordered.
        if let Some(hold) = actuator.ready_to_create(obj, &refs).await? {
            for note in &hold.notes {
                effects
                    .event(obj, false, note.reason, note.reason, note.message.clone())
                    .await;
            }
            obs.refs = Some(refs);
            let action = requeue(hold.flow, env.timing);
            return Ok((obs, Some(hold), action));
        }
    }
    let built = match found {
        Found::Adopted(e) | Found::Owned(e) => Some(e),
        Found::Replaced { old, new } => {
            effects
                .event(
                    obj,
                    false,
                    "Replaced",
                    "Reconcile",
                    format!(
                        "the platform replaced {} {old} with {}; following the new one",
                        K::NOUN,
                        new.id()
                    ),
                )
                .await;
            Some(new)
        }
        Found::Lost { old } => {
            let next = attempt.unwrap_or(0).saturating_add(1);
            effects
                .event(
                    obj,
                    true,
                    reasons::LOST,
                    "Reconcile",
                    format!(
                        "{} {old} is gone from the platform; ordering a replacement (attempt {next})",
                        K::NOUN
                    ),
                )
                .await;
            create(obj, &tenant, &desired, &refs, Some(next), actuator, effects).await?
        }
        Found::Absent if observe_only => {
            return Err(Error::InvalidSpec(
                "spec.managementPolicy ObserveOnly needs spec.externalId".to_owned(),
            ));
        }
        Found::Absent => create(obj, &tenant, &desired, &refs, attempt, actuator, effects).await?,
    };
    obs.refs = Some(refs);
    let Some(mut external) = built else {
        return Ok((obs, None, poll));
    };
    if observe_only {
        obs.external = Some(external);
        return Ok((obs, None, Action::requeue(env.timing.drift)));
    }
    let refs = obs
        .refs
        .as_ref()
        .ok_or_else(|| Error::Pending("references".into()))?;
    let acted = actuator.act(obj, &desired, &mut external, refs).await?;
    for note in &acted.notes {
        effects
            .event(obj, false, note.reason, note.reason, note.message.clone())
            .await;
    }
    let action = requeue(acted.flow, env.timing);
    obs.step = Some(acted.step);
    obs.external = Some(external);
    Ok((obs, None, action))
}

/// The Apply half of the finalizer: converge, then write the status if it changed.
pub async fn apply<K: ManagedKind>(
    obj: &mut K,
    env: &Env<'_, K>,
    actuator: &dyn Actuator<K>,
    effects: &dyn Effects<K>,
) -> Result<Action, Error> {
    match converge(obj, env, actuator, effects).await {
        Ok((obs, hold, action)) => {
            let now = Timestamp::now();
            let status = match &hold {
                Some(hold) => held_status(obj, obs.refs.as_ref(), hold, now),
                None => desired_status(obj, &obs, now),
            };
            effects.write_status(obj, &status).await?;
            Ok(action)
        }
        Err(e) => record_failure(obj, effects, e).await,
    }
}

/// Records in `Synced` that reconciliation is paused by `spec.paused` (a write only the first
/// time), leaving everything else of the status as it is.
pub async fn record_paused<K: ManagedKind>(
    obj: &mut K,
    effects: &dyn Effects<K>,
) -> Result<Action, Error> {
    let mut status = obj.status_ref().cloned().unwrap_or_default();
    conditions::set(
        &mut K::managed_mut(&mut status).conditions,
        Desired::new(
            cond::SYNCED,
            false,
            reasons::PAUSED,
            "reconciliation is paused by spec.paused",
        ),
        obj.meta().generation,
        Timestamp::now(),
    );
    effects.write_status(obj, &status).await?;
    Ok(Action::await_change())
}

/// The Cleanup half: release what the object did to other resources, then orphan, or delete the
/// resource and wait until it is gone. A resource the object may not manage (refused adoption,
/// another object's) is never touched.
pub async fn cleanup<K: ManagedKind>(
    obj: &mut K,
    env: &Env<'_, K>,
    actuator: &dyn Actuator<K>,
    effects: &dyn Effects<K>,
) -> Result<Action, Error> {
    if let Err(e) = actuator.release(obj).await {
        return if e.is_terminal() {
            record_failure(obj, effects, e).await
        } else {
            Err(e)
        };
    }
    let management = obj.management();
    if management.deletion_policy == DeletionPolicy::Orphan || observe_only(obj) {
        effects
            .event(
                obj,
                false,
                "Orphaned",
                "Delete",
                format!("the platform {} is left in place", K::NOUN),
            )
            .await;
        return Ok(Action::await_change());
    }
    let tenant = tenant_of(obj, env.tenants)
        .map(|t| t.name_any())
        .unwrap_or_default();
    let found = match adoption::find(obj, &tenant, env.claims, actuator).await {
        Ok(found) => found,
        // Nothing this object may manage: release it without touching the platform.
        Err(e) if e.is_terminal() => return Ok(Action::await_change()),
        Err(e) => return Err(e),
    };
    let external = match found {
        Found::Adopted(e) | Found::Owned(e) | Found::Replaced { new: e, .. } => e,
        Found::Lost { .. } | Found::Absent => return Ok(Action::await_change()),
    };
    if let Err(e) = actuator.prepare_delete(obj, &external).await {
        return if e.is_terminal() {
            record_failure(obj, effects, e).await
        } else {
            Err(e)
        };
    }
    let id = external.id().to_owned();
    if external.lifecycle() != Lifecycle::Deleting {
        match actuator.delete(&id).await {
            Ok(_) => {}
            Err(ProviderError::NotFound { .. }) => return Ok(Action::await_change()),
            // An operation still runs on it (a create or a stop a killed operator started):
            // look again at the poll interval rather than backing off as if it failed.
            Err(ProviderError::Conflict { message }) => {
                return Err(Error::Pending(format!(
                    "{} {id} is busy: {message}",
                    K::NOUN
                )));
            }
            Err(e) => return Err(e.into()),
        }
        effects
            .event(
                obj,
                false,
                "Deleting",
                "Delete",
                format!("deleting platform {} {id}", K::NOUN),
            )
            .await;
    }
    if wait_until_gone(env.timing, || actuator.get(&id)).await? {
        Ok(Action::await_change())
    } else {
        Err(Error::Pending(format!("deleting {} {id}", K::NOUN)))
    }
}
