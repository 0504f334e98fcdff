//! Unit tests of the SmtpRelay's pure steps and status.

use jiff::Timestamp;
use std::sync::Arc;

use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{self as p, ClientToken, ResourceState};

use super::*;
use crate::managed::Observation;
use crate::managed::lifecycle::{desired_status, failed_status, tenant_of};

const DOMAIN: &str = "mail.suido-platform.example";

fn relay(sender: &str, servers: &[&str]) -> SmtpRelay {
    let spec = SmtpRelaySpec {
        allowed_servers: servers.iter().map(|s| s.to_string()).collect(),
        sender_address: sender.into(),
        management: ManagedSpec::default(),
    };
    let mut relay = SmtpRelay::new("billing-mail", spec);
    relay.metadata.namespace = Some("billing".into());
    relay.metadata.uid = Some("uid-mail".into());
    relay.metadata.generation = Some(1);
    relay
}

fn server(name: &str, ns: &str, id: Option<&str>) -> Arc<VirtualServer> {
    let mut vs = VirtualServer::new(name, serde_yaml::from_str("size: 2CPU-8GB").unwrap());
    vs.metadata.namespace = Some(ns.into());
    vs.status = id.map(|id| {
        let mut s = VirtualServerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(vs)
}

fn servers() -> Vec<Arc<VirtualServer>> {
    vec![
        server("web-2", "billing", Some("srv-2")),
        server("web-1", "billing", Some("srv-1")),
        server("web-3", "billing", None),
        server("web-4", "other-tenant", Some("srv-4")),
    ]
}

fn platform(spec: &p::SmtpRelaySpec) -> p::SmtpRelay {
    p::SmtpRelay {
        id: "smtp-000001".into(),
        tags: Default::default(),
        state: ResourceState::Available,
        client_token: ClientToken::new("smtprelay-uid-mail").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: spec.clone(),
        endpoint: Some("smtp-relay.sim.invalid:25".into()),
        accepted: 12,
        rejected: 1,
    }
}

#[test]
fn allowed_servers_resolve_in_the_namespace_and_unbuilt_ones_wait() {
    let obj = relay(
        "noreply@mail.suido-platform.example",
        &["web-2", "web-1", "web-3"],
    );
    let refs = steps::resolve(&obj, &servers(), DOMAIN).unwrap();
    assert_eq!(
        refs.servers,
        [
            ("web-1".to_owned(), "srv-1".to_owned()),
            ("web-2".to_owned(), "srv-2".to_owned())
        ]
    );
    assert_eq!(refs.waiting, ["VirtualServer web-3 is not built yet"]);
    let foreign = relay("noreply@mail.suido-platform.example", &["web-1", "web-4"]);
    let err = steps::resolve(&foreign, &servers(), DOMAIN).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
    assert_eq!(
        err.to_string(),
        "spec.allowedServers[1] web-4: no VirtualServer of that name in namespace billing"
    );
    let across = relay(
        "noreply@mail.suido-platform.example",
        &["other-tenant/web-4"],
    );
    let err = steps::resolve(&across, &servers(), DOMAIN).unwrap_err();
    assert_eq!(err.reason(), reasons::CROSS_NAMESPACE_REFERENCE);
}

#[test]
fn the_sender_must_be_in_the_designated_domain() {
    assert!(steps::check_sender("noreply@Mail.Suido-Platform.EXAMPLE", DOMAIN).is_ok());
    for bad in [
        "noreply@example.jp",
        "noreply@sub.mail.suido-platform.example",
        "@mail.suido-platform.example",
        "mail.suido-platform.example",
    ] {
        let err = steps::check_sender(bad, DOMAIN).unwrap_err();
        assert!(matches!(err, Error::InvalidSpec(_)), "{bad}");
        assert_eq!(err.reason(), reasons::INVALID_SPEC);
    }
    let obj = relay("billing-noreply@suido-relay.example", &["web-1"]);
    let refs = steps::resolve(&obj, &servers(), DOMAIN).unwrap();
    let err = steps::build(&obj, &refs).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.senderAddress billing-noreply@suido-relay.example is not in the platform's designated sender domain mail.suido-platform.example; use an address ending in @mail.suido-platform.example"
    );
    let s = failed_status(&obj, &err, Timestamp::UNIX_EPOCH);
    assert_eq!(s.managed.phase, Some(Phase::Failed));
    let ready = s
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", reasons::INVALID_SPEC)
    );
    assert!(ready.message.contains("spec.senderAddress"));
}

