//! The MaintenanceWindow controller: the window's state from its times (Scheduled, Announced,
//! InProgress, Completed), the Tenants it affects, and an Event on each affected VirtualServer
//! when the window opens and when it closes. Changes held for a window
//! (`disruption: NextMaintenanceWindow`) are run by the VirtualServer controller, which
//! requeues itself for the window's start.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{MaintenanceState, MaintenanceWindow, MaintenanceWindowStatus, Tenant};
use tracing::{Instrument, info_span};

use crate::conditions::{self, Desired};
use crate::context::Context;
use crate::feeds::Feeds;

/// Controller name, used in metrics and logs.
pub const NAME: &str = "maintenancewindow";

crate::has_status!(MaintenanceWindow, MaintenanceWindowStatus, conditions);

/// A window's start, end and announcement, parsed.
struct Times {
    start: Timestamp,
    end: Timestamp,
    announced: Option<Timestamp>,
}

fn times(w: &MaintenanceWindow) -> Option<Times> {
    Some(Times {
        start: w.spec.start.parse().ok()?,
        end: w.spec.end.parse().ok()?,
        announced: match &w.spec.announced_at {
            Some(a) => Some(a.parse().ok()?),
            None => None,
        },
    })
}

/// Where the window is at `now`. Announced only when announced at or before the start.
pub fn state(w: &MaintenanceWindow, now: Timestamp) -> Option<MaintenanceState> {
    let t = times(w)?;
    Some(if now >= t.end {
        MaintenanceState::Completed
    } else if now >= t.start {
        MaintenanceState::InProgress
    } else if t.announced.is_some_and(|a| a <= t.start && a <= now) {
        MaintenanceState::Announced
    } else {
        MaintenanceState::Scheduled
    })
}

/// The Tenants the window affects, sorted: all of them, or those named that exist.
pub fn affected(w: &MaintenanceWindow, tenants: &[Arc<Tenant>]) -> Vec<String> {
    let mut names: Vec<String> = tenants
        .iter()
        .map(|t| t.name_any())
        .filter(|n| w.spec.scope.all_tenants || w.spec.scope.tenants.contains(n))
        .collect();
    names.sort();
    names
}

/// The window's status at `now`. Deterministic.
pub fn desired_status(
    w: &MaintenanceWindow,
    tenants: &[Arc<Tenant>],
    now: Timestamp,
) -> MaintenanceWindowStatus {
    let generation = w.metadata.generation;
    let mut status = w.status.clone().unwrap_or_default();
    status.observed_generation = generation;
    status.state = state(w, now);
    status.affected_tenants = affected(w, tenants);
    let ready = match status.state {
        None => Desired::new(
            cond::READY,
            false,
            reasons::INVALID_SPEC,
            "spec.start or spec.end is not an RFC 3339 time",
        ),
        Some(MaintenanceState::Completed) => {
            Desired::new(cond::READY, true, reasons::COMPLETED, "the window is over")
        }
        Some(MaintenanceState::InProgress) => Desired::new(
            cond::READY,
            true,
            reasons::IN_PROGRESS,
            "the window is open",
        ),
        Some(_) => Desired::new(
            cond::READY,
            true,
            reasons::SCHEDULED,
            "the window has not started",
        ),
    };
    conditions::set_all(&mut status.conditions, [ready], generation, now);
    status
}

/// How long until the window's next boundary (announcement, start or end) after `now`.
pub fn until_next_boundary(w: &MaintenanceWindow, now: Timestamp) -> Option<Duration> {
    let t = times(w)?;
    [t.announced, Some(t.start), Some(t.end)]
        .into_iter()
        .flatten()
        .filter(|b| *b > now)
        .min()
        .and_then(|b| Duration::try_from(b.duration_since(now)).ok())
}

/// Tells every VirtualServer of the affected Tenants that the window opened or closed.
async fn announce(ctx: &Context, w: &MaintenanceWindow, affected: &[String], opened: bool) {
    let tenants = ctx.stores.tenants.state();
    let namespaces: Vec<String> = tenants
        .iter()
        .filter(|t| affected.contains(&t.name_any()))
        .flat_map(|t| t.spec.namespaces.clone())
        .collect();
    let (reason, note) = if opened {
        (
            "MaintenanceStarted",
            format!(
                "maintenance window {} has started (until {}); the platform may stop this server",
                w.name_any(),
                w.spec.end
            ),
        )
    } else {
        (
            "MaintenanceEnded",
            format!("maintenance window {} has ended", w.name_any()),
        )
    };
    for vs in ctx.stores.servers.state() {
        if vs.namespace().is_some_and(|ns| namespaces.contains(&ns)) {
            ctx.event(vs.as_ref(), false, reason, "Maintenance", note.clone())
                .await;
        }
    }
}

