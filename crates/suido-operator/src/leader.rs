//! Leader election over a `coordination.k8s.io/v1` Lease, so that of several operator replicas
//! only one runs the controllers. A standby takes over once the leader has not renewed for the
//! lease duration. A leader that cannot renew before its renew deadline (shorter than the lease)
//! stops, so two replicas never act at once while the lease is honoured.
//!
//! The Lease is written with optimistic concurrency (its `resourceVersion`): of two replicas
//! taking an expired lease at the same moment, one gets a conflict and stays standby.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use kube::{Client, ResourceExt};

/// Where the lease lives and how it is kept.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Name of the Lease.
    pub name: String,
    /// This replica's identity (the pod name).
    pub identity: String,
    /// How long a lease holds without renewal; a standby takes over after it.
    pub lease_duration: Duration,
    /// How often the leader renews, and a standby tries.
    pub retry_period: Duration,
    /// How long the leader keeps trying to renew before it gives up and stops.
    pub renew_deadline: Duration,
}

impl LeaderConfig {
    /// Defaults: a 10 s lease renewed every 2 s, given up after 8 s without a renewal, so a
    /// killed leader is replaced within about 12 s.
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderConfig {
            namespace: namespace.into(),
            name: "suido-operator".to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            renew_deadline: Duration::from_secs(8),
        }
    }
}

/// What one look at the Lease decided.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    /// Ours: renew it.
    Renew,
    /// Free or expired: take it.
    Take,
    /// Another replica holds it.
    Held(String),
}

/// Decides from the Lease as read whether `identity` may hold it at `now`. Pure.
fn claim(lease: &Lease, identity: &str, now: Timestamp) -> Claim {
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.unwrap_or_default();
    if holder == identity {
        return Claim::Renew;
    }
    if holder.is_empty() {
        return Claim::Take;
    }
    let duration = i64::from(spec.lease_duration_seconds.unwrap_or(0));
    let renewed = spec.renew_time.or(spec.acquire_time).map(|t| t.0);
    match renewed {
        Some(at) if at.as_second().saturating_add(duration) > now.as_second() => {
            Claim::Held(holder)
        }
        _ => Claim::Take,
    }
}

fn spec_for(cfg: &LeaderConfig, previous: Option<&LeaseSpec>, now: Timestamp) -> LeaseSpec {
    let ours = previous
        .and_then(|s| s.holder_identity.as_deref())
        .is_some_and(|h| h == cfg.identity);
    let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(cfg.identity.clone()),
        lease_duration_seconds: Some(i32::try_from(cfg.lease_duration.as_secs()).unwrap_or(15)),
        acquire_time: if ours {
            previous.and_then(|s| s.acquire_time.clone())
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        // A new Lease starts at 0; each change of holder after that counts one.
        lease_transitions: Some(match previous {
            Some(_) if !ours => transitions + 1,
            _ => transitions,
        }),
        ..LeaseSpec::default()
    }
}

/// One attempt to take or renew the lease. `Ok(true)` when this replica holds it now.
async fn try_hold(api: &Api<Lease>, cfg: &LeaderConfig) -> Result<bool, kube::Error> {
    let now = Timestamp::now();
    match api.get_opt(&cfg.name).await? {
        None => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(cfg.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec_for(cfg, None, now)),
            };
            match api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
        Some(mut lease) => {
            if let Claim::Held(_) = claim(&lease, &cfg.identity, now) {
                return Ok(false);
            }
            lease.spec = Some(spec_for(cfg, lease.spec.as_ref(), now));
            // The resourceVersion read above makes this a compare-and-swap.
            match api
                .replace(&lease.name_any(), &PostParams::default(), &lease)
                .await
            {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                Err(e) => Err(e),
            }
        }
    }
}

/// Waits until this replica holds the lease.
pub async fn acquire(client: &Client, cfg: &LeaderConfig) {
    let api: Api<Lease> = Api::namespaced(client.clone(), &cfg.namespace);
    let mut announced = false;
    loop {
        match try_hold(&api, cfg).await {
            Ok(true) => {
                tracing::info!(lease = %cfg.name, identity = %cfg.identity, "became the leader");
                return;
            }
            Ok(false) if !announced => {
                tracing::info!(lease = %cfg.name, identity = %cfg.identity, "standing by: another replica leads");
                announced = true;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(lease = %cfg.name, error = %e, "reading the lease failed"),
        }
        tokio::time::sleep(cfg.retry_period).await;
    }
}

/// Renews the lease every retry period; returns when the lease is lost (another replica took
/// it, or no renewal succeeded within the renew deadline).
pub async fn keep(client: Client, cfg: LeaderConfig) {
    let api: Api<Lease> = Api::namespaced(client, &cfg.namespace);
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.retry_period).await;
        match try_hold(&api, &cfg).await {
            Ok(true) => last_renewal = tokio::time::Instant::now(),
            Ok(false) => {
                tracing::error!(lease = %cfg.name, "another replica took the lease");
                return;
            }
            Err(e) => tracing::warn!(lease = %cfg.name, error = %e, "renewing the lease failed"),
        }
        if last_renewal.elapsed() > cfg.renew_deadline {
            tracing::error!(lease = %cfg.name, "no renewal within the renew deadline");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(holder: &str, renewed: &str, seconds: i32) -> Lease {
        Lease {
            metadata: ObjectMeta::default(),
            spec: Some(LeaseSpec {
                holder_identity: Some(holder.to_owned()),
                lease_duration_seconds: Some(seconds),
                renew_time: Some(MicroTime(renewed.parse().unwrap())),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn a_live_lease_of_another_is_held_an_expired_one_is_taken() {
        let now: Timestamp = "2026-12-03T10:00:10Z".parse().unwrap();
        let live = lease("pod-a", "2026-12-03T10:00:05Z", 10);
        assert_eq!(claim(&live, "pod-b", now), Claim::Held("pod-a".into()));
        assert_eq!(claim(&live, "pod-a", now), Claim::Renew);
        let expired = lease("pod-a", "2026-12-03T09:59:59Z", 10);
        assert_eq!(claim(&expired, "pod-b", now), Claim::Take);
        let empty = Lease::default();
        assert_eq!(claim(&empty, "pod-b", now), Claim::Take);
    }

    #[test]
    fn a_new_holder_counts_a_transition_a_renewal_does_not() {
        let cfg = LeaderConfig::new("ns", "pod-b");
        let now: Timestamp = "2026-12-03T10:00:10Z".parse().unwrap();
        let mut previous = lease("pod-a", "2026-12-03T09:00:00Z", 10).spec.unwrap();
        previous.lease_transitions = Some(3);
        let taken = spec_for(&cfg, Some(&previous), now);
        assert_eq!(taken.holder_identity.as_deref(), Some("pod-b"));
        assert_eq!(taken.lease_transitions, Some(4));
        let renewed = spec_for(&cfg, Some(&taken), now);
        assert_eq!(renewed.lease_transitions, Some(4));
        assert_eq!(renewed.acquire_time, taken.acquire_time);
    }
}
