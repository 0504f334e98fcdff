//! The outage ledger: servers, maintenance windows and outage intervals, as
//! read from JSON (camelCase) or built in code, and its validation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::SlaError;

/// Everything the SLA arithmetic needs to know about one period of operation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ledger {
    /// Known servers. Optional: servers listed here appear in the report even
    /// without outages, and give their outages a default tenant and environment.
    #[serde(default)]
    pub servers: Vec<Server>,
    /// Maintenance windows that outages of cause `announcedMaintenance` refer to.
    #[serde(default)]
    pub maintenance_windows: Vec<MaintenanceWindow>,
    /// The outage intervals, in any order; they may overlap.
    #[serde(default)]
    pub outages: Vec<Outage>,
}

/// A virtual server covered by the SLA (§3.1: the virtual server service).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Server {
    /// The server's name, unique in the ledger.
    pub name: String,
    /// The tenant that owns the server.
    pub tenant: String,
    /// The environment the server belongs to.
    pub environment: Environment,
}

/// A maintenance window of the platform (§4.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MaintenanceWindow {
    /// The window's identifier, unique in the ledger.
    pub id: String,
    /// When the window opens.
    pub start: Timestamp,
    /// When the window closes.
    pub end: Timestamp,
    /// When the window was announced to tenants (portal or mail), if it was.
    #[serde(default)]
    pub announced_at: Option<Timestamp>,
}

impl MaintenanceWindow {
    /// Whether the window was announced strictly before it started, which is
    /// what §3.4 (1) "事前通知した" (announced in advance) requires.
    pub fn announced_in_advance(&self) -> bool {
        self.announced_at.is_some_and(|at| at < self.start)
    }
}

/// One interval during which a server was not running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outage {
    /// An optional identifier (an incident number), echoed in the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The server that was down.
    pub server: String,
    /// The server's tenant; required unless the server is listed in `servers`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// The environment; defaults to the server's listed environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// When the outage began.
    pub start: Timestamp,
    /// When it ended; `None` while it is still open.
    #[serde(default)]
    pub end: Option<Timestamp>,
    /// What caused it.
    pub cause: Cause,
    /// The id of the maintenance window covering it, for maintenance causes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<String>,
    /// Free text for people; ignored by the arithmetic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The environment a server runs in (§3.4 (8)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Environment {
    /// Production: covered by the SLA.
    Production,
    /// Development: excluded by §3.4 (8).
    Development,
    /// Evaluation (staging, acceptance): excluded by §3.4 (8).
    Evaluation,
}

impl Environment {
    /// The JSON name of the environment.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Development => "development",
            Environment::Evaluation => "evaluation",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a server was down. The order of the variants is the tie-break used
/// when overlapping intervals of the same precedence class compete for the
/// same instant (see `docs/sla.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Cause {
    /// Fault of the virtualization layer or hardware (table 4-1: platform).
    HostOrHypervisorFault,
    /// Fault of the platform-side network (table 4-1: platform).
    PlatformNetworkFault,
    /// Maintenance that was not announced in advance (§4.2 proviso).
    UnannouncedEmergencyMaintenance,
    /// Not yet classified; counts against the platform until it is.
    Unknown,
    /// Maintenance announced in advance, inside its window (§3.4 (1)).
    AnnouncedMaintenance,
    /// The tenant operated something wrongly (§3.4 (2)).
    TenantMisoperation,
    /// Fault of the server's OS (§3.4 (3); table 4-1: tenant).
    GuestOsFault,
    /// Fault of an application or middleware (§3.4 (4); table 4-1: tenant).
    ApplicationFault,
    /// Fault of software the tenant installed (§3.4 (5)).
    TenantSoftwareFault,
    /// The tenant stopped or restarted the server (§3.4 (6)).
    TenantStopOrRestart,
    /// Fault of the lines the tenant uses or brought in (§3.4 (7); table 4-1 note 2).
    TenantLineFault,
    /// Any other cause the platform is not responsible for (§3.4 (9)).
    OtherNotPlatformResponsibility,
}

