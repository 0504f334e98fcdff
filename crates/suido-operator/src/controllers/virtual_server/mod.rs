//! The VirtualServer kind on the shared lifecycle: servers built from the menu, powered on and
//! off, resized and given disks by the disruption policy, with monitoring pushed to the
//! platform. The pure steps are in [`plan`] and [`status`]; this module holds the kind's
//! declarations and its platform calls.

pub mod plan;
pub mod status;
#[cfg(test)]
mod tests;

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use suido_api::v1alpha1::{ManagedSpec, ManagedStatus, VirtualServer, VirtualServerStatus};
use suido_provider::{
    ClientToken, MonitoringSettings, OperatingSystem, Operation, ProviderResult, Server,
    ServerSpec, ServerState, Tags,
};

use self::plan::{Change, HoldReason, Step};
use crate::conditions::Desired;
use crate::context::Context;
use crate::feeds::Feeds;
use crate::managed::{
    Acted, Actuator, Error, External, Flow, Lifecycle, ManagedKind, Note, Verdict,
};
use crate::tenancy::{self, Owner};

/// What a server's plan reads besides the spec: the maintenance windows of its tenant and the
/// BlockVolumes of its namespace.
#[derive(Clone, Debug, Default)]
pub struct Refs {
    /// Whether a window that stops this tenant's servers is open now.
    pub window_open: bool,
    /// When the next such window opens.
    pub next_window: Option<Timestamp>,
    /// The namespace's BlockVolumes as (name, platform id), for the server's status.
    pub volumes: Vec<(String, String)>,
}

impl External for Server {
    fn id(&self) -> &str {
        &self.id
    }
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn created_at(&self) -> Timestamp {
        self.created_at
    }
    fn lifecycle(&self) -> Lifecycle {
        match self.state {
            ServerState::Building => Lifecycle::Building,
            ServerState::Deleting => Lifecycle::Deleting,
            ServerState::Error => Lifecycle::Error,
            _ => Lifecycle::Built,
        }
    }
}

/// The OS as people write it, for Events.
fn os_label(os: OperatingSystem) -> &'static str {
    match os {
        OperatingSystem::RockyLinux => "Rocky Linux",
        OperatingSystem::Rhel => "RHEL",
        OperatingSystem::WindowsServer => "Windows Server",
    }
}

impl ManagedKind for VirtualServer {
    const KIND: &'static str = "VirtualServer";
    const NAME: &'static str = "virtualserver";
    const NOUN: &'static str = "server";
    const FINALIZER: &'static str = "infra.suido.dev/virtualserver-cleanup";
    type Desired = (ServerSpec, Option<MonitoringSettings>);
    type External = Server;
    type Step = Step;
    type Refs = Refs;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &VirtualServerStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut VirtualServerStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn vendor_only(&self) -> Vec<&'static str> {
        plan::vendor_only_features(&self.spec)
    }
    fn build(&self, _refs: &Refs) -> Result<Self::Desired, Error> {
        Ok(plan::build(self))
    }
    fn creating_note(desired: &Self::Desired) -> String {
        format!(
            "ordering a {} {} server",
            desired.0.size,
            os_label(desired.0.os)
        )
    }
    fn settled(step: &Step) -> bool {
        matches!(step, Step::Done | Step::Hold { .. })
    }
    fn observe(
        &self,
        status: &mut VirtualServerStatus,
        external: Option<&Server>,
        step: Option<&Step>,
        refs: Option<&Refs>,
    ) -> Vec<Desired> {
        status::observe(status, external, step, refs)
    }
    fn verdict(&self, external: &Server, step: &Step) -> Verdict {
        status::verdict(external, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.servers
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(ServerActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        // A volume names its server; the server shows its volumes, so volume changes map back.
        controller.watches_shared_stream(feeds.volumes.subscribe(), |bv| {
            let ns = bv.namespace().unwrap_or_default();
            let mut names: Vec<String> = bv
                .spec
                .attach_to
                .iter()
                .map(|a| a.server_name.clone())
                .collect();
            names.extend(bv.status.iter().filter_map(|s| s.attached_to.clone()));
            names
                .into_iter()
                .map(move |n| ObjectRef::<VirtualServer>::new(&n).within(&ns))
        })
    }
}

/// The compute calls of a VirtualServer.
struct ServerActuator<'a> {
    ctx: &'a Context,
}

