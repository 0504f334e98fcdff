//! The LoadBalancer's status: its address, its backends with the health the platform reports
//! for them (computed by the platform at read time, so it moves as servers stop and start), and
//! its `ReferencesResolved` condition. Pure and deterministic: lists are sorted.

use suido_api::v1alpha1::{BackendStatus, LoadBalancerStatus};
use suido_provider::{self as p, ResourceState};

use super::steps::Refs;
use crate::conditions::Desired;
use crate::controllers::family;

/// The resolved backends with their health, sorted by server name, one entry per server (a
/// server listed with several ports shows once, with its lowest port).
pub fn backend_status(refs: &Refs, lb: &p::LoadBalancer) -> Vec<BackendStatus> {
    let mut out: Vec<BackendStatus> = vec![];
    for m in &refs.backends {
        if out.last().is_some_and(|b| b.server == m.name) {
            continue;
        }
        let health = lb
            .backend_health
            .iter()
            .find(|h| h.server_id == m.server_id);
        out.push(BackendStatus {
            server: m.name.clone(),
            address: health.and_then(|h| h.address.clone()),
            port: m.port,
            healthy: health.is_some_and(|h| h.healthy),
        });
    }
    out
}

/// Fills the load balancer's own status fields and returns its `ReferencesResolved` condition.
pub fn observe(
    status: &mut LoadBalancerStatus,
    lb: Option<&p::LoadBalancer>,
    refs: Option<&Refs>,
) -> Vec<Desired> {
    match lb.filter(|lb| lb.state != ResourceState::Creating) {
        Some(lb) => {
            let backends = refs.map(|r| backend_status(r, lb)).unwrap_or_default();
            let healthy = backends.iter().filter(|b| b.healthy).count();
            status.address = lb.address.clone();
            status.healthy_backends = Some(u32::try_from(healthy).unwrap_or(u32::MAX));
            status.backends = backends;
        }
        None => {
            status.address = None;
            status.healthy_backends = None;
            status.backends = vec![];
        }
    }
    family::references_resolved(refs.map(|r| r.waiting.as_slice()))
}
