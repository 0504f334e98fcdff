//! Unit tests of the ServerSnapshot's pure steps: the gate of both stop policies, the start of
//! a server Suido stopped, and the status.

use jiff::Timestamp;
use std::sync::Arc;
use suido_provider::ResourceState;

use super::steps::*;
use super::*;
use crate::managed::Observation;
use crate::managed::lifecycle::{desired_status, held_status};
use suido_api::v1alpha1::conditions::{self as cond, reasons};
use suido_api::v1alpha1::*;
use suido_provider::{Antivirus, OperatingSystem, Server, ServerSize, ServerState};

fn snap(policy: &str) -> ServerSnapshot {
    let spec: ServerSnapshotSpec =
        serde_yaml::from_str(&format!("serverName: files\nstopPolicy: {policy}")).unwrap();
    let mut s = ServerSnapshot::new("before-upgrade", spec);
    s.metadata.namespace = Some("ops".into());
    s.metadata.uid = Some("uid-s".into());
    s.metadata.generation = Some(1);
    s
}

fn server(state: ServerState, busy: bool) -> Server {
    Server {
        id: "srv-1".into(),
        name: "files".into(),
        tags: Default::default(),
        state,
        size: ServerSize::parse("2CPU-8GB").unwrap(),
        os: OperatingSystem::RockyLinux,
        os_disk_gb: 40,
        packages: vec![],
        antivirus: Antivirus::None,
        rds_licenses: None,
        address: None,
        disks: vec![],
        volumes: vec![],
        monitoring: None,
        client_token: ClientToken::new("virtualserver-u").unwrap(),
        operation: busy.then(|| "op-1".to_owned()),
        created_at: Timestamp::UNIX_EPOCH,
    }
}

fn source(server_: SourceServer) -> Source {
    Source {
        name: "files".into(),
        server: server_,
        wants_running: true,
    }
}

fn built(state: ServerState, busy: bool) -> Source {
    source(SourceServer::Built(Box::new(server(state, busy))))
}

fn snapshot(state: ResourceState) -> Snapshot {
    Snapshot {
        id: "snap-1".into(),
        tags: Default::default(),
        state,
        client_token: ClientToken::new("serversnapshot-uid-s").unwrap(),
        operation: None,
        created_at: Timestamp::UNIX_EPOCH,
        spec: SnapshotSpec {
            name: "before-upgrade".into(),
            server_id: "srv-1".into(),
        },
        server_id: "srv-1".into(),
        size_gb: 40,
        taken_at: (state != ResourceState::Creating)
            .then(|| "2026-12-01T01:00:00Z".parse().unwrap()),
    }
}

fn ready(status: &ServerSnapshotStatus) -> (String, String, String) {
    let c = status
        .managed
        .conditions
        .iter()
        .find(|c| c.type_ == cond::READY)
        .unwrap();
    (c.status.clone(), c.reason.clone(), c.message.clone())
}

fn now() -> Timestamp {
    "2026-12-01T00:00:00Z".parse().unwrap()
}

#[test]
fn wait_for_stop_holds_while_the_server_runs_and_says_to_stop_it() {
    let p = SnapshotStopPolicy::WaitForStop;
    assert_eq!(
        gate(p, &built(ServerState::Running, false)),
        Gate::Hold(Wait::WaitingForStop)
    );
    assert_eq!(gate(p, &built(ServerState::Stopped, false)), Gate::Go);
    assert_eq!(
        gate(p, &built(ServerState::Stopped, true)),
        Gate::Hold(Wait::ServerBusy)
    );
    assert_eq!(
        gate(p, &source(SourceServer::NotBuilt)),
        Gate::Hold(Wait::ServerNotBuilt)
    );
    assert_eq!(
        gate(p, &built(ServerState::Building, false)),
        Gate::Hold(Wait::ServerNotBuilt)
    );
    let obj = snap("WaitForStop");
    let running = built(ServerState::Running, false);
    let status = held_status(
        &obj,
        Some(&running),
        &hold(Wait::WaitingForStop, "files"),
        now(),
    );
    assert_eq!(status.managed.phase, Some(Phase::Waiting));
    assert_eq!(status.operation_phase, Some(OperationPhase::WaitingForStop));
    let (ok, reason, message) = ready(&status);
    assert_eq!(
        (ok.as_str(), reason.as_str()),
        ("False", reasons::WAITING_FOR_STOP)
    );
    assert!(
        message.starts_with("VirtualServer files is running: stop it"),
        "{message}"
    );
}

#[test]
fn stop_server_stops_a_running_server_once_and_waits_while_it_stops() {
    let p = SnapshotStopPolicy::StopServer;
    assert_eq!(gate(p, &built(ServerState::Running, false)), Gate::Stop);
    // The stop runs (an operation on the running server): wait, do not stop again.
    assert_eq!(
        gate(p, &built(ServerState::Running, true)),
        Gate::Hold(Wait::Stopping)
    );
    assert_eq!(gate(p, &built(ServerState::Stopped, false)), Gate::Go);
    let obj = snap("StopServer");
    let stopping = built(ServerState::Running, true);
    let status = held_status(&obj, Some(&stopping), &hold(Wait::Stopping, "files"), now());
    assert_eq!(status.operation_phase, Some(OperationPhase::Stopping));
    assert_eq!(ready(&status).1, reasons::IN_PROGRESS);
    assert_eq!(hold(Wait::Stopping, "files").flow, Flow::Poll);
    // The marker before the create of a stopped server says the image is being taken.
    assert_eq!(
        operation_phase(p, None, None, Some(&built(ServerState::Stopped, false))),
        OperationPhase::InProgress
    );
}

