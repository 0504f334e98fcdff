//! One watch per kind, shared by every controller. A kind's [`Feed`] fills the cache that all
//! controllers read, and hands each subscriber the objects it changed only after the cache holds
//! them.
//!
//! With a watch of its own per referrer, a LoadBalancer could be woken by a VirtualServer's
//! change before the shared cache of VirtualServers had it, reconcile from the old server and
//! settle for the drift interval. A subscriber of the shared watch cannot see that order.

use std::future::Future;

use futures::StreamExt;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::{self, ReflectHandle, Store};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use suido_api::v1alpha1::{
    BackupPolicy, BlockVolume, IntrusionPrevention, LoadBalancer, MaintenanceWindow, ServerRestore,
    ServerSnapshot, SmtpRelay, Tenant, VirtualServer, WafInstance,
};
use tokio::sync::watch;

use crate::context::Stores;

/// Changes a feed holds for its slowest subscriber before the watch waits for it. The
/// subscribers are controllers' trigger streams, which only map objects to references.
const BUFFER: usize = 4096;

/// Bounds on a kind that is watched and shared.
pub trait Fed:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync + 'static
{
}

impl<K> Fed for K where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static
{
}

/// The shared watch of kind `K`: its cache, and subscriptions to its changes.
pub struct Feed<K: Fed> {
    api: Api<K>,
    writer: reflector::store::Writer<K>,
    // Kept so that subscriptions can be cloned from it; dropped when the watch starts, since an
    // unread subscription would hold the watch back once the buffer is full.
    handle: ReflectHandle<K>,
    // Whether the cache has had its first full list. kube-runtime's own signal
    // (`Store::wait_until_ready`) wakes only one of several waiters, and the controller of the
    // kind is already one.
    synced: watch::Sender<bool>,
}

/// Errors setting up a feed.
#[derive(Debug, thiserror::Error)]
#[error("the shared watch of {0} cannot be subscribed to")]
pub struct FeedError(String);

impl<K: Fed> Feed<K> {
    /// A feed of every object of kind `K`, not started yet.
    pub fn new(client: &Client) -> Result<Self, FeedError> {
        let writer = reflector::store::Writer::new_shared(BUFFER, ());
        let handle = writer
            .subscribe()
            .ok_or_else(|| FeedError(K::kind(&()).into_owned()))?;
        Ok(Feed {
            api: Api::all(client.clone()),
            writer,
            handle,
            synced: watch::Sender::new(false),
        })
    }

    /// The cache the watch fills.
    pub fn store(&self) -> Store<K> {
        self.writer.as_reader()
    }

    /// Turns true once the cache has had its first full list.
    pub fn synced(&self) -> watch::Receiver<bool> {
        self.synced.subscribe()
    }

    /// A stream of the objects the watch changed, each after the cache has it. Every
    /// subscription must be read; take them all before [`Feed::start`].
    pub fn subscribe(&self) -> ReflectHandle<K> {
        self.handle.clone()
    }

    /// The watch, to be run as a task: it fills the cache and feeds the subscribers until the
    /// process ends, retrying with backoff after errors.
    pub fn start(self) -> impl Future<Output = ()> + Send + 'static {
        let Feed {
            api,
            writer,
            handle,
            synced,
        } = self;
        drop(handle);
        async move {
            let stream = watcher::watcher(api, watcher::Config::default())
                .default_backoff()
                .reflect_shared(writer);
            futures::pin_mut!(stream);
            while let Some(event) = stream.next().await {
                match event {
                    Ok(watcher::Event::InitDone) => {
                        synced.send_replace(true);
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(kind = %K::kind(&()), error = %e, "watch error"),
                }
            }
        }
    }
}

/// The feed of every kind the operator reads.
pub struct Feeds {
    /// Tenants.
    pub tenants: Feed<Tenant>,
    /// Maintenance windows.
    pub windows: Feed<MaintenanceWindow>,
    /// VirtualServers.
    pub servers: Feed<VirtualServer>,
    /// BlockVolumes.
    pub volumes: Feed<BlockVolume>,
    /// LoadBalancers.
    pub load_balancers: Feed<LoadBalancer>,
    /// WafInstances.
    pub wafs: Feed<WafInstance>,
    /// IntrusionPreventions.
    pub intrusion_preventions: Feed<IntrusionPrevention>,
    /// SmtpRelays.
    pub smtp_relays: Feed<SmtpRelay>,
    /// BackupPolicies.
    pub backups: Feed<BackupPolicy>,
    /// ServerSnapshots.
    pub snapshots: Feed<ServerSnapshot>,
    /// ServerRestores.
    pub restores: Feed<ServerRestore>,
}

impl Feeds {
    /// A feed of every kind, none started.
    pub fn new(client: &Client) -> Result<Self, FeedError> {
        Ok(Feeds {
            tenants: Feed::new(client)?,
            windows: Feed::new(client)?,
            servers: Feed::new(client)?,
            volumes: Feed::new(client)?,
            load_balancers: Feed::new(client)?,
            wafs: Feed::new(client)?,
            intrusion_preventions: Feed::new(client)?,
            smtp_relays: Feed::new(client)?,
            backups: Feed::new(client)?,
            snapshots: Feed::new(client)?,
            restores: Feed::new(client)?,
        })
    }

    /// The caches of every feed.
    pub fn stores(&self) -> Stores {
        Stores {
            tenants: self.tenants.store(),
            windows: self.windows.store(),
            servers: self.servers.store(),
            volumes: self.volumes.store(),
            load_balancers: self.load_balancers.store(),
            wafs: self.wafs.store(),
            intrusion_preventions: self.intrusion_preventions.store(),
            smtp_relays: self.smtp_relays.store(),
            backups: self.backups.store(),
            snapshots: self.snapshots.store(),
            restores: self.restores.store(),
        }
    }

    /// Resolves once every cache has had its first full list.
    pub fn synced(&self) -> impl Future<Output = ()> + Send + 'static {
        let all = [
            self.tenants.synced(),
            self.windows.synced(),
            self.servers.synced(),
            self.volumes.synced(),
            self.load_balancers.synced(),
            self.wafs.synced(),
            self.intrusion_preventions.synced(),
            self.smtp_relays.synced(),
            self.backups.synced(),
            self.snapshots.synced(),
            self.restores.synced(),
        ];
        async move {
            for mut synced in all {
                // An error means the watch is gone, which only happens at shutdown.
                let _ = synced.wait_for(|s| *s).await;
            }
        }
    }

    /// Starts every watch on `tasks`, once the controllers have taken their subscriptions.
    pub fn start(self, tasks: &mut tokio::task::JoinSet<()>) {
        tasks.spawn(self.tenants.start());
        tasks.spawn(self.windows.start());
        tasks.spawn(self.servers.start());
        tasks.spawn(self.volumes.start());
        tasks.spawn(self.load_balancers.start());
        tasks.spawn(self.wafs.start());
        tasks.spawn(self.intrusion_preventions.start());
        tasks.spawn(self.smtp_relays.start());
        tasks.spawn(self.backups.start());
        tasks.spawn(self.snapshots.start());
        tasks.spawn(self.restores.start());
    }
}
