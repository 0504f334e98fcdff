//! Unit tests of the LoadBalancer's pure steps and status.

use jiff::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{self as p, ClientToken, ResourceState, tls_fingerprint};

use super::status::backend_status;
use super::steps::{self, Member, Refs};
use super::*;
use crate::managed::lifecycle::{desired_status, failed_status, tenant_of};
use crate::managed::{Error, Flow, Observation};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIB0jCCAXigAwIBAgIU\n-----END CERTIFICATE-----\n";
const RENEWED: &str =
    "-----BEGIN CERTIFICATE-----\nMIIB0jCCAXigAwIBAgIV\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";

const SPEC: &str = r#"
topology: Redundant
vrrp: {virtualAddress: 10.20.30.10, groupId: 51}
throughputMbps: 200
algorithm: LeastConnections
listeners:
  - {protocol: HTTPS, port: 443, tls: {secretName: billing-tls}}
  - {protocol: HTTP, port: 80}
backends:
  - selector: {matchLabels: {app: billing}}
    port: 8080
  - serverName: batch
    port: 9000
    weight: 5
healthCheck: {protocol: HTTP, path: /healthz, intervalSeconds: 10, timeoutSeconds: 3}
"#;

fn lb(yaml: &str) -> LoadBalancer {
    let spec: LoadBalancerSpec = serde_yaml::from_str(yaml).unwrap();
    let mut lb = LoadBalancer::new("billing-lb", spec);
    lb.metadata.namespace = Some("billing".into());
    lb.metadata.uid = Some("uid-lb".into());
    lb.metadata.generation = Some(1);
    lb
}

fn server(name: &str, ns: &str, app: &str, id: Option<&str>) -> Arc<VirtualServer> {
    let mut vs = VirtualServer::new(name, serde_yaml::from_str("size: 2CPU-8GB").unwrap());
    vs.metadata.namespace = Some(ns.into());
    vs.metadata.labels = Some(BTreeMap::from([("app".to_owned(), app.to_owned())]));
    vs.status = id.map(|id| {
        let mut s = VirtualServerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(vs)
}

fn servers() -> Vec<Arc<VirtualServer>> {
    vec![
        server("web-2", "billing", "billing", Some("srv-2")),
        server("web-1", "billing", "billing", Some("srv-1")),
        server("web-3", "billing", "billing", None),
        server("web-9", "other-tenant", "billing", Some("srv-9")),
        server("batch", "billing", "batch", Some("srv-5")),
        server("db", "billing", "db", Some("srv-7")),
    ]
}

fn secret(type_: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        type_: Some(type_.into()),
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                .collect(),
        ),
        ..Secret::default()
    }
}

fn refs_with(certificate: &str) -> Refs {
    let (backends, waiting) = steps::backends(&lb(SPEC), &servers()).unwrap();
    Refs {
        backends,
        waiting,
        certificates: BTreeMap::from([(
            "billing-tls".to_owned(),
            p::TlsCertificate {
                certificate_pem: certificate.into(),
                private_key_pem: KEY.into(),
            },
        )]),
    }
}

/// The load balancer as the platform answers for `spec`: the spec without private keys, the
/// fingerprints of the certificates, and healthy backends except `down`.
fn platform(spec: &p::LoadBalancerSpec, down: &[&str]) -> p::LoadBalancer {
    p::LoadBalancer {
        id: "lb-000001".into(),
        tags: Default::default(),
        state: ResourceState::Available,
        client_token: ClientToken::new("loadbalancer-uid-lb").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: spec.redacted(),
        address: Some("10.20.30.10".into()),
        backend_health: spec
            .backends
            .iter()
            .map(|b| p::BackendHealth {
                server_id: b.server_id.clone(),
                address: Some(format!("10.20.0.{}", &b.server_id[4..])),
                healthy: !down.contains(&b.server_id.as_str()),
            })
            .collect(),
        tls_fingerprints: steps::fingerprints(spec),
    }
}

fn status_of(
    obj: &LoadBalancer,
    lb: Option<&p::LoadBalancer>,
    step: Step,
    refs: &Refs,
) -> LoadBalancerStatus {
    desired_status(
        obj,
        &Observation::<LoadBalancer> {
            external: lb.cloned(),
            step: Some(step),
            refs: Some(refs.clone()),
            observe_only: false,
        },
        Timestamp::from_second(10).unwrap(),
    )
}

