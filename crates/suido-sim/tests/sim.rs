//! The simulated platform end to end, in process: the HTTP server on 127.0.0.1:0 and
//! `SimProvider` as its client.

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use suido_provider::{
    AlertSeverity, BlockStorageProvider, ClientToken, ComputeProvider, DiskSpec, FailureLayer,
    HealthProvider, HealthState, MonitoringSettings, OperatingSystem, Operation, OperationKind,
    OperationState, Operations, ProviderError, ServerSize, ServerSpec, ServerState, Tags,
    VolumePlan, VolumeSpec, VolumeState,
};
use suido_sim::{
    Durations, FaultSettings, Limits, Rules, Sim, SimAdmin, SimConfig, SimHandle, SimProvider,
};

async fn start(dir: &Path, rules: Rules, faults: FaultSettings) -> (SimHandle, SimProvider) {
    let mut config = SimConfig::new(dir);
    config.rules = rules;
    config.faults = faults;
    let handle = Sim::start(config).await.unwrap();
    let provider = SimProvider::new(&handle.url()).unwrap();
    (handle, provider)
}

fn rules(ms: u64) -> Rules {
    Rules {
        durations: Durations::uniform(ms),
        ..Rules::default()
    }
}

fn token(t: &str) -> ClientToken {
    ClientToken::new(t).unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn size(text: &str) -> ServerSize {
    ServerSize::parse(text).unwrap()
}

fn spec(name: &str, menu: &str) -> ServerSpec {
    ServerSpec {
        name: name.to_string(),
        size: size(menu),
        os: OperatingSystem::RockyLinux,
        os_disk_gb: None,
        packages: Vec::new(),
        antivirus: Default::default(),
        rds_licenses: None,
        disks: Vec::new(),
    }
}

/// Polls an operation until it ends. The bound only keeps a broken build from hanging.
async fn wait(p: &(impl Operations + ?Sized), op: &Operation) -> Operation {
    for _ in 0..3000 {
        let now = p.get_operation(&op.id).await.unwrap();
        if now.state.is_done() {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("operation {} never ended", op.id);
}

async fn succeed(p: &(impl Operations + ?Sized), op: Operation) -> Operation {
    let done = wait(p, &op).await;
    assert_eq!(done.state, OperationState::Succeeded, "{done:?}");
    done
}

fn label<T: std::fmt::Debug>(r: Result<T, ProviderError>) -> &'static str {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.label(),
    }
}

#[tokio::test]
async fn create_is_idempotent_by_client_token() {
    let dir = tempfile::tempdir().unwrap();
    // Slow enough that the server is still building when the next requests arrive.
    let (sim, p) = start(dir.path(), rules(500), FaultSettings::default()).await;
    let t = tags(&[("suido.dev/tenant", "a")]);
    let first = p
        .create_server(&token("ns/web:uid-1"), &t, &spec("web", "2CPU-8GB"))
        .await
        .unwrap();
    assert_eq!(first.kind, OperationKind::CreateServer);
    let again = p
        .create_server(&token("ns/web:uid-1"), &t, &spec("web", "2CPU-8GB"))
        .await
        .unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.resource_id, first.resource_id);

    let server = p.get_server(&first.resource_id).await.unwrap();
    assert_eq!(server.state, ServerState::Building);
    assert_eq!(server.operation.as_deref(), Some(first.id.as_str()));
    assert_eq!(server.os_disk_gb, 40);

    // Same token, different request: refused, nothing created.
    let other = p
        .create_server(&token("ns/web:uid-1"), &t, &spec("web", "4CPU-16GB"))
        .await;
    assert_eq!(label(other), "conflict");

    succeed(&p, first.clone()).await;
    let server = p.get_server(&first.resource_id).await.unwrap();
    assert_eq!(server.state, ServerState::Running);
    assert!(server.address.is_some());
    assert_eq!(server.operation, None);
    // After completion the token still names the same server.
    let late = p
        .create_server(&token("ns/web:uid-1"), &t, &spec("web", "2CPU-8GB"))
        .await
        .unwrap();
    assert_eq!(late.resource_id, first.resource_id);
    assert_eq!(late.state, OperationState::Succeeded);
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_create_that_times_out_after_commit_is_adopted_by_token() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSettings {
        timeout_after_commit_rate: 1.0,
        ..FaultSettings::default()
    };
    let (sim, p) = start(dir.path(), rules(0), faults).await;
    let tk = token("adopt-me");
    let err = p
        .create_server(&tk, &Tags::new(), &spec("db", "4CPU-32GB"))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert!(err.message().contains("504"), "{err}");
    // The create was committed although the client saw a timeout.
    let servers = p.list_servers(&Tags::new()).await.unwrap();
    assert_eq!(servers.len(), 1);

    // Still faulty: the retry is also committed (as a replay) and answered 504.
    assert!(
        p.create_server(&tk, &Tags::new(), &spec("db", "4CPU-32GB"))
            .await
            .is_err()
    );
    SimAdmin::new(&sim.url())
        .unwrap()
        .clear_faults()
        .await
        .unwrap();
    let op = p
        .create_server(&tk, &Tags::new(), &spec("db", "4CPU-32GB"))
        .await
        .unwrap();
    assert_eq!(op.resource_id, servers[0].id);
    assert_eq!(op.client_token.as_ref(), Some(&tk));
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_with_one_token_make_one_server() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = start(dir.path(), rules(50), FaultSettings::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let p = p.clone();
        tasks.spawn(async move {
            p.create_server(&token("race"), &Tags::new(), &spec("race", "1CPU-2GB"))
                .await
                .unwrap()
        });
    }
    let mut ids = std::collections::BTreeSet::new();
    while let Some(op) = tasks.join_next().await {
        let op = op.unwrap();
        ids.insert((op.id, op.resource_id));
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn retrying_with_the_same_token_under_faults_never_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSettings {
        seed: 5,
        error_rate: 0.3,
        timeout_after_commit_rate: 0.4,
        ..FaultSettings::default()
    };
    let (sim, p) = start(dir.path(), rules(0), faults).await;
    let mut transient = 0;
    let mut created = Vec::new();
    for i in 0..10 {
        let tk = token(&format!("retry-{i}"));
        let t = tags(&[("batch", "retry")]);
        let op = loop {
            match p
                .create_server(&tk, &t, &spec(&format!("r{i}"), "1CPU-2GB"))
                .await
            {
                Ok(op) => break op,
                Err(e) => {
                    assert!(e.is_retryable(), "{e}");
                    transient += 1;
                }
            }
        };
        created.push(op.resource_id);
    }
    assert!(transient > 0, "the faults never fired");
    SimAdmin::new(&sim.url())
        .unwrap()
        .clear_faults()
        .await
        .unwrap();
    let mut listed: Vec<String> = p
        .list_servers(&tags(&[("batch", "retry")]))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    listed.sort();
    created.sort();
    assert_eq!(listed, created);
    sim.shutdown().await;
}

#[tokio::test]
async fn servers_and_volumes_are_listed_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = start(dir.path(), rules(0), FaultSettings::default()).await;
    let a = tags(&[("tenant", "a"), ("app", "web")]);
    let a2 = tags(&[("tenant", "a"), ("app", "db")]);
    let b = tags(&[("tenant", "b"), ("app", "web")]);
    for (i, t) in [&a, &a2, &b].into_iter().enumerate() {
        p.create_server(
            &token(&format!("s{i}")),
            t,
            &spec(&format!("s{i}"), "1CPU-2GB"),
        )
        .await
        .unwrap();
        let vspec = VolumeSpec {
            name: format!("v{i}"),
            plan: VolumePlan::Iops2PerGb,
            size_gb: 100,
        };
        p.create_volume(&token(&format!("v{i}")), t, &vspec)
            .await
            .unwrap();
    }
    let names = |servers: Vec<suido_provider::Server>| {
        servers.into_iter().map(|s| s.name).collect::<Vec<_>>()
    };
    assert_eq!(
        names(p.list_servers(&tags(&[("tenant", "a")])).await.unwrap()),
        ["s0", "s1"]
    );
    assert_eq!(
        names(p.list_servers(&tags(&[("app", "web")])).await.unwrap()),
        ["s0", "s2"]
    );
    assert_eq!(
        names(
            p.list_servers(&tags(&[("tenant", "a"), ("app", "db")]))
                .await
                .unwrap()
        ),
        ["s1"]
    );
    assert!(
        p.list_servers(&tags(&[("tenant", "c")]))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 3);
    let vols = p.list_volumes(&tags(&[("tenant", "b")])).await.unwrap();
    assert_eq!(vols.len(), 1);
    assert_eq!(vols[0].name, "v2");
    assert_eq!(vols[0].state, VolumeState::Available);
    sim.shutdown().await;
}

