//! What the service-family kinds (LoadBalancer, WafInstance, IntrusionPrevention, SmtpRelay)
//! share: the platform's [`ResourceState`] as a [`Lifecycle`], one shape of plan step (wait,
//! update, wait for references, done) with its flow, note and verdict, the
//! `ReferencesResolved` condition, and how a referenced VirtualServer or LoadBalancer becomes a
//! platform id. All pure.

use std::sync::Arc;

use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{LoadBalancer, Phase, TargetKind, TargetRef, VirtualServer};
use suido_provider::{self as p, ProtectedTarget, ResourceState};

use crate::conditions::Desired;
use crate::managed::references::{self, Reference};
use crate::managed::{Error, Flow, Lifecycle, ManagedKind, Note, Verdict};

/// Where a service-family resource is in its life, for the shared lifecycle. An update keeps
/// the resource built (the old spec stays in force until it ends).
pub fn lifecycle(state: ResourceState) -> Lifecycle {
    match state {
        ResourceState::Creating => Lifecycle::Building,
        ResourceState::Available | ResourceState::Updating => Lifecycle::Built,
        ResourceState::Deleting => Lifecycle::Deleting,
        ResourceState::Error => Lifecycle::Error,
    }
}

/// The next thing to do for a built service-family resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An operation runs on the platform, or the resource is not `Available`: look again soon.
    Wait,
    /// The platform reports the resource broken: nothing can be sent to it; look again after
    /// the drift interval (the shared lifecycle shows it Failed).
    Broken,
    /// The spec in force differs from the desired one: send the desired one. The differences,
    /// in words.
    Update(Vec<String>),
    /// The desired spec is in force, but referenced objects cannot be used yet (not built, or
    /// being deleted); in words. The reference watches bring the object back when they change.
    WaitForReferences(Vec<String>),
    /// The desired spec is in force and every reference resolved.
    Done,
}

/// Decides the next step for a resource in `state` with an `operation` running (or not): wait
/// while it is busy, update while anything `differs`, then wait for the references that cannot
/// be used yet.
pub fn plan(
    state: ResourceState,
    operation: Option<&String>,
    differs: Vec<String>,
    waiting: &[String],
) -> Step {
    if state == ResourceState::Error {
        Step::Broken
    } else if operation.is_some() || !state.is_available() {
        Step::Wait
    } else if !differs.is_empty() {
        Step::Update(differs)
    } else if !waiting.is_empty() {
        Step::WaitForReferences(waiting.to_vec())
    } else {
        Step::Done
    }
}

/// Whether a step ends the first build. Waiting for references does not: until they resolve,
/// the object keeps its Provisioning marker.
pub fn settled(step: &Step) -> bool {
    matches!(step, Step::Done)
}

/// How to go on after a step. Waiting for references settles: the reference watches trigger the
/// object when a referenced one is built or deleted.
pub fn flow(step: &Step) -> Flow {
    match step {
        Step::Done | Step::WaitForReferences(_) | Step::Broken => Flow::Settled,
        Step::Wait | Step::Update(_) => Flow::Poll,
    }
}

/// The Event of a step.
pub fn notes(step: &Step) -> Vec<Note> {
    match step {
        Step::Update(differs) => vec![Note {
            reason: "Updating",
            message: format!(
                "sending the new configuration to the platform: {}",
                differs.join(", ")
            ),
        }],
        _ => vec![],
    }
}

/// Phase and `Ready` of a built resource (called `noun` in messages) after `step`.
pub fn verdict(noun: &str, step: &Step) -> Verdict {
    let v = |phase, ok, reason, message: String| Verdict {
        phase,
        ready: Desired::new(cond::READY, ok, reason, message),
    };
    match step {
        Step::Done => v(
            Phase::Available,
            true,
            reasons::AVAILABLE,
            format!("the {noun} is built and in force as specified"),
        ),
        Step::WaitForReferences(waiting) => v(
            Phase::Waiting,
            false,
            reasons::REFERENCE_NOT_READY,
            format!(
                "the {noun} is in force without what cannot be used yet: {}",
                waiting.join("; ")
            ),
        ),
        Step::Broken => v(
            Phase::Failed,
            false,
            reasons::RECONCILE_ERROR,
            format!("the platform reports the {noun} in error"),
        ),
        Step::Wait | Step::Update(_) => v(
            Phase::Updating,
            false,
            reasons::PROVISIONING,
            "applying changes on the platform".to_owned(),
        ),
    }
}

/// The `ReferencesResolved` condition, from the references that cannot be used yet; nothing
/// when the references were not resolved in this reconcile.
pub fn references_resolved(waiting: Option<&[String]>) -> Vec<Desired> {
    match waiting {
        None => vec![],
        Some([]) => vec![Desired::new(
            cond::REFERENCES_RESOLVED,
            true,
            reasons::RESOLVED,
            "every referenced object exists in this namespace and is built",
        )],
        Some(waiting) => vec![Desired::new(
            cond::REFERENCES_RESOLVED,
            false,
            reasons::REFERENCE_NOT_READY,
            format!("waiting: {}", waiting.join("; ")),
        )],
    }
}

