//! The SmtpRelay kind on the shared lifecycle (every tenant type): an outbound mail relay for
//! the VirtualServers of its namespace that the spec allows, with a sender in the domain the
//! platform designates (an operator setting). The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use async_trait::async_trait;
use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{ManagedSpec, ManagedStatus, SmtpRelay, SmtpRelayStatus, VirtualServer};
use suido_provider::{self as p, ClientToken, Operation, ProviderResult, Tags};

use self::steps::Refs;
use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step};
use crate::feeds::Feeds;
use crate::managed::lifecycle::operation_result;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Acted, Actuator, Error, ManagedKind, Verdict};

crate::has_status!(SmtpRelay, SmtpRelayStatus, managed.conditions);

crate::service_resource!(p::SmtpRelay);

impl Refers for SmtpRelay {
    fn references(&self) -> Vec<Reference> {
        self.spec
            .allowed_servers
            .iter()
            .map(|name| Reference::named("VirtualServer", name.clone()))
            .collect()
    }
}

impl ManagedKind for SmtpRelay {
    const KIND: &'static str = "SmtpRelay";
    const NAME: &'static str = "smtprelay";
    const NOUN: &'static str = "SMTP relay";
    const FINALIZER: &'static str = "infra.suido.dev/smtprelay-cleanup";
    const REFERENCES_CONDITION: bool = true;
    type Desired = p::SmtpRelaySpec;
    type External = p::SmtpRelay;
    type Step = Step;
    type Refs = Refs;

    fn management(&self) -> &ManagedSpec {
        &self.spec.management
    }
    fn managed(status: &SmtpRelayStatus) -> &ManagedStatus {
        &status.managed
    }
    fn managed_mut(status: &mut SmtpRelayStatus) -> &mut ManagedStatus {
        &mut status.managed
    }
    fn build(&self, refs: &Refs) -> Result<p::SmtpRelaySpec, Error> {
        steps::build(self, refs)
    }
    fn creating_note(desired: &p::SmtpRelaySpec) -> String {
        format!(
            "setting up an SMTP relay for {} servers, sending from {}",
            desired.allowed_clients.len(),
            desired.sender_domain
        )
    }
    fn settled(step: &Step) -> bool {
        family::settled(step)
    }
    fn observe(
        &self,
        status: &mut SmtpRelayStatus,
        external: Option<&p::SmtpRelay>,
        _step: Option<&Step>,
        refs: Option<&Refs>,
    ) -> Vec<Desired> {
        steps::observe(status, external, refs)
    }
    fn verdict(&self, _external: &p::SmtpRelay, step: &Step) -> Verdict {
        family::verdict(Self::NOUN, step)
    }
    fn store(ctx: &Context) -> &Store<Self> {
        &ctx.stores.smtp_relays
    }
    fn actuator(ctx: &Context) -> Box<dyn Actuator<Self> + '_> {
        Box::new(SmtpActuator { ctx })
    }
    fn watches(controller: Controller<Self>, feeds: &Feeds) -> Controller<Self> {
        references::watch::<SmtpRelay, VirtualServer>(controller, &feeds.servers)
    }
}

/// The SMTP relay calls of an SmtpRelay.
struct SmtpActuator<'a> {
    ctx: &'a Context,
}

#[async_trait]
impl Actuator<SmtpRelay> for SmtpActuator<'_> {
    async fn resolve(&self, relay: &SmtpRelay) -> Result<Refs, Error> {
        steps::resolve(
            relay,
            &self.ctx.stores.servers.state(),
            &self.ctx.settings.smtp_sender_domain,
        )
    }

    async fn get(&self, id: &str) -> ProviderResult<p::SmtpRelay> {
        self.ctx
            .call("get_smtp_relay", self.ctx.platform.get_smtp_relay(id))
            .await
    }

    async fn list(&self, selector: &Tags) -> ProviderResult<Vec<p::SmtpRelay>> {
        self.ctx
            .call(
                "list_smtp_relays",
                self.ctx.platform.list_smtp_relays(selector),
            )
            .await
    }

    async fn create(
        &self,
        token: &ClientToken,
        tags: &Tags,
        desired: &p::SmtpRelaySpec,
    ) -> ProviderResult<Operation> {
        self.ctx
            .call(
                "create_smtp_relay",
                self.ctx.platform.create_smtp_relay(token, tags, desired),
            )
            .await
    }

    async fn act(
        &self,
        _relay: &SmtpRelay,
        desired: &p::SmtpRelaySpec,
        external: &mut p::SmtpRelay,
        refs: &Refs,
    ) -> Result<Acted<Step>, Error> {
        let step = steps::plan(desired, external, refs);
        if let Step::Update(_) = &step {
            let op = self
                .ctx
                .call(
                    "update_smtp_relay",
                    self.ctx.platform.update_smtp_relay(&external.id, desired),
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

    async fn prepare_delete(
        &self,
        _relay: &SmtpRelay,
        external: &p::SmtpRelay,
    ) -> Result<(), Error> {
        family::ready_to_delete(
            SmtpRelay::NOUN,
            &external.id,
            external.state,
            external.operation.as_ref(),
        )
    }

    async fn delete(&self, id: &str) -> ProviderResult<Operation> {
        self.ctx
            .call("delete_smtp_relay", self.ctx.platform.delete_smtp_relay(id))
            .await
    }
}
