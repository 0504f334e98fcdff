//! The BlockVolume controller: creates volumes idempotently, grows them, attaches them only to a
//! VirtualServer in the same namespace, detaches them, and deletes them — never while deletion
//! protection is on, and never silently while they are attached to a server that still exists.
//!
//! Pure steps — [`validate`], [`build`], [`plan`] and [`desired_status`] — make no API calls and
//! are unit-tested; [`reconcile`] strings them together with the provider and the API.

use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{
    BlockStoragePlan, BlockVolume, BlockVolumeStatus, DeletionPolicy, ManagementPolicy, Phase,
    Tenant, VirtualServer,
};
use suido_provider::{ProviderError, Volume, VolumePlan, VolumeSpec, VolumeState};
use tracing::{Instrument, info_span};

use crate::conditions::{self, Desired};
use crate::context::Context;
use crate::identity;
use crate::kit;
use crate::tenancy::{self, Owner};

/// Controller name, used in metrics and logs.
pub const NAME: &str = "blockvolume";
/// Finalizer that holds the object until its platform volume is deleted (or orphaned).
pub const FINALIZER: &str = "infra.suido.dev/blockvolume-cleanup";
const KIND: &str = "BlockVolume";

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The namespace belongs to no Tenant.
    #[error("namespace {0} belongs to no Tenant; create a Tenant that lists it in spec.namespaces")]
    NoTenant(String),
    /// Several Tenants claim the namespace.
    #[error(
        "namespace {namespace} is claimed by several Tenants ({tenants}); each namespace may belong to one"
    )]
    AmbiguousTenant {
        /// The namespace.
        namespace: String,
        /// The Tenants claiming it.
        tenants: String,
    },
    /// The spec cannot be carried out as it is.
    #[error("{0}")]
    InvalidSpec(String),
    /// Deletion refused by `spec.deletionProtection`.
    #[error("spec.deletionProtection is true: the volume is kept until it is set to false")]
    DeletionProtected,
    /// Deletion waits while the volume is attached to a server that still exists.
    #[error(
        "the volume is attached to VirtualServer {0}; remove spec.attachTo (or delete the server) before deleting it"
    )]
    StillAttached(String),
    /// The platform refused the request for good (invalid or over quota).
    #[error("the platform refused the request: {0}")]
    ProviderTerminal(ProviderError),
    /// A transient platform failure.
    #[error("platform error: {0}")]
    Provider(ProviderError),
    /// A Kubernetes API failure.
    #[error("kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// A platform operation is still running; look again soon.
    #[error("waiting for the platform: {0}")]
    Pending(String),
    /// Adding or removing the finalizer failed, or the reconcile inside it did.
    #[error("{0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        if e.is_terminal() {
            Error::ProviderTerminal(e)
        } else {
            Error::Provider(e)
        }
    }
}

impl Error {
    /// Stable label for the `reconcile_errors` metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::NoTenant(_) => "no_tenant",
            Error::AmbiguousTenant { .. } => "ambiguous_tenant",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::DeletionProtected => "deletion_protected",
            Error::StillAttached(_) => "still_attached",
            Error::ProviderTerminal(_) => "provider_terminal",
            Error::Provider(_) => "provider_transient",
            Error::Kube(_) => "kube",
            Error::Pending(_) => "pending",
            Error::Finalizer(e) => match e.as_ref() {
                finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => {
                    inner.metric_label()
                }
                _ => "finalizer",
            },
        }
    }

    fn inner(&self) -> &Error {
        match self {
            Error::Finalizer(e) => match e.as_ref() {
                finalizer::Error::ApplyFailed(inner) | finalizer::Error::CleanupFailed(inner) => {
                    inner.inner()
                }
                _ => self,
            },
            other => other,
        }
    }

    /// Whether the error waits for the user rather than for time.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.inner(),
            Error::NoTenant(_)
                | Error::AmbiguousTenant { .. }
                | Error::InvalidSpec(_)
                | Error::DeletionProtected
                | Error::StillAttached(_)
                | Error::ProviderTerminal(_)
        )
    }

    fn reason(&self) -> &'static str {
        match self.inner() {
            Error::NoTenant(_) | Error::AmbiguousTenant { .. } => reasons::NO_TENANT,
            Error::DeletionProtected => reasons::DELETION_PROTECTED,
            Error::StillAttached(_) => reasons::ATTACHED,
            Error::InvalidSpec(_) | Error::ProviderTerminal(_) => reasons::INVALID_SPEC,
            _ => reasons::RECONCILE_ERROR,
        }
    }
}

