//! The provider traits. Object safe through `async-trait`, so controllers can hold
//! `Arc<dyn ComputeProvider>` and friends.
//!
//! Mutating calls return an [`Operation`] at once; the work finishes later and is followed with
//! [`Operations::get_operation`]. Policy (vendor-only features, when a stop is allowed) is the
//! controllers' business; providers only report what the platform says.
//!
//! The service families (load balancers, WAF, IDS/IPS, SMTP relays, backup jobs, snapshots,
//! restores) follow one pattern: `create_*` is idempotent by client token like
//! [`ComputeProvider::create_server`], `list_*` returns the resources carrying every pair of the
//! selector, `update_*` applies a whole new spec, and `delete_*` of a resource already being
//! deleted returns the delete in progress.

use async_trait::async_trait;

use crate::error::ProviderResult;
use crate::network::{
    Ips, IpsSpec, LoadBalancer, LoadBalancerSpec, SmtpRelay, SmtpRelaySpec, Waf, WafSpec,
};
use crate::protection::{BackupJob, BackupJobSpec, Restore, RestoreSpec, Snapshot, SnapshotSpec};
use crate::types::{
    ClientToken, ConsoleAccess, DiskSpec, MonitoringSettings, Operation, Server, ServerHealth,
    ServerSize, ServerSpec, Tags, Volume, VolumeSpec,
};

/// Following long-running operations.
#[async_trait]
pub trait Operations: Send + Sync {
    /// The current state of an operation, by the id a mutating call returned (also one returned
    /// before a restart of the caller).
    async fn get_operation(&self, id: &str) -> ProviderResult<Operation>;
}

/// Virtual servers.
#[async_trait]
pub trait ComputeProvider: Operations {
    /// Orders a server. Idempotent by `token`: calling again with the same token (and the same
    /// tags and spec) returns the first call's operation, whose `resource_id` is the server; the
    /// same token with a different request is a conflict.
    async fn create_server(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &ServerSpec,
    ) -> ProviderResult<Operation>;

    /// One server.
    async fn get_server(&self, id: &str) -> ProviderResult<Server>;

    /// The servers carrying every pair of `selector` (all servers when it is empty).
    async fn list_servers(&self, selector: &Tags) -> ProviderResult<Vec<Server>>;

    /// Powers a stopped server on.
    async fn start_server(&self, id: &str) -> ProviderResult<Operation>;

    /// Powers a running server off.
    async fn stop_server(&self, id: &str) -> ProviderResult<Operation>;

    /// Changes the size of a server; the platform requires it stopped.
    async fn resize_server(&self, id: &str, size: ServerSize) -> ProviderResult<Operation>;

    /// Adds an additional disk; the platform requires the server stopped.
    async fn attach_disk(&self, id: &str, disk: &DiskSpec) -> ProviderResult<Operation>;

    /// Enlarges an additional disk (never shrinks); the platform requires the server stopped.
    async fn grow_disk(&self, id: &str, disk_name: &str, size_gb: u32)
    -> ProviderResult<Operation>;

    /// Removes an additional disk; the platform requires the server stopped.
    async fn detach_disk(&self, id: &str, disk_name: &str) -> ProviderResult<Operation>;

    /// Deletes a server (its block volumes are detached, not deleted). Deleting a server that is
    /// already being deleted returns the delete in progress.
    async fn delete_server(&self, id: &str) -> ProviderResult<Operation>;

    /// Opens a console session (the management screen). That only vendor tenants may use it is
    /// enforced by controllers.
    async fn console(&self, id: &str) -> ProviderResult<ConsoleAccess>;

    /// Replaces the server's monitoring settings.
    async fn set_monitoring(&self, id: &str, settings: &MonitoringSettings) -> ProviderResult<()>;
}

/// Block storage volumes.
#[async_trait]
pub trait BlockStorageProvider: Operations {
    /// Creates a volume. Idempotent by `token`, like [`ComputeProvider::create_server`].
    async fn create_volume(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &VolumeSpec,
    ) -> ProviderResult<Operation>;

    /// One volume.
    async fn get_volume(&self, id: &str) -> ProviderResult<Volume>;

    /// The volumes carrying every pair of `selector` (all volumes when it is empty).
    async fn list_volumes(&self, selector: &Tags) -> ProviderResult<Vec<Volume>>;

