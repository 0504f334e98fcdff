//! Unit tests of the VirtualServer's pure steps and status.

use super::plan::*;
use super::*;
use crate::managed::lifecycle::{desired_status, failed_status};
use crate::managed::{Error, Observation};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::ProviderError;
use suido_provider::{ClientToken, Disk, DiskSpec};

fn vs(spec_yaml: &str) -> VirtualServer {
    let spec: VirtualServerSpec = serde_yaml::from_str(spec_yaml).unwrap();
    let mut vs = VirtualServer::new("web-1", spec);
    vs.metadata.namespace = Some("billing".into());
    vs.metadata.uid = Some("uid-1".into());
    vs.metadata.generation = Some(1);
    vs
}

fn server(state: ServerState, size: &str) -> Server {
    Server {
        id: "srv-1".into(),
        name: "web-1".into(),
        tags: Default::default(),
        state,
        size: suido_provider::ServerSize::parse(size).unwrap(),
        os: suido_provider::OperatingSystem::RockyLinux,
        os_disk_gb: 40,
        packages: vec![],
        antivirus: suido_provider::Antivirus::None,
        rds_licenses: None,
        address: Some("10.1.0.5".into()),
        disks: vec![],
        volumes: vec![],
        monitoring: None,
        client_token: ClientToken::new("virtualserver-uid-1").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

#[test]
fn build_maps_the_spec_and_defaults_the_os_disk() {
    let v = vs(r#"size: 8CPU-64GB
os: WindowsServer
packages: ["SQLServer"]
rdsLicenses: 30
disks: [{"name": "data", "sizeGb": 500}]
monitoring: {"icmp": {"severity": "Severe"}, "processes": [{"name": "sqlservr.exe", "severity": "Severe"}]}"#);
    let (spec, monitoring) = build(&v);
    assert_eq!(spec.size.to_string(), "8CPU-64GB");
    assert_eq!(spec.os, suido_provider::OperatingSystem::WindowsServer);
    assert_eq!(spec.os_disk_gb, Some(80));
    assert_eq!(
        spec.packages,
        [suido_provider::CommercialPackage::SqlServer]
    );
    assert_eq!(spec.rds_licenses, Some(30));
    assert_eq!(
        spec.disks,
        [DiskSpec {
            name: "data".into(),
            size_gb: 500
        }]
    );
    let m = monitoring.unwrap();
    assert_eq!(m.icmp, Some(suido_provider::AlertSeverity::Severe));
    assert_eq!(m.processes.len(), 1);
    let linux = vs("size: 1CPU-2GB");
    assert_eq!(build(&linux).0.os_disk_gb, Some(40));
}

#[test]
fn a_resize_of_a_running_server_stops_resizes_then_starts_when_immediate() {
    let v = vs("size: 4CPU-16GB\ndisruption: Immediate");
    let (desired, mon) = build(&v);
    let running = server(ServerState::Running, "2CPU-8GB");
    let step = plan(&v.spec, &desired, mon.as_ref(), &running, false);
    assert!(matches!(&step, Step::Stop { changes } if changes.len() == 1));
    let stopped = server(ServerState::Stopped, "2CPU-8GB");
    assert_eq!(
        plan(&v.spec, &desired, mon.as_ref(), &stopped, false),
        Step::Apply(Change::Resize(
            suido_provider::ServerSize::parse("4CPU-16GB").unwrap()
        ))
    );
    let resized = server(ServerState::Stopped, "4CPU-16GB");
    assert_eq!(
        plan(&v.spec, &desired, mon.as_ref(), &resized, false),
        Step::Start
    );
    let done = server(ServerState::Running, "4CPU-16GB");
    assert_eq!(
        plan(&v.spec, &desired, mon.as_ref(), &done, false),
        Step::Done
    );
    let mut busy = server(ServerState::Running, "2CPU-8GB");
    busy.operation = Some("op-1".into());
    assert_eq!(
        plan(&v.spec, &desired, mon.as_ref(), &busy, false),
        Step::Wait
    );
}

#[test]
fn disruption_policies_hold_changes_until_allowed() {
    let running = server(ServerState::Running, "2CPU-8GB");
    let next_stop = vs("size: 4CPU-16GB\ndisruption: NextStop");
    let (d, m) = build(&next_stop);
    assert!(matches!(
        plan(&next_stop.spec, &d, m.as_ref(), &running, true),
        Step::Hold {
            reason: HoldReason::WaitingForStop,
            ..
        }
    ));
    // The tenant asks for a stop: the server stops, and the change applies while stopped.
    let stop_asked = vs("size: 4CPU-16GB\ndisruption: NextStop\npowerState: Stopped");
    assert!(matches!(
        plan(&stop_asked.spec, &d, m.as_ref(), &running, false),
        Step::Stop { .. }
    ));
    let stopped = server(ServerState::Stopped, "2CPU-8GB");
    assert!(matches!(
        plan(&stop_asked.spec, &d, m.as_ref(), &stopped, false),
        Step::Apply(_)
    ));
    let window = vs("size: 4CPU-16GB\ndisruption: NextMaintenanceWindow");
    assert!(matches!(
        plan(&window.spec, &d, m.as_ref(), &running, false),
        Step::Hold {
            reason: HoldReason::WaitingForMaintenance,
            ..
        }
    ));
    assert!(matches!(
        plan(&window.spec, &d, m.as_ref(), &running, true),
        Step::Stop { .. }
    ));
}

#[test]
fn disk_changes_are_listed_in_order_and_power_follows_the_spec() {
    let v = vs(r#"size: 2CPU-8GB
disks: [{"name": "data", "sizeGb": 500}, {"name": "logs", "sizeGb": 100}]
powerState: Stopped"#);
    let (d, m) = build(&v);
    let mut s = server(ServerState::Running, "2CPU-8GB");
    s.disks = vec![
        Disk {
            id: "d1".into(),
            name: "data".into(),
            size_gb: 300,
        },
        Disk {
            id: "d2".into(),
            name: "old".into(),
            size_gb: 40,
        },
    ];
    let changes = disruptive_changes(&d, &s);
    assert_eq!(
        changes,
        [
            Change::GrowDisk {
                name: "data".into(),
                size_gb: 500
            },
            Change::AttachDisk(DiskSpec {
                name: "logs".into(),
                size_gb: 100
            }),
            Change::DetachDisk("old".into()),
        ]
    );
    assert_eq!(changes[0].describe(&s), "grow disk data 300 -> 500 GB");
    let in_sync = server(ServerState::Running, "2CPU-8GB");
    let plain = vs("size: 2CPU-8GB\npowerState: Stopped");
    let (pd, pm) = build(&plain);
    assert_eq!(
        plan(&plain.spec, &pd, pm.as_ref(), &in_sync, false),
        Step::Stop { changes: vec![] }
    );
    let _ = m;
}

#[test]
fn monitoring_differences_are_pushed() {
    let v = vs(r#"size: 2CPU-8GB
monitoring: {"icmp": {"severity": "Minor"}}"#);
    let (d, m) = build(&v);
    let s = server(ServerState::Running, "2CPU-8GB");
    assert_eq!(
        plan(&v.spec, &d, m.as_ref(), &s, false),
        Step::Monitor(m.clone())
    );
    let mut pushed = s.clone();
    pushed.monitoring = m.clone();
    assert_eq!(plan(&v.spec, &d, m.as_ref(), &pushed, false), Step::Done);
}

#[test]
fn status_is_deterministic_and_reports_phase_and_conditions() {
    let v = vs("size: 2CPU-8GB");
    let mut with_volume = server(ServerState::Running, "2CPU-8GB");
    with_volume.volumes = vec!["vol-1".into()];
    let obs = Observation::<VirtualServer> {
        external: Some(with_volume),
        step: Some(Step::Done),
        refs: Some(Refs {
            volumes: vec![("data-vol".into(), "vol-1".into())],
            ..Refs::default()
        }),
        observe_only: false,
    };
    let t1 = Timestamp::from_second(100).unwrap();
    let s1 = desired_status(&v, &obs, t1);
    assert_eq!(s1.managed.phase, Some(Phase::Available));
    assert_eq!(s1.managed.external_id.as_deref(), Some("srv-1"));
    assert_eq!(s1.size, Some(ServerSize::Cpu2Mem8));
    assert_eq!(s1.power_state, Some(PowerState::Running));
    assert!(crate::conditions::is_true(
        &s1.managed.conditions,
        cond::READY
    ));
    assert!(crate::conditions::is_true(
        &s1.managed.conditions,
        cond::ATTACHED
    ));
    assert!(!crate::conditions::is_true(
        &s1.managed.conditions,
        cond::RESTART_REQUIRED
    ));
    let mut again = v.clone();
    again.status = Some(s1.clone());
    let s2 = desired_status(&again, &obs, Timestamp::from_second(200).unwrap());
    assert_eq!(s1, s2, "the same observation later writes nothing");
}

#[test]
fn steps_during_the_first_build_show_as_the_provisioning_marker() {
    let v = vs("size: 2CPU-8GB\npowerState: Stopped");
    let marker = desired_status(
        &v,
        &Observation::<VirtualServer> {
            external: None,
            step: None,
            refs: None,
            observe_only: false,
        },
        Timestamp::UNIX_EPOCH,
    );
    let stopping = Observation::<VirtualServer> {
        external: Some(server(ServerState::Running, "2CPU-8GB")),
        step: Some(Step::Stop { changes: vec![] }),
        refs: None,
        observe_only: false,
    };
    assert_eq!(desired_status(&v, &stopping, Timestamp::UNIX_EPOCH), marker);
    // After the first build settles, the same step shows as Updating.
    let mut built = v.clone();
    built.status = Some(desired_status(
        &v,
        &Observation::<VirtualServer> {
            external: Some(server(ServerState::Stopped, "2CPU-8GB")),
            step: Some(Step::Done),
            refs: None,
            observe_only: false,
        },
        Timestamp::UNIX_EPOCH,
    ));
    assert_eq!(
        built.status.as_ref().unwrap().managed.phase,
        Some(Phase::Stopped)
    );
    assert_eq!(
        desired_status(&built, &stopping, Timestamp::UNIX_EPOCH)
            .managed
            .phase,
        Some(Phase::Updating)
    );
}

#[test]
fn held_changes_show_restart_required_with_the_change() {
    let v = vs("size: 4CPU-16GB");
    let s = server(ServerState::Running, "2CPU-8GB");
    let (d, m) = build(&v);
    let step = plan(&v.spec, &d, m.as_ref(), &s, false);
    let obs = Observation::<VirtualServer> {
        external: Some(s),
        step: Some(step),
        refs: None,
        observe_only: false,
    };
    let status = desired_status(&v, &obs, Timestamp::UNIX_EPOCH);
    assert_eq!(status.managed.phase, Some(Phase::Waiting));
    assert_eq!(status.pending_changes, ["size 2CPU-8GB -> 4CPU-16GB"]);
    let rr = status
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::RESTART_REQUIRED)
        .unwrap();
    assert_eq!(rr.status, "True");
    assert_eq!(rr.reason, reasons::WAITING_FOR_STOP);
    assert!(rr.message.contains("size 2CPU-8GB -> 4CPU-16GB"));
}

#[test]
fn terminal_errors_show_in_ready_and_tenant_policy_transient_only_in_synced() {
    let v = vs("size: 2CPU-8GB");
    let terminal = Error::TenantPolicy("DeepSecurity is vendor-only".into());
    let s = failed_status(&v, &terminal, Timestamp::UNIX_EPOCH);
    assert_eq!(s.managed.phase, Some(Phase::Failed));
    let get = |t: &str| {
        s.managed
            .conditions
            .iter()
            .find(|c| c.type_ == t)
            .unwrap()
            .clone()
    };
    assert_eq!(get(cond::READY).reason, reasons::VENDOR_ONLY);
    assert_eq!(get(cond::TENANT_POLICY).status, "False");
    // GitOps tools read a terminal refusal as Failed (kstatus: Stalled=True).
    assert_eq!(get(cond::STALLED).status, "True");
    assert_eq!(get(cond::STALLED).reason, reasons::VENDOR_ONLY);
    assert!(
        s.managed
            .conditions
            .iter()
            .all(|c| c.type_ != cond::RECONCILING)
    );
    let transient = Error::from(ProviderError::transient("503"));
    assert!(!transient.is_terminal());
    assert_eq!(transient.metric_label(), "provider_transient");
    let s = failed_status(&v, &transient, Timestamp::UNIX_EPOCH);
    assert_eq!(s.managed.conditions.len(), 1);
    assert_eq!(s.managed.conditions[0].type_, cond::SYNCED);
    assert_eq!(s.managed.phase, None);
}
