//! Plain serde domain types shared by the providers, the simulator and the controllers.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::catalog::SERVER_MENU;
use crate::error::ProviderError;
pub use crate::operation::{Operation, OperationKind, OperationState};

/// Tags on a platform resource. Listing by tags returns resources carrying all the given pairs.
pub type Tags = BTreeMap<String, String>;

/// Whether `tags` carries every pair of `selector` (an empty selector matches everything).
pub fn tags_match(tags: &Tags, selector: &Tags) -> bool {
    selector.iter().all(|(k, v)| tags.get(k) == Some(v))
}

/// Idempotency key of a create: the same token always yields the same resource.
///
/// 1 to 128 characters, each an ASCII letter, digit, or one of `-_.:/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClientToken(String);

impl ClientToken {
    /// Checks and wraps a token.
    pub fn new(token: impl Into<String>) -> Result<Self, ProviderError> {
        let token = token.into();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.:/".contains(c);
        if token.is_empty() || token.len() > 128 || !token.chars().all(ok_char) {
            return Err(ProviderError::invalid(format!(
                "clientToken `{token}` is invalid: use 1 to 128 characters from A-Z, a-z, 0-9 and -_.:/"
            )));
        }
        Ok(ClientToken(token))
    }

    /// The token text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ClientToken {
    type Error = ProviderError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        ClientToken::new(value)
    }
}

impl From<ClientToken> for String {
    fn from(value: ClientToken) -> Self {
        value.0
    }
}

impl fmt::Display for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CPU-memory size. Serialized as the menu string (`2CPU-8GB`); deserialized from that string
/// or from `{"cpus": 2, "memoryGb": 8}`. Any size parses; [`ServerSize::is_on_menu`] tells
/// whether the platform offers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "SizeRepr", into = "String")]
pub struct ServerSize {
    /// Virtual CPUs.
    pub cpus: u32,
    /// Memory in GB.
    pub memory_gb: u32,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum SizeRepr {
    Text(String),
    #[serde(rename_all = "camelCase")]
    Parts {
        cpus: u32,
        memory_gb: u32,
    },
}

impl TryFrom<SizeRepr> for ServerSize {
    type Error = ProviderError;
    fn try_from(value: SizeRepr) -> Result<Self, Self::Error> {
        match value {
            SizeRepr::Text(text) => ServerSize::parse(&text),
            SizeRepr::Parts { cpus, memory_gb } => Ok(ServerSize { cpus, memory_gb }),
        }
    }
}

impl From<ServerSize> for String {
    fn from(value: ServerSize) -> Self {
        value.to_string()
    }
}

impl ServerSize {
    /// Parses a menu-style size such as `2CPU-8GB`.
    pub fn parse(text: &str) -> Result<Self, ProviderError> {
        let bad = || {
            ProviderError::invalid(format!(
                "size `{text}` is not of the form <cpus>CPU-<memory>GB (for example 2CPU-8GB)"
            ))
        };
        let (cpu, mem) = text.split_once('-').ok_or_else(bad)?;
        let cpus = cpu
            .strip_suffix("CPU")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        let memory_gb = mem
            .strip_suffix("GB")
            .and_then(|n| n.parse().ok())
            .ok_or_else(bad)?;
        Ok(ServerSize { cpus, memory_gb })
    }

    /// Whether this size is on the platform's menu (table 2-2).
    pub fn is_on_menu(self) -> bool {
        SERVER_MENU.contains(&(self.cpus, self.memory_gb))
    }
}

impl fmt::Display for ServerSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}CPU-{}GB", self.cpus, self.memory_gb)
    }
}

/// Operating systems the platform installs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OperatingSystem {
    /// Rocky Linux (the default).
    #[default]
    RockyLinux,
    /// Red Hat Enterprise Linux.
    #[serde(rename = "RHEL")]
    Rhel,
    /// Windows Server.
    WindowsServer,
}

/// Commercial packages the platform installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum CommercialPackage {
    /// SQL Server.
    #[serde(rename = "SQLServer")]
    SqlServer,
    /// Oracle Database Standard Edition.
    #[serde(rename = "OracleSE")]
    OracleSe,
    /// Oracle Database Enterprise Edition.
    #[serde(rename = "OracleEE")]
    OracleEe,
}

/// Antivirus products the platform installs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Antivirus {
    /// No antivirus (the default).
    #[default]
    None,
    /// Trend Micro Deep Security (vendor tenants only; enforced by controllers).
    DeepSecurity,
    /// F-Secure.
    FSecure,
}

/// An additional server disk as ordered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DiskSpec {
    /// Name, unique within the server.
    pub name: String,
    /// Size in GB from the disk menu.
    pub size_gb: u32,
}

