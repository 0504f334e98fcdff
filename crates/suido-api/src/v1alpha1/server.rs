//! `VirtualServer`: a virtual server from the platform's menu, with its OS, commercial packages,
//! additional disks, antivirus, RDS licences, power state and monitoring.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    EXTERNAL_ID_FIXED, EXTERNAL_ID_FIXED_MESSAGE, ManagedSpec, ManagedStatus,
    OBSERVE_ONLY_NEEDS_EXTERNAL_ID, OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE, Severity,
};

/// Desired state of a virtual server on the shared platform.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "infra.suido.dev",
    version = "v1alpha1",
    kind = "VirtualServer",
    namespaced,
    shortname = "vs",
    category = "suido",
    status = "VirtualServerStatus",
    doc = "A virtual server from the platform's CPU-memory menu, built with the chosen OS, packages, disks and antivirus.",
    printcolumn(
        name = "Size",
        type_ = "string",
        json_path = ".spec.size",
        description = "CPU-memory size from the menu"
    ),
    printcolumn(
        name = "OS",
        type_ = "string",
        json_path = ".spec.os",
        description = "Operating system"
    ),
    printcolumn(
        name = "Power",
        type_ = "string",
        json_path = ".status.powerState",
        description = "Observed power state"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Ready condition"
    ),
    printcolumn(
        name = "Phase",
        type_ = "string",
        json_path = ".status.phase",
        description = "Lifecycle phase"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    ),
    printcolumn(
        name = "External-ID",
        type_ = "string",
        json_path = ".status.externalId",
        priority = 1,
        description = "Platform server id"
    ),
    printcolumn(
        name = "Address",
        type_ = "string",
        json_path = ".status.address",
        priority = 1,
        description = "Server address on the server segment"
    )
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new(OBSERVE_ONLY_NEEDS_EXTERNAL_ID).message(OBSERVE_ONLY_NEEDS_EXTERNAL_ID_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new(EXTERNAL_ID_FIXED).message(EXTERNAL_ID_FIXED_MESSAGE).field_path(".externalId"))]
#[x_kube(validation = Rule::new("!has(self.osDiskGb) || self.osDiskGb >= ((has(self.os) && self.os == 'WindowsServer') ? 80 : 40)").message("spec.osDiskGb may only enlarge the standard OS disk: at least 40 for RockyLinux and RHEL, at least 80 for WindowsServer").field_path(".osDiskGb"))]
#[x_kube(validation = Rule::new("has(self.osDiskGb) == has(oldSelf.osDiskGb) && (!has(self.osDiskGb) || self.osDiskGb == oldSelf.osDiskGb)").message("spec.osDiskGb can only be set when the server is first ordered").field_path(".osDiskGb"))]
#[x_kube(validation = Rule::new("!has(self.rdsLicenses) || (has(self.os) && self.os == 'WindowsServer')").message("spec.rdsLicenses (RDS SAL) is only for os WindowsServer").field_path(".rdsLicenses"))]
#[x_kube(validation = Rule::new("has(self.rdsLicenses) == has(oldSelf.rdsLicenses) && (!has(self.rdsLicenses) || self.rdsLicenses == oldSelf.rdsLicenses)").message("spec.rdsLicenses cannot be added or changed after the server is built; delete and rebuild the server").field_path(".rdsLicenses"))]
pub struct VirtualServerSpec {
    /// CPU-memory size from the platform's menu (table 2-2). Changing it requires stopping the
    /// server; when that happens is set by `disruption`.
    pub size: ServerSize,

    /// Operating system: `RockyLinux` (default), `RHEL` or `WindowsServer`. Installed by the
    /// platform at build time; bringing your own OS image is not allowed. Cannot change.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.os is installed at build time and cannot change; delete and rebuild the server"))]
    pub os: OperatingSystem,

    /// Size of the OS disk in GB. Defaults to the standard size: 40 for RockyLinux and RHEL, 80
    /// for WindowsServer. It may only be made larger than the standard, and only when the server
    /// is first ordered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk_gb: Option<u32>,

    /// Commercial packages installed by the platform at build time: `SQLServer`,
    /// `OracleSE` (Oracle Database Standard Edition), `OracleEE` (Enterprise Edition). Bringing
    /// your own licence is not allowed. Cannot change after the server is built.
    #[serde(default)]
    #[schemars(length(max = 3), extend("x-kubernetes-list-type" = "set"))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.packages can only be chosen when the server is built"))]
    pub packages: Vec<CommercialPackage>,

    /// Additional disks from the platform's menu. Adding a disk or enlarging one requires
    /// stopping the server (see `disruption`); a disk can never shrink.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[schemars(length(max = 16))]
    pub disks: Vec<DataDisk>,

