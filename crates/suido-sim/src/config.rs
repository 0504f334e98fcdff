//! Configuration of a simulated platform: where it keeps its state, where it listens, how long
//! operations take, its quotas, whether it deduplicates creates by client token, and its faults.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::faults::FaultSettings;

/// How long each kind of operation takes, in milliseconds. 0 completes the operation within the
/// request that started it (for benchmarks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Durations {
    /// Building a server.
    pub create_server_ms: u64,
    /// Starting a server.
    pub start_ms: u64,
    /// Stopping a server.
    pub stop_ms: u64,
    /// Resizing a server.
    pub resize_ms: u64,
    /// Adding, growing or removing a server disk.
    pub disk_ms: u64,
    /// Deleting a server.
    pub delete_server_ms: u64,
    /// Creating, growing, attaching, detaching or deleting a volume.
    pub volume_ms: u64,
}

impl Default for Durations {
    fn default() -> Self {
        Durations {
            create_server_ms: 2000,
            start_ms: 500,
            stop_ms: 500,
            resize_ms: 1000,
            disk_ms: 1000,
            delete_server_ms: 500,
            volume_ms: 1000,
        }
    }
}

impl Durations {
    /// Every operation completes at once.
    pub fn instant() -> Self {
        Durations::uniform(0)
    }

    /// Every operation takes `ms` milliseconds.
    pub fn uniform(ms: u64) -> Self {
        Durations {
            create_server_ms: ms,
            start_ms: ms,
            stop_ms: ms,
            resize_ms: ms,
            disk_ms: ms,
            delete_server_ms: ms,
            volume_ms: ms,
        }
    }
}

/// How long the operations of the service families take, in milliseconds. In the rules file
/// these fields sit in `durations` with the server and volume ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct ServiceDurations {
    /// Creating, updating or deleting a load balancer, WAF, IDS/IPS, SMTP relay or backup job.
    pub service_ms: u64,
    /// Taking or deleting a snapshot.
    pub snapshot_ms: u64,
    /// Running a data or system restore.
    pub restore_ms: u64,
}

impl Default for ServiceDurations {
    fn default() -> Self {
        ServiceDurations {
            service_ms: 1000,
            snapshot_ms: 2000,
            restore_ms: 3000,
        }
    }
}

impl ServiceDurations {
    /// Every operation takes `ms` milliseconds.
    pub fn uniform(ms: u64) -> Self {
        ServiceDurations {
            service_ms: ms,
            snapshot_ms: ms,
            restore_ms: ms,
        }
    }
}

/// Limits of one scope (global or one tenant). Absent means unlimited.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    /// Most servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_servers: Option<u32>,
    /// Most vCPUs over all servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vcpus: Option<u32>,
    /// Most GB over all block volumes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_volume_gb: Option<u64>,
    /// Most load balancers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_load_balancers: Option<u32>,
    /// Most WAF instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wafs: Option<u32>,
    /// Most IDS/IPS instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ips: Option<u32>,
    /// Most SMTP relays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_smtp_relays: Option<u32>,
    /// Most backup jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_backup_jobs: Option<u32>,
    /// Most snapshots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_snapshots: Option<u32>,
}

/// Quotas: global limits, and limits per tenant, where a resource's tenant is the value of its
/// `tenant_tag` tag. Resources count until they are fully deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Quotas {
    /// The tag naming a resource's tenant.
    pub tenant_tag: String,
    /// Limits over everything.
    pub global: Limits,
    /// Limits per tenant (tag value).
    pub per_tenant: BTreeMap<String, Limits>,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            tenant_tag: "suido.dev/tenant".to_string(),
            global: Limits::default(),
            per_tenant: BTreeMap::new(),
        }
    }
}

/// Rules of the simulated platform that a settings file can give: durations, quotas and whether
/// creates are deduplicated by client token.
///
/// In the file, `durations` holds the fields of both [`Durations`] and [`ServiceDurations`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "RulesFile", into = "RulesFile")]
pub struct Rules {
    /// Server and volume operation durations.
    pub durations: Durations,
    /// Service-family operation durations.
    pub service_durations: ServiceDurations,
    /// Quotas.
    pub quotas: Quotas,
    /// Whether a create with a client token already used returns the first create's operation
    /// (the default). When false the platform behaves as one without idempotency tokens: every
    /// create makes a new resource (which still records the token).
    pub idempotency_tokens: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            durations: Durations::default(),
            service_durations: ServiceDurations::default(),
            quotas: Quotas::default(),
            idempotency_tokens: true,
        }
    }
}

