//! Helpers shared by the integration tests of the service families: starting a simulator,
//! specs, tokens and tags, and polling operations.

// Each test file uses its own share of these helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::Duration;

use suido_provider::{
    BackupJobSpec, BackupModeKind, BackupScopeKind, ClientToken, ComputeProvider, LbAlgorithm,
    LbTopology, LoadBalancerSpec, OperatingSystem, Operation, OperationState, Operations,
    ProviderError, ServerSize, ServerSpec, Tags, VrrpSpec,
};
use suido_sim::{
    Durations, FaultSettings, Rules, ServiceDurations, Sim, SimAdmin, SimConfig, SimHandle,
    SimProvider,
};

/// A simulator on a free port, with its provider and admin clients.
pub async fn start(dir: &Path, rules: Rules) -> (SimHandle, SimProvider, SimAdmin) {
    let mut config = SimConfig::new(dir);
    config.rules = rules;
    config.faults = FaultSettings::default();
    let handle = Sim::start(config).await.unwrap();
    let provider = SimProvider::new(&handle.url()).unwrap();
    let admin = SimAdmin::new(&handle.url()).unwrap();
    (handle, provider, admin)
}

/// Rules where servers and volumes take `ms` and every service-family operation `family_ms`.
pub fn rules(ms: u64, family_ms: u64) -> Rules {
    Rules {
        durations: Durations::uniform(ms),
        service_durations: ServiceDurations::uniform(family_ms),
        ..Rules::default()
    }
}

pub fn token(t: &str) -> ClientToken {
    ClientToken::new(t).unwrap()
}

pub fn tags(pairs: &[(&str, &str)]) -> Tags {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn tenant(t: &str) -> Tags {
    tags(&[("suido.dev/tenant", t)])
}

pub fn server_spec(name: &str) -> ServerSpec {
    ServerSpec {
        name: name.to_string(),
        size: ServerSize::parse("2CPU-8GB").unwrap(),
        os: OperatingSystem::RockyLinux,
        os_disk_gb: None,
        packages: Vec::new(),
        antivirus: Default::default(),
        rds_licenses: None,
        disks: Vec::new(),
    }
}

pub fn redundant_lb(name: &str, group_id: u32, address: &str) -> LoadBalancerSpec {
    LoadBalancerSpec {
        name: name.to_string(),
        topology: LbTopology::Redundant,
        vrrp: Some(VrrpSpec {
            virtual_address: address.to_string(),
            group_id,
        }),
        throughput_mbps: 200,
        algorithm: LbAlgorithm::RoundRobin,
        listeners: Vec::new(),
        backends: Vec::new(),
        health_check: None,
    }
}

pub fn hourly_job(server_id: &str, mode: BackupModeKind, generations: u32) -> BackupJobSpec {
    BackupJobSpec {
        name: "hourly".into(),
        server_id: server_id.to_string(),
        scope: BackupScopeKind::Image,
        schedule: "0 * * * *".into(),
        time_zone: "Asia/Tokyo".into(),
        generations,
        mode,
        merge_schedule: None,
    }
}

/// Polls an operation until it ends. The bound only keeps a broken build from hanging.
pub async fn wait(p: &(impl Operations + ?Sized), op: &Operation) -> Operation {
    for _ in 0..3000 {
        let now = p.get_operation(&op.id).await.unwrap();
        if now.state.is_done() {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("operation {} never ended", op.id);
}

/// Polls an operation and checks that it succeeded.
pub async fn succeed(p: &(impl Operations + ?Sized), op: Operation) -> Operation {
    let done = wait(p, &op).await;
    assert_eq!(done.state, OperationState::Succeeded, "{done:?}");
    done
}

/// A running server with these tags.
pub async fn running_server(p: &SimProvider, name: &str, tags: &Tags) -> String {
    let op = p
        .create_server(&token(&format!("srv-{name}")), tags, &server_spec(name))
        .await
        .unwrap();
    succeed(p, op).await.resource_id
}

/// The error of a call that must fail.
pub fn error<T: std::fmt::Debug>(r: Result<T, ProviderError>) -> ProviderError {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}
