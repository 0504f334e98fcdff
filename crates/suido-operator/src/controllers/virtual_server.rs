//! The VirtualServer controller: builds servers on the platform idempotently, powers them on and
//! off, applies size and disk changes by the server's disruption policy, pushes monitoring
//! settings, enforces the vendor-only rules, and deletes (or orphans) servers.
//!
//! Pure steps — [`validate`], [`build`], [`plan`] and [`desired_status`] — make no API calls and
//! are unit-tested; [`reconcile`] strings them together with the provider and the API.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use kube::Client;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde::Serialize;
use serde::de::DeserializeOwned;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{
    Antivirus, BlockVolume, DiskStatus, DisruptionPolicy, ManagementPolicy, Phase, PowerState,
    ServerSize, Tenant, VirtualServer, VirtualServerSpec, VirtualServerStatus,
};
use suido_provider::{
    DiskSpec, MonitoringSettings, ProviderError, Server, ServerSpec, ServerState,
};
use tracing::{Instrument, field, info_span};

use crate::conditions::{self, Desired};
use crate::context::Context;
use crate::identity;
use crate::kit;
use crate::tenancy::{self, Owner};

/// Controller name, used in metrics and logs.
pub const NAME: &str = "virtualserver";
/// Finalizer that holds the object until its platform server is deleted (or orphaned).
pub const FINALIZER: &str = "infra.suido.dev/virtualserver-cleanup";
const KIND: &str = "VirtualServer";

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
    /// A vendor-only feature in an operator tenant.
    #[error("{0}")]
    TenantPolicy(String),
    /// The spec cannot be carried out as it is.
    #[error("{0}")]
    InvalidSpec(String),
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
            Error::TenantPolicy(_) => "tenant_policy",
            Error::InvalidSpec(_) => "invalid_spec",
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

    /// The error inside a finalizer error, or itself.
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

    /// Whether the error waits for the user (or the platform operator) rather than for time.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.inner(),
            Error::NoTenant(_)
                | Error::AmbiguousTenant { .. }
                | Error::TenantPolicy(_)
                | Error::InvalidSpec(_)
                | Error::ProviderTerminal(_)
        )
    }

    /// The condition reason that shows this error.
    fn reason(&self) -> &'static str {
        match self.inner() {
            Error::NoTenant(_) | Error::AmbiguousTenant { .. } => reasons::NO_TENANT,
            Error::TenantPolicy(_) => reasons::VENDOR_ONLY,
            Error::InvalidSpec(_) | Error::ProviderTerminal(_) => reasons::INVALID_SPEC,
            _ => reasons::RECONCILE_ERROR,
        }
    }
}

/// Converts between the API's and the provider's types, which share their wire names.
fn convert<A: Serialize, B: DeserializeOwned>(what: &str, a: &A) -> Result<B, Error> {
    serde_json::to_value(a)
        .and_then(serde_json::from_value)
        .map_err(|e| Error::InvalidSpec(format!("{what}: {e}")))
}

/// The vendor-only features a server asks for, in words.
pub fn vendor_only_features(spec: &VirtualServerSpec) -> Vec<&'static str> {
    let mut out = vec![];
    if spec.antivirus == Antivirus::DeepSecurity {
        out.push("spec.antivirus DeepSecurity");
    }
    if spec.console {
        out.push("spec.console (the management screen)");
    }
    out
}

/// Validates what the schema cannot: the namespace's Tenant and its vendor-only rules. Returns
/// the owning Tenant.
pub fn validate(vs: &VirtualServer, tenants: &[Arc<Tenant>]) -> Result<Arc<Tenant>, Error> {
    let namespace = vs.namespace().unwrap_or_default();
    let tenant = match tenancy::owner(tenants, &namespace) {
        Owner::Tenant(t) => t,
        Owner::None => return Err(Error::NoTenant(namespace)),
        Owner::Ambiguous(names) => {
            return Err(Error::AmbiguousTenant {
                namespace,
                tenants: names.join(", "),
            });
        }
    };
    tenancy::vendor_only(&tenant, &vendor_only_features(&vs.spec)).map_err(Error::TenantPolicy)?;
    Ok(tenant)
}

/// What the platform should build, from the spec.
pub fn build(vs: &VirtualServer) -> Result<(ServerSpec, Option<MonitoringSettings>), Error> {
    let spec = &vs.spec;
    let server = ServerSpec {
        name: vs.name_any(),
        size: convert("spec.size", &spec.size)?,
        os: convert("spec.os", &spec.os)?,
        os_disk_gb: Some(
            spec.os_disk_gb
                .unwrap_or_else(|| spec.os.standard_os_disk_gb()),
        ),
        packages: convert("spec.packages", &spec.packages)?,
        antivirus: convert("spec.antivirus", &spec.antivirus)?,
        rds_licenses: spec.rds_licenses,
        disks: spec
            .disks
            .iter()
            .map(|d| DiskSpec {
                name: d.name.clone(),
                size_gb: d.size_gb,
            })
            .collect(),
    };
    let monitoring = match &spec.monitoring {
        None => None,
        Some(m) => Some(MonitoringSettings {
            icmp: m
                .icmp
                .as_ref()
                .map(|i| convert("spec.monitoring.icmp.severity", &i.severity))
                .transpose()?,
            resources: convert("spec.monitoring.resources", &m.resources)?,
            processes: convert("spec.monitoring.processes", &m.processes)?,
            logs: convert("spec.monitoring.logs", &m.logs)?,
        }),
    };
    Ok((server, monitoring))
}