impl Cause {
    /// Every cause, in declaration (tie-break) order.
    pub const ALL: [Cause; 12] = [
        Cause::HostOrHypervisorFault,
        Cause::PlatformNetworkFault,
        Cause::UnannouncedEmergencyMaintenance,
        Cause::Unknown,
        Cause::AnnouncedMaintenance,
        Cause::TenantMisoperation,
        Cause::GuestOsFault,
        Cause::ApplicationFault,
        Cause::TenantSoftwareFault,
        Cause::TenantStopOrRestart,
        Cause::TenantLineFault,
        Cause::OtherNotPlatformResponsibility,
    ];

    /// The JSON name of the cause.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::HostOrHypervisorFault => "hostOrHypervisorFault",
            Cause::PlatformNetworkFault => "platformNetworkFault",
            Cause::UnannouncedEmergencyMaintenance => "unannouncedEmergencyMaintenance",
            Cause::Unknown => "unknown",
            Cause::AnnouncedMaintenance => "announcedMaintenance",
            Cause::TenantMisoperation => "tenantMisoperation",
            Cause::GuestOsFault => "guestOsFault",
            Cause::ApplicationFault => "applicationFault",
            Cause::TenantSoftwareFault => "tenantSoftwareFault",
            Cause::TenantStopOrRestart => "tenantStopOrRestart",
            Cause::TenantLineFault => "tenantLineFault",
            Cause::OtherNotPlatformResponsibility => "otherNotPlatformResponsibility",
        }
    }

    /// A short description for people.
    pub fn description(self) -> &'static str {
        match self {
            Cause::HostOrHypervisorFault => "host or hypervisor fault",
            Cause::PlatformNetworkFault => "platform network fault",
            Cause::UnannouncedEmergencyMaintenance => "unannounced emergency maintenance",
            Cause::Unknown => "unknown cause",
            Cause::AnnouncedMaintenance => "announced maintenance",
            Cause::TenantMisoperation => "tenant mis-operation",
            Cause::GuestOsFault => "guest OS fault",
            Cause::ApplicationFault => "application fault",
            Cause::TenantSoftwareFault => "fault of tenant-installed software",
            Cause::TenantStopOrRestart => "tenant stop or restart",
            Cause::TenantLineFault => "tenant line fault",
            Cause::OtherNotPlatformResponsibility => {
                "other cause, not the platform's responsibility"
            }
        }
    }

    /// Whether the platform is responsible for this cause (table 4-1), so that
    /// it counts against availability in a production environment. Announced
    /// maintenance is not: it is excluded inside its window and re-classified
    /// as unannounced outside it.
    pub fn is_platform_responsible(self) -> bool {
        matches!(
            self,
            Cause::HostOrHypervisorFault
                | Cause::PlatformNetworkFault
                | Cause::UnannouncedEmergencyMaintenance
                | Cause::Unknown
        )
    }

    /// The §3.4 item that excludes this cause, for tenant-side causes and
    /// announced maintenance; `None` for platform-responsible causes.
    pub fn exclusion_item(self) -> Option<ExclusionItem> {
        match self {
            Cause::AnnouncedMaintenance => Some(ExclusionItem::AnnouncedMaintenance),
            Cause::TenantMisoperation => Some(ExclusionItem::TenantMisoperation),
            Cause::GuestOsFault => Some(ExclusionItem::GuestOsFault),
            Cause::ApplicationFault => Some(ExclusionItem::ApplicationFault),
            Cause::TenantSoftwareFault => Some(ExclusionItem::TenantSoftware),
            Cause::TenantStopOrRestart => Some(ExclusionItem::TenantStopOrRestart),
            Cause::TenantLineFault => Some(ExclusionItem::TenantLine),
            Cause::OtherNotPlatformResponsibility => Some(ExclusionItem::NotPlatformResponsibility),
            Cause::HostOrHypervisorFault
            | Cause::PlatformNetworkFault
            | Cause::UnannouncedEmergencyMaintenance
            | Cause::Unknown => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The nine items of §3.4 (サービスレベルの対象外), each a reason for excluding
/// downtime from the availability figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExclusionItem {
    /// (1) maintenance announced in advance.
    AnnouncedMaintenance,
    /// (2) tenant mis-operation.
    TenantMisoperation,
    /// (3) faults of the virtual server's OS.
    GuestOsFault,
    /// (4) application faults.
    ApplicationFault,
    /// (5) faults of software the tenant installed.
    TenantSoftware,
    /// (6) tenant work: restarts and shutdowns.
    TenantStopOrRestart,
    /// (7) faults of the lines in use.
    TenantLine,
    /// (8) faults in development or evaluation environments.
    DevelopmentOrEvaluation,
    /// (9) other causes the platform is not responsible for.
    NotPlatformResponsibility,
}

impl ExclusionItem {
    /// The item's number in §3.4, 1 to 9.
    pub fn number(self) -> u8 {
        match self {
            ExclusionItem::AnnouncedMaintenance => 1,
            ExclusionItem::TenantMisoperation => 2,
            ExclusionItem::GuestOsFault => 3,
            ExclusionItem::ApplicationFault => 4,
            ExclusionItem::TenantSoftware => 5,
            ExclusionItem::TenantStopOrRestart => 6,
            ExclusionItem::TenantLine => 7,
            ExclusionItem::DevelopmentOrEvaluation => 8,
            ExclusionItem::NotPlatformResponsibility => 9,
        }
    }

    /// The item's wording, in English, after the Japanese original.
    pub fn text(self) -> &'static str {
        match self {
            ExclusionItem::AnnouncedMaintenance => "maintenance announced in advance",
            ExclusionItem::TenantMisoperation => "tenant mis-operation",
            ExclusionItem::GuestOsFault => "fault of the virtual server's OS",
            ExclusionItem::ApplicationFault => "application fault",
            ExclusionItem::TenantSoftware => "fault of software the tenant installed",
            ExclusionItem::TenantStopOrRestart => "tenant work (restart or shutdown)",
            ExclusionItem::TenantLine => "fault of the lines in use",
            ExclusionItem::DevelopmentOrEvaluation => {
                "fault in a development or evaluation environment"
            }
            ExclusionItem::NotPlatformResponsibility => {
                "other cause the platform is not responsible for"
            }
        }
    }

    /// "§3.4 (n)", the citation used in reports.
    pub fn citation(self) -> String {
        format!("§3.4 ({})", self.number())
    }
}