#[test]
fn build_sends_the_configured_domain_and_server_ids_and_plan_follows_servers() {
    let obj = relay(
        "noreply@mail.suido-platform.example",
        &["web-2", "web-1", "web-3"],
    );
    let refs = steps::resolve(&obj, &servers(), "Mail.Suido-Platform.example").unwrap();
    let want = steps::build(&obj, &refs).unwrap();
    assert_eq!(want.name, "billing-mail");
    assert_eq!(want.sender_domain, DOMAIN);
    assert_eq!(want.allowed_clients, ["srv-1", "srv-2"]);
    assert_eq!(
        steps::plan(&want, &platform(&want), &refs),
        Step::WaitForReferences(vec!["VirtualServer web-3 is not built yet".into()])
    );
    let mut old = want.clone();
    old.allowed_clients = vec!["srv-2".into()];
    let step = steps::plan(&want, &platform(&old), &refs);
    assert_eq!(step, Step::Update(vec!["allowed servers (1 -> 2)".into()]));
    assert_eq!(
        family::notes(&step)[0].message,
        "sending the new configuration to the platform: allowed servers (1 -> 2)"
    );
    let mut reordered = want.clone();
    reordered.allowed_clients.reverse();
    let done = steps::Refs {
        waiting: vec![],
        ..refs
    };
    assert_eq!(steps::plan(&want, &platform(&reordered), &done), Step::Done);
}

#[test]
fn status_shows_the_endpoint_counters_and_the_servers_in_force() {
    let obj = relay("noreply@mail.suido-platform.example", &["web-2", "web-1"]);
    let refs = steps::resolve(&obj, &servers(), DOMAIN).unwrap();
    let want = steps::build(&obj, &refs).unwrap();
    let obs = |spec: &p::SmtpRelaySpec| Observation::<SmtpRelay> {
        external: Some(platform(spec)),
        step: Some(Step::Done),
        refs: Some(refs.clone()),
        observe_only: false,
    };
    let s = desired_status(&obj, &obs(&want), Timestamp::from_second(3).unwrap());
    assert_eq!(s.managed.phase, Some(Phase::Available));
    assert_eq!(
        s.relay_endpoint.as_deref(),
        Some("smtp-relay.sim.invalid:25")
    );
    assert_eq!((s.accepted, s.rejected), (Some(12), Some(1)));
    assert_eq!(s.allowed_servers, ["web-1", "web-2"]);
    let mut again = obj.clone();
    again.status = Some(s.clone());
    assert_eq!(
        desired_status(&again, &obs(&want), Timestamp::from_second(30).unwrap()),
        s
    );
    let mut old = want.clone();
    old.allowed_clients = vec!["srv-2".into()];
    let s = desired_status(&again, &obs(&old), Timestamp::from_second(30).unwrap());
    assert_eq!(
        s.allowed_servers,
        ["web-2"],
        "only what the spec in force allows"
    );
}

#[test]
fn operator_tenants_may_have_relays() {
    let obj = relay("noreply@mail.suido-platform.example", &["web-1"]);
    let mut tn = Tenant::new(
        "water",
        TenantSpec {
            tenant_type: TenantType::Operator,
            utility: "Kawasemi".into(),
            environment: Environment::Production,
            namespaces: vec!["billing".into()],
            contacts: Contacts {
                severe: vec![],
                minor: vec![],
            },
        },
    );
    tn.metadata.name = Some("water".into());
    assert!(tenant_of(&obj, &[Arc::new(tn)]).is_ok());
    assert!(obj.vendor_only().is_empty());
}
