//! Unit tests of the IntrusionPrevention's pure steps and status.

use jiff::Timestamp;
use std::sync::Arc;

use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{self as p, ClientToken, ProtectedTarget, ResourceState};

use super::*;
use crate::managed::Observation;
use crate::managed::lifecycle::{desired_status, failed_status, tenant_of};

const SPEC: &str = r#"
profile: Strict
targets:
  - {kind: LoadBalancer, name: billing-lb}
  - {kind: VirtualServer, name: billing-db}
"#;

fn ips(yaml: &str) -> IntrusionPrevention {
    let spec: IntrusionPreventionSpec = serde_yaml::from_str(yaml).unwrap();
    let mut ips = IntrusionPrevention::new("billing-ips", spec);
    ips.metadata.namespace = Some("billing".into());
    ips.metadata.uid = Some("uid-ips".into());
    ips.metadata.generation = Some(1);
    ips
}

fn server(id: Option<&str>) -> Arc<VirtualServer> {
    let mut vs = VirtualServer::new(
        "billing-db",
        serde_yaml::from_str("size: 2CPU-8GB").unwrap(),
    );
    vs.metadata.namespace = Some("billing".into());
    vs.status = id.map(|id| {
        let mut s = VirtualServerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(vs)
}

fn load_balancer(id: Option<&str>) -> Arc<LoadBalancer> {
    let spec: LoadBalancerSpec = serde_yaml::from_str(
        "topology: Single\nthroughputMbps: 50\nlisteners: [{protocol: TCP, port: 80}]\nbackends: [{serverName: billing-db, port: 80}]",
    )
    .unwrap();
    let mut lb = LoadBalancer::new("billing-lb", spec);
    lb.metadata.namespace = Some("billing".into());
    lb.status = id.map(|id| {
        let mut s = LoadBalancerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(lb)
}

fn targets(obj: &IntrusionPrevention, lb: Option<&str>) -> Targets {
    family::targets(
        "spec.targets",
        &obj.spec.targets,
        "billing",
        &[server(Some("srv-3"))],
        &[load_balancer(lb)],
    )
    .unwrap()
}

fn platform(spec: &p::IpsSpec) -> p::Ips {
    p::Ips {
        id: "ips-000001".into(),
        tags: Default::default(),
        state: ResourceState::Available,
        client_token: ClientToken::new("intrusionprevention-uid-ips").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: spec.clone(),
        alerts: 40,
        drops: 3,
    }
}

#[test]
fn build_maps_the_profile_and_the_built_targets() {
    let obj = ips(SPEC);
    let want = steps::build(&obj, &targets(&obj, Some("lb-000001")));
    assert_eq!(want.name, "billing-ips");
    assert_eq!(want.profile, p::IpsProfileKind::Strict);
    assert_eq!(
        want.targets,
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
    let defaulted = ips("targets: [{kind: VirtualServer, name: billing-db}]");
    assert_eq!(
        steps::build(&defaulted, &Targets::default()).profile,
        p::IpsProfileKind::Balanced
    );
    let err = family::targets("spec.targets", &obj.spec.targets, "billing", &[], &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "spec.targets[0].name billing-lb: no LoadBalancer of that name in namespace billing"
    );
}

#[test]
fn plan_sends_a_new_profile_and_new_targets_then_waits_for_the_rest() {
    let obj = ips(SPEC);
    let partial = targets(&obj, None);
    assert_eq!(
        partial.waiting,
        ["LoadBalancer billing-lb is not built yet"]
    );
    let first = steps::build(&obj, &partial);
    assert_eq!(
        steps::plan(&first, &platform(&first), &partial),
        Step::WaitForReferences(vec!["LoadBalancer billing-lb is not built yet".into()])
    );
    // The load balancer is built: the IDS/IPS takes it on.
    let all = targets(&obj, Some("lb-000001"));
    let want = steps::build(&obj, &all);
    assert_eq!(
        steps::plan(&want, &platform(&first), &all),
        Step::Update(vec!["targets (1 in force, 2 desired)".into()])
    );
    let mut balanced = want.clone();
    balanced.profile = p::IpsProfileKind::Balanced;
    assert_eq!(
        steps::plan(&want, &platform(&balanced), &all),
        Step::Update(vec!["profile Balanced -> Strict".into()])
    );
    assert_eq!(steps::plan(&want, &platform(&want), &all), Step::Done);
    let mut busy = platform(&balanced);
    busy.operation = Some("op-1".into());
    assert_eq!(steps::plan(&want, &busy, &all), Step::Wait);
}

#[test]
fn status_reports_counters_and_is_stable() {
    let obj = ips(SPEC);
    let all = targets(&obj, Some("lb-000001"));
    let want = steps::build(&obj, &all);
    let obs = Observation::<IntrusionPrevention> {
        external: Some(platform(&want)),
        step: Some(Step::Done),
        refs: Some(all),
        observe_only: false,
    };
    let s = desired_status(&obj, &obs, Timestamp::from_second(1).unwrap());
    assert_eq!(s.managed.phase, Some(Phase::Available));
    assert_eq!(
        (s.protected_targets, s.alerts, s.drops),
        (Some(2), Some(40), Some(3))
    );
    let mut again = obj.clone();
    again.status = Some(s.clone());
    assert_eq!(
        desired_status(&again, &obs, Timestamp::from_second(2).unwrap()),
        s
    );
    // While the platform builds it, no counters yet.
    let mut creating = obs;
    if let Some(e) = creating.external.as_mut() {
        e.state = ResourceState::Creating;
    }
    let s = desired_status(&obj, &creating, Timestamp::UNIX_EPOCH);
    assert_eq!((s.alerts, s.protected_targets), (None, None));
}

#[test]
fn operator_tenants_are_refused_and_missing_targets_show_in_references_resolved() {
    let obj = ips(SPEC);
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
    assert_eq!(
        err.to_string(),
        "IntrusionPrevention (service 15) is only available to vendor tenants; tenant water is an Operator tenant"
    );
    let missing =
        family::targets("spec.targets", &obj.spec.targets, "billing", &[], &[]).unwrap_err();
    let s = failed_status(&obj, &missing, Timestamp::UNIX_EPOCH);
    let rr = s
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::REFERENCES_RESOLVED)
        .unwrap();
    assert_eq!(
        (rr.status.as_str(), rr.reason.as_str()),
        ("False", reasons::REFERENCE_NOT_FOUND)
    );
}
