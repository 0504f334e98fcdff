//! The service families end to end, in process: create, poll, get, list by tags, update and
//! delete through `SimProvider`, and the platform's refusals, quotas, faults and admin
//! changes behind the API's back through `SimAdmin`.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use suido_provider::{
    BackendMember, BackupModeKind, BackupProvider, ComputeProvider, HealthCheckSpec,
    IntrusionPreventionProvider, IpsProfileKind, IpsSpec, LbProtocol, ListenerSpec,
    LoadBalancerProvider, OperationKind, OperationState, ProtectedTarget, ResourceState,
    RestoreKind, RestoreProvider, RestoreSourceSpec, RestoreSpec, RestoreState, SmtpRelayProvider,
    SmtpRelaySpec, SnapshotProvider, SnapshotSpec, Tags, TargetKind, TlsCertificate,
    WafFunctionsSpec, WafPlan, WafProvider, WafSpec, tls_fingerprint,
};
use suido_sim::{FaultSettings, Limits};

const CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBsim\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nTOP-SECRET-KEY\n-----END PRIVATE KEY-----\n";

#[tokio::test]
async fn a_load_balancer_goes_through_its_whole_life() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, admin) = start(dir.path(), rules(0, 100)).await;
    let t = tags(&[("suido.dev/tenant", "kawasemi"), ("app", "billing")]);
    let backend = running_server(&p, "web", &t).await;
    let mut spec = redundant_lb("front", 7, "10.20.9.10");
    spec.listeners = vec![ListenerSpec {
        protocol: LbProtocol::Https,
        port: 443,
        tls: Some(TlsCertificate {
            certificate_pem: CERT.into(),
            private_key_pem: KEY.into(),
        }),
    }];
    spec.backends = vec![BackendMember {
        server_id: backend.clone(),
        port: 8080,
        weight: 10,
    }];
    spec.health_check = Some(HealthCheckSpec {
        protocol: LbProtocol::Http,
        path: Some("/healthz".into()),
        interval_seconds: 10,
        timeout_seconds: 5,
        unhealthy_threshold: 3,
    });
    let op = p
        .create_load_balancer(&token("ns/front:uid"), &t, &spec)
        .await
        .unwrap();
    assert_eq!(op.kind, OperationKind::CreateLoadBalancer);
    assert_eq!(op.state, OperationState::Running);
    let lb = p.get_load_balancer(&op.resource_id).await.unwrap();
    assert_eq!(lb.state, ResourceState::Creating);
    assert_eq!(lb.operation.as_deref(), Some(op.id.as_str()));
    // The same token is the same create.
    let again = p
        .create_load_balancer(&token("ns/front:uid"), &t, &spec)
        .await
        .unwrap();
    assert_eq!(
        (again.id.as_str(), again.resource_id.as_str()),
        (op.id.as_str(), op.resource_id.as_str())
    );

    succeed(&p, op.clone()).await;
    let lb = p.get_load_balancer(&op.resource_id).await.unwrap();
    assert_eq!(lb.state, ResourceState::Available);
    assert_eq!(lb.operation, None);
    assert_eq!(lb.address.as_deref(), Some("10.20.9.10"));
    assert_eq!(lb.tls_fingerprints, vec![tls_fingerprint(CERT)]);
    assert_eq!(lb.backend_health.len(), 1);
    assert!(lb.backend_health[0].healthy);
    assert!(lb.backend_health[0].address.is_some());
    let tls = lb.spec.listeners[0].tls.as_ref().unwrap();
    assert_eq!(
        (tls.certificate_pem.as_str(), tls.private_key_pem.as_str()),
        (CERT, "")
    );
    let raw = admin.list("load-balancers").await.unwrap().to_string();
    assert!(
        !raw.contains("TOP-SECRET-KEY"),
        "the private key leaked: {raw}"
    );

    // Listing needs every pair of the selector.
    let other = p
        .create_load_balancer(
            &token("ns/other:uid"),
            &tenant("kawasemi"),
            &redundant_lb("other", 8, "10.20.9.11"),
        )
        .await
        .unwrap();
    succeed(&p, other).await;
    assert_eq!(p.list_load_balancers(&t).await.unwrap().len(), 1);
    assert_eq!(
        p.list_load_balancers(&tenant("kawasemi"))
            .await
            .unwrap()
            .len(),
        2
    );
    let wrong = tags(&[("suido.dev/tenant", "kawasemi"), ("app", "mail")]);
    assert!(p.list_load_balancers(&wrong).await.unwrap().is_empty());

    // Backend health follows the server at read time.
    let stop = p.stop_server(&backend).await.unwrap();
    succeed(&p, stop).await;
    let lb = p.get_load_balancer(&op.resource_id).await.unwrap();
    assert!(!lb.backend_health[0].healthy);

    let mut bigger = spec.clone();
    bigger.throughput_mbps = 1000;
    let up = p
        .update_load_balancer(&op.resource_id, &bigger)
        .await
        .unwrap();
    assert_eq!(up.kind, OperationKind::UpdateLoadBalancer);
    assert_eq!(
        p.get_load_balancer(&op.resource_id).await.unwrap().state,
        ResourceState::Updating
    );
    succeed(&p, up).await;
    let lb = p.get_load_balancer(&op.resource_id).await.unwrap();
    assert_eq!(
        (lb.state, lb.spec.throughput_mbps),
        (ResourceState::Available, 1000)
    );

    let del = p.delete_load_balancer(&op.resource_id).await.unwrap();
    assert_eq!(del.kind, OperationKind::DeleteLoadBalancer);
    succeed(&p, del).await;
    let gone = error(p.get_load_balancer(&op.resource_id).await);
    assert_eq!(gone.label(), "not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_vrrp_group_in_use_is_refused_by_field_without_naming_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, _) = start(dir.path(), rules(0, 0)).await;
    let first = p
        .create_load_balancer(
            &token("a/lb:1"),
            &tenant("hotaru-water"),
            &redundant_lb("a", 42, "10.20.9.20"),
        )
        .await
        .unwrap();
    let err = error(
        p.create_load_balancer(
            &token("b/lb:1"),
            &tenant("kawasemi"),
            &redundant_lb("b", 42, "10.20.9.21"),
        )
        .await,
    );
    assert_eq!(err.label(), "invalid_request");
    assert!(err.is_terminal());
    let msg = err.message();
    assert!(
        msg.contains("vrrp.groupId") && msg.contains("in use"),
        "{msg}"
    );
    assert!(
        !msg.contains(&first.resource_id) && !msg.contains("hotaru"),
        "{msg}"
    );
    assert_eq!(p.list_load_balancers(&Tags::new()).await.unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn waf_ips_and_smtp_relay_lifecycles_and_their_counters() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, admin) = start(dir.path(), rules(0, 50)).await;
    let t = tags(&[("suido.dev/tenant", "kawasemi"), ("kind", "guard")]);
    let srv = running_server(&p, "app", &t).await;
    let target = vec![ProtectedTarget {
        kind: TargetKind::Server,
        id: srv.clone(),
    }];

    let waf_spec = WafSpec {
        name: "waf".into(),
        plan: WafPlan::Cpu2Mem4,
        functions: WafFunctionsSpec {
            signature_inspection: true,
            dos_protection: true,
            deny: vec!["198.51.100.0/24".into()],
            ..WafFunctionsSpec::default()
        },
        targets: target.clone(),
    };
    let op = p.create_waf(&token("waf"), &t, &waf_spec).await.unwrap();
    assert_eq!(
        p.get_waf(&op.resource_id).await.unwrap().state,
        ResourceState::Creating
    );
    let waf = succeed(&p, op).await.resource_id;
    assert_eq!(p.list_wafs(&t).await.unwrap().len(), 1);
    let mut bigger = waf_spec.clone();
    bigger.plan = WafPlan::Cpu4Mem6;
    succeed(&p, p.update_waf(&waf, &bigger).await.unwrap()).await;
    assert_eq!(p.get_waf(&waf).await.unwrap().spec.plan, WafPlan::Cpu4Mem6);
    admin.waf_traffic(&waf, 100, 7).await.unwrap();
    let counted = admin.waf_traffic(&waf, 50, 3).await.unwrap();
    assert_eq!(
        (counted.requests_inspected, counted.requests_blocked),
        (150, 10)
    );
    let w = p.get_waf(&waf).await.unwrap();
    assert_eq!((w.requests_inspected, w.requests_blocked), (150, 10));

    let ips_spec = IpsSpec {
        name: "ips".into(),
        profile: IpsProfileKind::Balanced,
        targets: target,
    };
    let ips = succeed(
        &p,
        p.create_ips(&token("ips"), &t, &ips_spec).await.unwrap(),
    )
    .await
    .resource_id;
    let strict = IpsSpec {
        profile: IpsProfileKind::Strict,
        ..ips_spec
    };
    succeed(&p, p.update_ips(&ips, &strict).await.unwrap()).await;
    admin.ips_traffic(&ips, 4, 2).await.unwrap();
    let i = p.get_ips(&ips).await.unwrap();
    assert_eq!(
        (i.spec.profile, i.alerts, i.drops),
        (IpsProfileKind::Strict, 4, 2)
    );
    assert_eq!(p.list_ips(&t).await.unwrap().len(), 1);

    let smtp_spec = SmtpRelaySpec {
        name: "mail".into(),
        sender_domain: "kawasemi.mail.example.jp".into(),
        allowed_clients: vec![srv.clone()],
    };
    let relay = succeed(
        &p,
        p.create_smtp_relay(&token("smtp"), &t, &smtp_spec)
            .await
            .unwrap(),
    )
    .await
    .resource_id;
    let r = p.get_smtp_relay(&relay).await.unwrap();
    assert_eq!(r.endpoint.as_deref(), Some("smtp-relay.sim.invalid:25"));
    let none = SmtpRelaySpec {
        allowed_clients: Vec::new(),
        ..smtp_spec
    };
    succeed(&p, p.update_smtp_relay(&relay, &none).await.unwrap()).await;
    admin.smtp_traffic(&relay, 12, 1).await.unwrap();
    let r = p.get_smtp_relay(&relay).await.unwrap();
    assert_eq!(
        (r.spec.allowed_clients.len(), r.accepted, r.rejected),
        (0, 12, 1)
    );
    assert_eq!(p.list_smtp_relays(&t).await.unwrap().len(), 1);

    succeed(&p, p.delete_waf(&waf).await.unwrap()).await;
    succeed(&p, p.delete_ips(&ips).await.unwrap()).await;
    succeed(&p, p.delete_smtp_relay(&relay).await.unwrap()).await;
    assert_eq!(error(p.get_waf(&waf).await).label(), "not_found");
    assert_eq!(error(p.get_ips(&ips).await).label(), "not_found");
    assert_eq!(error(p.get_smtp_relay(&relay).await).label(), "not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn backup_job_snapshot_and_system_restore() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, _) = start(dir.path(), rules(0, 50)).await;
    let t = tags(&[
        ("suido.dev/tenant", "kawasemi"),
        ("suido.dev/uid", "vs-123"),
    ]);
    let srv = running_server(&p, "db", &t).await;

    let job_op = p
        .create_backup_job(
            &token("job"),
            &t,
            &hourly_job(&srv, BackupModeKind::Incremental, 7),
        )
        .await
        .unwrap();
    assert_eq!(job_op.kind, OperationKind::CreateBackupJob);
    let job = succeed(&p, job_op).await.resource_id;
    let j = p.get_backup_job(&job).await.unwrap();
    assert_eq!(j.state, ResourceState::Available);
    assert!(j.next_run.is_some() && j.recovery_points.is_empty());
    let fewer = hourly_job(&srv, BackupModeKind::Incremental, 3);
    succeed(&p, p.update_backup_job(&job, &fewer).await.unwrap()).await;
    assert_eq!(p.get_backup_job(&job).await.unwrap().spec.generations, 3);
    assert_eq!(p.list_backup_jobs(&t).await.unwrap().len(), 1);

    let snap_spec = SnapshotSpec {
        name: "before-upgrade".into(),
        server_id: srv.clone(),
    };
    let refused = error(p.create_snapshot(&token("snap"), &t, &snap_spec).await);
    assert_eq!(refused.label(), "failed_precondition");
    assert!(refused.message().contains("must be Stopped"), "{refused}");
    assert!(refused.message().contains("Running"), "{refused}");
    succeed(&p, p.stop_server(&srv).await.unwrap()).await;
    let snap_op = p
        .create_snapshot(&token("snap"), &t, &snap_spec)
        .await
        .unwrap();
    let snap = succeed(&p, snap_op).await.resource_id;
    let s = p.get_snapshot(&snap).await.unwrap();
    assert_eq!(
        (s.state, s.size_gb, s.server_id.as_str()),
        (ResourceState::Available, 40, srv.as_str())
    );
    assert!(s.taken_at.is_some());
    assert_eq!(p.list_snapshots(&t).await.unwrap().len(), 1);

    let old = p.get_server(&srv).await.unwrap();
    let restore_spec = RestoreSpec {
        server_id: srv.clone(),
        kind: RestoreKind::System,
        source: RestoreSourceSpec::Snapshot {
            snapshot_id: snap.clone(),
        },
    };
    let op = p
        .create_restore(&token("restore"), &t, &restore_spec)
        .await
        .unwrap();
    assert_eq!(op.kind, OperationKind::CreateRestore);
    assert_eq!(
        p.get_restore(&op.resource_id).await.unwrap().state,
        RestoreState::Running
    );
    succeed(&p, op.clone()).await;
    let restore = p.get_restore(&op.resource_id).await.unwrap();
    assert_eq!(restore.state, RestoreState::Succeeded);
    let new_id = restore.new_server_id.clone().unwrap();
    assert_ne!(new_id, srv);
    assert_eq!(error(p.get_server(&srv).await).label(), "not_found");
    let found = p.list_servers(&t).await.unwrap();
    assert_eq!(found.len(), 1, "the owner finds the new server by its tags");
    assert_eq!(
        (found[0].id.as_str(), &found[0].tags),
        (new_id.as_str(), &old.tags)
    );
    assert_eq!(p.list_restores(&t).await.unwrap().len(), 1);
    // The job and the snapshot follow the server.
    assert_eq!(p.get_backup_job(&job).await.unwrap().spec.server_id, new_id);
    assert_eq!(p.get_snapshot(&snap).await.unwrap().server_id, new_id);

    let del = p.delete_restore(&op.resource_id).await.unwrap();
    assert_eq!(del.state, OperationState::Succeeded);
    succeed(&p, p.delete_snapshot(&snap).await.unwrap()).await;
    succeed(&p, p.delete_backup_job(&job).await.unwrap()).await;
    assert_eq!(
        error(p.get_restore(&op.resource_id).await).label(),
        "not_found"
    );
    assert_eq!(error(p.get_snapshot(&snap).await).label(), "not_found");
    assert_eq!(error(p.get_backup_job(&job).await).label(), "not_found");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_admin_delete_removes_any_resource_behind_the_apis_back() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, admin) = start(dir.path(), rules(0, 0)).await;
    let srv = running_server(&p, "gone", &Tags::new()).await;
    let lb = p
        .create_load_balancer(
            &token("lb"),
            &Tags::new(),
            &redundant_lb("lb", 1, "10.20.9.30"),
        )
        .await
        .unwrap()
        .resource_id;
    assert_eq!(
        admin.list("load-balancers").await.unwrap()["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    admin.delete("load-balancers", &lb).await.unwrap();
    admin.delete("servers", &srv).await.unwrap();
    assert_eq!(error(p.get_load_balancer(&lb).await).label(), "not_found");
    assert_eq!(error(p.get_server(&srv).await).label(), "not_found");
    assert_eq!(
        error(admin.delete("wafs", "waf-000999").await).label(),
        "not_found"
    );
    // The VRRP group of the deleted load balancer is free again.
    p.create_load_balancer(
        &token("lb2"),
        &Tags::new(),
        &redundant_lb("lb2", 1, "10.20.9.30"),
    )
    .await
    .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn faults_apply_to_the_family_routes_and_tokens_adopt_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, p, admin) = start(dir.path(), rules(0, 0)).await;
    let spec = IpsSpec {
        name: "ips".into(),
        profile: IpsProfileKind::DetectOnly,
        targets: Vec::new(),
    };
    admin
        .set_faults(&FaultSettings {
            error_rate: 1.0,
            ..FaultSettings::default()
        })
        .await
        .unwrap();
    assert!(error(p.create_ips(&token("i"), &Tags::new(), &spec).await).is_retryable());
    assert!(error(p.list_backup_jobs(&Tags::new()).await).is_retryable());
    admin
        .set_faults(&FaultSettings {
            timeout_after_commit_rate: 1.0,
            ..FaultSettings::default()
        })
        .await
        .unwrap();
    let err = error(p.create_ips(&token("i"), &Tags::new(), &spec).await);
    assert!(err.is_retryable() && err.message().contains("504"), "{err}");
    admin.clear_faults().await.unwrap();
    let listed = p.list_ips(&Tags::new()).await.unwrap();
    assert_eq!(listed.len(), 1, "the create was committed");
    let op = p
        .create_ips(&token("i"), &Tags::new(), &spec)
        .await
        .unwrap();
    assert_eq!(op.resource_id, listed[0].id);
    assert_eq!(p.list_ips(&Tags::new()).await.unwrap().len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn family_quotas_count_per_tenant_and_globally() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = rules(0, 0);
    r.quotas.global = Limits {
        max_smtp_relays: Some(1),
        ..Limits::default()
    };
    r.quotas.per_tenant.insert(
        "kawasemi".into(),
        Limits {
            max_load_balancers: Some(1),
            ..Limits::default()
        },
    );
    let (sim, p, _) = start(dir.path(), r).await;
    let k = tenant("kawasemi");
    p.create_load_balancer(&token("l1"), &k, &redundant_lb("l1", 1, "10.20.9.1"))
        .await
        .unwrap();
    let err = error(
        p.create_load_balancer(&token("l2"), &k, &redundant_lb("l2", 2, "10.20.9.2"))
            .await,
    );
    assert_eq!(err.label(), "quota_exceeded");
    assert!(
        err.message()
            .contains("tenant `kawasemi` may have at most 1 load balancers"),
        "{err}"
    );
    p.create_load_balancer(
        &token("l3"),
        &tenant("hotaru"),
        &redundant_lb("l3", 3, "10.20.9.3"),
    )
    .await
    .unwrap();
    let relay = |name: &str| SmtpRelaySpec {
        name: name.into(),
        sender_domain: "mail.example.jp".into(),
        allowed_clients: Vec::new(),
    };
    p.create_smtp_relay(&token("m1"), &k, &relay("m1"))
        .await
        .unwrap();
    let err = error(
        p.create_smtp_relay(&token("m2"), &tenant("hotaru"), &relay("m2"))
            .await,
    );
    assert!(
        err.message()
            .contains("the platform may have at most 1 SMTP relays"),
        "{err}"
    );
    sim.shutdown().await;
}