impl Rules {
    /// Sets every duration, of servers, volumes and the service families, to 0.
    pub fn make_instant(&mut self) {
        self.durations = Durations::instant();
        self.service_durations = ServiceDurations::uniform(0);
    }
}

/// The rules file: both kinds of durations in one `durations` object.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct RulesFile {
    durations: DurationsFile,
    quotas: Quotas,
    idempotency_tokens: bool,
}

impl Default for RulesFile {
    fn default() -> Self {
        Rules::default().into()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
struct DurationsFile {
    create_server_ms: u64,
    start_ms: u64,
    stop_ms: u64,
    resize_ms: u64,
    disk_ms: u64,
    delete_server_ms: u64,
    volume_ms: u64,
    service_ms: u64,
    snapshot_ms: u64,
    restore_ms: u64,
}

impl Default for DurationsFile {
    fn default() -> Self {
        Rules::default().into_file_durations()
    }
}

impl Rules {
    fn into_file_durations(self) -> DurationsFile {
        let (d, s) = (self.durations, self.service_durations);
        DurationsFile {
            create_server_ms: d.create_server_ms,
            start_ms: d.start_ms,
            stop_ms: d.stop_ms,
            resize_ms: d.resize_ms,
            disk_ms: d.disk_ms,
            delete_server_ms: d.delete_server_ms,
            volume_ms: d.volume_ms,
            service_ms: s.service_ms,
            snapshot_ms: s.snapshot_ms,
            restore_ms: s.restore_ms,
        }
    }
}

impl From<Rules> for RulesFile {
    fn from(rules: Rules) -> Self {
        RulesFile {
            quotas: rules.quotas.clone(),
            idempotency_tokens: rules.idempotency_tokens,
            durations: rules.into_file_durations(),
        }
    }
}

impl From<RulesFile> for Rules {
    fn from(file: RulesFile) -> Self {
        let d = file.durations;
        Rules {
            durations: Durations {
                create_server_ms: d.create_server_ms,
                start_ms: d.start_ms,
                stop_ms: d.stop_ms,
                resize_ms: d.resize_ms,
                disk_ms: d.disk_ms,
                delete_server_ms: d.delete_server_ms,
                volume_ms: d.volume_ms,
            },
            service_durations: ServiceDurations {
                service_ms: d.service_ms,
                snapshot_ms: d.snapshot_ms,
                restore_ms: d.restore_ms,
            },
            quotas: file.quotas,
            idempotency_tokens: file.idempotency_tokens,
        }
    }
}

/// Everything needed to start a simulated platform.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Directory of the durable state (created when missing).
    pub state_dir: PathBuf,
    /// Address to listen on; must be a loopback address. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Durations, quotas and idempotency (`rules.idempotency_tokens = false` is
    /// `--no-idempotency-tokens`).
    pub rules: Rules,
    /// Faults to inject from the start.
    pub faults: FaultSettings,
}

impl SimConfig {
    /// Default rules, no faults, listening on `127.0.0.1:0`.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        SimConfig {
            state_dir: state_dir.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            rules: Rules::default(),
            faults: FaultSettings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_file_keeps_every_duration_in_one_object() -> Result<(), serde_json::Error> {
        let rules: Rules = serde_json::from_str(
            r#"{"durations": {"createServerMs": 5, "serviceMs": 7, "restoreMs": 9},
                "idempotencyTokens": false}"#,
        )?;
        assert_eq!(rules.durations.create_server_ms, 5);
        assert_eq!(rules.durations.start_ms, Durations::default().start_ms);
        assert_eq!(rules.service_durations.service_ms, 7);
        assert_eq!(rules.service_durations.snapshot_ms, 2000);
        assert_eq!(rules.service_durations.restore_ms, 9);
        assert!(!rules.idempotency_tokens);
        let back: Rules = serde_json::from_value(serde_json::to_value(&rules)?)?;
        assert_eq!(back, rules);
        let defaults: Rules = serde_json::from_str("{}")?;
        assert_eq!(defaults, Rules::default());
        assert!(defaults.idempotency_tokens);
        for bad in [
            r#"{"durations": {"serviceMS": 1}}"#,
            r#"{"idempotency": true}"#,
        ] {
            assert!(serde_json::from_str::<Rules>(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn instant_zeroes_every_duration() {
        let mut rules = Rules::default();
        rules.make_instant();
        assert_eq!(rules.durations, Durations::instant());
        assert_eq!(rules.service_durations, ServiceDurations::uniform(0));
    }
}