#[tokio::test]
async fn power_resize_disk_console_and_monitoring() {
    let dir = tempfile::tempdir().unwrap();
    // Create, stop and delete are slow enough to be seen in progress; the rest is quick.
    let mut r = rules(10);
    r.durations.create_server_ms = 400;
    r.durations.stop_ms = 400;
    r.durations.delete_server_ms = 400;
    let (sim, p) = start(dir.path(), r, FaultSettings::default()).await;
    let mut s = spec("app", "2CPU-8GB");
    s.disks = vec![DiskSpec {
        name: "data".into(),
        size_gb: 100,
    }];
    let op = p
        .create_server(&token("app"), &Tags::new(), &s)
        .await
        .unwrap();
    let id = op.resource_id.clone();
    // Busy while building.
    assert_eq!(label(p.stop_server(&id).await), "conflict");
    succeed(&p, op).await;

    // The platform requires a stop before a resize or a disk change.
    let err = p.resize_server(&id, size("4CPU-16GB")).await.unwrap_err();
    assert_eq!(err.label(), "conflict");
    assert!(err.message().contains("must be Stopped"), "{err}");
    assert_eq!(
        label(
            p.attach_disk(
                &id,
                &DiskSpec {
                    name: "logs".into(),
                    size_gb: 40
                }
            )
            .await
        ),
        "conflict"
    );
    assert_eq!(label(p.start_server(&id).await), "conflict");

    let stop = p.stop_server(&id).await.unwrap();
    // Asking again while it runs returns the same operation.
    assert_eq!(p.stop_server(&id).await.unwrap().id, stop.id);
    succeed(&p, stop).await;
    assert_eq!(p.get_server(&id).await.unwrap().state, ServerState::Stopped);

    let err = p.resize_server(&id, size("3CPU-8GB")).await.unwrap_err();
    assert_eq!(err.label(), "invalid_request");
    assert!(err.message().contains("2CPU-8GB, 2CPU-16GB"), "{err}");
    succeed(&p, p.resize_server(&id, size("4CPU-16GB")).await.unwrap()).await;
    assert_eq!(p.get_server(&id).await.unwrap().size, size("4CPU-16GB"));

    let logs = DiskSpec {
        name: "logs".into(),
        size_gb: 40,
    };
    succeed(&p, p.attach_disk(&id, &logs).await.unwrap()).await;
    assert_eq!(label(p.attach_disk(&id, &logs).await), "conflict");
    assert_eq!(label(p.grow_disk(&id, "data", 50).await), "invalid_request");
    let err = p.grow_disk(&id, "data", 80).await.unwrap_err();
    assert!(err.message().contains("only grow"), "{err}");
    assert_eq!(label(p.grow_disk(&id, "nope", 300).await), "not_found");
    succeed(&p, p.grow_disk(&id, "data", 300).await.unwrap()).await;
    succeed(&p, p.detach_disk(&id, "logs").await.unwrap()).await;
    let server = p.get_server(&id).await.unwrap();
    let disks: Vec<(String, u32)> = server
        .disks
        .iter()
        .map(|d| (d.name.clone(), d.size_gb))
        .collect();
    assert_eq!(disks, [("data".to_string(), 300)]);

    succeed(&p, p.start_server(&id).await.unwrap()).await;
    assert_eq!(p.get_server(&id).await.unwrap().state, ServerState::Running);

    let console = p.console(&id).await.unwrap();
    assert!(console.url.contains(&id));
    assert!(!console.token.is_empty());

    let monitoring = MonitoringSettings {
        icmp: Some(AlertSeverity::Severe),
        ..MonitoringSettings::default()
    };
    p.set_monitoring(&id, &monitoring).await.unwrap();
    assert_eq!(
        p.get_server(&id).await.unwrap().monitoring,
        Some(monitoring)
    );

    let del = p.delete_server(&id).await.unwrap();
    assert_eq!(p.delete_server(&id).await.unwrap().id, del.id);
    assert_eq!(
        p.get_server(&id).await.unwrap().state,
        ServerState::Deleting
    );
    succeed(&p, del).await;
    assert_eq!(label(p.get_server(&id).await), "not_found");
    // Deleting what is gone says so; a controller takes that as done.
    assert_eq!(label(p.delete_server(&id).await), "not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn volumes_attach_detach_grow_and_delete() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = start(dir.path(), rules(10), FaultSettings::default()).await;
    let sop = p
        .create_server(&token("srv"), &Tags::new(), &spec("srv", "1CPU-4GB"))
        .await
        .unwrap();
    let server = sop.resource_id.clone();
    let vspec = VolumeSpec {
        name: "data".into(),
        plan: VolumePlan::Iops4PerGb,
        size_gb: 250,
    };
    let vop = p
        .create_volume(&token("vol"), &Tags::new(), &vspec)
        .await
        .unwrap();
    assert_eq!(
        p.create_volume(&token("vol"), &Tags::new(), &vspec)
            .await
            .unwrap()
            .id,
        vop.id
    );
    let vol = vop.resource_id.clone();
    succeed(&p, sop).await;
    succeed(&p, vop).await;
    assert_eq!(label(p.detach_volume(&vol).await), "conflict");
    assert_eq!(
        label(p.attach_volume(&vol, "srv-999999").await),
        "not_found"
    );

    succeed(&p, p.attach_volume(&vol, &server).await.unwrap()).await;
    let v = p.get_volume(&vol).await.unwrap();
    assert_eq!(v.state, VolumeState::Attached);
    assert_eq!(v.attached_to.as_deref(), Some(server.as_str()));
    assert_eq!(
        p.get_server(&server).await.unwrap().volumes,
        std::slice::from_ref(&vol)
    );
    assert_eq!(label(p.delete_volume(&vol).await), "conflict");
    assert_eq!(label(p.attach_volume(&vol, &server).await), "conflict");

    assert_eq!(label(p.grow_volume(&vol, 300).await), "invalid_request");
    assert_eq!(label(p.grow_volume(&vol, 100).await), "invalid_request");
    succeed(&p, p.grow_volume(&vol, 500).await.unwrap()).await;
    assert_eq!(p.get_volume(&vol).await.unwrap().size_gb, 500);

    succeed(&p, p.detach_volume(&vol).await.unwrap()).await;
    assert_eq!(
        p.get_volume(&vol).await.unwrap().state,
        VolumeState::Available
    );
    assert!(p.get_server(&server).await.unwrap().volumes.is_empty());

    // Deleting a server detaches its volumes.
    succeed(&p, p.attach_volume(&vol, &server).await.unwrap()).await;
    succeed(&p, p.delete_server(&server).await.unwrap()).await;
    let v = p.get_volume(&vol).await.unwrap();
    assert_eq!((v.state, v.attached_to), (VolumeState::Available, None));

    succeed(&p, p.delete_volume(&vol).await.unwrap()).await;
    assert_eq!(label(p.get_volume(&vol).await), "not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn quotas_refuse_with_a_terminal_quota_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rules(0);
    r.quotas.global = Limits {
        max_servers: Some(3),
        ..Limits::default()
    };
    r.quotas.per_tenant.insert(
        "a".into(),
        Limits {
            max_vcpus: Some(6),
            max_volume_gb: Some(600),
            ..Limits::default()
        },
    );
    let (sim, p) = start(dir.path(), r, FaultSettings::default()).await;
    let ta = tags(&[("suido.dev/tenant", "a")]);
    let tb = tags(&[("suido.dev/tenant", "b")]);
    p.create_server(&token("a1"), &ta, &spec("a1", "4CPU-8GB"))
        .await
        .unwrap();
    let err = p
        .create_server(&token("a2"), &ta, &spec("a2", "4CPU-8GB"))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "quota_exceeded");
    assert!(!err.is_retryable());
    assert!(err.message().contains("tenant `a`"), "{err}");
    // Other tenants are not limited by tenant a's quota.
    p.create_server(&token("b1"), &tb, &spec("b1", "16CPU-32GB"))
        .await
        .unwrap();
    let a2 = p
        .create_server(&token("a2"), &ta, &spec("a2", "2CPU-4GB"))
        .await
        .unwrap();
    // The global server limit.
    let err = p
        .create_server(&token("b2"), &tb, &spec("b2", "1CPU-2GB"))
        .await
        .unwrap_err();
    assert_eq!(err.label(), "quota_exceeded");
    assert!(err.message().contains("at most 3 servers"), "{err}");
    // A resize counts the added vCPUs.
    succeed(&p, p.stop_server(&a2.resource_id).await.unwrap()).await;
    assert_eq!(
        label(p.resize_server(&a2.resource_id, size("4CPU-8GB")).await),
        "quota_exceeded"
    );
    // Volume GB.
    let v = |gb| VolumeSpec {
        name: "v".into(),
        plan: VolumePlan::Iops2PerGb,
        size_gb: gb,
    };
    let v1 = p.create_volume(&token("v1"), &ta, &v(500)).await.unwrap();
    assert_eq!(
        label(p.create_volume(&token("v2"), &ta, &v(250)).await),
        "quota_exceeded"
    );
    assert_eq!(
        label(p.grow_volume(&v1.resource_id, 1000).await),
        "quota_exceeded"
    );
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 3);
    sim.shutdown().await;
}