/// Reconciles one MaintenanceWindow.
pub async fn reconcile(
    w: Arc<MaintenanceWindow>,
    ctx: Arc<Context>,
) -> Result<Action, kube::Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(NAME);
    let span = info_span!("reconcile", controller = NAME, name = %w.name_any());
    let ctx = &ctx;
    async move {
        let api: Api<MaintenanceWindow> = Api::all(ctx.client.clone());
        let mut w = w.as_ref().clone();
        ctx.memo.refresh(&mut w);
        let now = Timestamp::now();
        let before = w.status.as_ref().and_then(|s| s.state);
        let status = desired_status(&w, &ctx.stores.tenants.state(), now);
        let opened = status.state == Some(MaintenanceState::InProgress)
            && before != Some(MaintenanceState::InProgress);
        let closed = status.state == Some(MaintenanceState::Completed)
            && before == Some(MaintenanceState::InProgress);
        if w.spec.stops_servers && (opened || closed) {
            announce(ctx, &w, &status.affected_tenants, opened).await;
        }
        ctx.memo.write(&api, &mut w, &status).await?;
        let next =
            until_next_boundary(&w, now).map_or(ctx.timing.drift, |d| d.min(ctx.timing.drift));
        Ok(Action::requeue(next))
    }
    .instrument(span)
    .await
}

/// API errors back off per window.
pub fn error_policy(w: Arc<MaintenanceWindow>, error: &kube::Error, ctx: Arc<Context>) -> Action {
    ctx.metrics.reconcile_failed(NAME, "kube");
    tracing::warn!(controller = NAME, name = %w.name_any(), error = %error, "reconcile failed");
    Action::requeue(ctx.backoff.next_delay(&w.uid().unwrap_or_default()))
}

/// The MaintenanceWindow controller; Tenant changes recompute the windows.
pub fn controller(feeds: &Feeds) -> Controller<MaintenanceWindow> {
    let controller =
        Controller::for_shared_stream(feeds.windows.subscribe(), feeds.windows.store());
    let windows = controller.store();
    controller.watches_shared_stream(feeds.tenants.subscribe(), move |_tenant| {
        windows
            .state()
            .iter()
            .map(|w| kube::runtime::reflector::ObjectRef::from_obj(w.as_ref()))
            .collect::<Vec<_>>()
    })
}

/// Runs the MaintenanceWindow controller until shutdown.
pub async fn run(controller: Controller<MaintenanceWindow>, ctx: Arc<Context>) {
    crate::managed::controller::drive(NAME, controller, reconcile, error_policy, ctx).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use suido_api::v1alpha1::*;

    fn window(start: &str, end: &str, announced: Option<&str>) -> MaintenanceWindow {
        let mut w = MaintenanceWindow::new(
            "patch",
            MaintenanceWindowSpec {
                start: start.into(),
                end: end.into(),
                announced_at: announced.map(Into::into),
                scope: MaintenanceScope {
                    all_tenants: false,
                    tenants: vec!["seiryu".into(), "ghost".into()],
                },
                stops_servers: true,
                description: None,
            },
        );
        w.metadata.generation = Some(1);
        w
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn the_state_follows_the_times_and_announced_needs_an_announcement_before_the_start() {
        let w = window(
            "2026-12-13T01:00:00+09:00",
            "2026-12-13T05:00:00+09:00",
            Some("2026-11-20T10:00:00+09:00"),
        );
        assert_eq!(
            state(&w, at("2026-11-01T00:00:00Z")),
            Some(MaintenanceState::Scheduled)
        );
        assert_eq!(
            state(&w, at("2026-12-01T00:00:00Z")),
            Some(MaintenanceState::Announced)
        );
        assert_eq!(
            state(&w, at("2026-12-12T17:00:00Z")),
            Some(MaintenanceState::InProgress)
        );
        assert_eq!(
            state(&w, at("2026-12-12T20:00:00Z")),
            Some(MaintenanceState::Completed)
        );
        let unannounced = window(
            "2026-12-13T01:00:00+09:00",
            "2026-12-13T05:00:00+09:00",
            None,
        );
        assert_eq!(
            state(&unannounced, at("2026-12-01T00:00:00Z")),
            Some(MaintenanceState::Scheduled)
        );
        assert_eq!(
            until_next_boundary(&w, at("2026-12-12T15:00:00Z")),
            Some(Duration::from_secs(3600))
        );
    }

    #[test]
    fn affected_tenants_are_the_named_ones_that_exist_and_the_status_is_stable() {
        let w = window(
            "2026-12-13T01:00:00+09:00",
            "2026-12-13T05:00:00+09:00",
            None,
        );
        let mk = |n: &str| {
            let mut t = Tenant::new(
                n,
                TenantSpec {
                    tenant_type: TenantType::Vendor,
                    utility: "K".into(),
                    environment: Environment::Production,
                    namespaces: vec![n.into()],
                    contacts: Contacts {
                        severe: vec![],
                        minor: vec![],
                    },
                },
            );
            t.metadata.name = Some(n.into());
            Arc::new(t)
        };
        let tenants = vec![mk("seiryu"), mk("kawasemi")];
        let s = desired_status(&w, &tenants, at("2026-12-01T00:00:00Z"));
        assert_eq!(s.affected_tenants, ["seiryu"]);
        let mut again = w.clone();
        again.status = Some(s.clone());
        assert_eq!(
            desired_status(&again, &tenants, at("2026-12-02T00:00:00Z")),
            s
        );
    }
}
