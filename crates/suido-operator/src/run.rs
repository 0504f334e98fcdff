//! Starting the operator: caches of the objects the controllers read, the probe endpoints, and
//! every controller, until shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use suido_api::v1alpha1::{
    BackupPolicy, BlockVolume, IntrusionPrevention, LoadBalancer, MaintenanceWindow,
    ServerSnapshot, SmtpRelay, Tenant, VirtualServer, WafInstance,
};
use suido_provider::Platform;
use tokio::sync::watch;

use crate::context::{Context, PlatformSettings, Stores, Timing};
use crate::controllers::{maintenance_window, server_restore, tenant};
use crate::http::{self, Probes};
use crate::managed::ManagedKind;
use crate::managed::controller::{controller, run as managed_run};
use crate::metrics::{Metrics, PhaseLabels};

/// What the operator needs to run.
pub struct OperatorConfig {
    /// Kubernetes client.
    pub client: Client,
    /// The platform's APIs.
    pub platform: Arc<dyn Platform>,
    /// Platform settings tenants cannot change.
    pub settings: PlatformSettings,
    /// Where `/metrics`, `/healthz` and `/readyz` listen.
    pub probe_addr: SocketAddr,
    /// Timing knobs.
    pub timing: Timing,
}

/// Errors starting the operator.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The probe endpoint could not bind.
    #[error("binding the probe endpoint {0}: {1}")]
    Probe(SocketAddr, std::io::Error),
}

/// A cache of every object of kind `K`, kept current by a background watch.
fn cache<K>(client: &Client) -> Store<K>
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let stream = reflector::reflector(
        writer,
        watcher(Api::<K>::all(client.clone()), watcher::Config::default()),
    )
    .default_backoff()
    .touched_objects();
    tokio::spawn(async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            if let Err(e) = item {
                tracing::warn!(error = %e, "cache watch error");
            }
        }
    });
    reader
}

/// Runs every controller until `shutdown` turns true (or the process gets a signal). Returns the
/// probe address through `on_probe_bound` as soon as it is bound.
pub async fn run(
    config: OperatorConfig,
    shutdown: watch::Receiver<bool>,
    on_probe_bound: impl FnOnce(SocketAddr),
) -> Result<(), RunError> {
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let probes = Probes {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let (bound, probe_task) = http::serve(config.probe_addr, probes, shutdown.clone())
        .await
        .map_err(|e| RunError::Probe(config.probe_addr, e))?;
    on_probe_bound(bound);
    let client = config.client;
    // The controllers' own stores serve as the caches of the kinds they manage, so each kind
    // is watched and held once.
    let vs_controller = controller::<VirtualServer>(&client);
    let bv_controller = controller::<BlockVolume>(&client);
    let lb_controller = controller::<LoadBalancer>(&client);
    let waf_controller = controller::<WafInstance>(&client);
    let ips_controller = controller::<IntrusionPrevention>(&client);
    let smtp_controller = controller::<SmtpRelay>(&client);
    let bp_controller = controller::<BackupPolicy>(&client);
    let snap_controller = controller::<ServerSnapshot>(&client);
    let restore_controller = server_restore::controller(&client);
    let stores = Stores {
        tenants: cache::<Tenant>(&client),
        windows: cache::<MaintenanceWindow>(&client),
        servers: vs_controller.store(),
        volumes: bv_controller.store(),
        load_balancers: lb_controller.store(),
        wafs: waf_controller.store(),
        intrusion_preventions: ips_controller.store(),
        smtp_relays: smtp_controller.store(),
        backups: bp_controller.store(),
        snapshots: snap_controller.store(),
        restores: restore_controller.store(),
    };
    let ctx = Arc::new(Context::new(
        client,
        metrics,
        config.platform,
        stores,
        config.settings,
        config.timing,
    ));
    tokio::spawn(count_phases(ctx.clone(), shutdown.clone()));
    let ready_ctx = ctx.clone();
    tokio::spawn(async move {
        ready_ctx.caches_ready().await;
        ready.store(true, Ordering::Relaxed);
        tracing::info!(probes = %bound, "operator caches synced");
    });
    let mut stop = shutdown.clone();
    tokio::select! {
        _ = async {
            tokio::join!(
                managed_run(vs_controller, ctx.clone()),
                managed_run(bv_controller, ctx.clone()),
                managed_run(lb_controller, ctx.clone()),
                managed_run(waf_controller, ctx.clone()),
                managed_run(ips_controller, ctx.clone()),
                managed_run(smtp_controller, ctx.clone()),
                managed_run(bp_controller, ctx.clone()),
                managed_run(snap_controller, ctx.clone()),
                server_restore::run(restore_controller, ctx.clone()),
                tenant::run(ctx.client.clone(), ctx.clone()),
                maintenance_window::run(ctx.client.clone(), ctx.clone())
            );
        } => {}
        _ = stop.wait_for(|s| *s) => {}
    }
    probe_task.abort();
    Ok(())
}

/// Keeps `suido_managed_resources{kind,phase}` current from the caches, every few seconds.
async fn count_phases(ctx: Arc<Context>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let mut counts: BTreeMap<(&str, String), i64> = BTreeMap::new();
        count::<VirtualServer>(&ctx.stores.servers, &mut counts);
        count::<BlockVolume>(&ctx.stores.volumes, &mut counts);
        count::<LoadBalancer>(&ctx.stores.load_balancers, &mut counts);
        count::<WafInstance>(&ctx.stores.wafs, &mut counts);
        count::<IntrusionPrevention>(&ctx.stores.intrusion_preventions, &mut counts);
        count::<SmtpRelay>(&ctx.stores.smtp_relays, &mut counts);
        count::<BackupPolicy>(&ctx.stores.backups, &mut counts);
        count::<ServerSnapshot>(&ctx.stores.snapshots, &mut counts);
        ctx.metrics.managed_resources.clear();
        for ((kind, phase), n) in counts {
            ctx.metrics
                .managed_resources
                .get_or_create(&PhaseLabels {
                    kind: kind.to_owned(),
                    phase,
                })
                .set(n);
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(5)) => {}
            _ = shutdown.wait_for(|s| *s) => return,
        }
    }
}

/// Adds the objects of `store` to `counts` by phase.
fn count<K: ManagedKind>(store: &Store<K>, counts: &mut BTreeMap<(&'static str, String), i64>) {
    for obj in store.state() {
        let phase = obj
            .status_ref()
            .and_then(|s| K::managed(s).phase)
            .map_or_else(|| "Unknown".to_owned(), |p| format!("{p:?}"));
        *counts.entry((K::KIND, phase)).or_default() += 1;
    }
}