    /// Antivirus installed at build time: `None` (default), `FSecure` (any tenant) or
    /// `DeepSecurity` (vendor tenants only). The CRD cannot see the tenant, so the vendor-only
    /// rule is enforced by the VirtualServer controller against the Tenant that owns this
    /// namespace, which reports it in the `TenantPolicy` condition. Cannot change after build.
    #[serde(default)]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.antivirus is installed at build time and cannot change"))]
    pub antivirus: Antivirus,

    /// Remote Desktop (RDS SAL) licences: 10, 30, 50 or 100, for WindowsServer only. Without
    /// them the server allows the two administrative sessions. Cannot be added or changed after
    /// the server is built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [10, 30, 50, 100]))]
    pub rds_licenses: Option<u32>,

    /// Desired power state: `Running` (default) or `Stopped`.
    #[serde(default)]
    pub power_state: PowerState,

    /// Enables the virtual server management screen (console with a US keyboard layout, start
    /// and stop). Vendor tenants only; enforced by the controller like `antivirus`.
    #[serde(default)]
    pub console: bool,

    /// Monitoring (Zabbix) settings: ICMP, resource thresholds, processes and log patterns.
    /// Thresholds are the tenant's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<Monitoring>,

    /// When a change that needs the server stopped (size, disks) is applied: `Immediate` stops,
    /// changes and starts the server now; `NextMaintenanceWindow` waits for the next
    /// MaintenanceWindow that covers this tenant; `NextStop` (default) waits until the tenant
    /// stops the server and sets the `RestartRequired` condition meanwhile.
    #[serde(default)]
    pub disruption: DisruptionPolicy,

    /// Deletion, management, adoption and pausing.
    #[serde(flatten)]
    pub management: ManagedSpec,
}

/// Operating systems offered by the platform.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum OperatingSystem {
    #[default]
    RockyLinux,
    #[serde(rename = "RHEL")]
    Rhel,
    WindowsServer,
}

impl OperatingSystem {
    /// The standard OS disk size in GB (40 for Linux, 80 for Windows Server).
    pub fn standard_os_disk_gb(self) -> u32 {
        match self {
            OperatingSystem::RockyLinux | OperatingSystem::Rhel => 40,
            OperatingSystem::WindowsServer => 80,
        }
    }
}

/// Commercial packages the platform installs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CommercialPackage {
    #[serde(rename = "SQLServer")]
    SqlServer,
    #[serde(rename = "OracleSE")]
    OracleSe,
    #[serde(rename = "OracleEE")]
    OracleEe,
}

/// Antivirus products the platform installs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Antivirus {
    #[default]
    None,
    DeepSecurity,
    FSecure,
}

/// Desired or observed power state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PowerState {
    #[default]
    Running,
    Stopped,
}

/// How a change that needs a stop is applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum DisruptionPolicy {
    Immediate,
    NextMaintenanceWindow,
    #[default]
    NextStop,
}

/// The sizes of the additional-disk menu (table 2-5), in GB; 1 TB is written 1000.
pub const DATA_DISK_SIZES_GB: [u32; 9] = [40, 80, 100, 300, 500, 1000, 2000, 3000, 4000];

/// An additional server disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.sizeGb >= oldSelf.sizeGb").message("a disk can only grow: spec.disks[].sizeGb may not shrink").field_path(".sizeGb"))]
pub struct DataDisk {
    /// Name of the disk, unique within the server (a DNS label such as `data`).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// Size in GB from the menu: 40, 80, 100, 300, 500, 1000 (1 TB), 2000, 3000 or 4000.
    #[schemars(extend("enum" = [40, 80, 100, 300, 500, 1000, 2000, 3000, 4000]))]
    pub size_gb: u32,
}

/// An additional disk as it is on the platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskStatus {
    /// Name of the disk (as in `spec.disks`).
    pub name: String,
    /// Size on the platform now, in GB.
    pub size_gb: u32,
    /// Platform id of the disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
}

/// Monitoring settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Monitoring {
    /// ICMP (ping) monitoring; absent means off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmp: Option<IcmpCheck>,
    /// Resource thresholds (CPU use, memory use, free disk).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceCheck>,
    /// Processes that must be running.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessCheck>,
    /// Log files watched for a pattern.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogCheck>,
}

/// ICMP (ping) monitoring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IcmpCheck {
    /// Severity of the alert when the server stops answering: `Severe` or `Minor`.
    pub severity: Severity,
}

