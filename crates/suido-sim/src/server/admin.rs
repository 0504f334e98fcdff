//! The `/admin` endpoints, never subject to injected faults: fault settings, host failures,
//! deletes behind the API's back, traffic counters, backup failures and the platform's clock.

use http::{Method, StatusCode};
use suido_provider::ProviderError;

use super::{Reply, Shared, lock, ok, parse};
use crate::faults::FaultSettings;
use crate::wire::{
    AdvanceClockRequest, ClockState, FailHostRequest, FailRunsRequest, IpsTraffic, SmtpTraffic,
    WafTraffic,
};
use crate::world::{Traffic, World};

fn clock(world: &World) -> ClockState {
    ClockState {
        now: world.now(),
        offset_ms: world.clock_offset_ms,
    }
}

pub(super) fn admin(shared: &Shared, method: &Method, segs: &[&str], body: &[u8]) -> Reply {
    match (method, segs) {
        (&Method::GET, ["faults"]) => ok(StatusCode::OK, &lock(&shared.faults).settings),
        (&Method::PUT, ["faults"]) => {
            let settings: FaultSettings = parse(body)?;
            shared.set_faults(settings.clone())?;
            ok(StatusCode::OK, &settings)
        }
        (&Method::DELETE, ["faults"]) => {
            shared.set_faults(FaultSettings::default())?;
            ok(StatusCode::OK, &FaultSettings::default())
        }
        (&Method::POST, ["fail-host"]) => {
            let req: FailHostRequest = parse(body)?;
            let health =
                shared.mutate(|tx| tx.fail_host(&req.server_id, req.layer, req.duration_ms))?;
            ok(StatusCode::OK, &health)
        }
        (&Method::POST, [what @ ("wafs" | "ips" | "smtp-relays"), id, "traffic"]) => {
            let traffic = match *what {
                "wafs" => {
                    let t: WafTraffic = parse(body)?;
                    Traffic::Waf {
                        inspected: t.inspected,
                        blocked: t.blocked,
                    }
                }
                "ips" => {
                    let t: IpsTraffic = parse(body)?;
                    Traffic::Ips {
                        alerts: t.alerts,
                        drops: t.drops,
                    }
                }
                _ => {
                    let t: SmtpTraffic = parse(body)?;
                    Traffic::Smtp {
                        accepted: t.accepted,
                        rejected: t.rejected,
                    }
                }
            };
            ok(
                StatusCode::OK,
                &shared.mutate(|tx| tx.add_traffic(id, traffic))?,
            )
        }
        (&Method::POST, ["backup-jobs", id, "fail-runs"]) => {
            let req: FailRunsRequest = parse(body)?;
            ok(
                StatusCode::OK,
                &shared.mutate(|tx| tx.fail_backup_runs(id, req.runs))?,
            )
        }
        (&Method::DELETE, [what, id]) => {
            shared.mutate(|tx| tx.admin_delete(what, id))?;
            ok(StatusCode::OK, &serde_json::json!({"deleted": id}))
        }
        (&Method::GET, ["clock"]) => ok(StatusCode::OK, &shared.read(clock)),
        (&Method::POST, ["clock"]) => {
            let req: AdvanceClockRequest = parse(body)?;
            shared.mutate(|tx| {
                tx.advance_clock(req.advance_ms);
                Ok(())
            })?;
            // Catch up at once at the new time, so that the answer already shows its effects.
            shared.mutate(|tx| Ok(tx.tick()))?;
            ok(StatusCode::OK, &shared.read(clock))
        }
        _ => Err(ProviderError::not_found(format!(
            "no route for {method} /admin/{}",
            segs.join("/")
        ))),
    }
}
