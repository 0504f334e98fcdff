//! The ServerSnapshot kind on the shared lifecycle, a one-shot kind: the image of a stopped
//! VirtualServer of the same namespace is taken once, never changed, and deleted with the
//! object (`deletionPolicy: Delete`). The create waits behind the lifecycle's create gate:
//! `WaitForStop` until the tenant stops the server, `StopServer` while Suido stops it; a server
//! Suido stopped is started again afterwards, also across crashes and when the object is
//! deleted early (see [`steps`] for how).

pub mod steps;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    ManagedSpec, ManagedStatus, ServerSnapshot, ServerSnapshotStatus, VirtualServer,
};
use suido_provider::{
    ClientToken, Operation, ProviderError, ProviderResult, Snapshot, SnapshotSpec, Tags,
    TerminalKind,
};

use self::steps::{Gate, Restart, Source, SourceServer, Step, Wait};
use crate::conditions::Desired;
use crate::context::Context;
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Acted, Actuator, Error, Flow, Hold, ManagedKind, Note, Verdict};

crate::has_status!(ServerSnapshot, ServerSnapshotStatus, managed.conditions);

crate::service_resource!(Snapshot);

impl Refers for ServerSnapshot {
    fn references(&self) -> Vec<Reference> {
        vec![Reference::named(
            "VirtualServer",
            self.spec.server_name.clone(),
        )]
    }
}

/// The server Suido stopped for this snapshot, from its annotation.
fn stopped_server(snap: &ServerSnapshot) -> Option<String> {
    snap.annotations().get(steps::STOPPED_SERVER).cloned()
}

impl ManagedKind for ServerSnapshot {
    const KIND: &'static str = "ServerSnapshot";
    const NAME: &'static str = "serversnapshot";
    const NOUN: &'static str = "snapshot";
    const FINALIZER: &'static str = "infra.suido.dev/serversnapshot-cleanup";
    type Desired = Option<SnapshotSpec>;
    type External = Snapshot;
    type Step = Step;
    type Refs = Source;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &ServerSnapshotStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut ServerSnapshotStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn build(&self, source: &Source) -> Result<Option<SnapshotSpec>, Error> {
        Ok(steps::build(self, source))
    }
    fn creating_note(desired: &Option<SnapshotSpec>) -> String {
        match desired {
            Some(d) => format!("taking an image of server {}", d.server_id),
            None => "taking an image of the server".to_owned(),
        }
    }
    fn settled(step: &Step) -> bool {
        matches!(step, Step::Done | Step::Release)
    }
    fn observe(
        &self,
        status: &mut ServerSnapshotStatus,
        external: Option<&Snapshot>,
        step: Option<&Step>,
        refs: Option<&Source>,
    ) -> Vec<Desired> {
        steps::observe(self, status, external, step, refs)
    }
    fn verdict(&self, _external: &Snapshot, step: &Step) -> Verdict {
        steps::verdict(self, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.snapshots
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(SnapshotActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        references::watch::<ServerSnapshot, VirtualServer>(controller, &feeds.servers)
    }
}

/// The snapshot and power calls of a ServerSnapshot.
struct SnapshotActuator<'a> {
    ctx: &'a Context,
}

impl SnapshotActuator<'_> {
    /// Sets the [`steps::STOPPED_SERVER`] annotation to `server` (or removes it), unless it is
    /// so already. Awaited before the stop it records, so the record is never missing.
    async fn mark(&self, snap: &ServerSnapshot, server: Option<&str>) -> Result<(), Error> {
        if stopped_server(snap).as_deref() == server {
            return Ok(());
        }
        let api: Api<ServerSnapshot> = Api::namespaced(
            self.ctx.client.clone(),
            &snap.namespace().unwrap_or_default(),
        );
        let patch = serde_json::json!({
            "metadata": { "annotations": { steps::STOPPED_SERVER: server } }
        });
        api.patch(
            &snap.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await?;
        Ok(())
    }

    /// Starts the server Suido stopped.
    async fn start(&self, snap: &ServerSnapshot, id: &str) -> Result<Note, Error> {
        self.ctx
            .call("start_server", self.ctx.platform.start_server(id))
            .await?;
        Ok(Note {
            reason: "Starting",
            message: format!(
                "starting VirtualServer {} (server {id}) again, which Suido stopped for the snapshot",
                snap.spec.server_name
            ),
        })
    }
}

#[async_trait]
impl Actuator<ServerSnapshot> for SnapshotActuator<'_> {
    async fn resolve(&self, snap: &ServerSnapshot) -> Result<Source, Error> {
        let located = steps::locate(snap, &self.ctx.stores.servers.state())?;
        let server = match located.as_ref().map(|l| l.id.as_deref()) {
            None => SourceServer::Gone,
            Some(None) => SourceServer::NotBuilt,
            Some(Some(id)) => match self
                .ctx
                .call("get_server", self.ctx.platform.get_server(id))
                .await
            {
                Ok(server) => SourceServer::Built(Box::new(server)),
                // Replaced by a system restore, and the VirtualServer has not followed yet.
                Err(ProviderError::NotFound { .. }) => SourceServer::NotBuilt,
                Err(e) => return Err(e.into()),
            },
        };
        Ok(Source {
            name: snap.spec.server_name.clone(),
            server,
            wants_running: located.is_some_and(|l| l.wants_running),
        })
    }

