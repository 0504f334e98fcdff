//! The WafInstance kind on the shared lifecycle (vendor tenants only): a web application
//! firewall with its plan, five functions and IP lists, in front of VirtualServers and
//! LoadBalancers of its namespace. The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    LoadBalancer, ManagedSpec, ManagedStatus, VirtualServer, WafInstance, WafInstanceStatus,
};
use suido_provider::{self as p};

use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step, Targets};
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Actuator, Error, ManagedKind, Verdict};

crate::has_status!(WafInstance, WafInstanceStatus, managed.conditions);

crate::service_resource!(p::Waf);

impl Refers for WafInstance {
    fn references(&self) -> Vec<Reference> {
        family::target_references(&self.spec.protects)
    }
}

impl ManagedKind for WafInstance {
    const KIND: &'static str = "WafInstance";
    const NAME: &'static str = "wafinstance";
    const NOUN: &'static str = "WAF";
    const FINALIZER: &'static str = "infra.suido.dev/wafinstance-cleanup";
    const REFERENCES_CONDITION: bool = true;
    type Desired = p::WafSpec;
    type External = p::Waf;
    type Step = Step;
    type Refs = Targets;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &WafInstanceStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut WafInstanceStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn vendor_only(&self) -> Vec<&'static str> {
        vec!["WafInstance (service 6)"]
    }
    fn build(&self, targets: &Targets) -> Result<p::WafSpec, Error> {
        Ok(steps::build(self, targets))
    }
    fn creating_note(desired: &p::WafSpec) -> String {
        format!(
            "ordering a WAF protecting {} targets",
            desired.targets.len()
        )
    }
    fn settled(step: &Step) -> bool {
        family::settled(step)
    }
    fn observe(
        &self,
        status: &mut WafInstanceStatus,
        external: Option<&p::Waf>,
        _step: Option<&Step>,
        targets: Option<&Targets>,
    ) -> Vec<Desired> {
        steps::observe(status, external, targets)
    }
    fn verdict(&self, _external: &p::Waf, step: &Step) -> Verdict {
        family::verdict(Self::NOUN, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.wafs
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(WafActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        let controller =
            references::watch::<WafInstance, VirtualServer>(controller, &feeds.servers);
        references::watch::<WafInstance, LoadBalancer>(controller, &feeds.load_balancers)
    }
}

crate::family_actuator! {
    WafActuator for WafInstance, spec p::WafSpec, resource p::Waf, refs Targets,
    calls { get: get_waf, list: list_wafs, create: create_waf, update: update_waf,
            delete: delete_waf },
    plan: steps::plan,
    resolve: |ctx, waf| family::targets(
        "spec.protects",
        &waf.spec.protects,
        &waf.namespace().unwrap_or_default(),
        &ctx.stores.servers.state(),
        &ctx.stores.load_balancers.state(),
    ),
}