/// What to build: a virtual server from the menu.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerSpec {
    /// Display name of the server.
    pub name: String,
    /// CPU-memory size from the menu.
    pub size: ServerSize,
    /// Operating system.
    #[serde(default)]
    pub os: OperatingSystem,
    /// OS disk size in GB; the standard size (40 Linux, 80 Windows) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk_gb: Option<u32>,
    /// Commercial packages installed at build time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<CommercialPackage>,
    /// Antivirus installed at build time.
    #[serde(default)]
    pub antivirus: Antivirus,
    /// RDS SAL licences (Windows Server only): 10, 30, 50 or 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_licenses: Option<u32>,
    /// Additional disks built with the server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<DiskSpec>,
}

/// Lifecycle state of a server on the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ServerState {
    /// Being built.
    Building,
    /// Powered on.
    Running,
    /// Powered off.
    Stopped,
    /// Broken; needs the platform's attention.
    Error,
    /// Being deleted.
    Deleting,
}

/// An additional disk as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    /// Platform id of the disk.
    pub id: String,
    /// Name, unique within the server.
    pub name: String,
    /// Size in GB.
    pub size_gb: u32,
}

/// A virtual server as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    /// Platform id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: ServerState,
    /// Current size.
    pub size: ServerSize,
    /// Operating system.
    pub os: OperatingSystem,
    /// OS disk size in GB.
    pub os_disk_gb: u32,
    /// Installed commercial packages.
    #[serde(default)]
    pub packages: Vec<CommercialPackage>,
    /// Installed antivirus.
    pub antivirus: Antivirus,
    /// RDS SAL licences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_licenses: Option<u32>,
    /// Address on the server segment, once built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Additional disks.
    #[serde(default)]
    pub disks: Vec<Disk>,
    /// Ids of the block volumes attached to it.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Monitoring settings, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSettings>,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
}

/// Performance plan of a block volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VolumePlan {
    /// 2 IOPS per GB.
    #[serde(rename = "2IOPS/GB")]
    Iops2PerGb,
    /// 4 IOPS per GB.
    #[serde(rename = "4IOPS/GB")]
    Iops4PerGb,
}

/// What to create: a block volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSpec {
    /// Display name.
    pub name: String,
    /// Performance plan.
    pub plan: VolumePlan,
    /// Size in GB from the block storage menu.
    pub size_gb: u32,
}

/// Lifecycle state of a block volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VolumeState {
    /// Being created.
    Creating,
    /// Created and not attached.
    Available,
    /// Attached to a server.
    Attached,
    /// Broken; needs the platform's attention.
    Error,
    /// Being deleted.
    Deleting,
}

/// A block volume as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Platform id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Tags given at creation.
    #[serde(default)]
    pub tags: Tags,
    /// Lifecycle state.
    pub state: VolumeState,
    /// Performance plan.
    pub plan: VolumePlan,
    /// Size in GB.
    pub size_gb: u32,
    /// Id of the server it is attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
    /// iSCSI target on the storage network.
    pub iscsi_target: String,
    /// The client token it was created from.
    pub client_token: ClientToken,
    /// Id of the operation in progress on it, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// When it was ordered.
    pub created_at: Timestamp,
}

/// Severity of a monitoring alert: severe goes to the utility and the vendor, minor to the vendor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AlertSeverity {
    /// Alert the utility (operator) and the vendor.
    Severe,
    /// Alert the vendor only.
    Minor,
}

/// A resource metric the monitoring can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceMetric {
    /// CPU use, alert above the threshold.
    CpuUsage,
    /// Memory use, alert above the threshold.
    MemoryUsage,
    /// Free disk, alert below the threshold.
    DiskFree,
}

/// A resource threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceThreshold {
    /// The metric.
    pub metric: ResourceMetric,
    /// Threshold in percent, 1 to 100.
    pub threshold_percent: u32,
    /// For `DiskFree`: the mount point or drive; all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Alert severity.
    pub severity: AlertSeverity,
}

/// A process that must be running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessWatch {
    /// Process name.
    pub name: String,
    /// Alert severity.
    pub severity: AlertSeverity,
}

/// A log file watched for a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogWatch {
    /// Path of the log file.
    pub path: String,
    /// Regular expression that raises the alert.
    pub pattern: String,
    /// Alert severity.
    pub severity: AlertSeverity,
}

/// Monitoring (Zabbix) settings of a server.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSettings {
    /// ICMP (ping) alert severity; absent means off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<AlertSeverity>,
    /// Resource thresholds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceThreshold>,
    /// Processes that must run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessWatch>,
    /// Log files watched for a pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogWatch>,
}

/// Access to a server's console (management screen).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleAccess {
    /// URL of the console session.
    pub url: String,
    /// One-time token for the session.
    pub token: String,
    /// When the token expires.
    pub expires_at: Timestamp,
}

/// Whether a server is up, as the platform's monitoring sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HealthState {
    /// Running and reachable.
    Up,
    /// Should be running but is not; see the failed layer.
    Down,
    /// Not meant to be running now (building, stopped or being deleted).
    NotRunning,
}