    async fn get(&self, id: &str) -> ProviderResult<Snapshot> {
        self.ctx
            .call("get_snapshot", self.ctx.platform.get_snapshot(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Snapshot>> {
        self.ctx
            .call("list_snapshots", self.ctx.platform.list_snapshots(selector))
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &Option<SnapshotSpec>,
    ) -> ProviderResult<Operation> {
        let Some(spec) = desired else {
            // `ready_to_create` lets the create through only for a built, stopped server.
            return Err(ProviderError::conflict("the server is not built yet"));
        };
        let result = self
            .ctx
            .call(
                "create_snapshot",
                self.ctx.platform.create_snapshot(token, tags, spec),
            )
            .await;
        match result {
            // The server was started between the gate and the create: decide again.
            Err(ProviderError::Terminal {
                kind: TerminalKind::FailedPrecondition,
                message,
            }) => Err(ProviderError::conflict(message)),
            other => other,
        }
    }

    async fn ready_to_create(
        &self,
        snap: &ServerSnapshot,
        source: &Source,
    ) -> Result<Option<Hold>, Error> {
        if let Some(lost) = steps::lost(snap) {
            return Err(lost);
        }
        match steps::gate(snap.spec.stop_policy, source) {
            Gate::Go => Ok(None),
            Gate::Hold(wait) => Ok(Some(steps::hold(wait, &source.name))),
            Gate::Stop => {
                let SourceServer::Built(server) = &source.server else {
                    return Ok(Some(steps::hold(Wait::ServerNotBuilt, &source.name)));
                };
                // The record first: a crash after the stop still finds it and starts the server.
                self.mark(snap, Some(&server.id)).await?;
                self.ctx
                    .call("stop_server", self.ctx.platform.stop_server(&server.id))
                    .await?;
                let mut hold = steps::hold(Wait::Stopping, &source.name);
                hold.notes.push(Note {
                    reason: "Stopping",
                    message: format!(
                        "stopping VirtualServer {} (server {}) to take the snapshot; Suido starts it again afterwards",
                        source.name, server.id
                    ),
                });
                Ok(Some(hold))
            }
        }
    }

    async fn act(
        &self,
        snap: &ServerSnapshot,
        _desired: &Option<SnapshotSpec>,
        snapshot: &mut Snapshot,
        source: &Source,
    ) -> Result<Acted<Step>, Error> {
        let stopped = stopped_server(snap);
        let step = steps::plan(snapshot, source, stopped.as_deref());
        let mut notes = vec![];
        match (&step, stopped.as_deref()) {
            (Step::Restart, Some(id)) => notes.push(self.start(snap, id).await?),
            (Step::Release, _) => self.mark(snap, None).await?,
            _ => {}
        }
        let flow = match step {
            Step::Wait | Step::Restart => Flow::Poll,
            Step::Release | Step::Done => Flow::Settled,
        };
        Ok(Acted { step, flow, notes })
    }

    async fn release(&self, snap: &ServerSnapshot) -> Result<(), Error> {
        let Some(stopped) = stopped_server(snap) else {
            return Ok(());
        };
        let source = match self.resolve(snap).await {
            Ok(source) => Some(source),
            // No VirtualServer of that name any more: nothing to start.
            Err(Error::Reference { .. }) => None,
            Err(e) => return Err(e),
        };
        match steps::restart(&stopped, source.as_ref()) {
            Restart::Release => Ok(()),
            Restart::Wait => Err(Error::Pending(format!(
                "server {stopped} is busy; it is started again before the snapshot goes"
            ))),
            Restart::Start => {
                let note = self.start(snap, &stopped).await?;
                self.ctx
                    .event(snap, false, note.reason, "Delete", note.message)
                    .await;
                Err(Error::Pending(format!(
                    "starting server {stopped} again before the snapshot goes"
                )))
            }
        }
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_snapshot", self.ctx.platform.delete_snapshot(id))
            .await
    }
}
