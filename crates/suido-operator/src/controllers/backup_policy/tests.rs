//! Unit tests of the BackupPolicy's pure steps and status.

use std::sync::Arc;
use std::time::Duration;
use suido_provider::ResourceState;

use super::steps::*;
use super::*;
use crate::managed::lifecycle::{desired_status, failed_status, held_status};
use crate::managed::{Flow, Observation};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{
    BackupFailure, BackupModeKind, BackupScopeKind, RecoveryPoint, RecoveryPointKind,
};

fn policy(extra: &str) -> BackupPolicy {
    let spec: BackupPolicySpec = serde_yaml::from_str(&format!(
        "serverName: db\nschedule: '0 2 * * *'\ngenerations: 7\n{extra}"
    ))
    .unwrap();
    let mut bp = BackupPolicy::new("nightly", spec);
    bp.metadata.namespace = Some("billing".into());
    bp.metadata.uid = Some("uid-b".into());
    bp.metadata.generation = Some(1);
    bp
}

fn vs(name: &str, ns: &str, id: Option<&str>) -> Arc<VirtualServer> {
    let mut vs = VirtualServer::new(name, serde_yaml::from_str("size: 2CPU-8GB").unwrap());
    vs.metadata.namespace = Some(ns.into());
    vs.status = id.map(|id| {
        let mut s = VirtualServerStatus::default();
        s.managed.external_id = Some(id.into());
        s
    });
    Arc::new(vs)
}

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn built() -> Server {
    Server {
        name: "db".into(),
        id: Some("srv-1".into()),
    }
}

fn job(spec: BackupJobSpec) -> BackupJob {
    BackupJob {
        id: "bkj-1".into(),
        tags: Default::default(),
        state: ResourceState::Available,
        client_token: ClientToken::new("backuppolicy-uid-b").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec,
        last_run: Some(at("2026-11-30T17:00:00Z")),
        next_run: Some(at("2026-12-01T17:00:00Z")),
        recovery_points: vec![
            RecoveryPoint {
                id: "rp-2".into(),
                taken_at: at("2026-11-30T17:00:00Z"),
                kind: RecoveryPointKind::Incremental,
                size_gb: 5,
            },
            RecoveryPoint {
                id: "rp-1".into(),
                taken_at: at("2026-11-29T17:00:00Z"),
                kind: RecoveryPointKind::Full,
                size_gb: 100,
            },
        ],
        failures: vec![],
    }
}

fn failure(at_: &str, reason: &str) -> BackupFailure {
    BackupFailure {
        at: at(at_),
        reason: reason.into(),
    }
}

fn status_of(bp: &BackupPolicy, j: Option<&BackupJob>, step: Option<&Step>) -> BackupPolicyStatus {
    desired_status(
        bp,
        &Observation::<BackupPolicy> {
            external: j.cloned(),
            step: step.cloned(),
            refs: Some(built()),
            observe_only: false,
        },
        at("2026-12-01T00:00:00Z"),
    )
}

