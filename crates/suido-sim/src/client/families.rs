//! The service-family traits of [`SimProvider`]: one set of routes per family
//! (`/v1/<family>`: POST create, GET list by tags, GET one, PUT update, DELETE).

use async_trait::async_trait;
use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use suido_provider::{
    BackupJob, BackupJobSpec, BackupProvider, ClientToken, IntrusionPreventionProvider, Ips,
    IpsSpec, LoadBalancer, LoadBalancerProvider, LoadBalancerSpec, Operation, ProviderResult,
    Restore, RestoreProvider, RestoreSpec, SmtpRelay, SmtpRelayProvider, SmtpRelaySpec, Snapshot,
    SnapshotProvider, SnapshotSpec, Tags, Waf, WafProvider, WafSpec,
};

use super::{SimProvider, seg, tag_query};
use crate::wire::{CreateRequest, List, UpdateRequest};

const LOAD_BALANCERS: &str = "load-balancers";
const WAFS: &str = "wafs";
const IPS: &str = "ips";
const SMTP_RELAYS: &str = "smtp-relays";
const BACKUP_JOBS: &str = "backup-jobs";
const SNAPSHOTS: &str = "snapshots";
const RESTORES: &str = "restores";

impl SimProvider {
    async fn create_in<S: Serialize + Clone + Sync>(
        &self,
        family: &str,
        token: &ClientToken,
        tags: &Tags,
        spec: &S,
    ) -> ProviderResult<Operation> {
        let req = CreateRequest {
            client_token: token.clone(),
            tags: tags.clone(),
            spec: spec.clone(),
        };
        self.http.post(&format!("/v1/{family}"), &req).await
    }

    async fn get_in<T: DeserializeOwned>(&self, family: &str, id: &str) -> ProviderResult<T> {
        self.http.get(&format!("/v1/{family}/{}", seg(id))).await
    }

    async fn list_in<T: DeserializeOwned>(
        &self,
        family: &str,
        selector: &Tags,
    ) -> ProviderResult<Vec<T>> {
        let path = format!("/v1/{family}{}", tag_query(selector));
        Ok(self.http.get::<List<T>>(&path).await?.items)
    }

    async fn update_in<S: Serialize + Clone + Sync>(
        &self,
        family: &str,
        id: &str,
        spec: &S,
    ) -> ProviderResult<Operation> {
        let path = format!("/v1/{family}/{}", seg(id));
        let req = UpdateRequest { spec: spec.clone() };
        self.http.call(Method::PUT, &path, Some(&req)).await
    }

    async fn delete_in(&self, family: &str, id: &str) -> ProviderResult<Operation> {
        let path = format!("/v1/{family}/{}", seg(id));
        self.http.call(Method::DELETE, &path, None::<&()>).await
    }
}

#[async_trait]
impl LoadBalancerProvider for SimProvider {
    async fn create_load_balancer(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &LoadBalancerSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(LOAD_BALANCERS, token, tags, spec).await
    }

    async fn get_load_balancer(&self, id: &str) -> ProviderResult<LoadBalancer> {
        self.get_in(LOAD_BALANCERS, id).await
    }

    async fn list_load_balancers(&self, selector: &Tags) -> ProviderResult<Vec<LoadBalancer>> {
        self.list_in(LOAD_BALANCERS, selector).await
    }

    async fn update_load_balancer(
        &self,
        id: &str,
        spec: &LoadBalancerSpec,
    ) -> ProviderResult<Operation> {
        self.update_in(LOAD_BALANCERS, id, spec).await
    }

    async fn delete_load_balancer(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(LOAD_BALANCERS, id).await
    }
}

#[async_trait]
impl WafProvider for SimProvider {
    async fn create_waf(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &WafSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(WAFS, token, tags, spec).await
    }

    async fn get_waf(&self, id: &str) -> ProviderResult<Waf> {
        self.get_in(WAFS, id).await
    }

