//! The ServerRestore controller. A restore owns no long-lived platform resource (it has no
//! deletion policy or external id), so it has a small reconcile of its own rather than the
//! managed lifecycle, reusing its pieces: the status memo, Events, the error type and backoff,
//! the identity tokens and tags, and the reference watches. Phases: Pending, Running, then
//! Succeeded or Failed, after which nothing more is written; the finalizer removes the
//! platform's record of the restore once it has ended.
//!
//! A system restore deletes the server and builds a new one carrying the old one's tags; the
//! VirtualServer follows it through the managed lifecycle's `Found::Replaced` path (with its
//! own `Replaced` Event). The pure steps are in [`steps`], the reconcile in [`flow`].

pub mod flow;
pub mod steps;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::{Resource, ResourceExt};
use suido_api::v1alpha1::{
    BackupPolicy, ServerRestore, ServerRestoreStatus, ServerSnapshot, VirtualServer,
};
use suido_provider::{
    ClientToken, Operation, ProviderError, ProviderResult, Restore, RestoreSpec, Tags,
};
use tracing::{Instrument, field, info_span};

use self::flow::{Env, Side};
use crate::context::Context;
use crate::feeds::Feeds;
use crate::managed::Error;
use crate::managed::references::{self, Reference, Refers};

/// The kind, for client tokens and tags.
pub const KIND: &str = "ServerRestore";
/// The controller's name in metrics and logs.
pub const NAME: &str = "serverrestore";
/// The finalizer that holds the object until the platform's record of the restore is removed.
pub const FINALIZER: &str = "infra.suido.dev/serverrestore-cleanup";

crate::has_status!(ServerRestore, ServerRestoreStatus, conditions);

impl Refers for ServerRestore {
    fn references(&self) -> Vec<Reference> {
        let source = &self.spec.source;
        let mut out = vec![Reference::named(
            "VirtualServer",
            self.spec.server_name.clone(),
        )];
        out.extend(
            source
                .backup
                .iter()
                .map(|b| Reference::named("BackupPolicy", b.policy_name.clone())),
        );
        out.extend(
            source
                .snapshot_name
                .iter()
                .map(|n| Reference::named("ServerSnapshot", n.clone())),
        );
        out
    }
}

/// The platform's restores, status writes through the memo and Events through the recorder.
struct KubeSide<'a> {
    ctx: &'a Context,
    api: &'a Api<ServerRestore>,
}

#[async_trait]
impl Side for KubeSide<'_> {
    async fn get(&self, id: &str) -> ProviderResult<Restore> {
        self.ctx
            .call("get_restore", self.ctx.platform.get_restore(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<Restore>> {
        self.ctx
            .call("list_restores", self.ctx.platform.list_restores(selector))
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &RestoreSpec,
    ) -> ProviderResult<Operation> {
        self.ctx
            .call(
                "create_restore",
                self.ctx.platform.create_restore(token, tags, spec),
            )
            .await
    }

    async fn server_exists(&self, id: &str) -> ProviderResult<bool> {
        match self
            .ctx
            .call("get_server", self.ctx.platform.get_server(id))
            .await
        {
            Ok(_) => Ok(true),
            Err(ProviderError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_restore", self.ctx.platform.delete_restore(id))
            .await
    }

    async fn write_status(
        &self,
        obj: &mut ServerRestore,
        status: &ServerRestoreStatus,
    ) -> Result<bool, kube::Error> {
        self.ctx.memo.write(self.api, obj, status).await
    }

    async fn event(&self, obj: &ServerRestore, warning: bool, reason: &str, note: String) {
        self.ctx.event(obj, warning, reason, "Restore", note).await;
    }
}

async fn apply(
    obj: Arc<ServerRestore>,
    ctx: &Context,
    api: &Api<ServerRestore>,
) -> Result<Action, Error> {
    let mut obj = obj.as_ref().clone();
    ctx.memo.refresh(&mut obj);
    let (tenants, servers) = (ctx.stores.tenants.state(), ctx.stores.servers.state());
    let (policies, snapshots) = (ctx.stores.backups.state(), ctx.stores.snapshots.state());
    let env = Env {
        tenants: &tenants,
        servers: &servers,
        policies: &policies,
        snapshots: &snapshots,
        timing: &ctx.timing,
    };
    flow::apply(&mut obj, &env, &KubeSide { ctx, api }).await
}

async fn cleanup(
    obj: Arc<ServerRestore>,
    ctx: &Context,
    api: &Api<ServerRestore>,
) -> Result<Action, Error> {
    flow::cleanup(&obj, &KubeSide { ctx, api }).await
}

/// Reconciles one ServerRestore.
pub async fn reconcile(obj: Arc<ServerRestore>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(NAME);
    let namespace = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", controller = NAME, namespace = %namespace, name = %obj.name_any(), generation = field::Empty);
    if let Some(g) = obj.meta().generation {
        span.record("generation", g);
    }
    let api: Api<ServerRestore> = Api::namespaced(ctx.client.clone(), &namespace);
    let uid = obj.uid().unwrap_or_default();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let result = finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(o) => apply(o, &ctx, &api).await,
            finalizer::Event::Cleanup(o) => cleanup(o, &ctx, &api).await,
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

/// Terminal errors wait for a change; a running restore being deleted is polled; transient
/// errors back off per object with jitter.
pub fn error_policy(obj: Arc<ServerRestore>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(NAME, error.metric_label());
    tracing::warn!(controller = NAME, name = %obj.name_any(), error = %error, "reconcile failed");
    match error.inner() {
        Error::Pending(_) => Action::requeue(ctx.timing.poll),
        e if e.is_terminal() => Action::await_change(),
        _ => Action::requeue(ctx.backoff.next_delay(&obj.uid().unwrap_or_default())),
    }
}

/// The ServerRestore controller over every namespace with its watches: Tenants, and the
/// VirtualServers, BackupPolicies and ServerSnapshots that restores name.
pub fn controller(feeds: &Feeds) -> Controller<ServerRestore> {
    let controller =
        Controller::for_shared_stream(feeds.restores.subscribe(), feeds.restores.store());
    let store = controller.store();
    let controller = controller.watches_shared_stream(feeds.tenants.subscribe(), move |tenant| {
        references::in_tenant_namespaces(&store, &tenant)
    });
    let controller = references::watch::<ServerRestore, VirtualServer>(controller, &feeds.servers);
    let controller = references::watch::<ServerRestore, BackupPolicy>(controller, &feeds.backups);
    references::watch::<ServerRestore, ServerSnapshot>(controller, &feeds.snapshots)
}

/// Runs the controller until shutdown.
pub async fn run(controller: Controller<ServerRestore>, ctx: Arc<Context>) {
    crate::managed::controller::drive(NAME, controller, reconcile, error_policy, ctx).await;
}
