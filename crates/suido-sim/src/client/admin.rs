//! `SimAdmin`: the client of the simulator's admin endpoints, which Rust tests and
//! `suido sim admin` use to change the platform behind Suido's back.

use std::time::Duration;

use http::Method;
use suido_provider::{BackupJob, FailureLayer, Ips, ProviderResult, ServerHealth, SmtpRelay, Waf};

use super::{DEFAULT_TIMEOUT, Http, seg};
use crate::faults::FaultSettings;
use crate::wire::{
    AdvanceClockRequest, ClockState, FailHostRequest, FailRunsRequest, IpsTraffic, SmtpTraffic,
    WafTraffic,
};

/// Client of the simulator's admin endpoints (never subject to injected faults).
#[derive(Clone, Debug)]
pub struct SimAdmin {
    http: Http,
}

impl SimAdmin {
    /// A client of the simulator at `base_url`.
    pub fn new(base_url: &str) -> ProviderResult<Self> {
        Ok(SimAdmin {
            http: Http::new(base_url, DEFAULT_TIMEOUT)?,
        })
    }

    /// The fault settings in force.
    pub async fn faults(&self) -> ProviderResult<FaultSettings> {
        self.http.get("/admin/faults").await
    }

    /// Replaces the fault settings (and restarts the generator from their seed).
    pub async fn set_faults(&self, settings: &FaultSettings) -> ProviderResult<FaultSettings> {
        self.http
            .call(Method::PUT, "/admin/faults", Some(settings))
            .await
    }

    /// Removes every fault.
    pub async fn clear_faults(&self) -> ProviderResult<FaultSettings> {
        self.http
            .call(Method::DELETE, "/admin/faults", None::<&()>)
            .await
    }

    /// Takes a server down for `duration`, as a failure of `layer`.
    pub async fn fail_host(
        &self,
        server_id: &str,
        duration: Duration,
        layer: FailureLayer,
    ) -> ProviderResult<ServerHealth> {
        let req = FailHostRequest {
            server_id: server_id.to_string(),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            layer,
        };
        self.http.post("/admin/fail-host", &req).await
    }

    /// A raw GET of a list endpoint, as JSON: `servers`, `volumes`, `operations`, or a family
    /// (`load-balancers`, `wafs`, `ips`, `smtp-relays`, `backup-jobs`, `snapshots`, `restores`).
    pub async fn list(&self, what: &str) -> ProviderResult<serde_json::Value> {
        self.http.get(&format!("/v1/{}", seg(what))).await
    }

    /// Removes a resource at once, as a platform operator deleting it on the console would:
    /// `what` is `servers`, `volumes` or a family as in [`SimAdmin::list`]. Operations running
    /// on it fail with `notFound`.
    pub async fn delete(&self, what: &str, id: &str) -> ProviderResult<()> {
        let path = format!("/admin/{}/{}", seg(what), seg(id));
        self.http
            .call::<serde_json::Value>(Method::DELETE, &path, None::<&()>)
            .await
            .map(|_| ())
    }

    /// Adds requests to a WAF's counters.
    pub async fn waf_traffic(&self, id: &str, inspected: u64, blocked: u64) -> ProviderResult<Waf> {
        let path = format!("/admin/wafs/{}/traffic", seg(id));
        let body = WafTraffic { inspected, blocked };
        self.http.post(&path, &body).await
    }

    /// Adds events to an IDS/IPS's counters.
    pub async fn ips_traffic(&self, id: &str, alerts: u64, drops: u64) -> ProviderResult<Ips> {
        let path = format!("/admin/ips/{}/traffic", seg(id));
        self.http.post(&path, &IpsTraffic { alerts, drops }).await
    }

    /// Adds messages to an SMTP relay's counters.
    pub async fn smtp_traffic(
        &self,
        id: &str,
        accepted: u64,
        rejected: u64,
    ) -> ProviderResult<SmtpRelay> {
        let path = format!("/admin/smtp-relays/{}/traffic", seg(id));
        let body = SmtpTraffic { accepted, rejected };
        self.http.post(&path, &body).await
    }

    /// Makes the next `runs` runs of a backup job fail (0 ends that).
    pub async fn fail_backup_runs(&self, id: &str, runs: u32) -> ProviderResult<BackupJob> {
        let path = format!("/admin/backup-jobs/{}/fail-runs", seg(id));
        self.http.post(&path, &FailRunsRequest { runs }).await
    }

    /// The platform's clock.
    pub async fn clock(&self) -> ProviderResult<ClockState> {
        self.http.get("/admin/clock").await
    }

    /// Moves the platform's clock ahead by `by` (kept across restarts). Operations and backup
    /// runs that fall due are carried out before the answer.
    pub async fn advance_clock(&self, by: Duration) -> ProviderResult<ClockState> {
        let req = AdvanceClockRequest {
            advance_ms: u64::try_from(by.as_millis()).unwrap_or(u64::MAX),
        };
        self.http.post("/admin/clock", &req).await
    }
}