/// Whether the resource may be deleted now: not while an operation other than its deletion
/// runs on it (the platform would refuse).
pub fn ready_to_delete(
    noun: &str,
    id: &str,
    state: ResourceState,
    operation: Option<&String>,
) -> Result<(), Error> {
    if operation.is_some() && state != ResourceState::Deleting {
        return Err(Error::Pending(format!("{noun} {id} is busy")));
    }
    Ok(())
}

/// The references of a WAF's or an IDS/IPS's targets, by kind and name.
pub fn target_references(targets: &[TargetRef]) -> Vec<Reference> {
    targets
        .iter()
        .map(|t| match t.kind {
            TargetKind::VirtualServer => Reference::named("VirtualServer", t.name.clone()),
            TargetKind::LoadBalancer => Reference::named("LoadBalancer", t.name.clone()),
        })
        .collect()
}

/// A referenced object, as far as its referrer can use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Built {
    /// Built, with this platform id.
    Id(String),
    /// Not usable yet, in words (`VirtualServer web-2 is not built yet`).
    Waiting(String),
}

/// Whether a referenced managed object can be used: built (its `status.externalId`) and not
/// being deleted (the platform refuses references to resources it is deleting).
pub fn built<T: ManagedKind>(obj: &T) -> Built {
    let what = format!("{} {}", T::KIND, obj.name_any());
    if obj.meta().deletion_timestamp.is_some() {
        return Built::Waiting(format!("{what} is being deleted"));
    }
    match obj
        .status_ref()
        .and_then(|s| T::managed(s).external_id.clone())
    {
        Some(id) => Built::Id(id),
        None => Built::Waiting(format!("{what} is not built yet")),
    }
}

/// Sorts a list of waiting references and keeps each once.
pub fn sorted(mut waiting: Vec<String>) -> Vec<String> {
    waiting.sort();
    waiting.dedup();
    waiting
}

/// The targets of a WAF or an IDS/IPS, resolved in their namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// The usable targets as the platform knows them, sorted, each once.
    pub resolved: Vec<ProtectedTarget>,
    /// The targets that cannot be used yet, in words, sorted.
    pub waiting: Vec<String>,
}

impl Targets {
    /// How many of the resolved targets the platform protects now (are in the spec in force).
    pub fn protected(&self, in_force: &[ProtectedTarget]) -> u32 {
        let n = self
            .resolved
            .iter()
            .filter(|t| in_force.contains(t))
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Resolves `refs` (the list at `field`, e.g. `spec.protects`) among the VirtualServers and
/// LoadBalancers of `namespace`. A target that does not exist there is a `ReferenceNotFound`
/// error naming the entry; one not built yet waits.
pub fn targets(
    field: &str,
    refs: &[TargetRef],
    namespace: &str,
    servers: &[Arc<VirtualServer>],
    load_balancers: &[Arc<LoadBalancer>],
) -> Result<Targets, Error> {
    let mut resolved = vec![];
    let mut waiting = vec![];
    for (i, target) in refs.iter().enumerate() {
        let field = format!("{field}[{i}].name");
        let (kind, state) = match target.kind {
            TargetKind::VirtualServer => (
                p::TargetKind::Server,
                built(references::find(servers, &field, namespace, &target.name)?.as_ref()),
            ),
            TargetKind::LoadBalancer => (
                p::TargetKind::LoadBalancer,
                built(references::find(load_balancers, &field, namespace, &target.name)?.as_ref()),
            ),
        };
        match state {
            Built::Id(id) => resolved.push(ProtectedTarget { kind, id }),
            Built::Waiting(why) => waiting.push(why),
        }
    }
    Ok(Targets {
        resolved: sorted_targets(resolved),
        waiting: sorted(waiting),
    })
}

/// Targets sorted by kind and id, each once: the canonical order desired and in-force specs are
/// compared in.
pub fn sorted_targets(mut targets: Vec<ProtectedTarget>) -> Vec<ProtectedTarget> {
    targets.sort_by(|a, b| (a.kind, &a.id).cmp(&(b.kind, &b.id)));
    targets.dedup();
    targets
}

/// The change of a target list, in words, when it differs (order aside).
pub fn targets_change(desired: &[ProtectedTarget], in_force: &[ProtectedTarget]) -> Option<String> {
    let in_force = sorted_targets(in_force.to_vec());
    (sorted_targets(desired.to_vec()) != in_force).then(|| {
        format!(
            "targets ({} in force, {} desired)",
            in_force.len(),
            desired.len()
        )
    })
}
