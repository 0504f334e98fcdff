//! The IntrusionPrevention kind on the shared lifecycle (vendor tenants only): intrusion
//! detection and prevention with a policy profile, for VirtualServers and LoadBalancers of its
//! namespace. The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    IntrusionPrevention, IntrusionPreventionStatus, LoadBalancer, ManagedSpec, ManagedStatus,
    VirtualServer,
};
use suido_provider::{self as p};

use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step, Targets};
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Actuator, Error, ManagedKind, Verdict};

crate::has_status!(
    IntrusionPrevention,
    IntrusionPreventionStatus,
    managed.conditions
);

crate::service_resource!(p::Ips);

impl Refers for IntrusionPrevention {
    fn references(&self) -> Vec<Reference> {
        family::target_references(&self.spec.targets)
    }
}

impl ManagedKind for IntrusionPrevention {
    const KIND: &'static str = "IntrusionPrevention";
    const NAME: &'static str = "intrusionprevention";
    const NOUN: &'static str = "IDS/IPS";
    const FINALIZER: &'static str = "infra.suido.dev/intrusionprevention-cleanup";
    const REFERENCES_CONDITION: bool = true;
    type Desired = p::IpsSpec;
    type External = p::Ips;
    type Step = Step;
    type Refs = Targets;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &IntrusionPreventionStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut IntrusionPreventionStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn vendor_only(&self) -> Vec<&'static str> {
        vec!["IntrusionPrevention (service 15)"]
    }
    fn build(&self, targets: &Targets) -> Result<p::IpsSpec, Error> {
        Ok(steps::build(self, targets))
    }
    fn creating_note(desired: &p::IpsSpec) -> String {
        format!(
            "ordering an IDS/IPS with the {:?} profile for {} targets",
            desired.profile,
            desired.targets.len()
        )
    }
    fn settled(step: &Step) -> bool {
        family::settled(step)
    }
    fn observe(
        &self,
        status: &mut IntrusionPreventionStatus,
        external: Option<&p::Ips>,
        _step: Option<&Step>,
        targets: Option<&Targets>,
    ) -> Vec<Desired> {
        steps::observe(status, external, targets)
    }
    fn verdict(&self, _external: &p::Ips, step: &Step) -> Verdict {
        family::verdict(Self::NOUN, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.intrusion_preventions
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(IpsActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        let controller =
            references::watch::<IntrusionPrevention, VirtualServer>(controller, &feeds.servers);
        references::watch::<IntrusionPrevention, LoadBalancer>(controller, &feeds.load_balancers)
    }
}

crate::family_actuator! {
    IpsActuator for IntrusionPrevention, spec p::IpsSpec, resource p::Ips, refs Targets,
    calls { get: get_ips, list: list_ips, create: create_ips, update: update_ips,
            delete: delete_ips },
    plan: steps::plan,
    resolve: |ctx, ips| family::targets(
        "spec.targets",
        &ips.spec.targets,
        &ips.namespace().unwrap_or_default(),
        &ctx.stores.servers.state(),
        &ctx.stores.load_balancers.state(),
    ),
}
