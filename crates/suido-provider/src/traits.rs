//! The provider traits. Object safe through `async-trait`, so controllers can hold
//! `Arc<dyn ComputeProvider>` and friends.
//!
//! Mutating calls return an [`Operation`] at once; the work finishes later and is followed with
//! [`Operations::get_operation`]. Policy (vendor-only features, when a stop is allowed) is the
//! controllers' business; providers only report what the platform says.

use async_trait::async_trait;

use crate::error::ProviderResult;
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

/// Everything a platform offers, for callers that want one handle (`Arc<dyn Platform>`).
pub trait Platform: ComputeProvider + BlockStorageProvider + HealthProvider {}

impl<T: ComputeProvider + BlockStorageProvider + HealthProvider> Platform for T {}

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
    }
}