#[tokio::test]
async fn state_and_pending_operations_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = start(dir.path(), rules(0), FaultSettings::default()).await;
    let done = p
        .create_server(
            &token("kept"),
            &tags(&[("k", "v")]),
            &spec("kept", "2CPU-4GB"),
        )
        .await
        .unwrap();
    let vol = p
        .create_volume(
            &token("kept-vol"),
            &Tags::new(),
            &VolumeSpec {
                name: "kv".into(),
                plan: VolumePlan::Iops2PerGb,
                size_gb: 100,
            },
        )
        .await
        .unwrap();
    sim.shutdown().await;

    // Restart with slow operations and leave one running.
    let (sim, p) = start(dir.path(), rules(300), FaultSettings::default()).await;
    let kept = p.get_server(&done.resource_id).await.unwrap();
    assert_eq!(kept.state, ServerState::Running);
    assert_eq!(kept.tags, tags(&[("k", "v")]));
    assert_eq!(
        p.get_volume(&vol.resource_id).await.unwrap().state,
        VolumeState::Available
    );
    let pending = p
        .create_server(
            &token("pending"),
            &Tags::new(),
            &spec("pending", "1CPU-2GB"),
        )
        .await
        .unwrap();
    assert_eq!(pending.state, OperationState::Running);
    assert_ne!(pending.resource_id, done.resource_id);
    sim.shutdown().await;

    let (sim, p) = start(dir.path(), rules(300), FaultSettings::default()).await;
    let op = p.get_operation(&pending.id).await.unwrap();
    assert_eq!(op.resource_id, pending.resource_id);
    let done_op = succeed(&p, op).await;
    assert!(done_op.finished_at.is_some());
    assert_eq!(
        p.get_server(&pending.resource_id).await.unwrap().state,
        ServerState::Running
    );
    // The token still maps to the same server after restarts; ids are never reused.
    let replay = p
        .create_server(
            &token("pending"),
            &Tags::new(),
            &spec("pending", "1CPU-2GB"),
        )
        .await
        .unwrap();
    assert_eq!(replay.id, pending.id);
    let fresh = p
        .create_server(&token("fresh"), &Tags::new(), &spec("fresh", "1CPU-2GB"))
        .await
        .unwrap();
    assert!(
        ![&done.resource_id, &pending.resource_id].contains(&&fresh.resource_id),
        "{fresh:?}"
    );
    assert_eq!(p.list_servers(&Tags::new()).await.unwrap().len(), 3);
    assert!(p.list_operations().await.unwrap().len() >= 4);
    sim.shutdown().await;
}

