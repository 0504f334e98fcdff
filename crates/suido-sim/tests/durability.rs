//! The service families across restarts and through the platform's own work: records, running
//! operations, the clock and backup schedules survive a restart from the same directory; the
//! scheduler keeps the generations and records failed runs; and without token deduplication
//! every create makes a new resource.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use suido_provider::{
    BackupModeKind, BackupProvider, ComputeProvider, LoadBalancerProvider, OperationState,
    Operations, RecoveryPointKind, ResourceState, Tags, WafPlan, WafProvider, WafSpec,
};

const HOUR: Duration = Duration::from_secs(3600);

#[tokio::test]
async fn records_running_operations_the_clock_and_schedules_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Family operations take a minute: they are still running at the restart.
    let r = rules(0, 60_000);
    let (sim, p, _) = start(dir.path(), r.clone()).await;
    let t = tenant("kawasemi");
    let srv = running_server(&p, "db", &t).await;
    let lb_op = p
        .create_load_balancer(&token("lb"), &t, &redundant_lb("lb", 9, "10.20.9.9"))
        .await
        .unwrap();
    let job_op = p
        .create_backup_job(
            &token("job"),
            &t,
            &hourly_job(&srv, BackupModeKind::Full, 5),
        )
        .await
        .unwrap();
    sim.shutdown().await;

    let (sim, p, admin) = start(dir.path(), r.clone()).await;
    let lb = p.get_load_balancer(&lb_op.resource_id).await.unwrap();
    assert_eq!(lb.state, ResourceState::Creating);
    assert_eq!(lb.operation.as_deref(), Some(lb_op.id.as_str()));
    assert_eq!(
        p.get_operation(&lb_op.id).await.unwrap().state,
        OperationState::Running
    );
    // The token is remembered across the restart.
    let replay = p
        .create_load_balancer(&token("lb"), &t, &redundant_lb("lb", 9, "10.20.9.9"))
        .await
        .unwrap();
    assert_eq!(replay.id, lb_op.id);
    // A minute later (on the platform's clock) both operations have completed.
    let clock = admin.advance_clock(Duration::from_secs(61)).await.unwrap();
    assert_eq!(clock.offset_ms, 61_000);
    assert_eq!(
        p.get_operation(&lb_op.id).await.unwrap().state,
        OperationState::Succeeded
    );
    assert_eq!(
        p.get_operation(&job_op.id).await.unwrap().state,
        OperationState::Succeeded
    );
    let job = p.get_backup_job(&job_op.resource_id).await.unwrap();
    let next_run = job.next_run.unwrap();
    assert!(job.recovery_points.is_empty());
    sim.shutdown().await;

    let (sim, p, admin) = start(dir.path(), r).await;
    assert_eq!(admin.clock().await.unwrap().offset_ms, 61_000);
    let job = p.get_backup_job(&job_op.resource_id).await.unwrap();
    assert_eq!(job.next_run, Some(next_run));
    assert_eq!(job.state, ResourceState::Available);
    admin.advance_clock(HOUR).await.unwrap();
    let job = p.get_backup_job(&job_op.resource_id).await.unwrap();
    assert!(
        !job.recovery_points.is_empty(),
        "the scheduler ran after the restart"
    );
    assert!(job.recovery_points[0].taken_at >= next_run);
    assert!(job.next_run.unwrap() > next_run);
    assert_eq!(
        p.get_load_balancer(&lb_op.resource_id).await.unwrap().state,
        ResourceState::Available
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn the_scheduler_keeps_the_generations_and_records_failed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, admin) = start(dir.path(), rules(0, 0)).await;
    let srv = running_server(&p, "app", &Tags::new()).await;
    let job = p
        .create_backup_job(
            &token("job"),
            &Tags::new(),
            &hourly_job(&srv, BackupModeKind::Incremental, 3),
        )
        .await
        .unwrap()
        .resource_id;
    for _ in 0..6 {
        admin.advance_clock(HOUR).await.unwrap();
    }
    let j = p.get_backup_job(&job).await.unwrap();
    let kinds: Vec<RecoveryPointKind> = j.recovery_points.iter().map(|p| p.kind).collect();
    assert_eq!(
        kinds,
        [
            RecoveryPointKind::Incremental,
            RecoveryPointKind::Incremental,
            RecoveryPointKind::Full
        ]
    );
    assert!(
        j.recovery_points
            .windows(2)
            .all(|w| w[0].taken_at > w[1].taken_at),
        "newest first"
    );
    assert!(j.failures.is_empty());

    // A stopped server makes the run fail; so does an injected failure.
    succeed(&p, p.stop_server(&srv).await.unwrap()).await;
    admin.advance_clock(HOUR).await.unwrap();
    let j = p.get_backup_job(&job).await.unwrap();
    assert!(j.failures[0].reason.contains("Stopped"), "{:?}", j.failures);
    assert_eq!(j.last_run, Some(j.failures[0].at));
    succeed(&p, p.start_server(&srv).await.unwrap()).await;
    let before = admin
        .fail_backup_runs(&job, 1)
        .await
        .unwrap()
        .failures
        .len();
    admin.advance_clock(HOUR).await.unwrap();
    let j = p.get_backup_job(&job).await.unwrap();
    assert!(j.failures.len() > before);
    assert!(
        j.failures[0].reason.contains("injected"),
        "{:?}",
        j.failures
    );
    let newest = j.recovery_points[0].taken_at;
    admin.advance_clock(HOUR).await.unwrap();
    let j = p.get_backup_job(&job).await.unwrap();
    assert!(j.recovery_points[0].taken_at > newest, "runs succeed again");
    assert_eq!(j.recovery_points.len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn without_token_deduplication_every_create_makes_a_new_resource() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rules(0, 0);
    r.idempotency_tokens = false;
    let (sim, p, _) = start(dir.path(), r).await;
    let spec = WafSpec {
        name: "waf".into(),
        plan: WafPlan::Cpu2Mem4,
        functions: Default::default(),
        targets: Vec::new(),
    };
    let first = p
        .create_waf(&token("ns/waf:uid"), &Tags::new(), &spec)
        .await
        .unwrap();
    let second = p
        .create_waf(&token("ns/waf:uid"), &Tags::new(), &spec)
        .await
        .unwrap();
    assert_ne!(first.resource_id, second.resource_id);
    let wafs = p.list_wafs(&Tags::new()).await.unwrap();
    assert_eq!(wafs.len(), 2);
    assert!(wafs.iter().all(|w| w.client_token.as_str() == "ns/waf:uid"));
    // Servers too, and even a different request with the same token is accepted.
    let a = p
        .create_server(&token("ns/vs:uid"), &Tags::new(), &server_spec("a"))
        .await
        .unwrap();
    let b = p
        .create_server(&token("ns/vs:uid"), &Tags::new(), &server_spec("b"))
        .await
        .unwrap();
    assert_ne!(a.resource_id, b.resource_id);
    sim.shutdown().await;
}
