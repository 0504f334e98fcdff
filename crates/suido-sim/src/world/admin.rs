//! Changes behind the platform API's back, as a platform operator makes them on the console:
//! deleting a resource at once, traffic on the WAF, IDS/IPS and SMTP relay counters, and the
//! platform's clock.

use suido_provider::{ProviderError, ProviderResult};

use super::family::{Family, with_kind};
use super::{IpsFamily, SmtpFamily, Tx, WafFamily};
use crate::store::Key;

/// Traffic to add to a resource's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Traffic {
    /// WAF requests.
    Waf { inspected: u64, blocked: u64 },
    /// IDS/IPS events.
    Ips { alerts: u64, drops: u64 },
    /// SMTP relay messages.
    Smtp { accepted: u64, rejected: u64 },
}

impl Tx<'_> {
    /// Removes a resource at once: `servers`, `volumes` or a family route (`load-balancers`,
    /// ...). Operations running on it fail with `notFound`.
    pub(crate) fn admin_delete(&mut self, what: &str, id: &str) -> ProviderResult<()> {
        match what {
            "servers" => {
                self.remove_server(id)?;
            }
            "volumes" => {
                let vol = self.world.volume(id)?.clone();
                if let Some(server) = &vol.attached_to
                    && let Ok(rec) = self.server_mut(server)
                {
                    rec.server.volumes.retain(|v| v != id);
                }
                self.world.volumes.remove(id);
                self.dirty.insert(Key::Volume(id.to_string()));
            }
            other => {
                let family = Family::from_route(other).ok_or_else(|| {
                    ProviderError::not_found(format!(
                        "no such kind of resource `{other}`; use servers, volumes, {}",
                        Family::ALL.map(Family::route).join(", ")
                    ))
                })?;
                with_kind!(family, K => self.remove::<K>(id).map(|_| ()))?;
            }
        }
        self.fail_ops_on(id, &format!("{id} was deleted by the platform operator"));
        tracing::info!(kind = what, id, "deleted behind the API's back");
        Ok(())
    }

    /// Adds traffic to a WAF's, IDS/IPS's or SMTP relay's counters; returns the resource.
    pub(crate) fn add_traffic(
        &mut self,
        id: &str,
        traffic: Traffic,
    ) -> ProviderResult<serde_json::Value> {
        let to_json = |v: serde_json::Result<serde_json::Value>| {
            v.map_err(|e| ProviderError::transient(format!("encoding the answer: {e}")))
        };
        match traffic {
            Traffic::Waf { inspected, blocked } => {
                let waf = self.record_mut::<WafFamily>(id)?;
                waf.requests_inspected = waf.requests_inspected.saturating_add(inspected);
                waf.requests_blocked = waf.requests_blocked.saturating_add(blocked);
                to_json(serde_json::to_value(&*waf))
            }
            Traffic::Ips { alerts, drops } => {
                let ips = self.record_mut::<IpsFamily>(id)?;
                ips.alerts = ips.alerts.saturating_add(alerts);
                ips.drops = ips.drops.saturating_add(drops);
                to_json(serde_json::to_value(&*ips))
            }
            Traffic::Smtp { accepted, rejected } => {
                let relay = self.record_mut::<SmtpFamily>(id)?;
                relay.accepted = relay.accepted.saturating_add(accepted);
                relay.rejected = relay.rejected.saturating_add(rejected);
                to_json(serde_json::to_value(&*relay))
            }
        }
    }

    /// Moves the platform's clock `ms` milliseconds ahead (kept across restarts).
    pub(crate) fn advance_clock(&mut self, ms: u64) {
        let ms = i64::try_from(ms).unwrap_or(i64::MAX);
        self.world.clock_offset_ms = self.world.clock_offset_ms.saturating_add(ms);
        self.dirty.insert(Key::ClockOffset);
        tracing::info!(
            offset_ms = self.world.clock_offset_ms,
            "platform clock moved ahead"
        );
    }
}

#[cfg(test)]
mod tests {
    use suido_provider::{
        BackupJobSpec, BackupModeKind, BackupScopeKind, OperationState, Tags, VolumePlan,
        VolumeSpec, VolumeState, WafPlan, WafSpec,
    };

    use super::*;
    use crate::world::testkit::{instant, server_spec, t0, token};
    use crate::world::{BackupFamily, World};

    #[test]
    fn an_admin_delete_removes_at_once_and_fails_what_ran_on_it() -> ProviderResult<()> {
        let mut rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let srv = tx
            .create_server(token("s"), Tags::new(), server_spec("1CPU-2GB"))?
            .0
            .resource_id;
        let vol = tx
            .create_volume(
                token("v"),
                Tags::new(),
                VolumeSpec {
                    name: "v".into(),
                    plan: VolumePlan::Iops2PerGb,
                    size_gb: 100,
                },
            )?
            .0
            .resource_id;
        tx.attach_volume(&vol, &srv)?;
        rules.service_durations.service_ms = 5000;
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let job = tx.create::<BackupFamily>(
            token("j"),
            Tags::new(),
            BackupJobSpec {
                name: "j".into(),
                server_id: srv.clone(),
                scope: BackupScopeKind::Image,
                schedule: "0 2 * * *".into(),
                time_zone: "Asia/Tokyo".into(),
                generations: 3,
                mode: BackupModeKind::Full,
                merge_schedule: None,
            },
        )?;
        tx.admin_delete("backup-jobs", &job.0.resource_id)?;
        tx.admin_delete("servers", &srv)?;
        assert!(world.backup_jobs.is_empty() && world.servers.is_empty());
        assert!(matches!(
            world.operation(&job.0.id)?.state,
            OperationState::Failed { .. }
        ));
        let v = world.volume(&vol)?;
        assert_eq!(
            (v.state, v.attached_to.clone()),
            (VolumeState::Available, None)
        );
        let mut tx = Tx::new(&mut world, t0(), &rules);
        assert_eq!(
            tx.admin_delete("gizmos", "x").err().map(|e| e.label()),
            Some("not_found")
        );
        assert_eq!(
            tx.admin_delete("wafs", "waf-1").err().map(|e| e.label()),
            Some("not_found")
        );
        Ok(())
    }

    #[test]
    fn traffic_adds_to_the_counters() -> ProviderResult<()> {
        let rules = instant();
        let mut world = World::default();
        let mut tx = Tx::new(&mut world, t0(), &rules);
        let waf = tx
            .create::<WafFamily>(
                token("w"),
                Tags::new(),
                WafSpec {
                    name: "w".into(),
                    plan: WafPlan::Cpu2Mem4,
                    functions: Default::default(),
                    targets: Vec::new(),
                },
            )?
            .0
            .resource_id;
        let traffic = Traffic::Waf {
            inspected: 10,
            blocked: 2,
        };
        tx.add_traffic(&waf, traffic)?;
        let shown = tx.add_traffic(&waf, traffic)?;
        assert_eq!(shown["requestsInspected"], 20);
        assert_eq!(shown["requestsBlocked"], 4);
        let wrong = Traffic::Ips {
            alerts: 1,
            drops: 1,
        };
        assert_eq!(
            tx.add_traffic(&waf, wrong).err().map(|e| e.label()),
            Some("not_found")
        );
        Ok(())
    }
}
