//! The SmtpRelay's pure steps: its allowed servers resolved among the VirtualServers of its
//! namespace, the sender checked against the platform's designated domain, what the platform
//! should hold, what differs from the spec in force, and the status.

use std::sync::Arc;

use kube::ResourceExt;
use suido_api::v1alpha1::{SmtpRelay, SmtpRelayStatus, VirtualServer};
use suido_provider::{self as p, ResourceState};

use crate::conditions::Desired;
use crate::controllers::family::{self, Built, Step};
use crate::managed::Error;
use crate::managed::references;

/// What a relay's build reads besides its spec.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Refs {
    /// The built allowed servers as (name, platform id), sorted by name.
    pub servers: Vec<(String, String)>,
    /// The allowed servers that cannot be used yet, in words, sorted.
    pub waiting: Vec<String>,
    /// The sender domain the platform designates (operator setting).
    pub sender_domain: String,
}

/// Resolves `spec.allowedServers` among the VirtualServers of the relay's namespace: a name
/// that does not exist there is a `ReferenceNotFound` error; a server not built yet waits.
pub fn resolve(
    relay: &SmtpRelay,
    servers: &[Arc<VirtualServer>],
    sender_domain: &str,
) -> Result<Refs, Error> {
    let namespace = relay.namespace().unwrap_or_default();
    let mut built = vec![];
    let mut waiting = vec![];
    for (i, name) in relay.spec.allowed_servers.iter().enumerate() {
        let field = format!("spec.allowedServers[{i}]");
        let vs = references::find(servers, &field, &namespace, name)?;
        match family::built(vs.as_ref()) {
            Built::Id(id) => built.push((name.clone(), id)),
            Built::Waiting(why) => waiting.push(why),
        }
    }
    built.sort();
    built.dedup();
    Ok(Refs {
        servers: built,
        waiting: family::sorted(waiting),
        sender_domain: sender_domain.to_owned(),
    })
}

/// Checks that `address` is in `domain` (its domain part equal, case aside): the platform
/// relays only senders of the domain it designates.
pub fn check_sender(address: &str, domain: &str) -> Result<(), Error> {
    let in_domain = address
        .rsplit_once('@')
        .is_some_and(|(local, d)| !local.is_empty() && d.eq_ignore_ascii_case(domain));
    if in_domain {
        Ok(())
    } else {
        Err(Error::InvalidSpec(format!(
            "spec.senderAddress {address} is not in the platform's designated sender domain {domain}; use an address ending in @{domain}"
        )))
    }
}

/// What the platform should hold: the designated domain and the allowed servers' ids, once the
/// sender is checked.
pub fn build(relay: &SmtpRelay, refs: &Refs) -> Result<p::SmtpRelaySpec, Error> {
    check_sender(&relay.spec.sender_address, &refs.sender_domain)?;
    let mut clients: Vec<String> = refs.servers.iter().map(|(_, id)| id.clone()).collect();
    clients.sort();
    clients.dedup();
    Ok(p::SmtpRelaySpec {
        name: relay.name_any(),
        sender_domain: refs.sender_domain.to_ascii_lowercase(),
        allowed_clients: clients,
    })
}

/// What differs between the desired spec and the one in force, in words.
pub fn differences(desired: &p::SmtpRelaySpec, relay: &p::SmtpRelay) -> Vec<String> {
    let now = &relay.spec;
    let mut out = vec![];
    if desired.name != now.name {
        out.push(format!("name {} -> {}", now.name, desired.name));
    }
    if desired.sender_domain != now.sender_domain {
        out.push(format!(
            "sender domain {} -> {}",
            now.sender_domain, desired.sender_domain
        ));
    }
    let mut in_force = now.allowed_clients.clone();
    in_force.sort();
    if desired.allowed_clients != in_force {
        out.push(format!(
            "allowed servers ({} -> {})",
            in_force.len(),
            desired.allowed_clients.len()
        ));
    }
    out
}

/// Decides the next step for a built relay.
pub fn plan(desired: &p::SmtpRelaySpec, relay: &p::SmtpRelay, refs: &Refs) -> Step {
    family::plan(
        relay.state,
        relay.operation.as_ref(),
        differences(desired, relay),
        &refs.waiting,
    )
}

/// Fills the relay's own status fields and returns its `ReferencesResolved` condition. The
/// allowed servers shown are those resolved and allowed by the spec in force, sorted.
pub fn observe(
    status: &mut SmtpRelayStatus,
    relay: Option<&p::SmtpRelay>,
    refs: Option<&Refs>,
) -> Vec<Desired> {
    match relay.filter(|r| r.state != ResourceState::Creating) {
        Some(relay) => {
            status.relay_endpoint = relay.endpoint.clone();
            status.accepted = Some(relay.accepted);
            status.rejected = Some(relay.rejected);
            status.allowed_servers = refs
                .map(|r| {
                    r.servers
                        .iter()
                        .filter(|(_, id)| relay.spec.allowed_clients.contains(id))
                        .map(|(name, _)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
        }
        None => {
            status.relay_endpoint = None;
            status.accepted = None;
            status.rejected = None;
            status.allowed_servers = vec![];
        }
    }
    family::references_resolved(refs.map(|r| r.waiting.as_slice()))
}
