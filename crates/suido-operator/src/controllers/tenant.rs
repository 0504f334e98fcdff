//! The Tenant controller: which of its namespaces a Tenant is honoured for (the earliest claim
//! owns a namespace), how many Suido objects live there by kind, and a finalizer that keeps the
//! Tenant until those objects are gone, so that no platform resource is left without a tenant.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::Store;
use kube::{Resource, ResourceExt};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::{NamespaceConflict, Tenant, TenantStatus};
use tracing::{Instrument, info_span};

use crate::conditions::{self, Desired};
use crate::context::{Context, Stores};
use crate::feeds::Feeds;
use crate::tenancy::{self, Owner};

/// Controller name, used in metrics and logs.
pub const NAME: &str = "tenant";
/// How often a Tenant's object counts are brought up to date.
const COUNT_INTERVAL: Duration = Duration::from_secs(5);
/// Finalizer that holds a Tenant while objects remain in its namespaces.
pub const FINALIZER: &str = "infra.suido.dev/tenant-objects";

crate::has_status!(Tenant, TenantStatus, conditions);

/// Why a Tenant reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Objects remain in the Tenant's namespaces; its deletion waits.
    #[error("{0}")]
    ObjectsRemain(String),
    /// A Kubernetes API failure.
    #[error("kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer could not be added or removed.
    #[error("{0}")]
    Finalizer(#[source] Box<finalizer::Error<Error>>),
}

/// The namespaces `tenant` is honoured for, and those an earlier Tenant owns.
pub fn ownership(
    tenant: &Tenant,
    tenants: &[Arc<Tenant>],
) -> (Vec<String>, Vec<NamespaceConflict>) {
    let me = tenant.name_any();
    let mut honoured = vec![];
    let mut conflicts = vec![];
    for ns in &tenant.spec.namespaces {
        match tenancy::owner(tenants, ns) {
            Owner::Tenant(t) if t.name_any() != me => conflicts.push(NamespaceConflict {
                namespace: ns.clone(),
                owner: t.name_any(),
            }),
            // Not in the cache yet (just created) or this Tenant: honoured.
            _ => honoured.push(ns.clone()),
        }
    }
    honoured.sort();
    conflicts.sort_by(|a, b| a.namespace.cmp(&b.namespace));
    (honoured, conflicts)
}

fn count_in<K: Resource<DynamicType = ()> + Clone>(
    store: &Store<K>,
    namespaces: &[String],
    out: &mut BTreeMap<String, u32>,
) {
    let n = store
        .state()
        .iter()
        .filter(|o| o.namespace().is_some_and(|ns| namespaces.contains(&ns)))
        .count();
    if n > 0 {
        out.insert(
            K::kind(&()).into_owned(),
            u32::try_from(n).unwrap_or(u32::MAX),
        );
    }
}

/// How many Suido objects live in `namespaces`, by kind.
pub fn managed_objects(stores: &Stores, namespaces: &[String]) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    count_in(&stores.servers, namespaces, &mut out);
    count_in(&stores.volumes, namespaces, &mut out);
    count_in(&stores.load_balancers, namespaces, &mut out);
    count_in(&stores.wafs, namespaces, &mut out);
    count_in(&stores.intrusion_preventions, namespaces, &mut out);
    count_in(&stores.smtp_relays, namespaces, &mut out);
    count_in(&stores.backups, namespaces, &mut out);
    count_in(&stores.snapshots, namespaces, &mut out);
    count_in(&stores.restores, namespaces, &mut out);
    out
}