#[test]
fn a_server_suido_stopped_is_started_again_and_only_that_one() {
    let taken = snapshot(ResourceState::Available);
    // Suido stopped srv-1: start it once the image is taken, and not while it is held.
    assert_eq!(
        plan(&taken, &built(ServerState::Stopped, false), Some("srv-1")),
        Step::Restart
    );
    assert_eq!(
        plan(&taken, &built(ServerState::Stopped, true), Some("srv-1")),
        Step::Wait
    );
    assert_eq!(
        plan(
            &snapshot(ResourceState::Creating),
            &built(ServerState::Stopped, false),
            Some("srv-1")
        ),
        Step::Wait
    );
    // Running again (started by Suido or anyone): the record goes.
    assert_eq!(
        plan(&taken, &built(ServerState::Running, true), Some("srv-1")),
        Step::Release
    );
    // A failed image still starts the server.
    assert_eq!(
        plan(
            &snapshot(ResourceState::Error),
            &built(ServerState::Stopped, false),
            Some("srv-1")
        ),
        Step::Restart
    );
    // The tenant stopped it (no record): never started.
    assert_eq!(
        plan(&taken, &built(ServerState::Stopped, false), None),
        Step::Done
    );
    // The VirtualServer now asks for it stopped, or names another server, or is gone.
    let mut keep_stopped = built(ServerState::Stopped, false);
    keep_stopped.wants_running = false;
    assert_eq!(restart("srv-1", Some(&keep_stopped)), Restart::Release);
    assert_eq!(
        restart("srv-0", Some(&built(ServerState::Stopped, false))),
        Restart::Release
    );
    assert_eq!(restart("srv-1", None), Restart::Release);
    assert_eq!(
        restart("srv-1", Some(&built(ServerState::Stopped, false))),
        Restart::Start
    );
}

#[test]
fn the_status_shows_progress_and_completion_and_is_deterministic() {
    let obj = snap("StopServer");
    let src = built(ServerState::Stopped, false);
    let obs = |s: ResourceState, step: Step| Observation::<ServerSnapshot> {
        external: Some(snapshot(s)),
        step: Some(step),
        refs: Some(src.clone()),
        observe_only: false,
    };
    let mut done_obj = obj.clone();
    let mut base = ServerSnapshotStatus::default();
    base.managed.phase = Some(Phase::Available);
    done_obj.status = Some(base);
    let status = desired_status(&done_obj, &obs(ResourceState::Available, Step::Done), now());
    assert_eq!(status.operation_phase, Some(OperationPhase::Completed));
    assert_eq!(status.taken_at.as_deref(), Some("2026-12-01T01:00:00Z"));
    assert_eq!(status.size_gb, Some(40));
    assert_eq!(status.managed.external_id.as_deref(), Some("snap-1"));
    assert_eq!(ready(&status).1, reasons::SUCCEEDED);
    done_obj.status = Some(status.clone());
    let again = desired_status(
        &done_obj,
        &obs(ResourceState::Available, Step::Done),
        "2026-12-02T00:00:00Z".parse().unwrap(),
    );
    assert_eq!(again, status);
    let restarting = desired_status(
        &done_obj,
        &obs(ResourceState::Available, Step::Restart),
        now(),
    );
    assert_eq!(restarting.operation_phase, Some(OperationPhase::InProgress));
    assert_eq!(ready(&restarting).0, "False");
    let failed = desired_status(&done_obj, &obs(ResourceState::Error, Step::Restart), now());
    assert_eq!(failed.operation_phase, Some(OperationPhase::Failed));
    assert_eq!(failed.managed.phase, Some(Phase::Failed));
    assert!(ServerSnapshot::settled(&Step::Release));
    assert!(!ServerSnapshot::settled(&Step::Restart));
}

#[test]
fn the_server_must_exist_until_the_image_is_taken() {
    let mut obj = snap("WaitForStop");
    let err = locate(&obj, &[]).unwrap_err();
    assert_eq!(err.reason(), reasons::REFERENCE_NOT_FOUND);
    let mut vs = VirtualServer::new(
        "files",
        serde_yaml::from_str("size: 2CPU-8GB\npowerState: Stopped").unwrap(),
    );
    vs.metadata.namespace = Some("ops".into());
    let located = locate(&obj, &[Arc::new(vs)]).unwrap().unwrap();
    assert_eq!(
        located,
        Located {
            id: None,
            wants_running: false
        }
    );
    assert_eq!(build(&obj, &source(SourceServer::NotBuilt)), None);
    assert_eq!(
        build(&obj, &built(ServerState::Stopped, false)),
        Some(SnapshotSpec {
            name: "before-upgrade".into(),
            server_id: "srv-1".into()
        })
    );
    let mut status = ServerSnapshotStatus::default();
    status.managed.external_id = Some("snap-1".into());
    obj.status = Some(status);
    assert_eq!(
        locate(&obj, &[]).unwrap(),
        None,
        "the image outlives its server"
    );
    // Its image gone from the platform, it is not taken again.
    let gone = lost(&obj).unwrap();
    assert_eq!(gone.reason(), reasons::LOST);
    assert!(gone.is_terminal());
    assert!(lost(&snap("StopServer")).is_none());
}
