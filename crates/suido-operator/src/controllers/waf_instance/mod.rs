//! The WafInstance kind on the shared lifecycle (vendor tenants only): a web application
//! firewall with its plan, five functions and IP lists, in front of VirtualServers and
//! LoadBalancers of its namespace. The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use kube::ResourceExt;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{
    LoadBalancer, ManagedSpec, ManagedStatus, VirtualServer, WafInstance, WafInstanceStatus,
};
use suido_provider::{self as p, ClientToken, Operation, ProviderResult, Tags};

use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step, Targets};
use crate::feeds::Feeds;
use crate::managed::lifecycle::operation_result;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Acted, Actuator, Error, ManagedKind, Verdict};

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

/// The WAF calls of a WafInstance.
struct WafActuator<'a> {
    ctx: &'a Context,
}

#[async_trait]
impl Actuator<WafInstance> for WafActuator<'_> {
    async fn resolve(&self, waf: &WafInstance) -> Result<Targets, Error> {
        family::targets(
            "spec.protects",
            &waf.spec.protects,
            &waf.namespace().unwrap_or_default(),
            &self.ctx.stores.servers.state(),
            &self.ctx.stores.load_balancers.state(),
        )
    }

    async fn get(&self, id: &str) -> ProviderResult<p::Waf> {
        self.ctx
            .call("get_waf", self.ctx.platform.get_waf(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<p::Waf>> {
        self.ctx
            .call("list_wafs", self.ctx.platform.list_wafs(selector))
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &p::WafSpec,
    ) -> ProviderResult<Operation> {
        self.ctx
            .call(
                "create_waf",
                self.ctx.platform.create_waf(token, tags, desired),
            )
            .await
    }

    async fn act(
        &self,
        _waf: &WafInstance,
        desired: &p::WafSpec,
        external: &mut p::Waf,
        targets: &Targets,
    ) -> Result<Acted<Step>, Error> {
        let step = steps::plan(desired, external, targets);
        if let Step::Update(_) = &step {
            let op = self
                .ctx
                .call(
                    "update_waf",
                    self.ctx.platform.update_waf(&external.id, desired),
                )
                .await?;
            operation_result(&op)?;
        }
        Ok(Acted {
            notes: family::notes(&step),
            flow: family::flow(&step),
            step,
        })
    }

    async fn prepare_delete(&self, _waf: &WafInstance, external: &p::Waf) -> Result<(), Error> {
        family::ready_to_delete(
            WafInstance::NOUN,
            &external.id,
            external.state,
            external.operation.as_ref(),
        )
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_waf", self.ctx.platform.delete_waf(id))
            .await
    }
}