/// A resource metric the platform's monitoring can watch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ResourceMetric {
    CpuUsage,
    MemoryUsage,
    DiskFree,
}

/// A resource threshold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.metric == 'DiskFree' || !has(self.path)").message("spec.monitoring.resources[].path is only for metric DiskFree").field_path(".path"))]
pub struct ResourceCheck {
    /// Metric: `CpuUsage` and `MemoryUsage` alert above the threshold, `DiskFree` below it.
    pub metric: ResourceMetric,
    /// Threshold in percent, 1 to 100.
    #[schemars(range(min = 1, max = 100))]
    pub threshold_percent: u32,
    /// For `DiskFree`: the mount point or drive to watch (e.g. `/var` or `C:`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Severity of the alert: `Severe` or `Minor`.
    pub severity: Severity,
}

/// A process that must be running.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessCheck {
    /// Process name as the OS shows it (e.g. `postgres`, `sqlservr.exe`).
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    /// Severity of the alert when it is not running: `Severe` or `Minor`.
    pub severity: Severity,
}

/// A log file watched for a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogCheck {
    /// Path of the log file (e.g. `/var/log/messages`).
    #[schemars(length(min = 1, max = 1024))]
    pub path: String,
    /// Regular expression that raises the alert when a new line matches it.
    #[schemars(length(min = 1, max = 1024))]
    pub pattern: String,
    /// Severity of the alert: `Severe` or `Minor`.
    pub severity: Severity,
}

/// Observed state of a virtual server.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualServerStatus {
    /// Generation, conditions, external id and phase.
    #[serde(flatten)]
    pub managed: ManagedStatus,
    /// Power state observed on the platform.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<PowerState>,
    /// The size the server has on the platform now (differs from the spec while a resize waits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<ServerSize>,
    /// The OS disk size the server was built with, in GB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_disk_gb: Option<u32>,
    /// Address of the server on the server segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Additional disks as they are on the platform.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<DiskStatus>,
    /// Names of the BlockVolumes attached to this server.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// Changes that wait for a stop, in words (e.g. `size 2CPU-8GB -> 4CPU-16GB`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_changes: Vec<String>,
}

/// The platform's CPU-memory menu for virtual servers (table 2-2, 21 sizes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServerSize {
    #[serde(rename = "1CPU-2GB")]
    Cpu1Mem2,
    #[serde(rename = "1CPU-4GB")]
    Cpu1Mem4,
    #[serde(rename = "1CPU-8GB")]
    Cpu1Mem8,
    #[serde(rename = "1CPU-16GB")]
    Cpu1Mem16,
    #[serde(rename = "2CPU-4GB")]
    Cpu2Mem4,
    #[serde(rename = "2CPU-8GB")]
    Cpu2Mem8,
    #[serde(rename = "2CPU-16GB")]
    Cpu2Mem16,
    #[serde(rename = "2CPU-32GB")]
    Cpu2Mem32,
    #[serde(rename = "4CPU-8GB")]
    Cpu4Mem8,
    #[serde(rename = "4CPU-16GB")]
    Cpu4Mem16,
    #[serde(rename = "4CPU-32GB")]
    Cpu4Mem32,
    #[serde(rename = "4CPU-64GB")]
    Cpu4Mem64,
    #[serde(rename = "8CPU-16GB")]
    Cpu8Mem16,
    #[serde(rename = "8CPU-32GB")]
    Cpu8Mem32,
    #[serde(rename = "8CPU-64GB")]
    Cpu8Mem64,
    #[serde(rename = "8CPU-128GB")]
    Cpu8Mem128,
    #[serde(rename = "16CPU-32GB")]
    Cpu16Mem32,
    #[serde(rename = "16CPU-64GB")]
    Cpu16Mem64,
    #[serde(rename = "16CPU-128GB")]
    Cpu16Mem128,
    #[serde(rename = "32CPU-64GB")]
    Cpu32Mem64,
    #[serde(rename = "32CPU-128GB")]
    Cpu32Mem128,
}

impl ServerSize {
    /// Every size on the menu, in the menu's order.
    pub const ALL: [ServerSize; 21] = [
        ServerSize::Cpu1Mem2,
        ServerSize::Cpu1Mem4,
        ServerSize::Cpu1Mem8,
        ServerSize::Cpu1Mem16,
        ServerSize::Cpu2Mem4,
        ServerSize::Cpu2Mem8,
        ServerSize::Cpu2Mem16,
        ServerSize::Cpu2Mem32,
        ServerSize::Cpu4Mem8,
        ServerSize::Cpu4Mem16,
        ServerSize::Cpu4Mem32,
        ServerSize::Cpu4Mem64,
        ServerSize::Cpu8Mem16,
        ServerSize::Cpu8Mem32,
        ServerSize::Cpu8Mem64,
        ServerSize::Cpu8Mem128,
        ServerSize::Cpu16Mem32,
        ServerSize::Cpu16Mem64,
        ServerSize::Cpu16Mem128,
        ServerSize::Cpu32Mem64,
        ServerSize::Cpu32Mem128,
    ];

