//! The Kubernetes glue of the shared lifecycle: the finalizer, the span and metrics per
//! reconcile, the status memo, `paused`, the error policy with per-object backoff, and the
//! kube-runtime controller with the Tenant watch every kind has.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::{Instrument, field, info_span};

use super::error::Error;
use super::kind::ManagedKind;
use super::lifecycle::{self, Effects, Env};
use super::references;
use crate::context::Context;
use crate::feeds::{Feed, Feeds};

/// Status writes through the memo and Events through the recorder.
pub struct KubeEffects<'a, K> {
    ctx: &'a Context,
    api: &'a Api<K>,
}

impl<'a, K> KubeEffects<'a, K> {
    /// Effects on `api` with the context's memo and recorder.
    pub fn new(ctx: &'a Context, api: &'a Api<K>) -> Self {
        KubeEffects { ctx, api }
    }
}

#[async_trait]
impl<K> Effects<K> for KubeEffects<'_, K>
where
    K: ManagedKind + Serialize,
{
    async fn write_status(&self, obj: &mut K, status: &K::Status) -> Result<bool, kube::Error> {
        self.ctx.memo.write(self.api, obj, status).await
    }

    async fn event(&self, obj: &K, warning: bool, reason: &str, action: &str, note: String) {
        self.ctx.event(obj, warning, reason, action, note).await;
    }
}

/// Bounds kube-runtime puts on a controlled kind: a namespaced, serializable managed kind.
pub trait Watched:
    ManagedKind
    + kube::Resource<Scope = NamespaceResourceScope>
    + Serialize
    + DeserializeOwned
    + Clone
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
}

impl<K> Watched for K where
    K: ManagedKind
        + kube::Resource<Scope = NamespaceResourceScope>
        + Serialize
        + DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

async fn apply<K: Watched>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action, Error> {
    let mut obj = obj.as_ref().clone();
    ctx.memo.refresh(&mut obj);
    let effects = KubeEffects::new(ctx, api);
    if obj.management().paused {
        return lifecycle::record_paused(&mut obj, &effects).await;
    }
    let tenants = ctx.stores.tenants.state();
    let claims = K::store(ctx).state();
    let env = Env {
        tenants: &tenants,
        claims: &claims,
        timing: &ctx.timing,
    };
    let actuator = K::actuator(ctx);
    lifecycle::apply(&mut obj, &env, actuator.as_ref(), &effects).await
}

async fn cleanup<K: Watched>(obj: Arc<K>, ctx: &Context, api: &Api<K>) -> Result<Action, Error> {
    let mut obj = obj.as_ref().clone();
    ctx.memo.refresh(&mut obj);
    let effects = KubeEffects::new(ctx, api);
    let tenants = ctx.stores.tenants.state();
    let claims = K::store(ctx).state();
    let env = Env {
        tenants: &tenants,
        claims: &claims,
        timing: &ctx.timing,
    };
    let actuator = K::actuator(ctx);
    lifecycle::cleanup(&mut obj, &env, actuator.as_ref(), &effects).await
}

/// Reconciles one object of kind `K`.
pub async fn reconcile<K: Watched>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(K::NAME);
    let namespace = obj.namespace().unwrap_or_default();
    let span = info_span!("reconcile", controller = K::NAME, namespace = %namespace, name = %obj.name_any(), generation = field::Empty);
    if let Some(g) = obj.meta().generation {
        span.record("generation", g);
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let uid = obj.uid().unwrap_or_default();
    let deleting = obj.meta().deletion_timestamp.is_some();
    let result = finalizer(&api, K::FINALIZER, obj, |event| async {
        match event {
            finalizer::Event::Apply(o) => apply(o, &ctx, &api).await,
            finalizer::Event::Cleanup(o) => cleanup(o, &ctx, &api).await,
        }
    })
    .instrument(span)
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)));
    if let Ok(action) = &result {
        tracing::debug!(controller = K::NAME, namespace = %namespace, ?action, "reconciled");
        ctx.backoff.reset(&uid);
        if deleting {
            ctx.memo.forget(&uid);
        }
    }
    result
}

/// Terminal errors wait for a change (the platform's refusals retry slowly, and unresolved
/// references look again after the drift interval); transient ones back off per object with
/// jitter; running platform operations are polled.
pub fn error_policy<K: Watched>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(K::NAME, error.metric_label());
    tracing::warn!(controller = K::NAME, name = %obj.name_any(), error = %error, "reconcile failed");
    match error.inner() {
        Error::ProviderTerminal(_) => Action::requeue(ctx.timing.resync),
        // A reference may name an object no watch covers (a Secret): look again after the drift
        // interval too, not only when the object changes.
        Error::Reference { .. } => Action::requeue(ctx.timing.drift),
        e if e.is_terminal() => Action::await_change(),
        Error::Pending(_) => Action::requeue(ctx.timing.poll),
        _ => Action::requeue(ctx.backoff.next_delay(&obj.uid().unwrap_or_default())),
    }
}

/// The controller of kind `K` over every namespace, on the kind's shared watch, before its
/// own watches are added.
pub fn controller<K: Watched + kube::Resource<DynamicType = ()>>(feed: &Feed<K>) -> Controller<K> {
    Controller::for_shared_stream(feed.subscribe(), feed.store())
}

/// Adds the watches every kind has (Tenants, which decide ownership and rules) and the kind's
/// own.
pub fn prepare<K: Watched>(controller: Controller<K>, feeds: &Feeds) -> Controller<K> {
    let store = controller.store();
    let controller = controller.watches_shared_stream(feeds.tenants.subscribe(), move |tenant| {
        references::in_tenant_namespaces(&store, &tenant)
    });
    K::watches(controller, feeds)
}

/// Runs a prepared controller until shutdown.
pub async fn run<K: Watched>(controller: Controller<K>, ctx: Arc<Context>) {
    drive(K::NAME, controller, reconcile::<K>, error_policy::<K>, ctx).await;
}

/// Runs any of the operator's controllers until shutdown, at the configured concurrency; a
/// failed reconcile has been counted and logged by its error policy already.
pub async fn drive<K, F>(
    name: &'static str,
    controller: Controller<K>,
    reconcile: impl FnMut(Arc<K>, Arc<Context>) -> F,
    error_policy: impl Fn(Arc<K>, &F::Error, Arc<Context>) -> Action,
    ctx: Arc<Context>,
) where
    K: kube::Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    F: futures::TryFuture<Ok = Action> + Send + 'static,
    F::Error: std::error::Error + Send + 'static,
{
    let config = controller::Config::default().concurrency(ctx.timing.concurrency);
    controller
        .with_config(config)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(e) = result {
                tracing::debug!(controller = name, error = %e, "reconcile ended with an error");
            }
        })
        .await;
}
