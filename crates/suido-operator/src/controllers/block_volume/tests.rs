//! Unit tests of the BlockVolume's pure steps and status.

use super::steps::*;
use super::*;
use crate::managed::lifecycle::{desired_status, failed_status};
use crate::managed::{Error, Observation};
use std::sync::Arc;
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{ClientToken, VolumePlan};

fn status_of(
    v: &BlockVolume,
    volume: Option<&Volume>,
    step: Option<&Step>,
    target: &Target,
    now: Timestamp,
) -> BlockVolumeStatus {
    desired_status(
        v,
        &Observation::<BlockVolume> {
            external: volume.cloned(),
            step: step.cloned(),
            refs: Some(target.clone()),
            observe_only: false,
        },
        now,
    )
}

fn bv(yaml: &str) -> BlockVolume {
    let spec: BlockVolumeSpec = serde_yaml::from_str(yaml).unwrap();
    let mut bv = BlockVolume::new("data", spec);
    bv.metadata.namespace = Some("billing".into());
    bv.metadata.uid = Some("uid-9".into());
    bv.metadata.generation = Some(1);
    bv
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

fn volume(size: u32, attached: Option<&str>) -> Volume {
    Volume {
        id: "vol-1".into(),
        name: "data".into(),
        tags: Default::default(),
        state: if attached.is_some() {
            VolumeState::Attached
        } else {
            VolumeState::Available
        },
        plan: VolumePlan::Iops4PerGb,
        size_gb: size,
        attached_to: attached.map(Into::into),
        iscsi_target: "iqn.2026-11.dev.suido:vol-1".into(),
        client_token: ClientToken::new("blockvolume-uid-9").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
    }
}

#[test]
fn attachment_resolves_only_within_the_namespace() {
    let v = bv("plan: 4IOPS/GB\nsizeGb: 1000\nattachTo: {serverName: db}");
    let servers = vec![
        server("db", "other-tenant", Some("srv-x")),
        server("db", "billing", None),
    ];
    assert_eq!(target(&v, &servers).unwrap(), Target::NotReady("db".into()));
    let elsewhere = vec![server("db", "other-tenant", Some("srv-x"))];
    assert_eq!(
        target(&v, &elsewhere).unwrap_err().reason(),
        reasons::REFERENCE_NOT_FOUND
    );
    let servers = vec![
        server("db", "other-tenant", Some("srv-x")),
        server("db", "billing", Some("srv-1")),
    ];
    assert_eq!(
        target(&v, &servers).unwrap(),
        Target::Server {
            name: "db".into(),
            id: "srv-1".into()
        }
    );
    assert_eq!(
        target(&bv("plan: 2IOPS/GB\nsizeGb: 100"), &servers).unwrap(),
        Target::Detached
    );
}

#[test]
fn plan_grows_then_attaches_and_detaches() {
    let v = bv("plan: 4IOPS/GB\nsizeGb: 2000\nattachTo: {serverName: db}");
    let want = build(&v);
    assert_eq!(want.plan, VolumePlan::Iops4PerGb);
    let t = Target::Server {
        name: "db".into(),
        id: "srv-1".into(),
    };
    assert_eq!(plan(&want, &volume(1000, None), &t), Step::Grow(2000));
    assert_eq!(
        plan(&want, &volume(2000, None), &t),
        Step::Attach("srv-1".into())
    );
    assert_eq!(plan(&want, &volume(2000, Some("srv-1")), &t), Step::Done);
    assert_eq!(plan(&want, &volume(2000, Some("srv-2")), &t), Step::Detach);
    assert_eq!(
        plan(&want, &volume(2000, Some("srv-1")), &Target::Detached),
        Step::Detach
    );
    assert_eq!(
        plan(&want, &volume(2000, None), &Target::NotReady("db".into())),
        Step::WaitForServer("db".into())
    );
    assert_eq!(
        plan(&want, &volume(2000, None), &Target::Detached),
        Step::Done
    );
    let mut busy = volume(1000, None);
    busy.operation = Some("op".into());
    assert_eq!(plan(&want, &busy, &t), Step::Wait);
}

#[test]
fn status_shows_the_attachment_and_is_stable() {
    let v = bv("plan: 4IOPS/GB\nsizeGb: 1000\nattachTo: {serverName: db}");
    let t = Target::Server {
        name: "db".into(),
        id: "srv-1".into(),
    };
    let vol = volume(1000, Some("srv-1"));
    let s = status_of(
        &v,
        Some(&vol),
        Some(&Step::Done),
        &t,
        Timestamp::from_second(5).unwrap(),
    );
    assert_eq!(s.attached_to.as_deref(), Some("db"));
    assert_eq!(s.size_gb, Some(1000));
    assert_eq!(s.managed.phase, Some(Phase::Available));
    assert!(crate::conditions::is_true(
        &s.managed.conditions,
        cond::ATTACHED
    ));
    assert!(crate::conditions::is_true(
        &s.managed.conditions,
        cond::READY
    ));
    let mut again = v.clone();
    again.status = Some(s.clone());
    assert_eq!(
        status_of(
            &again,
            Some(&vol),
            Some(&Step::Done),
            &t,
            Timestamp::from_second(50).unwrap()
        ),
        s
    );
    // While first created, attaching shows as the Provisioning marker: no extra write.
    let marker = status_of(&v, None, None, &t, Timestamp::UNIX_EPOCH);
    let attaching = status_of(
        &v,
        Some(&volume(1000, None)),
        Some(&Step::Attach("srv-1".into())),
        &t,
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(attaching, marker);
    assert_eq!(marker.managed.phase, Some(Phase::Provisioning));
    // Once delivered, a move to a server not built yet waits visibly.
    let mut delivered = v.clone();
    delivered.status = Some(s.clone());
    let waiting = status_of(
        &delivered,
        Some(&volume(1000, None)),
        Some(&Step::WaitForServer("db".into())),
        &Target::NotReady("db".into()),
        Timestamp::UNIX_EPOCH,
    );
    assert_eq!(waiting.managed.phase, Some(Phase::Waiting));
    let attached = waiting
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::ATTACHED)
        .unwrap();
    assert_eq!(attached.status, "False");
    assert!(attached.message.contains("waiting for VirtualServer db"));
}

#[test]
fn protected_deletes_are_terminal_and_keep_the_phase() {
    let v = bv("plan: 2IOPS/GB\nsizeGb: 100\ndeletionProtection: true");
    let protected = Error::Blocked {
        reason: reasons::DELETION_PROTECTED,
        message: "spec.deletionProtection is true".into(),
    };
    assert!(protected.is_terminal());
    let s = failed_status(&v, &protected, Timestamp::UNIX_EPOCH);
    let ready = s
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .unwrap();
    assert_eq!(ready.reason, reasons::DELETION_PROTECTED);
    assert!(ready.message.contains("spec.deletionProtection"));
    assert_eq!(s.managed.phase, None, "a held delete is not a failure");
}
