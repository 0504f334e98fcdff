//! The BlockVolume's pure steps: what the platform should create, where the volume should be
//! attached, the next step (grow, attach, detach), and its status.

use std::sync::Arc;

use kube::ResourceExt;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{BlockVolume, BlockVolumeStatus, Phase, VirtualServer};
use suido_provider::{Volume, VolumeSpec, VolumeState};

use crate::conditions::Desired;
use crate::convert;
use crate::managed::references;
use crate::managed::{Error, Verdict};

/// What the platform should create, from the spec.
pub fn build(bv: &BlockVolume) -> VolumeSpec {
    VolumeSpec {
        name: bv.name_any(),
        plan: convert::volume_plan(bv.spec.plan),
        size_gb: bv.spec.size_gb,
    }
}

/// Where the spec wants the volume attached, resolved against the VirtualServers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `spec.attachTo` is absent.
    Detached,
    /// The named server is built, with this platform id.
    Server {
        /// VirtualServer name.
        name: String,
        /// Its platform id.
        id: String,
    },
    /// The named server does not exist yet or is not built.
    NotReady(String),
}

/// Resolves `spec.attachTo` among the VirtualServers of the volume's namespace: a server that
/// does not exist there is a `ReferenceNotFound` error.
pub fn target(bv: &BlockVolume, servers: &[Arc<VirtualServer>]) -> Result<Target, Error> {
    let Some(attach) = &bv.spec.attach_to else {
        return Ok(Target::Detached);
    };
    let namespace = bv.namespace().unwrap_or_default();
    let vs = references::find(
        servers,
        "spec.attachTo.serverName",
        &namespace,
        &attach.server_name,
    )?;
    Ok(
        match vs
            .status
            .as_ref()
            .and_then(|s| s.managed.external_id.clone())
        {
            Some(id) => Target::Server {
                name: attach.server_name.clone(),
                id,
            },
            None => Target::NotReady(attach.server_name.clone()),
        },
    )
}

/// The next thing to do for a volume that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An operation runs on the platform; look again soon.
    Wait,
    /// Grow to this size.
    Grow(u32),
    /// Detach from the current server.
    Detach,
    /// Attach to this server id.
    Attach(String),
    /// `spec.attachTo` names a server that is not built yet; the volume is delivered attached,
    /// so it waits.
    WaitForServer(String),
    /// Attached where it should be (or detached, as asked).
    Done,
}

/// Decides the next step from the spec, the volume and the resolved target.
pub fn plan(desired: &VolumeSpec, volume: &Volume, target: &Target) -> Step {
    if volume.operation.is_some()
        || matches!(volume.state, VolumeState::Creating | VolumeState::Deleting)
    {
        return Step::Wait;
    }
    if desired.size_gb > volume.size_gb {
        return Step::Grow(desired.size_gb);
    }
    match (target, &volume.attached_to) {
        (Target::Server { id, .. }, Some(now)) if now == id => Step::Done,
        (Target::Server { .. }, Some(_)) => Step::Detach,
        (Target::Server { id, .. }, None) => Step::Attach(id.clone()),
        (Target::Detached, Some(_)) => Step::Detach,
        (Target::NotReady(_), Some(_)) => Step::Detach,
        (Target::NotReady(name), None) => Step::WaitForServer(name.clone()),
        (Target::Detached, None) => Step::Done,
    }
}

/// Fills the volume's own status fields and returns its `Attached` condition.
pub fn observe(
    status: &mut BlockVolumeStatus,
    volume: Option<&Volume>,
    target: Option<&Target>,
) -> Vec<Desired> {
    if let Some(v) = volume {
        let built = v.state != VolumeState::Creating;
        status.size_gb = built.then_some(v.size_gb);
        status.iscsi_target = built.then(|| v.iscsi_target.clone());
        status.attached_to = match (target, &v.attached_to) {
            (Some(Target::Server { name, id }), Some(now)) if now == id => Some(name.clone()),
            _ => None,
        };
    }
    let attached = match (&status.attached_to, target) {
        (Some(name), _) => Desired::new(
            cond::ATTACHED,
            true,
            reasons::ATTACHED,
            format!("attached to VirtualServer {name}"),
        ),
        (None, Some(Target::NotReady(name))) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::WAITING_FOR_SERVER,
            format!("waiting for VirtualServer {name} in this namespace to be built"),
        ),
        (None, Some(Target::Server { name, .. })) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::PROVISIONING,
            format!("attaching to VirtualServer {name}"),
        ),
        (None, Some(Target::Detached) | None) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::DETACHED,
            "spec.attachTo is not set",
        ),
    };
    vec![attached]
}

/// Phase and `Ready` of a created volume after `step`.
pub fn verdict(step: &Step) -> Verdict {
    let v = |phase, ok, reason, message: String| Verdict {
        phase,
        ready: Desired::new(cond::READY, ok, reason, message),
    };
    match step {
        Step::WaitForServer(name) => v(
            Phase::Waiting,
            false,
            reasons::WAITING_FOR_SERVER,
            format!("waiting for VirtualServer {name} in this namespace to be built"),
        ),
        Step::Done => v(
            Phase::Available,
            true,
            reasons::AVAILABLE,
            "the volume is created at its size".to_owned(),
        ),
        _ => v(
            Phase::Updating,
            false,
            reasons::PROVISIONING,
            "applying changes on the platform".to_owned(),
        ),
    }
}