/// Validates what the schema cannot: the namespace's Tenant. Returns it.
pub fn validate(bv: &BlockVolume, tenants: &[Arc<Tenant>]) -> Result<Arc<Tenant>, Error> {
    let namespace = bv.namespace().unwrap_or_default();
    match tenancy::owner(tenants, &namespace) {
        Owner::Tenant(t) => Ok(t),
        Owner::None => Err(Error::NoTenant(namespace)),
        Owner::Ambiguous(names) => Err(Error::AmbiguousTenant {
            namespace,
            tenants: names.join(", "),
        }),
    }
}

/// What the platform should build, from the spec.
pub fn build(bv: &BlockVolume) -> VolumeSpec {
    VolumeSpec {
        name: bv.name_any(),
        plan: match bv.spec.plan {
            BlockStoragePlan::Iops2PerGb => VolumePlan::Iops2PerGb,
            BlockStoragePlan::Iops4PerGb => VolumePlan::Iops4PerGb,
        },
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

/// Resolves `spec.attachTo` among the VirtualServers of the volume's namespace.
pub fn target(bv: &BlockVolume, servers: &[Arc<VirtualServer>]) -> Target {
    let Some(attach) = &bv.spec.attach_to else {
        return Target::Detached;
    };
    let ns = bv.namespace();
    let found = servers
        .iter()
        .find(|vs| vs.namespace() == ns && vs.name_any() == attach.server_name)
        .and_then(|vs| vs.status.as_ref()?.managed.external_id.clone());
    match found {
        Some(id) => Target::Server {
            name: attach.server_name.clone(),
            id,
        },
        None => Target::NotReady(attach.server_name.clone()),
    }
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

/// The status for what the reconcile observed; deterministic.
pub fn desired_status(
    bv: &BlockVolume,
    volume: Option<&Volume>,
    step: Option<&Step>,
    target: &Target,
    now: Timestamp,
) -> BlockVolumeStatus {
    let generation = bv.metadata.generation;
    let mut status = bv.status.clone().unwrap_or_default();
    let creating = matches!(status.managed.phase, None | Some(Phase::Provisioning));
    let settled =
        matches!(step, Some(Step::Done)) || volume.is_some_and(|v| v.state == VolumeState::Error);
    if creating && !settled && volume.is_some() {
        // Until the volume is first delivered (created, grown and attached), every step in
        // between shows as the Provisioning marker: creation costs no extra status writes.
        return desired_status(bv, None, None, target, now);
    }
    status.managed.observed_generation = generation;
    let mut desired = vec![Desired::new(
        cond::SYNCED,
        true,
        reasons::RECONCILE_SUCCESS,
        "",
    )];
    let attached_name = |v: &Volume| match (target, &v.attached_to) {
        (Target::Server { name, id }, Some(now)) if now == id => Some(name.clone()),
        _ => None,
    };
    match volume {
        None => {
            status.managed.phase = Some(Phase::Provisioning);
            desired.push(Desired::new(
                cond::READY,
                false,
                reasons::PROVISIONING,
                "the platform is creating the volume",
            ));
        }
        Some(v) => {
            let built = v.state != VolumeState::Creating;
            status.managed.external_id = built.then(|| v.id.clone());
            status.size_gb = built.then_some(v.size_gb);
            status.iscsi_target = built.then(|| v.iscsi_target.clone());
            status.attached_to = attached_name(v);
            let observe_only =
                bv.spec.management.management_policy == ManagementPolicy::ObserveOnly;
            let (phase, ready) = match (v.state, step) {
                (VolumeState::Creating, _) => (
                    Phase::Provisioning,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::PROVISIONING,
                        "the platform is creating the volume",
                    ),
                ),
                (VolumeState::Deleting, _) => (
                    Phase::Deleting,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::PROVISIONING,
                        "the platform is deleting the volume",
                    ),
                ),
                (VolumeState::Error, _) => (
                    Phase::Failed,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::RECONCILE_ERROR,
                        "the platform reports the volume in error",
                    ),
                ),
                _ if observe_only => (
                    Phase::Observed,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::OBSERVE_ONLY,
                        "observing the platform volume; Suido changes nothing",
                    ),
                ),
                (_, Some(Step::WaitForServer(name))) => (
                    Phase::Waiting,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::WAITING_FOR_SERVER,
                        format!("waiting for VirtualServer {name} in this namespace to be built"),
                    ),
                ),
                (_, Some(Step::Done)) => (
                    Phase::Available,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::AVAILABLE,
                        "the volume is created at its size",
                    ),
                ),
                _ => (
                    Phase::Updating,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::PROVISIONING,
                        "applying changes on the platform",
                    ),
                ),
            };
            status.managed.phase = Some(phase);
            desired.push(ready);
        }
    }
    desired.push(match (&status.attached_to, target) {
        (Some(name), _) => Desired::new(
            cond::ATTACHED,
            true,
            reasons::ATTACHED,
            format!("attached to VirtualServer {name}"),
        ),
        (None, Target::NotReady(name)) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::WAITING_FOR_SERVER,
            format!("waiting for VirtualServer {name} in this namespace to be built"),
        ),
        (None, Target::Server { name, .. }) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::PROVISIONING,
            format!("attaching to VirtualServer {name}"),
        ),
        (None, Target::Detached) => Desired::new(
            cond::ATTACHED,
            false,
            reasons::DETACHED,
            "spec.attachTo is not set",
        ),
    });
    conditions::set_all(&mut status.managed.conditions, desired, generation, now);
    status
}