/// The counts in words, e.g. `VirtualServer 3, BlockVolume 1`.
fn describe(counts: &BTreeMap<String, u32>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Tenant's status. Deterministic.
pub fn desired_status(
    tenant: &Tenant,
    tenants: &[Arc<Tenant>],
    counts: BTreeMap<String, u32>,
    deleting: bool,
    now: Timestamp,
) -> TenantStatus {
    let generation = tenant.metadata.generation;
    let mut status = tenant.status.clone().unwrap_or_default();
    let (namespaces, conflicts) = ownership(tenant, tenants);
    let ready = if conflicts.is_empty() {
        Desired::new(
            cond::READY,
            true,
            reasons::AVAILABLE,
            "every namespace of spec.namespaces is this Tenant's",
        )
    } else {
        let list: Vec<String> = conflicts
            .iter()
            .map(|c| format!("{} (owned by Tenant {})", c.namespace, c.owner))
            .collect();
        Desired::new(
            cond::READY,
            false,
            reasons::NAMESPACE_CONFLICT,
            format!(
                "not honoured for namespaces an earlier Tenant owns: {}",
                list.join(", ")
            ),
        )
    };
    let total: u32 = counts.values().sum();
    let deleting_condition = match (deleting, total) {
        (true, 0) => Desired::new(
            cond::DELETING,
            true,
            reasons::PROVISIONING,
            "no objects remain; the Tenant is being removed",
        ),
        (true, _) => Desired::new(
            cond::DELETING,
            false,
            reasons::OBJECTS_REMAIN,
            format!(
                "deletion waits until the objects in the Tenant's namespaces are deleted: {}",
                describe(&counts)
            ),
        ),
        (false, _) => Desired::new(
            cond::DELETING,
            false,
            reasons::AVAILABLE,
            "the Tenant is not being deleted",
        ),
    };
    status.observed_generation = generation;
    status.namespaces = namespaces;
    status.conflicts = conflicts;
    status.managed_objects = counts;
    conditions::set_all(
        &mut status.conditions,
        [ready, deleting_condition],
        generation,
        now,
    );
    status
}

async fn write(
    ctx: &Context,
    api: &Api<Tenant>,
    tenant: &Tenant,
    deleting: bool,
) -> Result<u32, Error> {
    let mut tenant = tenant.clone();
    ctx.memo.refresh(&mut tenant);
    let (namespaces, _) = ownership(&tenant, &ctx.stores.tenants.state());
    let counts = managed_objects(&ctx.stores, &namespaces);
    let total = counts.values().sum();
    let status = desired_status(
        &tenant,
        &ctx.stores.tenants.state(),
        counts,
        deleting,
        Timestamp::now(),
    );
    ctx.memo.write(api, &mut tenant, &status).await?;
    Ok(total)
}

/// Reconciles one Tenant.
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    ctx.caches_ready().await;
    let _timer = ctx.metrics.reconcile_started(NAME);
    let span = info_span!("reconcile", controller = NAME, name = %tenant.name_any());
    let api: Api<Tenant> = Api::all(ctx.client.clone());
    let result = finalizer(&api, FINALIZER, tenant, |event| async {
        match event {
            finalizer::Event::Apply(t) => {
                write(&ctx, &api, &t, false).await?;
                // Counting is a read of the caches and writes only on a change, so it runs
                // often: there are few Tenants, and their counts should follow the objects.
                Ok(Action::requeue(COUNT_INTERVAL.min(ctx.timing.drift)))
            }
            finalizer::Event::Cleanup(t) => {
                let remaining = write(&ctx, &api, &t, true).await?;
                if remaining > 0 {
                    return Err(Error::ObjectsRemain(format!(
                        "{remaining} objects remain in the namespaces of Tenant {}",
                        t.name_any()
                    )));
                }
                Ok(Action::await_change())
            }
        }
    })
    .instrument(span)
    .await;
    result.map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Objects remaining are looked at again soon; other errors back off per Tenant.
pub fn error_policy(tenant: Arc<Tenant>, error: &Error, ctx: Arc<Context>) -> Action {
    let remains = matches!(error, Error::Finalizer(e) if matches!(e.as_ref(), finalizer::Error::CleanupFailed(Error::ObjectsRemain(_))));
    ctx.metrics
        .reconcile_failed(NAME, if remains { "objects_remain" } else { "kube" });
    if remains {
        Action::requeue(Duration::from_secs(2).max(ctx.timing.poll))
    } else {
        tracing::warn!(controller = NAME, name = %tenant.name_any(), error = %error, "reconcile failed");
        Action::requeue(ctx.backoff.next_delay(&tenant.uid().unwrap_or_default()))
    }
}

/// The Tenant controller, on the shared watch of Tenants.
pub fn controller(feeds: &Feeds) -> Controller<Tenant> {
    Controller::for_shared_stream(feeds.tenants.subscribe(), feeds.tenants.store())
}

/// Runs the Tenant controller until shutdown. Counts follow the objects within a few seconds.
pub async fn run(controller: Controller<Tenant>, ctx: Arc<Context>) {
    crate::managed::controller::drive(NAME, controller, reconcile, error_policy, ctx).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use suido_api::v1alpha1::*;

    fn tenant(name: &str, created: &str, namespaces: &[&str]) -> Arc<Tenant> {
        let mut t = Tenant::new(
            name,
            TenantSpec {
                tenant_type: TenantType::Vendor,
                utility: "Kawasemi".into(),
                environment: Environment::Production,
                namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
                contacts: Contacts {
                    severe: vec![],
                    minor: vec![],
                },
            },
        );
        t.metadata.name = Some(name.into());
        t.metadata.generation = Some(1);
        t.metadata.creation_timestamp = Some(Time(created.parse().unwrap()));
        Arc::new(t)
    }

    #[test]
    fn a_later_claim_on_a_namespace_is_not_honoured_and_says_so() {
        let first = tenant("seiryu", "2026-12-01T00:00:00Z", &["billing"]);
        let late = tenant("intruder", "2026-12-02T00:00:00Z", &["billing", "own"]);
        let all = vec![first.clone(), late.clone()];
        let s = desired_status(&late, &all, BTreeMap::new(), false, Timestamp::UNIX_EPOCH);
        assert_eq!(s.namespaces, ["own"]);
        assert_eq!(
            s.conflicts,
            [NamespaceConflict {
                namespace: "billing".into(),
                owner: "seiryu".into()
            }]
        );
        let ready = s
            .conditions
            .iter()
            .find(|c| c.type_ == cond::READY)
            .unwrap();
        assert_eq!(ready.reason, reasons::NAMESPACE_CONFLICT);
        let s = desired_status(&first, &all, BTreeMap::new(), false, Timestamp::UNIX_EPOCH);
        assert!(s.conflicts.is_empty());
        assert_eq!(s.namespaces, ["billing"]);
    }

    #[test]
    fn a_deletion_with_objects_left_counts_them_and_the_status_is_stable() {
        let t = tenant("seiryu", "2026-12-01T00:00:00Z", &["billing"]);
        let counts = BTreeMap::from([
            ("BlockVolume".to_owned(), 1),
            ("VirtualServer".to_owned(), 3),
        ]);
        let s = desired_status(
            &t,
            std::slice::from_ref(&t),
            counts.clone(),
            true,
            Timestamp::UNIX_EPOCH,
        );
        let deleting = s
            .conditions
            .iter()
            .find(|c| c.type_ == cond::DELETING)
            .unwrap();
        assert_eq!(deleting.reason, reasons::OBJECTS_REMAIN);
        assert!(deleting.message.ends_with("BlockVolume 1, VirtualServer 3"));
        assert_eq!(s.managed_objects, counts);
        let mut again = (*t).clone();
        again.status = Some(s.clone());
        let later = desired_status(
            &again,
            std::slice::from_ref(&t),
            counts,
            true,
            Timestamp::from_second(99).unwrap(),
        );
        assert_eq!(later, s);
    }
}
