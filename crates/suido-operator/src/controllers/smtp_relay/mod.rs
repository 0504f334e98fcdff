//! The SmtpRelay kind on the shared lifecycle (every tenant type): an outbound mail relay for
//! the VirtualServers of its namespace that the spec allows, with a sender in the domain the
//! platform designates (an operator setting). The pure steps are in [`steps`].

pub mod steps;
#[cfg(test)]
mod tests;

use kube::runtime::Controller;
use kube::runtime::reflector::Store;
use suido_api::v1alpha1::{ManagedSpec, ManagedStatus, SmtpRelay, SmtpRelayStatus, VirtualServer};
use suido_provider::{self as p};

use self::steps::Refs;
use crate::conditions::Desired;
use crate::context::Context;
use crate::controllers::family::{self, Step};
use crate::feeds::Feeds;
use crate::managed::references::{self, Reference, Refers};
use crate::managed::{Actuator, Error, ManagedKind, Verdict};

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

crate::family_actuator! {
    SmtpActuator for SmtpRelay, spec p::SmtpRelaySpec, resource p::SmtpRelay, refs Refs,
    calls { get: get_smtp_relay, list: list_smtp_relays, create: create_smtp_relay,
            update: update_smtp_relay, delete: delete_smtp_relay },
    plan: steps::plan,
    resolve: |ctx, relay| steps::resolve(
        relay,
        &ctx.stores.servers.state(),
        &ctx.settings.smtp_sender_domain,
    ),
}