/// A change that needs the server stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// New size.
    Resize(suido_provider::ServerSize),
    /// A new additional disk.
    AttachDisk(DiskSpec),
    /// A bigger additional disk.
    GrowDisk {
        /// Disk name.
        name: String,
        /// New size in GB.
        size_gb: u32,
    },
    /// A disk no longer in the spec.
    DetachDisk(String),
}

impl Change {
    /// The change in words, for status and events.
    pub fn describe(&self, server: &Server) -> String {
        match self {
            Change::Resize(size) => format!("size {} -> {size}", server.size),
            Change::AttachDisk(d) => format!("add disk {} ({} GB)", d.name, d.size_gb),
            Change::GrowDisk { name, size_gb } => {
                let old = server
                    .disks
                    .iter()
                    .find(|d| &d.name == name)
                    .map_or(0, |d| d.size_gb);
                format!("grow disk {name} {old} -> {size_gb} GB")
            }
            Change::DetachDisk(name) => format!("remove disk {name}"),
        }
    }
}

/// The changes between the built server and the spec that need a stop, in the order applied.
pub fn disruptive_changes(desired: &ServerSpec, server: &Server) -> Vec<Change> {
    let mut out = vec![];
    if desired.size != server.size {
        out.push(Change::Resize(desired.size));
    }
    for d in &desired.disks {
        match server.disks.iter().find(|x| x.name == d.name) {
            None => out.push(Change::AttachDisk(d.clone())),
            Some(x) if d.size_gb > x.size_gb => out.push(Change::GrowDisk {
                name: d.name.clone(),
                size_gb: d.size_gb,
            }),
            Some(_) => {}
        }
    }
    for x in &server.disks {
        if !desired.disks.iter().any(|d| d.name == x.name) {
            out.push(Change::DetachDisk(x.name.clone()));
        }
    }
    out
}

/// Why disruptive changes wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// `disruption: NextStop` and the server runs.
    WaitingForStop,
    /// `disruption: NextMaintenanceWindow` and no window is open.
    WaitingForMaintenance,
}

/// The next thing to do for a server that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// An operation runs on the platform; look again soon.
    Wait,
    /// Stop the server, to apply `changes` (empty when the spec asks for Stopped).
    Stop {
        /// The changes the stop is for.
        changes: Vec<Change>,
    },
    /// Apply one change to the stopped server.
    Apply(Change),
    /// Start the server.
    Start,
    /// Push new monitoring settings.
    Monitor(Option<MonitoringSettings>),
    /// Changes wait for a stop or a window.
    Hold {
        /// Why.
        reason: HoldReason,
        /// What waits.
        changes: Vec<Change>,
    },
    /// The server matches the spec.
    Done,
}

/// Decides the next step from the spec and the server as the platform has it. `window_open` is
/// whether a maintenance window that stops this tenant's servers is open now.
pub fn plan(
    spec: &VirtualServerSpec,
    desired: &ServerSpec,
    monitoring: Option<&MonitoringSettings>,
    server: &Server,
    window_open: bool,
) -> Step {
    if server.operation.is_some()
        || matches!(server.state, ServerState::Building | ServerState::Deleting)
    {
        return Step::Wait;
    }
    let stopped = server.state == ServerState::Stopped;
    let changes = disruptive_changes(desired, server);
    if !changes.is_empty() {
        let allowed = match spec.disruption {
            DisruptionPolicy::Immediate => true,
            DisruptionPolicy::NextMaintenanceWindow => window_open || stopped,
            DisruptionPolicy::NextStop => stopped || spec.power_state == PowerState::Stopped,
        };
        if !allowed {
            let reason = match spec.disruption {
                DisruptionPolicy::NextMaintenanceWindow => HoldReason::WaitingForMaintenance,
                _ => HoldReason::WaitingForStop,
            };
            return Step::Hold { reason, changes };
        }
        if !stopped {
            return Step::Stop { changes };
        }
        if let Some(first) = changes.into_iter().next() {
            return Step::Apply(first);
        }
    }
    if server.monitoring.as_ref() != monitoring {
        return Step::Monitor(monitoring.cloned());
    }
    match (spec.power_state, stopped) {
        (PowerState::Running, true) => Step::Start,
        (PowerState::Stopped, false) => Step::Stop { changes: vec![] },
        _ => Step::Done,
    }
}

/// What the reconcile found and did, for the status.
#[derive(Clone, Debug)]
pub struct Observation {
    /// The server on the platform, if it exists yet.
    pub server: Option<Server>,
    /// The step taken.
    pub step: Option<Step>,
    /// Names of the BlockVolumes attached to the server.
    pub volumes: Vec<String>,
    /// Whether only observing.
    pub observe_only: bool,
}

fn api_size(size: suido_provider::ServerSize) -> Option<ServerSize> {
    ServerSize::ALL
        .into_iter()
        .find(|s| s.cpus() == size.cpus && s.memory_gb() == size.memory_gb)
}