/// The status after a failed reconcile.
pub fn failed_status(bv: &BlockVolume, error: &Error, now: Timestamp) -> BlockVolumeStatus {
    let generation = bv.metadata.generation;
    let mut status = bv.status.clone().unwrap_or_default();
    let message = error.inner().to_string();
    let mut desired = vec![Desired::new(
        cond::SYNCED,
        false,
        error.reason(),
        message.clone(),
    )];
    if error.is_terminal() {
        status.managed.observed_generation = generation;
        desired.push(Desired::new(cond::READY, false, error.reason(), message));
        if !matches!(
            error.inner(),
            Error::DeletionProtected | Error::StillAttached(_)
        ) {
            status.managed.phase = Some(Phase::Failed);
        }
    }
    conditions::set_all(&mut status.managed.conditions, desired, generation, now);
    status
}

async fn find_volume(bv: &BlockVolume, ctx: &Context) -> Result<Option<Volume>, Error> {
    if let Some(id) = &bv.spec.management.external_id {
        return match ctx.call("get_volume", ctx.storage.get_volume(id)).await {
            Ok(v) => Ok(Some(v)),
            Err(ProviderError::NotFound { .. }) => Err(Error::InvalidSpec(format!(
                "spec.externalId {id}: no such volume on the platform"
            ))),
            Err(e) => Err(e.into()),
        };
    }
    let uid = bv.uid().unwrap_or_default();
    // A created volume is recorded in status: one get instead of a search by tag (see
    // VirtualServer).
    let known = bv
        .status
        .as_ref()
        .and_then(|s| s.managed.external_id.as_ref());
    if let Some(id) = known {
        match ctx.call("get_volume", ctx.storage.get_volume(id)).await {
            Ok(v) if v.tags.get(identity::TAG_UID) == Some(&uid) => return Ok(Some(v)),
            Ok(_) | Err(ProviderError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut found = ctx
        .call(
            "list_volumes",
            ctx.storage.list_volumes(&identity::selector(&uid)),
        )
        .await?;
    found.sort_by_key(|v| v.created_at);
    Ok(found.into_iter().next())
}

async fn converge(
    bv: &mut BlockVolume,
    ctx: &Context,
    api: &Api<BlockVolume>,
) -> Result<(Option<Volume>, Option<Step>, Target, Action), Error> {
    let tenant = validate(bv, &ctx.tenants.state())?;
    let desired = build(bv);
    let target = target(bv, &ctx.servers.state());
    let observe_only = bv.spec.management.management_policy == ManagementPolicy::ObserveOnly;
    let poll = Action::requeue(ctx.timing.poll);
    let volume = match find_volume(bv, ctx).await? {
        Some(v) => v,
        None if observe_only => {
            return Err(Error::InvalidSpec(
                "spec.managementPolicy ObserveOnly needs spec.externalId".to_owned(),
            ));
        }
        None => {
            let marker = desired_status(bv, None, None, &target, Timestamp::now());
            // Written into `bv` too: the final status builds on it (see VirtualServer).
            ctx.memo.write(api, bv, &marker).await?;
            let uid = bv.uid().unwrap_or_default();
            let token = identity::client_token(KIND, &uid)?;
            let namespace = bv.namespace().unwrap_or_default();
            let tags = identity::tags(KIND, &namespace, &bv.name_any(), &uid, &tenant.name_any());
            let op = ctx
                .call(
                    "create_volume",
                    ctx.storage.create_volume(&token, &tags, &desired),
                )
                .await?;
            ctx.event(
                bv,
                false,
                "Creating",
                "Create",
                format!("ordering a {} GB volume", desired.size_gb),
            )
            .await;
            match kit::operation_result::<Error>(&op)? {
                Some(id) => ctx.call("get_volume", ctx.storage.get_volume(id)).await?,
                None => return Ok((None, None, target, poll)),
            }
        }
    };
    if observe_only {
        return Ok((
            Some(volume),
            Some(Step::Done),
            target,
            Action::requeue(ctx.timing.resync),
        ));
    }
    let step = plan(&desired, &volume, &target);
    let id = volume.id.as_str();
    let storage = &ctx.storage;
    let event = match &step {
        Step::Wait | Step::Done | Step::WaitForServer(_) => None,
        Step::Grow(size) => {
            ctx.call("grow_volume", storage.grow_volume(id, *size))
                .await?;
            Some((
                "Growing",
                format!("growing the volume {} -> {size} GB", volume.size_gb),
            ))
        }
        Step::Detach => {
            ctx.call("detach_volume", storage.detach_volume(id)).await?;
            Some((
                "Detaching",
                "detaching the volume from its server".to_owned(),
            ))
        }
        Step::Attach(server_id) => {
            ctx.call("attach_volume", storage.attach_volume(id, server_id))
                .await?;
            let name = bv
                .spec
                .attach_to
                .as_ref()
                .map(|a| a.server_name.clone())
                .unwrap_or_default();
            Some((
                "Attaching",
                format!("attaching the volume to VirtualServer {name}"),
            ))
        }
    };
    if let Some((reason, note)) = event {
        ctx.event(bv, false, reason, reason, note).await;
    }
    let action = match step {
        Step::Done => Action::requeue(ctx.timing.resync),
        _ => poll,
    };
    Ok((Some(volume), Some(step), target, action))
}

async fn apply(
    bv: Arc<BlockVolume>,
    ctx: &Context,
    api: &Api<BlockVolume>,
) -> Result<Action, Error> {
    let mut bv = bv.as_ref().clone();
    ctx.memo.refresh(&mut bv);
    if bv.spec.management.paused {
        kit::record_paused(ctx, api, &mut bv).await?;
        return Ok(Action::await_change());
    }
    match converge(&mut bv, ctx, api).await {
        Ok((volume, step, target, action)) => {
            let status = desired_status(
                &bv,
                volume.as_ref(),
                step.as_ref(),
                &target,
                Timestamp::now(),
            );
            ctx.memo.write(api, &mut bv, &status).await?;
            Ok(action)
        }
        Err(e) => record_failure(&mut bv, ctx, api, e).await,
    }
}

async fn record_failure(
    bv: &mut BlockVolume,
    ctx: &Context,
    api: &Api<BlockVolume>,
    e: Error,
) -> Result<Action, Error> {
    let status = failed_status(bv, &e, Timestamp::now());
    if let Err(write) = ctx.memo.write(api, bv, &status).await {
        tracing::warn!(error = %write, "could not record the error in status");
    }
    if e.is_terminal() {
        ctx.event(&*bv, true, e.reason(), "Reconcile", e.to_string())
            .await;
    }
    Err(e)
}

/// The server a volume is attached to on the platform, if its VirtualServer still exists and
/// is not being deleted.
fn live_attachment(ctx: &Context, bv: &BlockVolume, volume: &Volume) -> Option<String> {
    let server_id = volume.attached_to.as_ref()?;
    ctx.servers
        .state()
        .iter()
        .filter(|vs| vs.namespace() == bv.namespace() && vs.metadata.deletion_timestamp.is_none())
        .find(|vs| {
            vs.status
                .as_ref()
                .and_then(|s| s.managed.external_id.as_ref())
                .is_some_and(|id| id == server_id)
        })
        .map(|vs| vs.name_any())
}

async fn cleanup(
    bv: Arc<BlockVolume>,
    ctx: &Context,
    api: &Api<BlockVolume>,
) -> Result<Action, Error> {
    let management = &bv.spec.management;
    if management.deletion_policy == DeletionPolicy::Orphan
        || management.management_policy == ManagementPolicy::ObserveOnly
    {
        ctx.event(
            bv.as_ref(),
            false,
            "Orphaned",
            "Delete",
            "the platform volume is left in place".to_owned(),
        )
        .await;
        return Ok(Action::await_change());
    }
    let mut current = bv.as_ref().clone();
    ctx.memo.refresh(&mut current);
    if bv.spec.deletion_protection {
        return record_failure(&mut current, ctx, api, Error::DeletionProtected).await;
    }
    let volume = match find_volume(&bv, ctx).await {
        Ok(v) => v,
        Err(Error::InvalidSpec(_)) => None,
        Err(e) => return Err(e),
    };
    let Some(volume) = volume else {
        return Ok(Action::await_change());
    };
    if let Some(server) = live_attachment(ctx, &bv, &volume) {
        return record_failure(&mut current, ctx, api, Error::StillAttached(server)).await;
    }
    if volume.attached_to.is_some() {
        // The server is gone or going: detach first, as the platform deletes only detached volumes.
        ctx.call("detach_volume", ctx.storage.detach_volume(&volume.id))
            .await?;
        return Err(Error::Pending(format!(
            "detaching volume {} before deleting it",
            volume.id
        )));
    }
    if volume.operation.is_some() {
        return Err(Error::Pending(format!("volume {} is busy", volume.id)));
    }
    match ctx
        .call("delete_volume", ctx.storage.delete_volume(&volume.id))
        .await
    {
        Ok(_) => {}
        Err(ProviderError::NotFound { .. }) => return Ok(Action::await_change()),
        Err(e) => return Err(e.into()),
    }
    ctx.event(
        bv.as_ref(),
        false,
        "Deleting",
        "Delete",
        format!("deleting platform volume {}", volume.id),
    )
    .await;
    let gone = kit::wait_until_gone(ctx, || {
        ctx.call("get_volume", ctx.storage.get_volume(&volume.id))
    })
    .await?;
    if gone {
        Ok(Action::await_change())
    } else {
        Err(Error::Pending(format!("deleting volume {}", volume.id)))
    }
}

/// Reconciles one BlockVolume.
pub async fn reconcile(bv: Arc<BlockVolume>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(NAME);
    let namespace = bv.namespace().unwrap_or_default();
    let span =
        info_span!("reconcile", controller = NAME, namespace = %namespace, name = %bv.name_any());
    let api: Api<BlockVolume> = Api::namespaced(ctx.client.clone(), &namespace);
    let uid = bv.uid().unwrap_or_default();
    let deleting = bv.metadata.deletion_timestamp.is_some();
    let result = finalizer(&api, FINALIZER, bv, |event| async {
        match event {
            finalizer::Event::Apply(bv) => apply(bv, &ctx, &api).await,
            finalizer::Event::Cleanup(bv) => cleanup(bv, &ctx, &api).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if result.is_ok() {
        ctx.backoff.reset(&uid);
        if deleting {
            ctx.memo.forget(&uid);
        }
    }
    result
}

/// Terminal errors wait for a change (still-attached volumes are also looked at again slowly);
/// transient ones back off per object with jitter; pending operations are polled.
pub fn error_policy(bv: Arc<BlockVolume>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(NAME, error.metric_label());
    tracing::warn!(controller = NAME, name = %bv.name_any(), error = %error, "reconcile failed");
    match error.inner() {
        Error::ProviderTerminal(_) | Error::StillAttached(_) => Action::requeue(ctx.timing.resync),
        e if e.is_terminal() => Action::await_change(),
        Error::Pending(_) => Action::requeue(ctx.timing.poll),
        _ => Action::requeue(ctx.backoff.next_delay(&bv.uid().unwrap_or_default())),
    }
}

/// Builds the controller. Changes to VirtualServers (built, deleted) and Tenants trigger the
/// volumes that depend on them. Its store of BlockVolumes is what the other controllers read.
pub fn controller(client: &Client) -> Controller<BlockVolume> {
    let controller = Controller::new(
        Api::<BlockVolume>::all(client.clone()),
        watcher::Config::default(),
    );
    let volumes = controller.store();
    let volumes_for_tenants = controller.store();
    controller
        .watches(
            Api::<VirtualServer>::all(client.clone()),
            watcher::Config::default(),
            move |vs| {
                let ns = vs.namespace();
                let name = vs.name_any();
                let id = vs
                    .status
                    .as_ref()
                    .and_then(|s| s.managed.external_id.clone());
                volumes
                    .state()
                    .iter()
                    .filter(|bv| bv.namespace() == ns)
                    .filter(|bv| {
                        bv.spec
                            .attach_to
                            .as_ref()
                            .is_some_and(|a| a.server_name == name)
                            || bv
                                .status
                                .as_ref()
                                .is_some_and(|s| s.attached_to.as_deref() == Some(name.as_str()))
                            || id.is_some()
                                && bv
                                    .status
                                    .as_ref()
                                    .and_then(|s| s.attached_to.clone())
                                    .is_none()
                                && bv.metadata.deletion_timestamp.is_some()
                    })
                    .map(|bv| ObjectRef::from_obj(bv.as_ref()))
                    .collect::<Vec<_>>()
            },
        )
        .watches(
            Api::<Tenant>::all(client.clone()),
            watcher::Config::default(),
            move |tenant| kit::in_tenant_namespaces(&volumes_for_tenants, &tenant),
        )
}

/// Runs the controller built by [`controller`] until shutdown.
pub async fn run(controller: Controller<BlockVolume>, ctx: Arc<Context>) {
    let config = controller::Config::default().concurrency(ctx.timing.concurrency);
    controller
        .with_config(config)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(controller = NAME, error = %e, "reconcile ended with an error");
            }
        })
        .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use suido_api::v1alpha1::*;
    use suido_provider::ClientToken;

    fn bv(yaml: &str) -> BlockVolume {
        let spec: BlockVolumeSpec = serde_yaml::from_str(yaml).unwrap();
        let mut bv = BlockVolume::new("data", spec);
        bv.metadata.namespace = Some("billing".into());
        bv.metadata.uid = Some("uid-9".into());
        bv.metadata.generation = Some(1);
        bv
    }

    fn server(name: &str, ns: &str, id: Option<&str>) -> Arc<VirtualServer> {
        let mut vs = VirtualServer::new(name, serde_yaml::from_str("size: 2CPU-8GB").unwrap());
        vs.metadata.namespace = Some(ns.into());
        vs.status = id.map(|id| {
            let mut s = VirtualServerStatus::default();
            s.managed.external_id = Some(id.into());
            s
        });
        Arc::new(vs)
    }

    fn volume(size: u32, attached: Option<&str>) -> Volume {
        Volume {
            id: "vol-1".into(),
            name: "data".into(),
            tags: Default::default(),
            state: if attached.is_some() {
                VolumeState::Attached
            } else {
                VolumeState::Available
            },
            plan: VolumePlan::Iops4PerGb,
            size_gb: size,
            attached_to: attached.map(Into::into),
            iscsi_target: "iqn.2026-11.dev.suido:vol-1".into(),
            client_token: ClientToken::new("blockvolume-uid-9").unwrap(),
            operation: None,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn attachment_resolves_only_within_the_namespace() {
        let v = bv("plan: 4IOPS/GB\nsizeGb: 1000\nattachTo: {serverName: db}");
        let servers = vec![
            server("db", "other-tenant", Some("srv-x")),
            server("db", "billing", None),
        ];
        assert_eq!(target(&v, &servers), Target::NotReady("db".into()));
        let servers = vec![
            server("db", "other-tenant", Some("srv-x")),
            server("db", "billing", Some("srv-1")),
        ];
        assert_eq!(
            target(&v, &servers),
            Target::Server {
                name: "db".into(),
                id: "srv-1".into()
            }
        );
        assert_eq!(
            target(&bv("plan: 2IOPS/GB\nsizeGb: 100"), &servers),
            Target::Detached
        );
    }

    #[test]
    fn plan_grows_then_attaches_and_detaches() {
        let v = bv("plan: 4IOPS/GB\nsizeGb: 2000\nattachTo: {serverName: db}");
        let want = build(&v);
        assert_eq!(want.plan, VolumePlan::Iops4PerGb);
        let t = Target::Server {
            name: "db".into(),
            id: "srv-1".into(),
        };
        assert_eq!(plan(&want, &volume(1000, None), &t), Step::Grow(2000));
        assert_eq!(
            plan(&want, &volume(2000, None), &t),
            Step::Attach("srv-1".into())
        );
        assert_eq!(plan(&want, &volume(2000, Some("srv-1")), &t), Step::Done);
        assert_eq!(plan(&want, &volume(2000, Some("srv-2")), &t), Step::Detach);
        assert_eq!(
            plan(&want, &volume(2000, Some("srv-1")), &Target::Detached),
            Step::Detach
        );
        assert_eq!(
            plan(&want, &volume(2000, None), &Target::NotReady("db".into())),
            Step::WaitForServer("db".into())
        );
        assert_eq!(
            plan(&want, &volume(2000, None), &Target::Detached),
            Step::Done
        );
        let mut busy = volume(1000, None);
        busy.operation = Some("op".into());
        assert_eq!(plan(&want, &busy, &t), Step::Wait);
    }

    #[test]
    fn status_shows_the_attachment_and_is_stable() {
        let v = bv("plan: 4IOPS/GB\nsizeGb: 1000\nattachTo: {serverName: db}");
        let t = Target::Server {
            name: "db".into(),
            id: "srv-1".into(),
        };
        let vol = volume(1000, Some("srv-1"));
        let s = desired_status(
            &v,
            Some(&vol),
            Some(&Step::Done),
            &t,
            Timestamp::from_second(5).unwrap(),
        );
        assert_eq!(s.attached_to.as_deref(), Some("db"));
        assert_eq!(s.size_gb, Some(1000));
        assert_eq!(s.managed.phase, Some(Phase::Available));
        assert!(crate::conditions::is_true(
            &s.managed.conditions,
            cond::ATTACHED
        ));
        assert!(crate::conditions::is_true(
            &s.managed.conditions,
            cond::READY
        ));
        let mut again = v.clone();
        again.status = Some(s.clone());
        assert_eq!(
            desired_status(
                &again,
                Some(&vol),
                Some(&Step::Done),
                &t,
                Timestamp::from_second(50).unwrap()
            ),
            s
        );
        // While first created, attaching shows as the Provisioning marker: no extra write.
        let marker = desired_status(&v, None, None, &t, Timestamp::UNIX_EPOCH);
        let attaching = desired_status(
            &v,
            Some(&volume(1000, None)),
            Some(&Step::Attach("srv-1".into())),
            &t,
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(attaching, marker);
        assert_eq!(marker.managed.phase, Some(Phase::Provisioning));
        // Once delivered, a move to a server not built yet waits visibly.
        let mut delivered = v.clone();
        delivered.status = Some(s.clone());
        let waiting = desired_status(
            &delivered,
            Some(&volume(1000, None)),
            Some(&Step::WaitForServer("db".into())),
            &Target::NotReady("db".into()),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(waiting.managed.phase, Some(Phase::Waiting));
        let attached = waiting
            .managed
            .conditions
            .iter()
            .find(|c| c.type_ == cond::ATTACHED)
            .unwrap();
        assert_eq!(attached.status, "False");
        assert!(attached.message.contains("waiting for VirtualServer db"));
    }

    #[test]
    fn protected_and_attached_deletes_are_terminal_with_reasons() {
        let v = bv("plan: 2IOPS/GB\nsizeGb: 100\ndeletionProtection: true");
        assert!(Error::DeletionProtected.is_terminal());
        let s = failed_status(&v, &Error::DeletionProtected, Timestamp::UNIX_EPOCH);
        let ready = s
            .managed
            .conditions
            .iter()
            .find(|c| c.type_ == cond::READY)
            .unwrap();
        assert_eq!(ready.reason, reasons::DELETION_PROTECTED);
        assert!(ready.message.contains("spec.deletionProtection"));
        let attached = Error::StillAttached("db".into());
        assert!(attached.is_terminal());
        assert_eq!(attached.metric_label(), "still_attached");
        assert!(attached.to_string().contains("VirtualServer db"));
        assert!(matches!(validate(&v, &[]), Err(Error::NoTenant(_))));
    }
}
