//! The state every controller shares: the Kubernetes client, the event recorder, metrics, the
//! providers, caches of the objects controllers read but do not own, and the backoff book.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use suido_api::v1alpha1::{
    BackupPolicy, BlockVolume, IntrusionPrevention, LoadBalancer, MaintenanceWindow, ServerRestore,
    ServerSnapshot, SmtpRelay, Tenant, VirtualServer, WafInstance,
};
use suido_provider::{Platform, ProviderResult};

use crate::backoff::Backoff;
use crate::metrics::Metrics;
use crate::status::Memo;

/// Timing knobs of the controllers.
#[derive(Clone, Debug)]
pub struct Timing {
    /// How soon to look again while a platform operation runs.
    pub poll: Duration,
    /// How often a settled object looks at the platform again, so that drift and lost
    /// resources are noticed within this interval.
    pub drift: Duration,
    /// How soon a request the platform refused for good is tried again.
    pub resync: Duration,
    /// How long a deletion waits in one reconcile for the platform to finish deleting.
    pub delete_wait: Duration,
    /// The ceiling of the per-object backoff after transient errors.
    pub backoff_max: Duration,
    /// How many objects each controller reconciles at once. Unbounded, 10,000 objects applied
    /// together meant 10,000 reconciles, and as many connections, in flight.
    pub concurrency: u16,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            poll: Duration::from_millis(500),
            drift: Duration::from_secs(60),
            resync: Duration::from_secs(300),
            delete_wait: Duration::from_secs(20),
            backoff_max: Duration::from_secs(300),
            concurrency: 64,
        }
    }
}

/// The caches the controllers read. The managed kinds' stores are their controllers' own, so
/// that each kind is watched and held once.
#[derive(Clone)]
pub struct Stores {
    /// Tenants, to find who owns a namespace.
    pub tenants: Store<Tenant>,
    /// Maintenance windows, for changes that wait for one.
    pub windows: Store<MaintenanceWindow>,
    /// VirtualServers.
    pub servers: Store<VirtualServer>,
    /// BlockVolumes.
    pub volumes: Store<BlockVolume>,
    /// LoadBalancers.
    pub load_balancers: Store<LoadBalancer>,
    /// WafInstances.
    pub wafs: Store<WafInstance>,
    /// IntrusionPreventions.
    pub intrusion_preventions: Store<IntrusionPrevention>,
    /// SmtpRelays.
    pub smtp_relays: Store<SmtpRelay>,
    /// BackupPolicies.
    pub backups: Store<BackupPolicy>,
    /// ServerSnapshots.
    pub snapshots: Store<ServerSnapshot>,
    /// ServerRestores.
    pub restores: Store<ServerRestore>,
}

/// Platform settings that tenants cannot change.
#[derive(Clone, Debug)]
pub struct PlatformSettings {
    /// The sender domain the platform designates for the SMTP relay (§2.1.3 (14)).
    pub smtp_sender_domain: String,
}

impl Default for PlatformSettings {
    fn default() -> Self {
        PlatformSettings {
            smtp_sender_domain: "suido-relay.example".to_owned(),
        }
    }
}

/// Shared controller state.
pub struct Context {
    /// Kubernetes client.
    pub client: Client,
    /// Publishes Events about the objects.
    pub recorder: Recorder,
    /// Operator metrics.
    pub metrics: Arc<Metrics>,
    /// The platform's APIs.
    pub platform: Arc<dyn Platform>,
    /// Per-object backoff for transient errors.
    pub backoff: Backoff,
    /// The last status written per object, against a lagging cache.
    pub memo: Memo,
    /// The caches.
    pub stores: Stores,
    /// Platform settings.
    pub settings: PlatformSettings,
    /// Timing knobs.
    pub timing: Timing,
    /// Turns true once every cache has its first full list (see [`Context::caches_ready`]).
    synced: tokio::sync::watch::Receiver<bool>,
}

impl Context {
    /// A new context; Events are reported as `suido-operator`. `caches` resolves once every
    /// store has had its first full list.
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        platform: Arc<dyn Platform>,
        stores: Stores,
        settings: PlatformSettings,
        timing: Timing,
        caches: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "suido-operator".to_owned(),
                instance: std::env::var("HOSTNAME").ok(),
            },
        );
        let (synced_tx, synced) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            caches.await;
            let _ = synced_tx.send(true);
        });
        Context {
            client,
            recorder,
            metrics,
            platform,
            backoff: Backoff::new(Duration::from_millis(500), timing.backoff_max),
            memo: Memo::default(),
            stores,
            settings,
            timing,
            synced,
        }
    }

    /// Waits until every cache the reconciles read has its first full list, so that a
    /// reconcile never computes a status from a half-filled cache. Immediate once they are.
    pub async fn caches_ready(&self) {
        let mut synced = self.synced.clone();
        // An error means the waiting task is gone, which only happens at shutdown.
        let _ = synced.wait_for(|s| *s).await;
    }

    /// Runs one provider call, recording its result and latency.
    pub async fn call<T>(
        &self,
        operation: &str,
        fut: impl Future<Output = ProviderResult<T>>,
    ) -> ProviderResult<T> {
        let start = Instant::now();
        let result = fut.await;
        let label = match &result {
            Ok(_) => "ok",
            Err(e) => e.label(),
        };
        self.metrics
            .provider_call(operation, label, start.elapsed().as_secs_f64());
        result
    }

    /// Publishes an Event about `obj`. Events are best effort: a failure is logged, never
    /// allowed to fail the reconcile.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(object = %obj.name_any(), error = %e, "could not publish event");
        }
    }
}