/// The status for what the reconcile observed. Deterministic: the same observation gives the
/// same status, and conditions keep their transition times unless they flip.
pub fn desired_status(
    vs: &VirtualServer,
    obs: &Observation,
    now: Timestamp,
) -> VirtualServerStatus {
    let generation = vs.metadata.generation;
    let mut status = vs.status.clone().unwrap_or_default();
    let creating = matches!(status.managed.phase, None | Some(Phase::Provisioning));
    let settled = matches!(obs.step, Some(Step::Done | Step::Hold { .. }))
        || obs
            .server
            .as_ref()
            .is_some_and(|s| s.state == ServerState::Error);
    if creating && !settled && obs.server.is_some() {
        // Until the first build settles, every step in between shows as the Provisioning
        // marker, so that creating an object costs no status writes beyond the marker and the
        // final status.
        let marker = Observation {
            server: None,
            step: None,
            volumes: vec![],
            observe_only: obs.observe_only,
        };
        return desired_status(vs, &marker, now);
    }
    status.managed.observed_generation = generation;
    let mut desired = vec![
        Desired::new(cond::SYNCED, true, reasons::RECONCILE_SUCCESS, ""),
        Desired::new(
            cond::TENANT_POLICY,
            true,
            reasons::AVAILABLE,
            "the tenant allows this server",
        ),
    ];
    match &obs.server {
        None => {
            status.managed.phase = Some(Phase::Provisioning);
            desired.push(Desired::new(
                cond::READY,
                false,
                reasons::PROVISIONING,
                "the platform is building the server",
            ));
        }
        Some(server) => {
            let built = server.state != ServerState::Building;
            status.managed.external_id = built.then(|| server.id.clone());
            status.power_state = match server.state {
                ServerState::Running => Some(PowerState::Running),
                ServerState::Stopped => Some(PowerState::Stopped),
                _ => None,
            };
            status.size = built.then(|| api_size(server.size)).flatten();
            status.os_disk_gb = built.then_some(server.os_disk_gb);
            status.address = built.then(|| server.address.clone()).flatten();
            status.disks = server
                .disks
                .iter()
                .map(|d| DiskStatus {
                    name: d.name.clone(),
                    size_gb: d.size_gb,
                    external_id: Some(d.id.clone()),
                })
                .collect();
            status.volumes = obs.volumes.clone();
            let pending = |changes: &[Change]| changes.iter().map(|c| c.describe(server)).collect();
            status.pending_changes = match &obs.step {
                Some(Step::Hold { changes, .. }) | Some(Step::Stop { changes }) => pending(changes),
                Some(Step::Apply(c)) => vec![c.describe(server)],
                _ => vec![],
            };
            let (phase, ready) = match (&server.state, &obs.step) {
                (ServerState::Building, _) => (
                    Phase::Provisioning,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::PROVISIONING,
                        "the platform is building the server",
                    ),
                ),
                (ServerState::Deleting, _) => (
                    Phase::Deleting,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::PROVISIONING,
                        "the platform is deleting the server",
                    ),
                ),
                (ServerState::Error, _) => (
                    Phase::Failed,
                    Desired::new(
                        cond::READY,
                        false,
                        reasons::RECONCILE_ERROR,
                        "the platform reports the server in error",
                    ),
                ),
                _ if obs.observe_only => (
                    Phase::Observed,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::OBSERVE_ONLY,
                        "observing the platform server; Suido changes nothing",
                    ),
                ),
                (_, Some(Step::Done)) if server.state == ServerState::Stopped => (
                    Phase::Stopped,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::STOPPED,
                        "the server is built and stopped as asked",
                    ),
                ),
                (_, Some(Step::Done)) => (
                    Phase::Available,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::AVAILABLE,
                        "the server is built and running",
                    ),
                ),
                (_, Some(Step::Hold { .. })) => (
                    Phase::Waiting,
                    Desired::new(
                        cond::READY,
                        true,
                        reasons::AVAILABLE,
                        "the server runs; changes wait (see RestartRequired)",
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
    let restart = match &obs.step {
        Some(Step::Hold { reason, changes }) => {
            let list = obs
                .server
                .as_ref()
                .map(|s| {
                    changes
                        .iter()
                        .map(|c| c.describe(s))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let (why, text) = match reason {
                HoldReason::WaitingForStop => (
                    reasons::WAITING_FOR_STOP,
                    "stop the server (spec.powerState: Stopped) to apply",
                ),
                HoldReason::WaitingForMaintenance => (
                    reasons::WAITING_FOR_MAINTENANCE,
                    "the next MaintenanceWindow that stops servers will apply",
                ),
            };
            Desired::new(cond::RESTART_REQUIRED, true, why, format!("{text}: {list}"))
        }
        _ => Desired::new(
            cond::RESTART_REQUIRED,
            false,
            reasons::AVAILABLE,
            "no change waits for a stop",
        ),
    };
    desired.push(restart);
    desired.push(if obs.volumes.is_empty() {
        Desired::new(
            cond::ATTACHED,
            false,
            reasons::DETACHED,
            "no BlockVolume is attached",
        )
    } else {
        Desired::new(
            cond::ATTACHED,
            true,
            reasons::ATTACHED,
            format!("attached: {}", obs.volumes.join(", ")),
        )
    });
    conditions::set_all(&mut status.managed.conditions, desired, generation, now);
    status
}

/// The status after a failed reconcile: the error in `Synced` and, when it waits for the user,
/// in `Ready` (and `TenantPolicy` for tenant rules) too.
pub fn failed_status(vs: &VirtualServer, error: &Error, now: Timestamp) -> VirtualServerStatus {
    let generation = vs.metadata.generation;
    let mut status = vs.status.clone().unwrap_or_default();
    let message = error.inner().to_string();
    let mut desired = vec![Desired::new(
        cond::SYNCED,
        false,
        error.reason(),
        message.clone(),
    )];
    if error.is_terminal() {
        status.managed.observed_generation = generation;
        status.managed.phase = Some(Phase::Failed);
        desired.push(Desired::new(
            cond::READY,
            false,
            error.reason(),
            message.clone(),
        ));
        if matches!(
            error.inner(),
            Error::TenantPolicy(_) | Error::NoTenant(_) | Error::AmbiguousTenant { .. }
        ) {
            desired.push(Desired::new(
                cond::TENANT_POLICY,
                false,
                error.reason(),
                message,
            ));
        }
    }
    conditions::set_all(&mut status.managed.conditions, desired, generation, now);
    status
}

/// Names of the BlockVolumes whose platform ids are attached to `server`.
fn attached_volume_names(ctx: &Context, namespace: &str, server: &Server) -> Vec<String> {
    let mut names: Vec<String> = ctx
        .volumes
        .state()
        .iter()
        .filter(|bv| bv.namespace().as_deref() == Some(namespace))
        .filter(|bv| {
            bv.status
                .as_ref()
                .and_then(|s| s.managed.external_id.as_ref())
                .is_some_and(|id| server.volumes.contains(id))
        })
        .map(|bv| bv.name_any())
        .collect();
    names.sort();
    names
}

/// Finds the server this object owns: by `spec.externalId` when adopting, else by tag.
async fn find_server(vs: &VirtualServer, ctx: &Context) -> Result<Option<Server>, Error> {
    if let Some(id) = &vs.spec.management.external_id {
        return match ctx.call("get_server", ctx.compute.get_server(id)).await {
            Ok(s) => Ok(Some(s)),
            Err(ProviderError::NotFound { .. }) => Err(Error::InvalidSpec(format!(
                "spec.externalId {id}: no such server on the platform"
            ))),
            Err(e) => Err(e.into()),
        };
    }
    let uid = vs.uid().unwrap_or_default();
    // A built server is recorded in status: one get instead of a search by tag. The tag check
    // keeps a stale or edited status from pointing at somebody else's server.
    let known = vs
        .status
        .as_ref()
        .and_then(|s| s.managed.external_id.as_ref());
    if let Some(id) = known {
        match ctx.call("get_server", ctx.compute.get_server(id)).await {
            Ok(s) if s.tags.get(identity::TAG_UID) == Some(&uid) => return Ok(Some(s)),
            Ok(_) | Err(ProviderError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut found = ctx
        .call(
            "list_servers",
            ctx.compute.list_servers(&identity::selector(&uid)),
        )
        .await?;
    found.sort_by_key(|s| s.created_at);
    Ok(found.into_iter().next())
}

/// Carries out one step on the platform and tells the tenant with an Event.
async fn execute(
    vs: &VirtualServer,
    ctx: &Context,
    server: &Server,
    step: &Step,
) -> Result<(), Error> {
    let id = server.id.as_str();
    let compute = &ctx.compute;
    let (reason, note) = match step {
        Step::Wait | Step::Done | Step::Hold { .. } => return Ok(()),
        Step::Stop { changes } => {
            ctx.call("stop_server", compute.stop_server(id)).await?;
            if changes.is_empty() {
                (
                    "Stopping",
                    "stopping the server as spec.powerState asks".to_owned(),
                )
            } else {
                let what: Vec<String> = changes.iter().map(|c| c.describe(server)).collect();
                (
                    "Stopping",
                    format!("stopping the server to apply: {}", what.join(", ")),
                )
            }
        }
        Step::Start => {
            ctx.call("start_server", compute.start_server(id)).await?;
            ("Starting", "starting the server".to_owned())
        }
        Step::Apply(change) => {
            let note = change.describe(server);
            match change {
                Change::Resize(size) => {
                    ctx.call("resize_server", compute.resize_server(id, *size))
                        .await?;
                    ("Resizing", note)
                }
                Change::AttachDisk(d) => {
                    ctx.call("attach_disk", compute.attach_disk(id, d)).await?;
                    ("AddingDisk", note)
                }
                Change::GrowDisk { name, size_gb } => {
                    ctx.call("grow_disk", compute.grow_disk(id, name, *size_gb))
                        .await?;
                    ("GrowingDisk", note)
                }
                Change::DetachDisk(name) => {
                    ctx.call("detach_disk", compute.detach_disk(id, name))
                        .await?;
                    ("RemovingDisk", note)
                }
            }
        }
        Step::Monitor(settings) => {
            let settings = settings.clone().unwrap_or_default();
            ctx.call("set_monitoring", compute.set_monitoring(id, &settings))
                .await?;
            (
                "MonitoringUpdated",
                "monitoring settings sent to the platform".to_owned(),
            )
        }
    };
    ctx.event(vs, false, reason, reason, note).await;
    Ok(())
}

/// Brings the platform one step closer to the spec and reports what it saw.
async fn converge(
    vs: &mut VirtualServer,
    ctx: &Context,
    api: &Api<VirtualServer>,
) -> Result<(Observation, Action), Error> {
    let tenant = validate(vs, &ctx.tenants.state())?;
    let (desired, monitoring) = build(vs)?;
    let namespace = vs.namespace().unwrap_or_default();
    let observe_only = vs.spec.management.management_policy == ManagementPolicy::ObserveOnly;
    let mut obs = Observation {
        server: None,
        step: None,
        volumes: vec![],
        observe_only,
    };
    let poll = Action::requeue(ctx.timing.poll);
    let server = match find_server(vs, ctx).await? {
        Some(s) => s,
        None if observe_only => {
            return Err(Error::InvalidSpec(
                "spec.managementPolicy ObserveOnly needs spec.externalId".to_owned(),
            ));
        }
        None => {
            // The marker: status says Provisioning before the create call, so a crash between
            // the call and the next status write is visible, and the next reconcile adopts by tag.
            let marker = desired_status(vs, &obs, Timestamp::now());
            // Written into `vs` too: the final status builds on it, so nothing is written twice.
            ctx.memo.write(api, vs, &marker).await?;
            let uid = vs.uid().unwrap_or_default();
            let token = identity::client_token(KIND, &uid)?;
            let tenant_name = tenant.name_any();
            let tags = identity::tags(KIND, &namespace, &vs.name_any(), &uid, &tenant_name);
            let op = ctx
                .call(
                    "create_server",
                    ctx.compute.create_server(&token, &tags, &desired),
                )
                .await?;
            ctx.event(
                vs,
                false,
                "Creating",
                "Create",
                format!(
                    "ordering a {} {} server",
                    desired.size,
                    os_label(vs.spec.os)
                ),
            )
            .await;
            match kit::operation_result::<Error>(&op)? {
                Some(id) => ctx.call("get_server", ctx.compute.get_server(id)).await?,
                None => return Ok((obs, poll)),
            }
        }
    };
    obs.volumes = attached_volume_names(ctx, &namespace, &server);
    if observe_only {
        obs.step = Some(Step::Done);
        obs.server = Some(server);
        return Ok((obs, Action::requeue(ctx.timing.resync)));
    }
    let now = Timestamp::now();
    let windows = ctx.windows.state();
    let tenant_name = tenant.name_any();
    let window_open = tenancy::open_window(&windows, &tenant_name, now).is_some();
    let mut server = server;
    let mut step = plan(
        &vs.spec,
        &desired,
        monitoring.as_ref(),
        &server,
        window_open,
    );
    execute(vs, ctx, &server, &step).await?;
    if let Step::Monitor(settings) = &step {
        // The push is synchronous: the platform has the settings now, so decide again at once
        // instead of spending a status write and a reconcile on it.
        server.monitoring = settings.clone();
        step = plan(
            &vs.spec,
            &desired,
            monitoring.as_ref(),
            &server,
            window_open,
        );
        execute(vs, ctx, &server, &step).await?;
    }
    let action = match &step {
        Step::Done => Action::requeue(ctx.timing.resync),
        Step::Hold {
            reason: HoldReason::WaitingForMaintenance,
            ..
        } => {
            let until = tenancy::next_window_start(&windows, &tenant_name, now)
                .and_then(|start| Duration::try_from(start.duration_since(now)).ok())
                .unwrap_or(ctx.timing.resync);
            Action::requeue(until.min(ctx.timing.resync))
        }
        Step::Hold { .. } => Action::requeue(ctx.timing.resync),
        _ => poll,
    };
    obs.step = Some(step);
    obs.server = Some(server);
    Ok((obs, action))
}

/// The OS name as people write it, for Events.
fn os_label(os: suido_api::v1alpha1::OperatingSystem) -> &'static str {
    match os {
        suido_api::v1alpha1::OperatingSystem::RockyLinux => "Rocky Linux",
        suido_api::v1alpha1::OperatingSystem::Rhel => "RHEL",
        suido_api::v1alpha1::OperatingSystem::WindowsServer => "Windows Server",
    }
}

/// The Apply half of the finalizer: converge, then write the status if it changed.
async fn apply(
    vs: Arc<VirtualServer>,
    ctx: &Context,
    api: &Api<VirtualServer>,
) -> Result<Action, Error> {
    let mut vs = vs.as_ref().clone();
    ctx.memo.refresh(&mut vs);
    if vs.spec.management.paused {
        kit::record_paused(ctx, api, &mut vs).await?;
        return Ok(Action::await_change());
    }
    match converge(&mut vs, ctx, api).await {
        Ok((obs, action)) => {
            let status = desired_status(&vs, &obs, Timestamp::now());
            ctx.memo.write(api, &mut vs, &status).await?;
            Ok(action)
        }
        Err(e) => {
            let status = failed_status(&vs, &e, Timestamp::now());
            if let Err(write) = ctx.memo.write(api, &mut vs, &status).await {
                tracing::warn!(error = %write, "could not record the error in status");
            }
            if e.is_terminal() {
                ctx.event(&vs, true, e.reason(), "Reconcile", e.to_string())
                    .await;
            }
            Err(e)
        }
    }
}

/// The Cleanup half: delete the platform server unless orphaning, and wait until it is gone.
async fn cleanup(vs: Arc<VirtualServer>, ctx: &Context) -> Result<Action, Error> {
    let spec = &vs.spec.management;
    if spec.deletion_policy == suido_api::v1alpha1::DeletionPolicy::Orphan
        || spec.management_policy == ManagementPolicy::ObserveOnly
    {
        ctx.event(
            vs.as_ref(),
            false,
            "Orphaned",
            "Delete",
            "the platform server is left in place".to_owned(),
        )
        .await;
        return Ok(Action::await_change());
    }
    let server = match find_server(&vs, ctx).await {
        Ok(s) => s,
        // An adopted server that is already gone needs no cleanup.
        Err(Error::InvalidSpec(_)) => None,
        Err(e) => return Err(e),
    };
    let Some(server) = server else {
        return Ok(Action::await_change());
    };
    let op = match ctx
        .call("delete_server", ctx.compute.delete_server(&server.id))
        .await
    {
        Ok(op) => op,
        Err(ProviderError::NotFound { .. }) => return Ok(Action::await_change()),
        Err(e) => return Err(e.into()),
    };
    ctx.event(
        vs.as_ref(),
        false,
        "Deleting",
        "Delete",
        format!("deleting platform server {}", server.id),
    )
    .await;
    let gone = kit::wait_until_gone(ctx, || {
        ctx.call("get_server", ctx.compute.get_server(&server.id))
    })
    .await?;
    if gone {
        Ok(Action::await_change())
    } else {
        Err(Error::Pending(format!(
            "deleting server {} (operation {})",
            server.id, op.id
        )))
    }
}

/// Reconciles one VirtualServer.
pub async fn reconcile(vs: Arc<VirtualServer>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(NAME);
    let namespace = vs.namespace().unwrap_or_default();
    let name = vs.name_any();
    let span = info_span!("reconcile", controller = NAME, namespace = %namespace, name = %name, generation = field::Empty);
    if let Some(g) = vs.metadata.generation {
        span.record("generation", g);
    }
    let api: Api<VirtualServer> = Api::namespaced(ctx.client.clone(), &namespace);
    let uid = vs.uid().unwrap_or_default();
    let deleting = vs.metadata.deletion_timestamp.is_some();
    let result = finalizer(&api, FINALIZER, vs, |event| async {
        match event {
            finalizer::Event::Apply(vs) => apply(vs, &ctx, &api).await,
            finalizer::Event::Cleanup(vs) => cleanup(vs, &ctx).await,
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

/// Terminal errors wait for a change (or, for the platform's refusals, a slow retry); transient
/// ones back off per object with jitter; pending operations are polled.
pub fn error_policy(vs: Arc<VirtualServer>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(NAME, error.metric_label());
    tracing::warn!(controller = NAME, name = %vs.name_any(), error = %error, "reconcile failed");
    match error.inner() {
        Error::ProviderTerminal(_) => Action::requeue(ctx.timing.resync),
        e if e.is_terminal() => Action::await_change(),
        Error::Pending(_) => Action::requeue(ctx.timing.poll),
        _ => Action::requeue(ctx.backoff.next_delay(&vs.uid().unwrap_or_default())),
    }
}

/// Builds the controller. Changes to a server's BlockVolumes and to Tenants trigger the
/// affected servers too. Its store of VirtualServers is what the other controllers read.
pub fn controller(client: &Client) -> Controller<VirtualServer> {
    let controller = Controller::new(
        Api::<VirtualServer>::all(client.clone()),
        watcher::Config::default(),
    );
    let servers = controller.store();
    controller
        .watches(
            Api::<BlockVolume>::all(client.clone()),
            watcher::Config::default(),
            |bv| {
                let ns = bv.namespace();
                let mut names: Vec<String> = bv
                    .spec
                    .attach_to
                    .iter()
                    .map(|a| a.server_name.clone())
                    .collect();
                names.extend(bv.status.iter().filter_map(|s| s.attached_to.clone()));
                names.into_iter().map(move |n| {
                    ObjectRef::<VirtualServer>::new(&n).within(ns.as_deref().unwrap_or_default())
                })
            },
        )
        .watches(
            Api::<Tenant>::all(client.clone()),
            watcher::Config::default(),
            move |tenant| kit::in_tenant_namespaces(&servers, &tenant),
        )
}

/// Runs the controller built by [`controller`] until shutdown.
pub async fn run(controller: Controller<VirtualServer>, ctx: Arc<Context>) {
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
    use suido_provider::{ClientToken, Disk};

    fn vs(spec_yaml: &str) -> VirtualServer {
        let spec: VirtualServerSpec = serde_yaml::from_str(spec_yaml).unwrap();
        let mut vs = VirtualServer::new("web-1", spec);
        vs.metadata.namespace = Some("billing".into());
        vs.metadata.uid = Some("uid-1".into());
        vs.metadata.generation = Some(1);
        vs
    }

    fn tenant(t: TenantType) -> Arc<Tenant> {
        let mut tn = Tenant::new(
            "kawasemi",
            TenantSpec {
                tenant_type: t,
                utility: "Kawasemi".into(),
                environment: Environment::Production,
                namespaces: vec!["billing".into()],
                contacts: Contacts {
                    severe: vec![],
                    minor: vec![],
                },
            },
        );
        tn.metadata.name = Some("kawasemi".into());
        Arc::new(tn)
    }

    fn server(state: ServerState, size: &str) -> Server {
        Server {
            id: "srv-1".into(),
            name: "web-1".into(),
            tags: Default::default(),
            state,
            size: suido_provider::ServerSize::parse(size).unwrap(),
            os: suido_provider::OperatingSystem::RockyLinux,
            os_disk_gb: 40,
            packages: vec![],
            antivirus: suido_provider::Antivirus::None,
            rds_licenses: None,
            address: Some("10.1.0.5".into()),
            disks: vec![],
            volumes: vec![],
            monitoring: None,
            client_token: ClientToken::new("virtualserver-uid-1").unwrap(),
            operation: None,
            created_at: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn validate_refuses_vendor_only_features_in_an_operator_tenant() {
        let v = vs("size: 2CPU-8GB\nantivirus: DeepSecurity\nconsole: true");
        let err = validate(&v, &[tenant(TenantType::Operator)]).unwrap_err();
        assert!(err.is_terminal());
        assert_eq!(
            err.to_string(),
            "spec.antivirus DeepSecurity and spec.console (the management screen) are only available to vendor tenants; tenant kawasemi is an Operator tenant"
        );
        assert!(validate(&v, &[tenant(TenantType::Vendor)]).is_ok());
        let fsecure = vs("size: 2CPU-8GB\nantivirus: FSecure");
        assert!(validate(&fsecure, &[tenant(TenantType::Operator)]).is_ok());
        assert!(matches!(validate(&fsecure, &[]), Err(Error::NoTenant(ns)) if ns == "billing"));
    }

    #[test]
    fn build_maps_the_spec_and_defaults_the_os_disk() {
        let v = vs(r#"size: 8CPU-64GB
os: WindowsServer
packages: ["SQLServer"]
rdsLicenses: 30
disks: [{"name": "data", "sizeGb": 500}]
monitoring: {"icmp": {"severity": "Severe"}, "processes": [{"name": "sqlservr.exe", "severity": "Severe"}]}"#);
        let (spec, monitoring) = build(&v).unwrap();
        assert_eq!(spec.size.to_string(), "8CPU-64GB");
        assert_eq!(spec.os, suido_provider::OperatingSystem::WindowsServer);
        assert_eq!(spec.os_disk_gb, Some(80));
        assert_eq!(
            spec.packages,
            [suido_provider::CommercialPackage::SqlServer]
        );
        assert_eq!(spec.rds_licenses, Some(30));
        assert_eq!(
            spec.disks,
            [DiskSpec {
                name: "data".into(),
                size_gb: 500
            }]
        );
        let m = monitoring.unwrap();
        assert_eq!(m.icmp, Some(suido_provider::AlertSeverity::Severe));
        assert_eq!(m.processes.len(), 1);
        let linux = vs("size: 1CPU-2GB");
        assert_eq!(build(&linux).unwrap().0.os_disk_gb, Some(40));
    }

    #[test]
    fn a_resize_of_a_running_server_stops_resizes_then_starts_when_immediate() {
        let v = vs("size: 4CPU-16GB\ndisruption: Immediate");
        let (desired, mon) = build(&v).unwrap();
        let running = server(ServerState::Running, "2CPU-8GB");
        let step = plan(&v.spec, &desired, mon.as_ref(), &running, false);
        assert!(matches!(&step, Step::Stop { changes } if changes.len() == 1));
        let stopped = server(ServerState::Stopped, "2CPU-8GB");
        assert_eq!(
            plan(&v.spec, &desired, mon.as_ref(), &stopped, false),
            Step::Apply(Change::Resize(
                suido_provider::ServerSize::parse("4CPU-16GB").unwrap()
            ))
        );
        let resized = server(ServerState::Stopped, "4CPU-16GB");
        assert_eq!(
            plan(&v.spec, &desired, mon.as_ref(), &resized, false),
            Step::Start
        );
        let done = server(ServerState::Running, "4CPU-16GB");
        assert_eq!(
            plan(&v.spec, &desired, mon.as_ref(), &done, false),
            Step::Done
        );
        let mut busy = server(ServerState::Running, "2CPU-8GB");
        busy.operation = Some("op-1".into());
        assert_eq!(
            plan(&v.spec, &desired, mon.as_ref(), &busy, false),
            Step::Wait
        );
    }

    #[test]
    fn disruption_policies_hold_changes_until_allowed() {
        let running = server(ServerState::Running, "2CPU-8GB");
        let next_stop = vs("size: 4CPU-16GB\ndisruption: NextStop");
        let (d, m) = build(&next_stop).unwrap();
        assert!(matches!(
            plan(&next_stop.spec, &d, m.as_ref(), &running, true),
            Step::Hold {
                reason: HoldReason::WaitingForStop,
                ..
            }
        ));
        // The tenant asks for a stop: the server stops, and the change applies while stopped.
        let stop_asked = vs("size: 4CPU-16GB\ndisruption: NextStop\npowerState: Stopped");
        assert!(matches!(
            plan(&stop_asked.spec, &d, m.as_ref(), &running, false),
            Step::Stop { .. }
        ));
        let stopped = server(ServerState::Stopped, "2CPU-8GB");
        assert!(matches!(
            plan(&stop_asked.spec, &d, m.as_ref(), &stopped, false),
            Step::Apply(_)
        ));
        let window = vs("size: 4CPU-16GB\ndisruption: NextMaintenanceWindow");
        assert!(matches!(
            plan(&window.spec, &d, m.as_ref(), &running, false),
            Step::Hold {
                reason: HoldReason::WaitingForMaintenance,
                ..
            }
        ));
        assert!(matches!(
            plan(&window.spec, &d, m.as_ref(), &running, true),
            Step::Stop { .. }
        ));
    }

    #[test]
    fn disk_changes_are_listed_in_order_and_power_follows_the_spec() {
        let v = vs(r#"size: 2CPU-8GB
disks: [{"name": "data", "sizeGb": 500}, {"name": "logs", "sizeGb": 100}]
powerState: Stopped"#);
        let (d, m) = build(&v).unwrap();
        let mut s = server(ServerState::Running, "2CPU-8GB");
        s.disks = vec![
            Disk {
                id: "d1".into(),
                name: "data".into(),
                size_gb: 300,
            },
            Disk {
                id: "d2".into(),
                name: "old".into(),
                size_gb: 40,
            },
        ];
        let changes = disruptive_changes(&d, &s);
        assert_eq!(
            changes,
            [
                Change::GrowDisk {
                    name: "data".into(),
                    size_gb: 500
                },
                Change::AttachDisk(DiskSpec {
                    name: "logs".into(),
                    size_gb: 100
                }),
                Change::DetachDisk("old".into()),
            ]
        );
        assert_eq!(changes[0].describe(&s), "grow disk data 300 -> 500 GB");
        let in_sync = server(ServerState::Running, "2CPU-8GB");
        let plain = vs("size: 2CPU-8GB\npowerState: Stopped");
        let (pd, pm) = build(&plain).unwrap();
        assert_eq!(
            plan(&plain.spec, &pd, pm.as_ref(), &in_sync, false),
            Step::Stop { changes: vec![] }
        );
        let _ = m;
    }

    #[test]
    fn monitoring_differences_are_pushed() {
        let v = vs(r#"size: 2CPU-8GB
monitoring: {"icmp": {"severity": "Minor"}}"#);
        let (d, m) = build(&v).unwrap();
        let s = server(ServerState::Running, "2CPU-8GB");
        assert_eq!(
            plan(&v.spec, &d, m.as_ref(), &s, false),
            Step::Monitor(m.clone())
        );
        let mut pushed = s.clone();
        pushed.monitoring = m.clone();
        assert_eq!(plan(&v.spec, &d, m.as_ref(), &pushed, false), Step::Done);
    }

    #[test]
    fn status_is_deterministic_and_reports_phase_and_conditions() {
        let v = vs("size: 2CPU-8GB");
        let obs = Observation {
            server: Some(server(ServerState::Running, "2CPU-8GB")),
            step: Some(Step::Done),
            volumes: vec!["data-vol".into()],
            observe_only: false,
        };
        let t1 = Timestamp::from_second(100).unwrap();
        let s1 = desired_status(&v, &obs, t1);
        assert_eq!(s1.managed.phase, Some(Phase::Available));
        assert_eq!(s1.managed.external_id.as_deref(), Some("srv-1"));
        assert_eq!(s1.size, Some(ServerSize::Cpu2Mem8));
        assert_eq!(s1.power_state, Some(PowerState::Running));
        assert!(crate::conditions::is_true(
            &s1.managed.conditions,
            cond::READY
        ));
        assert!(crate::conditions::is_true(
            &s1.managed.conditions,
            cond::ATTACHED
        ));
        assert!(!crate::conditions::is_true(
            &s1.managed.conditions,
            cond::RESTART_REQUIRED
        ));
        let mut again = v.clone();
        again.status = Some(s1.clone());
        let s2 = desired_status(&again, &obs, Timestamp::from_second(200).unwrap());
        assert_eq!(s1, s2, "the same observation later writes nothing");
    }

    #[test]
    fn steps_during_the_first_build_show_as_the_provisioning_marker() {
        let v = vs("size: 2CPU-8GB\npowerState: Stopped");
        let marker = desired_status(
            &v,
            &Observation {
                server: None,
                step: None,
                volumes: vec![],
                observe_only: false,
            },
            Timestamp::UNIX_EPOCH,
        );
        let stopping = Observation {
            server: Some(server(ServerState::Running, "2CPU-8GB")),
            step: Some(Step::Stop { changes: vec![] }),
            volumes: vec![],
            observe_only: false,
        };
        assert_eq!(desired_status(&v, &stopping, Timestamp::UNIX_EPOCH), marker);
        // After the first build settles, the same step shows as Updating.
        let mut built = v.clone();
        built.status = Some(desired_status(
            &v,
            &Observation {
                server: Some(server(ServerState::Stopped, "2CPU-8GB")),
                step: Some(Step::Done),
                volumes: vec![],
                observe_only: false,
            },
            Timestamp::UNIX_EPOCH,
        ));
        assert_eq!(
            built.status.as_ref().unwrap().managed.phase,
            Some(Phase::Stopped)
        );
        assert_eq!(
            desired_status(&built, &stopping, Timestamp::UNIX_EPOCH)
                .managed
                .phase,
            Some(Phase::Updating)
        );
    }

    #[test]
    fn held_changes_show_restart_required_with_the_change() {
        let v = vs("size: 4CPU-16GB");
        let s = server(ServerState::Running, "2CPU-8GB");
        let (d, m) = build(&v).unwrap();
        let step = plan(&v.spec, &d, m.as_ref(), &s, false);
        let obs = Observation {
            server: Some(s),
            step: Some(step),
            volumes: vec![],
            observe_only: false,
        };
        let status = desired_status(&v, &obs, Timestamp::UNIX_EPOCH);
        assert_eq!(status.managed.phase, Some(Phase::Waiting));
        assert_eq!(status.pending_changes, ["size 2CPU-8GB -> 4CPU-16GB"]);
        let rr = status
            .managed
            .conditions
            .iter()
            .find(|c| c.type_ == cond::RESTART_REQUIRED)
            .unwrap();
        assert_eq!(rr.status, "True");
        assert_eq!(rr.reason, reasons::WAITING_FOR_STOP);
        assert!(rr.message.contains("size 2CPU-8GB -> 4CPU-16GB"));
    }

    #[test]
    fn terminal_errors_show_in_ready_and_tenant_policy_transient_only_in_synced() {
        let v = vs("size: 2CPU-8GB");
        let terminal = Error::TenantPolicy("DeepSecurity is vendor-only".into());
        let s = failed_status(&v, &terminal, Timestamp::UNIX_EPOCH);
        assert_eq!(s.managed.phase, Some(Phase::Failed));
        let get = |t: &str| {
            s.managed
                .conditions
                .iter()
                .find(|c| c.type_ == t)
                .unwrap()
                .clone()
        };
        assert_eq!(get(cond::READY).reason, reasons::VENDOR_ONLY);
        assert_eq!(get(cond::TENANT_POLICY).status, "False");
        let transient = Error::Provider(ProviderError::transient("503"));
        assert!(!transient.is_terminal());
        assert_eq!(transient.metric_label(), "provider_transient");
        let s = failed_status(&v, &transient, Timestamp::UNIX_EPOCH);
        assert_eq!(s.managed.conditions.len(), 1);
        assert_eq!(s.managed.conditions[0].type_, cond::SYNCED);
        assert_eq!(s.managed.phase, None);
    }
}