    /// Deletes a detached volume.
    async fn delete_volume(&self, id: &str) -> ProviderResult<Operation>;

    /// Enlarges a volume to a bigger size from the menu.
    async fn grow_volume(&self, id: &str, size_gb: u32) -> ProviderResult<Operation>;

    /// Attaches a volume to a server.
    async fn attach_volume(&self, id: &str, server_id: &str) -> ProviderResult<Operation>;

    /// Detaches a volume from its server.
    async fn detach_volume(&self, id: &str) -> ProviderResult<Operation>;
}

/// Server health as the platform's monitoring sees it.
#[async_trait]
pub trait HealthProvider: Send + Sync {
    /// Whether the server is up and, when it is down, which layer failed.
    async fn server_health(&self, id: &str) -> ProviderResult<ServerHealth>;
}

/// Load balancers (service 12).
#[async_trait]
pub trait LoadBalancerProvider: Operations {
    /// Builds a load balancer. Idempotent by `token`. The platform refuses a VRRP group id
    /// already used on the segment and backends that do not exist.
    async fn create_load_balancer(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &LoadBalancerSpec,
    ) -> ProviderResult<Operation>;

    /// One load balancer, with the health of its backends as of now.
    async fn get_load_balancer(&self, id: &str) -> ProviderResult<LoadBalancer>;

    /// The load balancers carrying every pair of `selector`.
    async fn list_load_balancers(&self, selector: &Tags) -> ProviderResult<Vec<LoadBalancer>>;

    /// Applies a whole new spec.
    async fn update_load_balancer(
        &self,
        id: &str,
        spec: &LoadBalancerSpec,
    ) -> ProviderResult<Operation>;

    /// Deletes a load balancer.
    async fn delete_load_balancer(&self, id: &str) -> ProviderResult<Operation>;
}

/// WAF instances (service 6).
#[async_trait]
pub trait WafProvider: Operations {
    /// Builds a WAF. Idempotent by `token`.
    async fn create_waf(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &WafSpec,
    ) -> ProviderResult<Operation>;

    /// One WAF, with its counters.
    async fn get_waf(&self, id: &str) -> ProviderResult<Waf>;

    /// The WAFs carrying every pair of `selector`.
    async fn list_wafs(&self, selector: &Tags) -> ProviderResult<Vec<Waf>>;

    /// Applies a whole new spec.
    async fn update_waf(&self, id: &str, spec: &WafSpec) -> ProviderResult<Operation>;

    /// Deletes a WAF.
    async fn delete_waf(&self, id: &str) -> ProviderResult<Operation>;
}

/// IDS/IPS (service 15).
#[async_trait]
pub trait IntrusionPreventionProvider: Operations {
    /// Builds an IDS/IPS. Idempotent by `token`.
    async fn create_ips(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &IpsSpec,
    ) -> ProviderResult<Operation>;

    /// One IDS/IPS, with its counters.
    async fn get_ips(&self, id: &str) -> ProviderResult<Ips>;

    /// The IDS/IPS carrying every pair of `selector`.
    async fn list_ips(&self, selector: &Tags) -> ProviderResult<Vec<Ips>>;

    /// Applies a whole new spec.
    async fn update_ips(&self, id: &str, spec: &IpsSpec) -> ProviderResult<Operation>;

    /// Deletes an IDS/IPS.
    async fn delete_ips(&self, id: &str) -> ProviderResult<Operation>;
}

/// Outbound SMTP relays (service 14).
#[async_trait]
pub trait SmtpRelayProvider: Operations {
    /// Sets up a relay. Idempotent by `token`.
    async fn create_smtp_relay(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &SmtpRelaySpec,
    ) -> ProviderResult<Operation>;

    /// One relay, with its endpoint and counters.
    async fn get_smtp_relay(&self, id: &str) -> ProviderResult<SmtpRelay>;

    /// The relays carrying every pair of `selector`.
    async fn list_smtp_relays(&self, selector: &Tags) -> ProviderResult<Vec<SmtpRelay>>;

    /// Applies a whole new spec.
    async fn update_smtp_relay(&self, id: &str, spec: &SmtpRelaySpec) -> ProviderResult<Operation>;

    /// Deletes a relay.
    async fn delete_smtp_relay(&self, id: &str) -> ProviderResult<Operation>;
}