impl Ledger {
    /// Parses a ledger from JSON. Errors name the failing field as a path
    /// (e.g. `outages[2].cause`) with the allowed values.
    pub fn from_json_str(json: &str) -> Result<Ledger, SlaError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let ledger: Ledger =
            serde_path_to_error::deserialize(&mut de).map_err(|e| SlaError::LedgerJson {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| SlaError::LedgerJson {
            path: ".".to_string(),
            message: e.to_string(),
        })?;
        ledger.validate()?;
        Ok(ledger)
    }

    /// Checks what JSON types cannot: unique names, intervals that end after
    /// they start, window references that resolve, and a tenant and
    /// environment for every outage.
    pub fn validate(&self) -> Result<(), SlaError> {
        let invalid = |field: String, message: String| SlaError::InvalidLedger { field, message };

        let mut servers = BTreeMap::new();
        for (i, server) in self.servers.iter().enumerate() {
            if server.name.trim().is_empty() {
                return Err(invalid(
                    format!("servers[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            if server.tenant.trim().is_empty() {
                return Err(invalid(
                    format!("servers[{i}].tenant"),
                    "must not be empty".into(),
                ));
            }
            if servers.insert(server.name.as_str(), server).is_some() {
                return Err(invalid(
                    format!("servers[{i}].name"),
                    format!("server '{}' is listed twice", server.name),
                ));
            }
        }

        let mut windows = BTreeSet::new();
        for (i, window) in self.maintenance_windows.iter().enumerate() {
            if window.id.trim().is_empty() {
                return Err(invalid(
                    format!("maintenanceWindows[{i}].id"),
                    "must not be empty".into(),
                ));
            }
            if !windows.insert(window.id.as_str()) {
                return Err(invalid(
                    format!("maintenanceWindows[{i}].id"),
                    format!("window '{}' is listed twice", window.id),
                ));
            }
            if window.end < window.start {
                return Err(invalid(
                    format!("maintenanceWindows[{i}].end"),
                    format!("{} is before start {}", window.end, window.start),
                ));
            }
        }

        // The tenant each server belongs to, as first seen, to catch a server
        // attributed to two tenants.
        let mut tenant_of: BTreeMap<&str, (&str, String)> = BTreeMap::new();
        for server in &self.servers {
            tenant_of.insert(&server.name, (&server.tenant, "servers".to_string()));
        }
        for (i, outage) in self.outages.iter().enumerate() {
            let at = |field: &str| format!("outages[{i}].{field}");
            if outage.server.trim().is_empty() {
                return Err(invalid(at("server"), "must not be empty".into()));
            }
            if let Some(end) = outage.end
                && end < outage.start
            {
                return Err(invalid(
                    at("end"),
                    format!("{end} is before start {}", outage.start),
                ));
            }
            let listed = servers.get(outage.server.as_str());
            let tenant = match (&outage.tenant, listed) {
                (Some(t), _) if t.trim().is_empty() => {
                    return Err(invalid(at("tenant"), "must not be empty".into()));
                }
                (Some(t), _) => t.as_str(),
                (None, Some(s)) => s.tenant.as_str(),
                (None, None) => {
                    return Err(invalid(
                        at("tenant"),
                        format!(
                            "required because server '{}' is not listed in servers",
                            outage.server
                        ),
                    ));
                }
            };
            match tenant_of.get(outage.server.as_str()) {
                Some((known, source)) if *known != tenant => {
                    return Err(invalid(
                        at("tenant"),
                        format!(
                            "'{tenant}' conflicts with tenant '{known}' given for server '{}' in {source}",
                            outage.server
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    tenant_of.insert(&outage.server, (tenant, format!("outages[{i}]")));
                }
            }
            if outage.environment.is_none() && listed.is_none() {
                return Err(invalid(
                    at("environment"),
                    format!(
                        "required because server '{}' is not listed in servers; allowed: production, development, evaluation",
                        outage.server
                    ),
                ));
            }
            if let Some(window) = &outage.maintenance_window {
                if !matches!(
                    outage.cause,
                    Cause::AnnouncedMaintenance | Cause::UnannouncedEmergencyMaintenance
                ) {
                    return Err(invalid(
                        at("maintenanceWindow"),
                        format!(
                            "only allowed with cause announcedMaintenance or unannouncedEmergencyMaintenance, not {}",
                            outage.cause
                        ),
                    ));
                }
                if !windows.contains(window.as_str()) {
                    let known: Vec<&str> = windows.iter().copied().collect();
                    return Err(invalid(
                        at("maintenanceWindow"),
                        format!(
                            "no maintenance window with id '{window}'; known ids: [{}]",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The window with this id, if any.
    pub fn window(&self, id: &str) -> Option<&MaintenanceWindow> {
        self.maintenance_windows.iter().find(|w| w.id == id)
    }

    /// The listed server with this name, if any.
    pub fn server(&self, name: &str) -> Option<&Server> {
        self.servers.iter().find(|s| s.name == name)
    }

    /// The tenant of an outage: its own, else its listed server's.
    pub fn tenant_of(&self, outage: &Outage) -> Option<String> {
        outage
            .tenant
            .clone()
            .or_else(|| self.server(&outage.server).map(|s| s.tenant.clone()))
    }

    /// The environment of an outage: its own, else its listed server's.
    pub fn environment_of(&self, outage: &Outage) -> Option<Environment> {
        outage
            .environment
            .or_else(|| self.server(&outage.server).map(|s| s.environment))
    }
}
