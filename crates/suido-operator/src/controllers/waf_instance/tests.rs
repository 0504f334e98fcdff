//! Unit tests of the WafInstance's pure steps and status, and of the target resolution it
//! shares with IntrusionPrevention.

use jiff::Timestamp;
use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{self as p, ClientToken, ProtectedTarget, ResourceState};

use super::*;
use crate::managed::lifecycle::{desired_status, tenant_of};
use crate::managed::{Flow, Observation};

const SPEC: &str = r#"
plan: 2CPU-4GB
functions:
  antivirus: true
  ipReputation: true
  ipAccessControl:
    allow: [203.0.113.64/26, 198.51.100.0/24]
    deny: [203.0.113.99/32]
protects:
  - {kind: LoadBalancer, name: billing-lb}
  - {kind: VirtualServer, name: billing-db}
"#;

fn waf(yaml: &str) -> WafInstance {
    let spec: WafInstanceSpec = serde_yaml::from_str(yaml).unwrap();
    let mut waf = WafInstance::new("billing-waf", spec);
    waf.metadata.namespace = Some("billing".into());
    waf.metadata.uid = Some("uid-waf".into());
    waf.metadata.generation = Some(1);
    waf
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

fn load_balancer(name: &str, ns: &str, id: Option<&str>) -> Arc<LoadBalancer> {
    let spec: LoadBalancerSpec = serde_yaml::from_str(
        "topology: Single\nthroughputMbps: 50\nlisteners: [{protocol: TCP, port: 80}]\nbackends: [{serverName: billing-db, port: 80}]",
    )
    .unwrap();
    let mut lb = LoadBalancer::new(name, spec);
    lb.metadata.namespace = Some(ns.into());
    lb.status = id.map(|id| {
        let mut s = LoadBalancerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(lb)
}

fn resolve(
    obj: &WafInstance,
    servers: &[Arc<VirtualServer>],
    lbs: &[Arc<LoadBalancer>],
) -> Result<Targets, Error> {
    family::targets("spec.protects", &obj.spec.protects, "billing", servers, lbs)
}

fn both_built() -> Targets {
    resolve(
        &waf(SPEC),
        &[server("billing-db", "billing", Some("srv-3"))],
        &[load_balancer("billing-lb", "billing", Some("lb-000001"))],
    )
    .unwrap()
}

fn platform(spec: &p::WafSpec) -> p::Waf {
    p::Waf {
        id: "waf-000001".into(),
        tags: Default::default(),
        state: ResourceState::Available,
        client_token: ClientToken::new("wafinstance-uid-waf").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: spec.clone(),
        requests_inspected: 1200,
        requests_blocked: 17,
    }
}

#[test]
fn targets_resolve_to_server_and_load_balancer_ids_in_the_namespace() {
    let targets = both_built();
    assert_eq!(
        targets.resolved,
        [
            ProtectedTarget {
                kind: p::TargetKind::Server,
                id: "srv-3".into()
            },
            ProtectedTarget {
                kind: p::TargetKind::LoadBalancer,
                id: "lb-000001".into()
            },
        ]
    );
    assert!(targets.waiting.is_empty());
    // Not built yet, or on its way out: wait.
    let mut going = (*server("billing-db", "billing", Some("srv-3"))).clone();
    going.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    let targets = resolve(
        &waf(SPEC),
        &[Arc::new(going)],
        &[load_balancer("billing-lb", "billing", None)],
    )
    .unwrap();
    assert!(targets.resolved.is_empty());
    assert_eq!(
        targets.waiting,
        [
            "LoadBalancer billing-lb is not built yet",
            "VirtualServer billing-db is being deleted"
        ]
    );
    // Another namespace's objects of the same names do not count.
    let err = resolve(
        &waf(SPEC),
        &[server("billing-db", "billing", Some("srv-3"))],
        &[load_balancer("billing-lb", "elsewhere", Some("lb-000009"))],
    )
    .unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
    assert_eq!(
        err.to_string(),
        "spec.protects[0].name billing-lb: no LoadBalancer of that name in namespace billing"
    );
    let foreign = waf("plan: 2CPU-4GB\nprotects: [{kind: VirtualServer, name: other/db}]");
    let err = resolve(&foreign, &[], &[]).unwrap_err();
    assert_eq!(err.reason(), reasons::CROSS_NAMESPACE_REFERENCE);
}

#[test]
fn build_maps_plan_functions_and_lists() {
    let want = steps::build(&waf(SPEC), &both_built());
    assert_eq!(want.name, "billing-waf");
    assert_eq!(want.plan, p::WafPlan::Cpu2Mem4);
    let f = &want.functions;
    assert!(f.signature_inspection && f.dos_protection, "on by default");
    assert!(f.antivirus && f.ip_reputation);
    assert_eq!(f.allow, ["198.51.100.0/24", "203.0.113.64/26"]);
    assert_eq!(f.deny, ["203.0.113.99/32"]);
    assert_eq!(want.targets.len(), 2);
    let bare = steps::build(
        &waf("plan: 4CPU-6GB\nprotects: [{kind: VirtualServer, name: db}]"),
        &Targets::default(),
    );
    assert_eq!(bare.plan, p::WafPlan::Cpu4Mem6);
    assert!(bare.functions.allow.is_empty() && !bare.functions.antivirus);
}

#[test]
fn plan_updates_when_the_spec_differs_and_waits_while_busy() {
    let targets = both_built();
    let want = steps::build(&waf(SPEC), &targets);
    assert_eq!(steps::plan(&want, &platform(&want), &targets), Step::Done);
    // The platform keeps the order it was given; another order is no difference.
    let mut reordered = want.clone();
    reordered.functions.allow.reverse();
    reordered.targets.reverse();
    assert_eq!(
        steps::plan(&want, &platform(&reordered), &targets),
        Step::Done
    );
    let mut old = want.clone();
    old.plan = p::WafPlan::Cpu4Mem6;
    old.functions.antivirus = false;
    old.functions.deny.clear();
    old.targets.truncate(1);
    let step = steps::plan(&want, &platform(&old), &targets);
    assert_eq!(
        step,
        Step::Update(vec![
            "plan 4CPU-6GB -> 2CPU-4GB".into(),
            "antivirus on".into(),
            "deny list (0 -> 1 CIDRs)".into(),
            "targets (1 in force, 2 desired)".into(),
        ])
    );
    assert_eq!(family::flow(&step), Flow::Poll);
    let mut updating = platform(&old);
    updating.state = ResourceState::Updating;
    updating.operation = Some("op-4".into());
    assert_eq!(steps::plan(&want, &updating, &targets), Step::Wait);
    // Broken on the platform: nothing to send; look again at the drift interval, not at once.
    updating.state = ResourceState::Error;
    let step = steps::plan(&want, &updating, &targets);
    assert_eq!(step, Step::Broken);
    assert_eq!(family::flow(&step), Flow::Settled);
    let waiting = Targets {
        waiting: vec!["VirtualServer web-4 is not built yet".into()],
        ..targets
    };
    assert!(matches!(
        steps::plan(&want, &platform(&want), &waiting),
        Step::WaitForReferences(_)
    ));
}

#[test]
fn status_counts_protected_targets_and_is_stable() {
    let obj = waf(SPEC);
    let targets = both_built();
    let want = steps::build(&obj, &targets);
    let mut partly = want.clone();
    partly.targets.truncate(1);
    let obs = |spec: &p::WafSpec| Observation::<WafInstance> {
        external: Some(platform(spec)),
        step: Some(Step::Done),
        refs: Some(targets.clone()),
        observe_only: false,
    };
    let s = desired_status(&obj, &obs(&want), Timestamp::from_second(1).unwrap());
    assert_eq!(s.managed.phase, Some(Phase::Available));
    assert_eq!(s.protected_targets, Some(2));
    assert_eq!(s.requests_inspected, Some(1200));
    assert_eq!(s.requests_blocked, Some(17));
    assert!(crate::conditions::is_true(
        &s.managed.conditions,
        cond::READY
    ));
    assert!(crate::conditions::is_true(
        &s.managed.conditions,
        cond::REFERENCES_RESOLVED
    ));
    let mut again = obj.clone();
    again.status = Some(s.clone());
    assert_eq!(
        desired_status(&again, &obs(&want), Timestamp::from_second(99).unwrap()),
        s
    );
    let s = desired_status(&again, &obs(&partly), Timestamp::from_second(99).unwrap());
    assert_eq!(
        s.protected_targets,
        Some(1),
        "only what the spec in force protects"
    );
}

#[test]
fn operator_tenants_are_refused_wafs() {
    let obj = waf(SPEC);
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
    let err = tenant_of(&obj, &[Arc::new(tn)]).unwrap_err();
    assert_eq!(err.reason(), reasons::VENDOR_ONLY);
    assert!(
        err.to_string()
            .starts_with("WafInstance (service 6) is only available")
    );
}

#[test]
fn references_name_each_target_by_kind() {
    let obj = waf(SPEC);
    let refs = obj.references();
    let none = Default::default();
    assert!(
        refs.iter()
            .any(|r| r.kind == "LoadBalancer" && r.names("billing-lb", &none))
    );
    assert!(
        refs.iter()
            .any(|r| r.kind == "VirtualServer" && r.names("billing-db", &none))
    );
    assert!(
        !refs
            .iter()
            .any(|r| r.kind == "VirtualServer" && r.names("billing-lb", &none))
    );
}