    /// The menu name, e.g. `2CPU-8GB`.
    pub fn as_str(self) -> &'static str {
        match self {
            ServerSize::Cpu1Mem2 => "1CPU-2GB",
            ServerSize::Cpu1Mem4 => "1CPU-4GB",
            ServerSize::Cpu1Mem8 => "1CPU-8GB",
            ServerSize::Cpu1Mem16 => "1CPU-16GB",
            ServerSize::Cpu2Mem4 => "2CPU-4GB",
            ServerSize::Cpu2Mem8 => "2CPU-8GB",
            ServerSize::Cpu2Mem16 => "2CPU-16GB",
            ServerSize::Cpu2Mem32 => "2CPU-32GB",
            ServerSize::Cpu4Mem8 => "4CPU-8GB",
            ServerSize::Cpu4Mem16 => "4CPU-16GB",
            ServerSize::Cpu4Mem32 => "4CPU-32GB",
            ServerSize::Cpu4Mem64 => "4CPU-64GB",
            ServerSize::Cpu8Mem16 => "8CPU-16GB",
            ServerSize::Cpu8Mem32 => "8CPU-32GB",
            ServerSize::Cpu8Mem64 => "8CPU-64GB",
            ServerSize::Cpu8Mem128 => "8CPU-128GB",
            ServerSize::Cpu16Mem32 => "16CPU-32GB",
            ServerSize::Cpu16Mem64 => "16CPU-64GB",
            ServerSize::Cpu16Mem128 => "16CPU-128GB",
            ServerSize::Cpu32Mem64 => "32CPU-64GB",
            ServerSize::Cpu32Mem128 => "32CPU-128GB",
        }
    }

    /// Virtual CPUs.
    pub fn cpus(self) -> u32 {
        match self {
            ServerSize::Cpu1Mem2 => 1,
            ServerSize::Cpu1Mem4 => 1,
            ServerSize::Cpu1Mem8 => 1,
            ServerSize::Cpu1Mem16 => 1,
            ServerSize::Cpu2Mem4 => 2,
            ServerSize::Cpu2Mem8 => 2,
            ServerSize::Cpu2Mem16 => 2,
            ServerSize::Cpu2Mem32 => 2,
            ServerSize::Cpu4Mem8 => 4,
            ServerSize::Cpu4Mem16 => 4,
            ServerSize::Cpu4Mem32 => 4,
            ServerSize::Cpu4Mem64 => 4,
            ServerSize::Cpu8Mem16 => 8,
            ServerSize::Cpu8Mem32 => 8,
            ServerSize::Cpu8Mem64 => 8,
            ServerSize::Cpu8Mem128 => 8,
            ServerSize::Cpu16Mem32 => 16,
            ServerSize::Cpu16Mem64 => 16,
            ServerSize::Cpu16Mem128 => 16,
            ServerSize::Cpu32Mem64 => 32,
            ServerSize::Cpu32Mem128 => 32,
        }
    }

    /// Memory in GB.
    pub fn memory_gb(self) -> u32 {
        match self {
            ServerSize::Cpu1Mem2 => 2,
            ServerSize::Cpu1Mem4 => 4,
            ServerSize::Cpu1Mem8 => 8,
            ServerSize::Cpu1Mem16 => 16,
            ServerSize::Cpu2Mem4 => 4,
            ServerSize::Cpu2Mem8 => 8,
            ServerSize::Cpu2Mem16 => 16,
            ServerSize::Cpu2Mem32 => 32,
            ServerSize::Cpu4Mem8 => 8,
            ServerSize::Cpu4Mem16 => 16,
            ServerSize::Cpu4Mem32 => 32,
            ServerSize::Cpu4Mem64 => 64,
            ServerSize::Cpu8Mem16 => 16,
            ServerSize::Cpu8Mem32 => 32,
            ServerSize::Cpu8Mem64 => 64,
            ServerSize::Cpu8Mem128 => 128,
            ServerSize::Cpu16Mem32 => 32,
            ServerSize::Cpu16Mem64 => 64,
            ServerSize::Cpu16Mem128 => 128,
            ServerSize::Cpu32Mem64 => 64,
            ServerSize::Cpu32Mem128 => 128,
        }
    }
}