fn condition(status: &BackupPolicyStatus, t: &str) -> (String, String, String) {
    let c = status
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

#[test]
fn the_server_resolves_in_the_namespace_and_the_job_is_built_from_the_spec() {
    let bp = policy("mode: Incremental\nmergeSchedule: '0 5 * * 0'\nscope: DataOnly");
    let servers = vec![
        vs("db", "elsewhere", Some("srv-x")),
        vs("db", "billing", None),
    ];
    let waiting = server(&bp, &servers).unwrap();
    assert_eq!(
        waiting,
        Server {
            name: "db".into(),
            id: None
        }
    );
    assert_eq!(
        build(&bp, &waiting),
        None,
        "nothing to register before the server is built"
    );
    let hold = gate(&waiting).unwrap();
    assert_eq!(hold.reason, reasons::REFERENCE_NOT_READY);
    assert_eq!(
        hold.message,
        "waiting for VirtualServer db in this namespace to be built"
    );
    assert_eq!(hold.flow, Flow::Settled);
    let spec = build(&bp, &built()).unwrap();
    assert_eq!(
        spec,
        BackupJobSpec {
            name: "nightly".into(),
            server_id: "srv-1".into(),
            scope: BackupScopeKind::DataOnly,
            schedule: "0 2 * * *".into(),
            time_zone: "Asia/Tokyo".into(),
            generations: 7,
            mode: BackupModeKind::Incremental,
            merge_schedule: Some("0 5 * * 0".into()),
        }
    );
    assert!(gate(&built()).is_none());
    let missing = server(&bp, &[vs("db", "elsewhere", Some("srv-x"))]).unwrap_err();
    assert_eq!(missing.reason(), reasons::REFERENCE_NOT_FOUND);
    assert!(missing.is_terminal());
}

#[test]
fn a_registered_job_waits_is_updated_on_a_change_and_follows_its_server() {
    let bp = policy("");
    let desired = build(&bp, &built()).unwrap();
    let mut j = job(desired.clone());
    assert_eq!(plan(Some(&desired), &j, &built()), Step::Done);
    j.operation = Some("op-9".into());
    assert_eq!(plan(Some(&desired), &j, &built()), Step::Wait);
    j.operation = None;
    let mut edited = policy("");
    edited.spec.generations = 3;
    edited.spec.schedule = "*/5 * * * *".into();
    let changed = build(&edited, &built()).unwrap();
    assert_eq!(
        plan(Some(&changed), &j, &built()),
        Step::Update(vec!["schedule", "generations"])
    );
    // A system restore replaced the server: the VirtualServer now names another id.
    let moved = Server {
        name: "db".into(),
        id: Some("srv-2".into()),
    };
    let follow = build(&bp, &moved).unwrap();
    assert_eq!(
        plan(Some(&follow), &j, &moved),
        Step::Update(vec!["server"])
    );
    // The id it names is gone (a system restore moved the job to the new server already):
    // nothing to update; with other changes, they wait for the VirtualServer to follow.
    assert_eq!(server_gone(&["server"], "db", "srv-2"), Step::Done);
    assert_eq!(
        server_gone(&["server", "schedule"], "db", "srv-2"),
        Step::WaitForServer {
            name: "db".into(),
            gone: Some("srv-2".into())
        }
    );
    // The VirtualServer lost its id (its server is being rebuilt): wait, do not update.
    let lost = Server {
        name: "db".into(),
        id: None,
    };
    assert_eq!(
        plan(None, &j, &lost),
        Step::WaitForServer {
            name: "db".into(),
            gone: None
        }
    );
    assert!(!BackupPolicy::settled(&Step::WaitForServer {
        name: "db".into(),
        gone: None
    }));
}

#[test]
fn each_failed_run_is_new_once_oldest_first() {
    let platform = vec![
        failure("2026-11-30T17:00:00Z", "server srv-1 is not Running"),
        failure("2026-11-29T17:00:00Z", "host down"),
    ];
    let fresh = new_failures(&[], &platform);
    assert_eq!(
        fresh.iter().map(|f| f.reason.as_str()).collect::<Vec<_>>(),
        ["host down", "server srv-1 is not Running"]
    );
    // Once the status lists them, nothing is new.
    let bp = policy("");
    let mut j = job(build(&bp, &built()).unwrap());
    j.failures = platform.clone();
    let status = status_of(&bp, Some(&j), Some(&Step::Done));
    assert_eq!(
        status.failures[0],
        BackupFailureStatus {
            at: "2026-11-30T17:00:00Z".into(),
            reason: "server srv-1 is not Running".into()
        }
    );
    assert!(new_failures(&status.failures, &platform).is_empty());
    // The next run fails too: only that one is new, and the oldest may have dropped off.
    let later = vec![
        failure("2026-12-01T17:00:00Z", "server srv-1 is not Running"),
        platform[0].clone(),
    ];
    let fresh = new_failures(&status.failures, &later);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].at, at("2026-12-01T17:00:00Z"));
    assert_eq!(
        failure_note(fresh[0]),
        "the backup run due at 2026-12-01T17:00:00Z failed: server srv-1 is not Running"
    );
}