async fn failure_pattern(p: &SimProvider, n: usize) -> Vec<bool> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(p.list_servers(&Tags::new()).await.is_err());
    }
    out
}

#[tokio::test]
async fn injected_errors_are_deterministic_for_a_seed() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSettings {
        seed: 11,
        error_rate: 0.5,
        ..FaultSettings::default()
    };
    let (sim, p) = start(dir.path(), rules(0), faults.clone()).await;
    let first = failure_pattern(&p, 40).await;
    assert!(
        first.iter().any(|f| *f) && first.iter().any(|f| !*f),
        "{first:?}"
    );

    let admin = SimAdmin::new(&sim.url()).unwrap();
    admin.set_faults(&faults).await.unwrap();
    assert_eq!(failure_pattern(&p, 40).await, first);

    // The same seed from a fault file on a fresh simulator gives the same pattern.
    sim.shutdown().await;
    let dir2 = tempfile::tempdir().unwrap();
    let file = dir2.path().join("faults.json");
    std::fs::write(&file, serde_json::to_vec(&faults).unwrap()).unwrap();
    let from_file = FaultSettings::from_file(&file).unwrap();
    let (sim, p) = start(dir2.path(), rules(0), from_file).await;
    assert_eq!(failure_pattern(&p, 40).await, first);

    let admin = SimAdmin::new(&sim.url()).unwrap();
    admin
        .set_faults(&FaultSettings { seed: 12, ..faults })
        .await
        .unwrap();
    assert_ne!(failure_pattern(&p, 40).await, first);
    admin.clear_faults().await.unwrap();
    assert!(failure_pattern(&p, 20).await.iter().all(|f| !*f));
    sim.shutdown().await;
}