    async fn list_wafs(&self, selector: &Tags) -> ProviderResult<Vec<Waf>> {
        self.list_in(WAFS, selector).await
    }

    async fn update_waf(&self, id: &str, spec: &WafSpec) -> ProviderResult<Operation> {
        self.update_in(WAFS, id, spec).await
    }

    async fn delete_waf(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(WAFS, id).await
    }
}

#[async_trait]
impl IntrusionPreventionProvider for SimProvider {
    async fn create_ips(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &IpsSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(IPS, token, tags, spec).await
    }

    async fn get_ips(&self, id: &str) -> ProviderResult<Ips> {
        self.get_in(IPS, id).await
    }

    async fn list_ips(&self, selector: &Tags) -> ProviderResult<Vec<Ips>> {
        self.list_in(IPS, selector).await
    }

    async fn update_ips(&self, id: &str, spec: &IpsSpec) -> ProviderResult<Operation> {
        self.update_in(IPS, id, spec).await
    }

    async fn delete_ips(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(IPS, id).await
    }
}

#[async_trait]
impl SmtpRelayProvider for SimProvider {
    async fn create_smtp_relay(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &SmtpRelaySpec,
    ) -> ProviderResult<Operation> {
        self.create_in(SMTP_RELAYS, token, tags, spec).await
    }

    async fn get_smtp_relay(&self, id: &str) -> ProviderResult<SmtpRelay> {
        self.get_in(SMTP_RELAYS, id).await
    }

    async fn list_smtp_relays(&self, selector: &Tags) -> ProviderResult<Vec<SmtpRelay>> {
        self.list_in(SMTP_RELAYS, selector).await
    }

    async fn update_smtp_relay(&self, id: &str, spec: &SmtpRelaySpec) -> ProviderResult<Operation> {
        self.update_in(SMTP_RELAYS, id, spec).await
    }

    async fn delete_smtp_relay(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(SMTP_RELAYS, id).await
    }
}

#[async_trait]
impl BackupProvider for SimProvider {
    async fn create_backup_job(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &BackupJobSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(BACKUP_JOBS, token, tags, spec).await
    }

    async fn get_backup_job(&self, id: &str) -> ProviderResult<BackupJob> {
        self.get_in(BACKUP_JOBS, id).await
    }

    async fn list_backup_jobs(&self, selector: &Tags) -> ProviderResult<Vec<BackupJob>> {
        self.list_in(BACKUP_JOBS, selector).await
    }

    async fn update_backup_job(&self, id: &str, spec: &BackupJobSpec) -> ProviderResult<Operation> {
        self.update_in(BACKUP_JOBS, id, spec).await
    }

    async fn delete_backup_job(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(BACKUP_JOBS, id).await
    }
}

#[async_trait]
impl SnapshotProvider for SimProvider {
    async fn create_snapshot(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &SnapshotSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(SNAPSHOTS, token, tags, spec).await
    }

    async fn get_snapshot(&self, id: &str) -> ProviderResult<Snapshot> {
        self.get_in(SNAPSHOTS, id).await
    }

    async fn list_snapshots(&self, selector: &Tags) -> ProviderResult<Vec<Snapshot>> {
        self.list_in(SNAPSHOTS, selector).await
    }

    async fn delete_snapshot(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(SNAPSHOTS, id).await
    }
}

#[async_trait]
impl RestoreProvider for SimProvider {
    async fn create_restore(
        &self,
        token: &ClientToken,
        tags: &Tags,
        spec: &RestoreSpec,
    ) -> ProviderResult<Operation> {
        self.create_in(RESTORES, token, tags, spec).await
    }

    async fn get_restore(&self, id: &str) -> ProviderResult<Restore> {
        self.get_in(RESTORES, id).await
    }

    async fn list_restores(&self, selector: &Tags) -> ProviderResult<Vec<Restore>> {
        self.list_in(RESTORES, selector).await
    }

    async fn delete_restore(&self, id: &str) -> ProviderResult<Operation> {
        self.delete_in(RESTORES, id).await
    }
}