fn condition(status: &LoadBalancerStatus, t: &str) -> (String, String, String) {
    let c = status
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn backends_resolve_by_name_and_selector_only_within_the_namespace() {
    let (members, waiting) = steps::backends(&lb(SPEC), &servers()).unwrap();
    let picked: Vec<(&str, &str, u32, u32)> = members
        .iter()
        .map(|m| (m.name.as_str(), m.server_id.as_str(), m.port, m.weight))
        .collect();
    assert_eq!(
        picked,
        [
            ("batch", "srv-5", 9000, 5),
            ("web-1", "srv-1", 8080, 1),
            ("web-2", "srv-2", 8080, 1),
        ],
        "sorted by name; web-9 is in another namespace"
    );
    assert_eq!(waiting, ["VirtualServer web-3 is not built yet"]);
    // A server on its way out leaves a selector's backends.
    let mut going = (*server("web-2", "billing", "billing", Some("srv-2"))).clone();
    going.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    let mut fewer = servers();
    fewer[0] = Arc::new(going);
    let (members, _) = steps::backends(&lb(SPEC), &fewer).unwrap();
    assert!(members.iter().all(|m| m.name != "web-2"));
    // A server and port listed twice count once, with the first entry's weight.
    let twice = lb(r#"
topology: Single
throughputMbps: 50
listeners: [{protocol: TCP, port: 5432}]
backends:
  - {serverName: db, port: 5432, weight: 7}
  - {selector: {matchLabels: {app: db}}, port: 5432, weight: 2}
  - {serverName: db, port: 5433}
"#);
    let (members, _) = steps::backends(&twice, &servers()).unwrap();
    let picked: Vec<(&str, u32, u32)> = members
        .iter()
        .map(|m| (m.server_id.as_str(), m.port, m.weight))
        .collect();
    assert_eq!(picked, [("srv-7", 5432, 7), ("srv-7", 5433, 1)]);
}

#[test]
fn a_missing_or_foreign_backend_is_refused_naming_the_field() {
    let missing = lb(r#"
topology: Single
throughputMbps: 50
listeners: [{protocol: TCP, port: 80}]
backends: [{selector: {matchLabels: {app: billing}}, port: 80}, {serverName: web-9, port: 80}]
"#);
    let err = steps::backends(&missing, &servers()).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
    assert_eq!(
        err.to_string(),
        "spec.backends[1].serverName web-9: no VirtualServer of that name in namespace billing"
    );
    let foreign = lb(r#"
topology: Single
throughputMbps: 50
listeners: [{protocol: TCP, port: 80}]
backends: [{serverName: other-tenant/web-9, port: 80}]
"#);
    let err = steps::backends(&foreign, &servers()).unwrap_err();
    assert_eq!(err.reason(), reasons::CROSS_NAMESPACE_REFERENCE);
    assert!(err.to_string().starts_with("spec.backends[0].serverName"));
}

#[test]
fn certificates_come_from_tls_secrets_only() {
    let field = "spec.listeners[0].tls.secretName";
    let good = secret("kubernetes.io/tls", &[("tls.crt", CERT), ("tls.key", KEY)]);
    let cert = steps::certificate(field, "billing", "billing-tls", Some(&good)).unwrap();
    assert_eq!(cert.certificate_pem, CERT);
    assert_eq!(cert.private_key_pem, KEY);
    assert!(
        !format!("{cert:?}").contains("MIGHAgEA"),
        "Debug hides the key"
    );
    let err = steps::certificate(field, "billing", "billing-tls", None).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
    assert_eq!(
        err.to_string(),
        "spec.listeners[0].tls.secretName billing-tls: no Secret of that name in namespace billing"
    );
    let opaque = secret("Opaque", &[("tls.crt", CERT), ("tls.key", KEY)]);
    let err = steps::certificate(field, "billing", "billing-tls", Some(&opaque)).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_READY);
    assert!(err.to_string().contains("of type Opaque"));
    let keyless = secret("kubernetes.io/tls", &[("tls.crt", CERT)]);
    let err = steps::certificate(field, "billing", "billing-tls", Some(&keyless)).unwrap_err();
    assert!(err.to_string().ends_with("the Secret has no tls.key"));
    assert!(err.is_terminal());
}

#[test]
fn build_maps_the_spec_and_the_resolved_references() {
    let want = steps::build(&lb(SPEC), &refs_with(CERT)).unwrap();
    assert_eq!(want.name, "billing-lb");
    assert_eq!(want.topology, p::LbTopology::Redundant);
    assert_eq!(
        want.vrrp,
        Some(p::VrrpSpec {
            virtual_address: "10.20.30.10".into(),
            group_id: 51
        })
    );
    assert_eq!(want.throughput_mbps, 200);
    assert_eq!(want.algorithm, p::LbAlgorithm::LeastConnections);
    assert_eq!(want.listeners.len(), 2);
    assert_eq!(want.listeners[0].protocol, p::LbProtocol::Https);
    let tls = want.listeners[0].tls.as_ref().unwrap();
    assert_eq!(
        (tls.certificate_pem.as_str(), tls.private_key_pem.as_str()),
        (CERT, KEY)
    );
    assert!(want.listeners[1].tls.is_none());
    let backends: Vec<(&str, u32, u32)> = want
        .backends
        .iter()
        .map(|b| (b.server_id.as_str(), b.port, b.weight))
        .collect();
    assert_eq!(
        backends,
        [("srv-5", 9000, 5), ("srv-1", 8080, 1), ("srv-2", 8080, 1)]
    );
    let check = want.health_check.unwrap();
    assert_eq!(check.protocol, p::LbProtocol::Http);
    assert_eq!(check.path.as_deref(), Some("/healthz"));
    assert_eq!(
        (
            check.interval_seconds,
            check.timeout_seconds,
            check.unhealthy_threshold
        ),
        (10, 3, 3)
    );
    // A listener whose Secret was not read cannot be built.
    let err = steps::build(&lb(SPEC), &Refs::default()).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
}

#[test]
fn plan_ignores_private_keys_and_resends_a_changed_certificate() {
    let obj = lb(SPEC);
    let refs = refs_with(CERT);
    let want = steps::build(&obj, &refs).unwrap();
    let in_force = platform(&want, &[]);
    assert!(
        in_force.spec.listeners[0]
            .tls
            .as_ref()
            .unwrap()
            .private_key_pem
            .is_empty()
    );
    // The platform never returns the key: the same certificate is in sync.
    assert_eq!(
        steps::plan(
            &want,
            &in_force,
            &Refs {
                waiting: vec![],
                ..refs.clone()
            }
        ),
        Step::Done
    );
    // The Secret was renewed: its certificate's fingerprint differs from the one in force.
    let renewed = refs_with(RENEWED);
    let new = steps::build(&obj, &renewed).unwrap();
    assert_ne!(tls_fingerprint(RENEWED), in_force.tls_fingerprints[0]);
    let step = steps::plan(&new, &in_force, &renewed);
    assert_eq!(
        step,
        Step::Update(vec!["certificate of listener 443".into()])
    );
    let notes = family::notes(&step);
    assert_eq!(notes[0].reason, "Updating");
    assert_eq!(
        notes[0].message,
        "sending the new configuration to the platform: certificate of listener 443"
    );
    // The same PEM with CRLF line ends is the same certificate.
    let crlf = refs_with(&CERT.replace('\n', "\r\n"));
    let same = steps::build(&obj, &crlf).unwrap();
    assert_eq!(
        steps::plan(
            &same,
            &in_force,
            &Refs {
                waiting: vec![],
                ..crlf
            }
        ),
        Step::Done
    );
}

#[test]
fn plan_updates_what_differs_waits_while_busy_then_for_references() {
    let obj = lb(SPEC);
    let refs = refs_with(CERT);
    let want = steps::build(&obj, &refs).unwrap();
    let mut busy = platform(&want, &[]);
    busy.state = ResourceState::Updating;
    assert_eq!(steps::plan(&want, &busy, &refs), Step::Wait);
    busy.state = ResourceState::Available;
    busy.operation = Some("op-9".into());
    assert_eq!(steps::plan(&want, &busy, &refs), Step::Wait);
    // A server was built since: it joins the backends.
    let mut old = want.clone();
    old.backends.pop();
    old.throughput_mbps = 50;
    let step = steps::plan(&want, &platform(&old, &[]), &refs);
    assert_eq!(
        step,
        Step::Update(vec![
            "throughput 50 -> 200 Mbps".into(),
            "backends (2 -> 3)".into()
        ])
    );
    assert_eq!(family::flow(&step), Flow::Poll);
    // In force, but web-3 is not built yet: wait for it, settled until the watch brings it.
    let step = steps::plan(&want, &platform(&want, &[]), &refs);
    assert_eq!(
        step,
        Step::WaitForReferences(vec!["VirtualServer web-3 is not built yet".into()])
    );
    assert_eq!(family::flow(&step), Flow::Settled);
    assert!(!LoadBalancer::settled(&step));
    // The backends' order on the platform does not matter.
    let mut shuffled = platform(&want, &[]);
    shuffled.spec.backends.reverse();
    let done = Refs {
        waiting: vec![],
        ..refs
    };
    assert_eq!(steps::plan(&want, &shuffled, &done), Step::Done);
}

#[test]
fn status_shows_backends_by_name_with_their_health_and_is_stable() {
    let obj = lb(SPEC);
    let refs = Refs {
        waiting: vec![],
        ..refs_with(CERT)
    };
    let want = steps::build(&obj, &refs).unwrap();
    let in_force = platform(&want, &["srv-2"]);
    let s = status_of(&obj, Some(&in_force), Step::Done, &refs);
    assert_eq!(s.managed.phase, Some(Phase::Available));
    assert_eq!(s.managed.external_id.as_deref(), Some("lb-000001"));
    assert_eq!(s.address.as_deref(), Some("10.20.30.10"));
    let shown: Vec<(&str, Option<&str>, u32, bool)> = s
        .backends
        .iter()
        .map(|b| (b.server.as_str(), b.address.as_deref(), b.port, b.healthy))
        .collect();
    assert_eq!(
        shown,
        [
            ("batch", Some("10.20.0.5"), 9000, true),
            ("web-1", Some("10.20.0.1"), 8080, true),
            ("web-2", Some("10.20.0.2"), 8080, false),
        ]
    );
    assert_eq!(s.healthy_backends, Some(2));
    assert_eq!(condition(&s, cond::READY).0, "True");
    assert_eq!(
        condition(&s, cond::REFERENCES_RESOLVED),
        (
            "True".into(),
            reasons::RESOLVED.into(),
            "every referenced object exists in this namespace and is built".into()
        )
    );
    let mut again = obj.clone();
    again.status = Some(s.clone());
    assert_eq!(
        status_of(&again, Some(&in_force), Step::Done, &refs),
        s,
        "a resync writes nothing"
    );
    // The platform computes health when it is read: a server started again shows healthy.
    let recovered = status_of(&again, Some(&platform(&want, &[])), Step::Done, &refs);
    assert_eq!(recovered.healthy_backends, Some(3));
    // One entry per server, with its lowest port.
    let mut two_ports = refs.clone();
    two_ports.backends.insert(
        1,
        Member {
            name: "batch".into(),
            server_id: "srv-5".into(),
            port: 9001,
            weight: 1,
        },
    );
    let shown = backend_status(&two_ports, &in_force);
    assert_eq!(shown.len(), 3);
    assert_eq!(shown[0].port, 9000);
}

#[test]
fn waiting_references_keep_the_marker_while_first_built_then_show_as_not_ready() {
    let obj = lb(SPEC);
    let refs = refs_with(CERT);
    let want = steps::build(&obj, &refs).unwrap();
    let in_force = platform(&want, &[]);
    let waiting = Step::WaitForReferences(refs.waiting.clone());
    let marker = desired_status(
        &obj,
        &Observation::<LoadBalancer> {
            external: None,
            step: None,
            refs: Some(refs.clone()),
            observe_only: false,
        },
        Timestamp::from_second(10).unwrap(),
    );
    let first = status_of(&obj, Some(&in_force), waiting.clone(), &refs);
    assert_eq!(first.managed.phase, Some(Phase::Provisioning));
    assert_eq!(
        first.managed.conditions, marker.managed.conditions,
        "no extra write while the first build waits"
    );
    let (status, reason, message) = condition(&first, cond::REFERENCES_RESOLVED);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", reasons::REFERENCE_NOT_READY)
    );
    assert_eq!(message, "waiting: VirtualServer web-3 is not built yet");
    // Once built, a new server not built yet shows in Ready too.
    let mut built = obj.clone();
    built.status = Some(status_of(
        &obj,
        Some(&in_force),
        Step::Done,
        &Refs {
            waiting: vec![],
            ..refs.clone()
        },
    ));
    let later = status_of(&built, Some(&in_force), waiting, &refs);
    assert_eq!(later.managed.phase, Some(Phase::Waiting));
    let (status, reason, message) = condition(&later, cond::READY);
    assert_eq!(
        (status.as_str(), reason.as_str()),
        ("False", reasons::REFERENCE_NOT_READY)
    );
    assert!(message.contains("VirtualServer web-3 is not built yet"));
}

#[test]
fn a_failed_reference_shows_in_ready_and_references_resolved() {
    let obj = lb(SPEC);
    let err = Error::Reference {
        reason: reasons::REFERENCE_NOT_FOUND,
        message: "spec.listeners[0].tls.secretName billing-tls: no Secret of that name in namespace billing".into(),
    };
    let s = failed_status(&obj, &err, Timestamp::UNIX_EPOCH);
    assert_eq!(s.managed.phase, Some(Phase::Failed));
    for t in [cond::READY, cond::REFERENCES_RESOLVED] {
        let (status, reason, message) = condition(&s, t);
        assert_eq!(
            (status.as_str(), reason.as_str()),
            ("False", reasons::REFERENCE_NOT_FOUND)
        );
        assert!(message.starts_with("spec.listeners[0].tls.secretName billing-tls"));
    }
    // A VRRP group id the platform refuses is an InvalidSpec, through the shared lifecycle.
    let taken = Error::from(suido_provider::ProviderError::invalid(
        "spec.vrrp.groupId 51 is already in use on the server segment",
    ));
    let s = failed_status(&obj, &taken, Timestamp::UNIX_EPOCH);
    assert_eq!(condition(&s, cond::READY).1, reasons::INVALID_SPEC);
}

fn tenant(t: TenantType) -> Arc<Tenant> {
    let mut tn = Tenant::new(
        "water",
        TenantSpec {
            tenant_type: t,
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
    Arc::new(tn)
}

#[test]
fn operator_tenants_are_refused_load_balancers() {
    let obj = lb(SPEC);
    let err = tenant_of(&obj, &[tenant(TenantType::Operator)]).unwrap_err();
    assert!(err.is_tenant_rule());
    assert_eq!(err.reason(), reasons::VENDOR_ONLY);
    assert_eq!(
        err.to_string(),
        "LoadBalancer (service 12) is only available to vendor tenants; tenant water is an Operator tenant"
    );
    let s = failed_status(&obj, &err, Timestamp::UNIX_EPOCH);
    assert_eq!(condition(&s, cond::TENANT_POLICY).0, "False");
    assert!(tenant_of(&obj, &[tenant(TenantType::Vendor)]).is_ok());
}

#[test]
fn references_cover_names_selectors_and_the_servers_in_status() {
    let mut obj = lb(SPEC);
    let labels = |app: &str| BTreeMap::from([("app".to_owned(), app.to_owned())]);
    let names = |obj: &LoadBalancer, name: &str, app: &str| {
        obj.references()
            .iter()
            .any(|r| r.kind == "VirtualServer" && r.names(name, &labels(app)))
    };
    assert!(names(&obj, "web-7", "billing"), "matched by the selector");
    assert!(names(&obj, "batch", "batch"), "named");
    assert!(!names(&obj, "web-7", "shop"));
    // A server whose labels changed still triggers the load balancer that lists it.
    obj.status = Some(LoadBalancerStatus {
        backends: vec![BackendStatus {
            server: "web-7".into(),
            address: None,
            port: 8080,
            healthy: true,
        }],
        ..LoadBalancerStatus::default()
    });
    assert!(names(&obj, "web-7", "shop"));
}
