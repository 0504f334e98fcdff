//! Configuration of a simulated platform: where it keeps its state, where it listens, how long
//! operations take, its quotas and its faults.

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
}

/// Quotas: global limits, and limits per tenant, where a resource's tenant is the value of its
/// `tenant_tag` tag. Servers and volumes count until they are fully deleted.
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

/// Rules of the simulated platform that a settings file can give: durations and quotas.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct Rules {
    /// Operation durations.
    pub durations: Durations,
    /// Quotas.
    pub quotas: Quotas,
}

/// Everything needed to start a simulated platform.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Directory of the durable state (created when missing).
    pub state_dir: PathBuf,
    /// Address to listen on; must be a loopback address. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// Durations and quotas.
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