/// Image backup jobs (service 5, ArcserveUDP). The platform runs them on their schedule.
#[async_trait]
pub trait BackupProvider: Operations {
    /// Registers a backup job. Idempotent by `token`.
    async fn create_backup_job(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &BackupJobSpec,
    ) -> ProviderResult<Operation>;

    /// One job, with its recovery points and last failures.
    async fn get_backup_job(&self, id: &str) -> ProviderResult<BackupJob>;

    /// The jobs carrying every pair of `selector`.
    async fn list_backup_jobs(&self, selector: &Tags) -> ProviderResult<Vec<BackupJob>>;

    /// Applies new settings; the recovery points are kept (and trimmed to the new generations).
    async fn update_backup_job(&self, id: &str, spec: &BackupJobSpec) -> ProviderResult<Operation>;

    /// Deletes a job and its recovery points.
    async fn delete_backup_job(&self, id: &str) -> ProviderResult<Operation>;
}

/// Snapshots of stopped servers (service 13). There is no update: take a new one.
#[async_trait]
pub trait SnapshotProvider: Operations {
    /// Takes a snapshot. Idempotent by `token`. Refused with
    /// [`TerminalKind::FailedPrecondition`](crate::TerminalKind::FailedPrecondition) unless the
    /// server is stopped.
    async fn create_snapshot(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &SnapshotSpec,
    ) -> ProviderResult<Operation>;

    /// One snapshot.
    async fn get_snapshot(&self, id: &str) -> ProviderResult<Snapshot>;

    /// The snapshots carrying every pair of `selector`.
    async fn list_snapshots(&self, selector: &Tags) -> ProviderResult<Vec<Snapshot>>;

    /// Deletes a snapshot and its image.
    async fn delete_snapshot(&self, id: &str) -> ProviderResult<Operation>;
}

/// Data and system restores.
#[async_trait]
pub trait RestoreProvider: Operations {
    /// Starts a restore. Idempotent by `token`. A system restore deletes the server and builds
    /// a new one with its spec and tags; [`Restore::new_server_id`] names it.
    async fn create_restore(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &RestoreSpec,
    ) -> ProviderResult<Operation>;

    /// One restore.
    async fn get_restore(&self, id: &str) -> ProviderResult<Restore>;

    /// The restores carrying every pair of `selector`.
    async fn list_restores(&self, selector: &Tags) -> ProviderResult<Vec<Restore>>;

    /// Removes the record of a finished restore (a running one cannot be cancelled).
    async fn delete_restore(&self, id: &str) -> ProviderResult<Operation>;
}

/// Everything a platform offers, for callers that want one handle (`Arc<dyn Platform>`).
pub trait Platform:
    ComputeProvider
    + BlockStorageProvider
    + HealthProvider
    + LoadBalancerProvider
    + WafProvider
    + IntrusionPreventionProvider
    + SmtpRelayProvider
    + BackupProvider
    + SnapshotProvider
    + RestoreProvider
{
}

impl<T> Platform for T where
    T: ComputeProvider
        + BlockStorageProvider
        + HealthProvider
        + LoadBalancerProvider
        + WafProvider
        + IntrusionPreventionProvider
        + SmtpRelayProvider
        + BackupProvider
        + SnapshotProvider
        + RestoreProvider
{
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn traits_are_object_safe() {
        // Compiles only while every trait can be used as `dyn`.
        let compute: Option<Arc<dyn ComputeProvider>> = None;
        let storage: Option<Arc<dyn BlockStorageProvider>> = None;
        let health: Option<Arc<dyn HealthProvider>> = None;
        let platform: Option<Arc<dyn Platform>> = None;
        assert!(compute.is_none() && storage.is_none() && health.is_none() && platform.is_none());
        let lb: Option<Arc<dyn LoadBalancerProvider>> = None;
        let waf: Option<Arc<dyn WafProvider>> = None;
        let ips: Option<Arc<dyn IntrusionPreventionProvider>> = None;
        let smtp: Option<Arc<dyn SmtpRelayProvider>> = None;
        let backup: Option<Arc<dyn BackupProvider>> = None;
        let snapshot: Option<Arc<dyn SnapshotProvider>> = None;
        let restore: Option<Arc<dyn RestoreProvider>> = None;
        assert!(lb.is_none() && waf.is_none() && ips.is_none() && smtp.is_none());
        assert!(backup.is_none() && snapshot.is_none() && restore.is_none());
    }
}