impl ServerActuator<'_> {
    /// Carries out one step on the platform; the note tells the tenant.
    async fn execute(&self, server: &Server, step: &Step) -> Result<Option<Note>, Error> {
        let (ctx, id) = (self.ctx, server.id.as_str());
        let compute = &ctx.platform;
        let note = |reason, message: String| Ok(Some(Note { reason, message }));
        match step {
            Step::Wait | Step::Done | Step::Hold { .. } => Ok(None),
            Step::Stop { changes } => {
                ctx.call("stop_server", compute.stop_server(id)).await?;
                if changes.is_empty() {
                    note(
                        "Stopping",
                        "stopping the server as spec.powerState asks".to_owned(),
                    )
                } else {
                    let what: Vec<String> = changes.iter().map(|c| c.describe(server)).collect();
                    note(
                        "Stopping",
                        format!("stopping the server to apply: {}", what.join(", ")),
                    )
                }
            }
            Step::Start => {
                ctx.call("start_server", compute.start_server(id)).await?;
                note("Starting", "starting the server".to_owned())
            }
            Step::Apply(change) => {
                let message = change.describe(server);
                let reason = match change {
                    Change::Resize(size) => {
                        ctx.call("resize_server", compute.resize_server(id, *size))
                            .await?;
                        "Resizing"
                    }
                    Change::AttachDisk(d) => {
                        ctx.call("attach_disk", compute.attach_disk(id, d)).await?;
                        "AddingDisk"
                    }
                    Change::GrowDisk { name, size_gb } => {
                        ctx.call("grow_disk", compute.grow_disk(id, name, *size_gb))
                            .await?;
                        "GrowingDisk"
                    }
                    Change::DetachDisk(name) => {
                        ctx.call("detach_disk", compute.detach_disk(id, name))
                            .await?;
                        "RemovingDisk"
                    }
                };
                note(reason, message)
            }
            Step::Monitor(settings) => {
                let settings = settings.clone().unwrap_or_default();
                ctx.call("set_monitoring", compute.set_monitoring(id, &settings))
                    .await?;
                note(
                    "MonitoringUpdated",
                    "monitoring settings sent to the platform".to_owned(),
                )
            }
        }
    }
}

#[async_trait]
impl Actuator<VirtualServer> for ServerActuator<'_> {
    async fn resolve(&self, vs: &VirtualServer) -> Result<Refs, Error> {
        let namespace = vs.namespace().unwrap_or_default();
        let now = Timestamp::now();
        let windows = self.ctx.stores.windows.state();
        let tenant = match tenancy::owner(&self.ctx.stores.tenants.state(), &namespace) {
            Owner::Tenant(t) => t.name_any(),
            Owner::None => String::new(),
        };
        let volumes = self
            .ctx
            .stores
            .volumes
            .state()
            .iter()
            .filter(|bv| bv.namespace().as_deref() == Some(namespace.as_str()))
            .filter_map(|bv| {
                let id = bv.status.as_ref()?.managed.external_id.clone()?;
                Some((bv.name_any(), id))
            })
            .collect();
        Ok(Refs {
            window_open: tenancy::open_window(&windows, &tenant, now).is_some(),
            next_window: tenancy::next_window_start(&windows, &tenant, now),
            volumes,
        })
    }

    async fn get(&self, id: &str) -> ProviderResult<Server> {
        self.ctx
            .call("get_server", self.ctx.platform.get_server(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Server>> {
        self.ctx
            .call("list_servers", self.ctx.platform.list_servers(selector))
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &(ServerSpec, Option<MonitoringSettings>),
    ) -> ProviderResult<Operation> {
        self.ctx
            .call(
                "create_server",
                self.ctx.platform.create_server(token, tags, &desired.0),
            )
            .await
    }

    async fn act(
        &self,
        vs: &VirtualServer,
        desired: &(ServerSpec, Option<MonitoringSettings>),
        server: &mut Server,
        refs: &Refs,
    ) -> Result<Acted<Step>, Error> {
        let (spec, monitoring) = desired;
        let decide =
            |s: &Server| plan::plan(&vs.spec, spec, monitoring.as_ref(), s, refs.window_open);
        let mut step = decide(server);
        let mut notes: Vec<Note> = self.execute(server, &step).await?.into_iter().collect();
        if let Step::Monitor(settings) = &step {
            // The push is synchronous: the platform has the settings now, so decide again at
            // once instead of spending a status write and a reconcile on it.
            server.monitoring = settings.clone();
            step = decide(server);
            notes.extend(self.execute(server, &step).await?);
        }
        let flow = match &step {
            Step::Done => Flow::Settled,
            Step::Hold {
                reason: HoldReason::WaitingForMaintenance,
                ..
            } => {
                let now = Timestamp::now();
                match refs
                    .next_window
                    .and_then(|start| Duration::try_from(start.duration_since(now)).ok())
                {
                    Some(until) => Flow::SettledFor(until),
                    None => Flow::Settled,
                }
            }
            Step::Hold { .. } => Flow::Settled,
            _ => Flow::Poll,
        };
        Ok(Acted { step, flow, notes })
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_server", self.ctx.platform.delete_server(id))
            .await
    }
}
