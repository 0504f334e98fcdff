//! Starting the operator: caches of the objects the controllers read, the probe endpoints, and
//! every controller, until shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use kube::Client;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    BackupPolicy, BlockVolume, IntrusionPrevention, LoadBalancer, ServerSnapshot, SmtpRelay,
    VirtualServer, WafInstance,
};
use suido_provider::Platform;
use tokio::sync::watch;

use crate::context::{Context, PlatformSettings, Timing};
use crate::controllers::{maintenance_window, server_restore, tenant};
use crate::feeds::{FeedError, Feeds};
use crate::http::{self, Probes};
use crate::leader::{self, LeaderConfig};
use crate::managed::ManagedKind;
use crate::managed::controller::{controller, prepare, run as managed_run};
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
    /// Leader election among replicas; without it this process runs the controllers at once.
    pub leader: Option<LeaderConfig>,
}

/// Errors starting the operator.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The probe endpoint could not bind.
    #[error("binding the probe endpoint {0}: {1}")]
    Probe(SocketAddr, std::io::Error),
    /// A shared watch could not be set up.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// This replica lost the leader lease; it stops so that it never acts beside the new
    /// leader (and is restarted as a standby).
    #[error("lost the leader lease")]
    LostLeadership,
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
    let mut leadership = match config.leader {
        Some(leader) => {
            // A standby is healthy and ready to take over, so a rollout can replace replicas.
            ready.store(true, Ordering::Relaxed);
            let mut stop = shutdown.clone();
            tokio::select! {
                _ = leader::acquire(&client, &leader) => {}
                _ = stop.wait_for(|s| *s) => {
                    probe_task.abort();
                    return Ok(());
                }
            }
            ready.store(false, Ordering::Relaxed);
            Some(tokio::spawn(leader::keep(client.clone(), leader)))
        }
        None => None,
    };
    // One watch per kind: the caches every controller reads, and the triggers of every
    // controller, in step with those caches.
    let feeds = Feeds::new(&client)?;
    let ctx = Arc::new(Context::new(
        client,
        metrics,
        config.platform,
        feeds.stores(),
        config.settings,
        config.timing,
        feeds.synced(),
    ));
    tokio::spawn(count_phases(ctx.clone(), shutdown.clone()));
    let ready_ctx = ctx.clone();
    tokio::spawn(async move {
        ready_ctx.caches_ready().await;
        ready.store(true, Ordering::Relaxed);
        tracing::info!(probes = %bound, "operator caches synced");
    });
    // Each controller runs as a task of its own, so that the runtime spreads them over its
    // threads and a busy kind does not take the poll budget of the others.
    let mut tasks = tokio::task::JoinSet::new();
    let f = &feeds;
    tasks.spawn(managed_run(
        prepare(controller::<VirtualServer>(&f.servers), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<BlockVolume>(&f.volumes), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<LoadBalancer>(&f.load_balancers), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<WafInstance>(&f.wafs), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(
            controller::<IntrusionPrevention>(&f.intrusion_preventions),
            f,
        ),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<SmtpRelay>(&f.smtp_relays), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<BackupPolicy>(&f.backups), f),
        ctx.clone(),
    ));
    tasks.spawn(managed_run(
        prepare(controller::<ServerSnapshot>(&f.snapshots), f),
        ctx.clone(),
    ));
    tasks.spawn(server_restore::run(
        server_restore::controller(f),
        ctx.clone(),
    ));
    tasks.spawn(tenant::run(tenant::controller(f), ctx.clone()));
    tasks.spawn(maintenance_window::run(
        maintenance_window::controller(f),
        ctx.clone(),
    ));
    let controllers = tasks.len();
    feeds.start(&mut tasks);
    let mut stop = shutdown.clone();
    let lost = tokio::select! {
        // The controllers end together, on a signal; the watches never end.
        _ = async {
            for _ in 0..controllers {
                tasks.join_next().await;
            }
        } => false,
        _ = stop.wait_for(|s| *s) => false,
        _ = async {
            match &mut leadership {
                Some(keep) => { let _ = keep.await; }
                None => std::future::pending::<()>().await,
            }
        } => true,
    };
    tasks.abort_all();
    // A stopped operator renews the lease no longer, so a standby takes over.
    if let Some(keep) = &leadership {
        keep.abort();
    }
    if lost {
        probe_task.abort();
        return Err(RunError::LostLeadership);
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