/// The layer whose fault took a server down. Only the last two are the platform's
/// responsibility (and count against the SLA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FailureLayer {
    /// The server's own OS.
    GuestOs,
    /// The virtualization layer or the hardware host.
    Hypervisor,
    /// The platform-side network.
    PlatformNetwork,
}

impl FailureLayer {
    /// Whether the platform is responsible for faults in this layer.
    pub fn is_platform(self) -> bool {
        !matches!(self, FailureLayer::GuestOs)
    }
}

/// A server's health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerHealth {
    /// Platform id of the server.
    pub server_id: String,
    /// Lifecycle state.
    pub server_state: ServerState,
    /// Up, down or not running.
    pub state: HealthState,
    /// When down: the layer that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_layer: Option<FailureLayer>,
    /// When down: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down_since: Option<Timestamp>,
    /// When down and known: when the platform expects it back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_recovery: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_parses_menu_strings_and_parts() -> Result<(), Box<dyn std::error::Error>> {
        let s: ServerSize = serde_json::from_value(json!("2CPU-8GB"))?;
        assert_eq!(
            s,
            ServerSize {
                cpus: 2,
                memory_gb: 8
            }
        );
        let p: ServerSize = serde_json::from_value(json!({"cpus": 4, "memoryGb": 16}))?;
        assert_eq!(p.to_string(), "4CPU-16GB");
        assert_eq!(serde_json::to_value(p)?, json!("4CPU-16GB"));
        assert!(s.is_on_menu());
        assert!(!ServerSize::parse("3CPU-8GB")?.is_on_menu());
        Ok(())
    }

    #[test]
    fn malformed_size_is_an_invalid_request_naming_the_form() {
        for bad in ["2cpu-8gb", "2CPU", "CPU-8GB", "2CPU-xGB", ""] {
            let err = ServerSize::parse(bad).err();
            let Some(err) = err else {
                panic!("{bad} parsed");
            };
            assert_eq!(err.label(), "invalid_request");
            assert!(err.message().contains("<cpus>CPU-<memory>GB"), "{err}");
        }
        let from_json = serde_json::from_value::<ServerSize>(json!("big"));
        assert!(from_json.is_err());
    }

    #[test]
    fn client_token_checks_its_characters() {
        assert!(ClientToken::new("ns/name:uid-1_a.b").is_ok());
        for bad in ["", "has space", "ü", &"x".repeat(129)] {
            let err = ClientToken::new(bad).err();
            assert!(
                err.as_ref()
                    .is_some_and(|e| e.message().contains("clientToken")),
                "{bad}: {err:?}"
            );
        }
        assert!(serde_json::from_value::<ClientToken>(json!("a b")).is_err());
    }

    #[test]
    fn server_spec_round_trip_uses_platform_names() -> Result<(), serde_json::Error> {
        let spec = ServerSpec {
            name: "db1".into(),
            size: ServerSize {
                cpus: 8,
                memory_gb: 64,
            },
            os: OperatingSystem::WindowsServer,
            os_disk_gb: Some(100),
            packages: vec![CommercialPackage::SqlServer],
            antivirus: Antivirus::FSecure,
            rds_licenses: Some(30),
            disks: vec![DiskSpec {
                name: "data".into(),
                size_gb: 300,
            }],
        };
        let v = serde_json::to_value(&spec)?;
        assert_eq!(
            v,
            json!({"name": "db1", "size": "8CPU-64GB", "os": "WindowsServer", "osDiskGb": 100,
                   "packages": ["SQLServer"], "antivirus": "FSecure", "rdsLicenses": 30,
                   "disks": [{"name": "data", "sizeGb": 300}]})
        );
        assert_eq!(serde_json::from_value::<ServerSpec>(v)?, spec);
        let minimal: ServerSpec = serde_json::from_value(json!({"name": "a", "size": "1CPU-2GB"}))?;
        assert_eq!(minimal.os, OperatingSystem::RockyLinux);
        assert_eq!(minimal.antivirus, Antivirus::None);
        Ok(())
    }

    #[test]
    fn volume_plan_and_health_names() -> Result<(), serde_json::Error> {
        assert_eq!(
            serde_json::to_value(VolumePlan::Iops4PerGb)?,
            json!("4IOPS/GB")
        );
        assert!(serde_json::from_value::<VolumePlan>(json!("3IOPS/GB")).is_err());
        assert!(FailureLayer::Hypervisor.is_platform());
        assert!(FailureLayer::PlatformNetwork.is_platform());
        assert!(!FailureLayer::GuestOs.is_platform());
        Ok(())
    }

    #[test]
    fn tag_selector_needs_every_pair() {
        let tags: Tags = [
            ("tenant".to_string(), "a".to_string()),
            ("app".into(), "x".into()),
        ]
        .into_iter()
        .collect();
        let mut sel = Tags::new();
        assert!(tags_match(&tags, &sel));
        sel.insert("tenant".into(), "a".into());
        assert!(tags_match(&tags, &sel));
        sel.insert("app".into(), "y".into());
        assert!(!tags_match(&tags, &sel));
    }
}
