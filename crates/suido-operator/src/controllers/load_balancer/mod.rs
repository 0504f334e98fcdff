//! The LoadBalancer kind on the shared lifecycle (vendor tenants only): a single or
//! VRRP-redundant load balancer whose backends are the VirtualServers of its namespace that the
//! spec names or selects, kept current as servers come and go, with TLS offload from
//! `kubernetes.io/tls` Secrets of the namespace. The pure steps are in [`steps`] and
//! [`status`]; this module holds the kind's declarations and its platform calls.

pub mod status;
pub mod steps;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    LoadBalancer, LoadBalancerStatus, ManagedSpec, ManagedStatus, VirtualServer,
};
use suido_provider::{self as p};

use self::steps::Refs;
use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step};
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers, Target};
use crate::managed::{Actuator, Error, ManagedKind, Verdict};

crate::has_status!(LoadBalancer, LoadBalancerStatus, managed.conditions);

crate::service_resource!(p::LoadBalancer);

impl Refers for LoadBalancer {
    fn references(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = self
            .spec
            .backends
            .iter()
            .filter_map(|b| match (&b.server_name, &b.selector) {
                (Some(name), _) => Some(Reference::named("VirtualServer", name.clone())),
                (None, Some(selector)) => Some(Reference {
                    kind: "VirtualServer",
                    target: Target::Selector(selector.clone()),
                }),
                (None, None) => None,
            })
            .collect();
        // The servers in status too: one whose labels no longer match must leave the backends.
        out.extend(
            self.status
                .iter()
                .flat_map(|s| s.backends.iter())
                .map(|b| Reference::named("VirtualServer", b.server.clone())),
        );
        out
    }
}

impl ManagedKind for LoadBalancer {
    const KIND: &'static str = "LoadBalancer";
    const NAME: &'static str = "loadbalancer";
    const NOUN: &'static str = "load balancer";
    const FINALIZER: &'static str = "infra.suido.dev/loadbalancer-cleanup";
    const REFERENCES_CONDITION: bool = true;
    type Desired = p::LoadBalancerSpec;
    type External = p::LoadBalancer;
    type Step = Step;
    type Refs = Refs;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &LoadBalancerStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut LoadBalancerStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn vendor_only(&self) -> Vec<&'static str> {
        vec!["LoadBalancer (service 12)"]
    }
    fn build(&self, refs: &Refs) -> Result<p::LoadBalancerSpec, Error> {
        steps::build(self, refs)
    }
    fn creating_note(desired: &p::LoadBalancerSpec) -> String {
        format!(
            "ordering a {:?} {} Mbps load balancer with {} listeners and {} backends",
            desired.topology,
            desired.throughput_mbps,
            desired.listeners.len(),
            desired.backends.len()
        )
    }
    fn settled(step: &Step) -> bool {
        family::settled(step)
    }
    fn observe(
        &self,
        status: &mut LoadBalancerStatus,
        external: Option<&p::LoadBalancer>,
        _step: Option<&Step>,
        refs: Option<&Refs>,
    ) -> Vec<Desired> {
        status::observe(status, external, refs)
    }
    fn verdict(&self, _external: &p::LoadBalancer, step: &Step) -> Verdict {
        family::verdict(Self::NOUN, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.load_balancers
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(LoadBalancerActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        references::watch::<LoadBalancer, VirtualServer>(controller, &feeds.servers)
    }
}

crate::family_actuator! {
    LoadBalancerActuator for LoadBalancer, spec p::LoadBalancerSpec, resource p::LoadBalancer,
    refs Refs,
    calls { get: get_load_balancer, list: list_load_balancers, create: create_load_balancer,
            update: update_load_balancer, delete: delete_load_balancer },
    plan: steps::plan,
    resolve: |ctx, lb| resolve(ctx, lb).await,
}

/// The backends from the cache of servers, and the certificates of the TLS listeners from the
/// Secrets they name.
async fn resolve(ctx: &Context, lb: &LoadBalancer) -> Result<Refs, Error> {
    let namespace = lb.namespace().unwrap_or_default();
    let (backends, waiting) = steps::backends(lb, &ctx.stores.servers.state())?;
    // Secrets are read where they are needed, in the object's namespace only: no cache and no
    // watch of every Secret in the cluster. A changed certificate is noticed at the next look,
    // within the drift interval.
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut certificates = BTreeMap::new();
    for (i, listener) in lb.spec.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        let field = format!("spec.listeners[{i}].tls.secretName");
        references::same_namespace(&field, &tls.secret_name)?;
        if certificates.contains_key(&tls.secret_name) {
            continue;
        }
        let secret = secrets.get_opt(&tls.secret_name).await?;
        let certificate =
            steps::certificate(&field, &namespace, &tls.secret_name, secret.as_ref())?;
        certificates.insert(tls.secret_name.clone(), certificate);
    }
    Ok(Refs {
        backends,
        waiting,
        certificates,
    })
}