#[tokio::test]
async fn host_failure_shows_down_with_its_layer_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p) = start(dir.path(), rules(0), FaultSettings::default()).await;
    let id = p
        .create_server(&token("h"), &Tags::new(), &spec("h", "1CPU-2GB"))
        .await
        .unwrap()
        .resource_id;
    let other = p
        .create_server(&token("o"), &Tags::new(), &spec("o", "1CPU-2GB"))
        .await
        .unwrap()
        .resource_id;
    assert_eq!(p.server_health(&id).await.unwrap().state, HealthState::Up);
    let admin = SimAdmin::new(&sim.url()).unwrap();

    // A long failure, to look at while it lasts.
    let h = admin
        .fail_host(&other, Duration::from_secs(600), FailureLayer::Hypervisor)
        .await
        .unwrap();
    assert_eq!(h.state, HealthState::Down);
    let h = p.server_health(&other).await.unwrap();
    assert_eq!(h.state, HealthState::Down);
    assert_eq!(h.server_state, ServerState::Running);
    assert_eq!(h.failed_layer, Some(FailureLayer::Hypervisor));
    assert!(h.down_since.is_some() && h.expected_recovery > h.down_since);
    assert_eq!(p.server_health(&id).await.unwrap().state, HealthState::Up);
    // Power operations wait for the host.
    assert_eq!(label(p.stop_server(&other).await), "transient");

    // A short failure, to see it end.
    let h = admin
        .fail_host(
            &id,
            Duration::from_millis(200),
            FailureLayer::PlatformNetwork,
        )
        .await
        .unwrap();
    assert_eq!(h.state, HealthState::Down);
    assert_eq!(h.failed_layer, Some(FailureLayer::PlatformNetwork));
    let mut health = h;
    for _ in 0..1000 {
        if health.state == HealthState::Up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        health = p.server_health(&id).await.unwrap();
    }
    assert_eq!(health.state, HealthState::Up);
    assert_eq!(health.failed_layer, None);
    succeed(&p, p.stop_server(&id).await.unwrap()).await;
    assert_eq!(
        p.server_health(&id).await.unwrap().state,
        HealthState::NotRunning
    );
    assert_eq!(
        label(
            admin
                .fail_host("srv-404", Duration::from_secs(1), FailureLayer::Hypervisor)
                .await
        ),
        "not_found"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn client_maps_answers_and_failures_to_error_classes() {
    let dir = tempfile::tempdir().unwrap();
    let faults = FaultSettings {
        error_rate: 1.0,
        ..FaultSettings::default()
    };
    let (sim, p) = start(dir.path(), rules(0), faults).await;
    let err = p.list_servers(&Tags::new()).await.unwrap_err();
    assert_eq!(err.label(), "transient");
    assert!(err.message().contains("503"), "{err}");
    let admin = SimAdmin::new(&sim.url()).unwrap();
    admin.clear_faults().await.unwrap();

    assert_eq!(label(p.get_server("srv-nope").await), "not_found");
    assert_eq!(label(p.get_operation("op-nope").await), "not_found");
    let mut bad = spec("w", "1CPU-2GB");
    bad.rds_licenses = Some(10);
    let err = p
        .create_server(&token("bad"), &Tags::new(), &bad)
        .await
        .unwrap_err();
    assert_eq!(err.label(), "invalid_request");
    assert!(err.message().contains("rdsLicenses"), "{err}");
    bad.os = OperatingSystem::WindowsServer;
    bad.rds_licenses = Some(20);
    let err = p
        .create_server(&token("bad"), &Tags::new(), &bad)
        .await
        .unwrap_err();
    assert!(err.message().contains("10, 30, 50, 100"), "{err}");
    bad.rds_licenses = None;
    bad.os_disk_gb = Some(40);
    let err = p
        .create_server(&token("bad"), &Tags::new(), &bad)
        .await
        .unwrap_err();
    assert!(err.message().contains("osDiskGb"), "{err}");
    let err = p
        .create_volume(
            &token("v"),
            &Tags::new(),
            &VolumeSpec {
                name: "v".into(),
                plan: VolumePlan::Iops2PerGb,
                size_gb: 300,
            },
        )
        .await
        .unwrap_err();
    assert!(err.message().contains("100, 250, 500"), "{err}");

    // A slow answer becomes a transient timeout.
    admin
        .set_faults(&FaultSettings {
            latency_ms: 400,
            ..FaultSettings::default()
        })
        .await
        .unwrap();
    let impatient = SimProvider::with_timeout(&sim.url(), Duration::from_millis(50)).unwrap();
    let err = impatient.list_servers(&Tags::new()).await.unwrap_err();
    assert_eq!(err.label(), "transient");
    assert!(err.message().contains("no answer within 50 ms"), "{err}");

    // Nobody listening: transient.
    let url = sim.url();
    sim.shutdown().await;
    let gone = SimProvider::new(&url).unwrap();
    assert_eq!(label(gone.list_servers(&Tags::new()).await), "transient");
}

#[tokio::test]
async fn only_loopback_addresses_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SimConfig::new(dir.path());
    config.listen = "0.0.0.0:0".parse().unwrap();
    let err = Sim::start(config).await.err().unwrap();
    assert!(err.to_string().contains("loopback"), "{err}");
}