#[test]
fn the_status_shows_the_job_and_is_the_same_for_the_same_observation() {
    let bp = policy("");
    let j = job(build(&bp, &built()).unwrap());
    let status = status_of(&bp, Some(&j), Some(&Step::Done));
    assert_eq!(status.managed.phase, Some(Phase::Available));
    assert_eq!(status.managed.external_id.as_deref(), Some("bkj-1"));
    assert_eq!(
        status.last_backup_time.as_deref(),
        Some("2026-11-30T17:00:00Z")
    );
    assert_eq!(
        status.next_backup_time.as_deref(),
        Some("2026-12-01T17:00:00Z")
    );
    assert_eq!(status.stored_generations, Some(2));
    assert_eq!(
        status.recovery_points[0],
        RecoveryPointStatus {
            id: "rp-2".into(),
            taken_at: "2026-11-30T17:00:00Z".into(),
            kind: "Incremental".into()
        }
    );
    assert_eq!(status.recovery_points[1].kind, "Full");
    assert_eq!(condition(&status, cond::READY).0, "True");
    assert_eq!(
        condition(&status, cond::REFERENCES_RESOLVED),
        (
            "True".into(),
            reasons::RESOLVED.into(),
            "VirtualServer db is server srv-1".into()
        )
    );
    let mut again = bp.clone();
    again.status = Some(status.clone());
    let later = desired_status(
        &again,
        &Observation::<BackupPolicy> {
            external: Some(j),
            step: Some(Step::Done),
            refs: Some(built()),
            observe_only: false,
        },
        at("2026-12-01T09:00:00Z"),
    );
    assert_eq!(later, status, "recomputing changes nothing");
}

#[test]
fn a_policy_waiting_for_its_server_says_so() {
    let bp = policy("");
    let waiting = Server {
        name: "db".into(),
        id: None,
    };
    let hold = gate(&waiting).unwrap();
    let status = held_status(&bp, Some(&waiting), &hold, at("2026-12-01T00:00:00Z"));
    assert_eq!(status.managed.phase, Some(Phase::Waiting));
    assert_eq!(
        condition(&status, cond::READY).1,
        reasons::REFERENCE_NOT_READY
    );
    assert_eq!(condition(&status, cond::REFERENCES_RESOLVED).0, "False");
    let gone = verdict(
        &bp,
        &Step::WaitForServer {
            name: "db".into(),
            gone: Some("srv-1".into()),
        },
    );
    assert_eq!(gone.phase, Phase::Waiting);
    assert!(gone.ready.message.contains("no longer has"));
}

#[test]
fn the_policy_looks_again_just_after_each_run() {
    let now = at("2026-12-01T03:00:30Z");
    // A once-a-minute schedule: the next run in 30 s is seen 3 s after it.
    assert_eq!(
        wait_for_run(at("2026-12-01T03:01:00Z"), now),
        Duration::from_secs(33)
    );
    // Overdue (the platform has not run it yet): look again soon, but not in a loop.
    assert_eq!(
        wait_for_run(at("2026-12-01T02:00:00Z"), now),
        Duration::from_secs(3)
    );
    // A nightly schedule: capped (the lifecycle caps it at the drift interval too).
    assert_eq!(
        wait_for_run(at("2026-12-02T02:00:00Z"), now),
        Duration::from_secs(3600)
    );
    let bp = policy("");
    let mut j = job(build(&bp, &built()).unwrap());
    j.next_run = Some(at("2026-12-01T03:01:00Z"));
    assert_eq!(
        flow(&Step::Done, &j, now),
        Flow::SettledFor(Duration::from_secs(33))
    );
    assert_eq!(flow(&Step::Update(vec!["schedule"]), &j, now), Flow::Poll);
    j.next_run = None;
    assert_eq!(flow(&Step::Done, &j, now), Flow::Settled);
}

#[test]
fn a_server_gone_missing_shows_in_ready_and_references_resolved() {
    let mut bp = policy("");
    let j = job(build(&bp, &built()).unwrap());
    bp.status = Some(status_of(&bp, Some(&j), Some(&Step::Done)));
    let missing = server(&bp, &[]).unwrap_err();
    let status = failed_status(&bp, &missing, at("2026-12-01T00:00:00Z"));
    let want = (
        "False".to_owned(),
        reasons::REFERENCE_NOT_FOUND.to_owned(),
        "spec.serverName db: no VirtualServer of that name in namespace billing".to_owned(),
    );
    assert_eq!(condition(&status, cond::READY), want);
    assert_eq!(condition(&status, cond::REFERENCES_RESOLVED), want);
    assert_eq!(status.managed.phase, Some(Phase::Failed));
}
