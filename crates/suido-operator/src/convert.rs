//! Typed conversions from the API's types to the provider's, one `match` per enum, so that a
//! new menu entry on either side is a compile error rather than a runtime surprise.

use suido_api::v1alpha1 as api;
use suido_provider as p;

/// A menu size.
pub fn size(s: api::ServerSize) -> p::ServerSize {
    p::ServerSize {
        cpus: s.cpus(),
        memory_gb: s.memory_gb(),
    }
}

/// The menu entry of a platform size, if it is on the menu.
pub fn api_size(size: p::ServerSize) -> Option<api::ServerSize> {
    api::ServerSize::ALL
        .into_iter()
        .find(|s| s.cpus() == size.cpus && s.memory_gb() == size.memory_gb)
}

/// An operating system.
pub fn os(os: api::OperatingSystem) -> p::OperatingSystem {
    match os {
        api::OperatingSystem::RockyLinux => p::OperatingSystem::RockyLinux,
        api::OperatingSystem::Rhel => p::OperatingSystem::Rhel,
        api::OperatingSystem::WindowsServer => p::OperatingSystem::WindowsServer,
    }
}

/// A commercial package.
pub fn package(pkg: api::CommercialPackage) -> p::CommercialPackage {
    match pkg {
        api::CommercialPackage::SqlServer => p::CommercialPackage::SqlServer,
        api::CommercialPackage::OracleSe => p::CommercialPackage::OracleSe,
        api::CommercialPackage::OracleEe => p::CommercialPackage::OracleEe,
    }
}

/// An antivirus product.
pub fn antivirus(av: api::Antivirus) -> p::Antivirus {
    match av {
        api::Antivirus::None => p::Antivirus::None,
        api::Antivirus::DeepSecurity => p::Antivirus::DeepSecurity,
        api::Antivirus::FSecure => p::Antivirus::FSecure,
    }
}

/// An alert severity.
pub fn severity(s: api::Severity) -> p::AlertSeverity {
    match s {
        api::Severity::Severe => p::AlertSeverity::Severe,
        api::Severity::Minor => p::AlertSeverity::Minor,
    }
}

fn metric(m: api::ResourceMetric) -> p::ResourceMetric {
    match m {
        api::ResourceMetric::CpuUsage => p::ResourceMetric::CpuUsage,
        api::ResourceMetric::MemoryUsage => p::ResourceMetric::MemoryUsage,
        api::ResourceMetric::DiskFree => p::ResourceMetric::DiskFree,
    }
}

/// Monitoring settings.
pub fn monitoring(m: &api::Monitoring) -> p::MonitoringSettings {
    p::MonitoringSettings {
        icmp: m.icmp.as_ref().map(|i| severity(i.severity)),
        resources: m
            .resources
            .iter()
            .map(|r| p::ResourceThreshold {
                metric: metric(r.metric),
                threshold_percent: r.threshold_percent,
                path: r.path.clone(),
                severity: severity(r.severity),
            })
            .collect(),
        processes: m
            .processes
            .iter()
            .map(|w| p::ProcessWatch {
                name: w.name.clone(),
                severity: severity(w.severity),
            })
            .collect(),
        logs: m
            .logs
            .iter()
            .map(|l| p::LogWatch {
                path: l.path.clone(),
                pattern: l.pattern.clone(),
                severity: severity(l.severity),
            })
            .collect(),
    }
}

/// A block storage plan.
pub fn volume_plan(plan: api::BlockStoragePlan) -> p::VolumePlan {
    match plan {
        api::BlockStoragePlan::Iops2PerGb => p::VolumePlan::Iops2PerGb,
        api::BlockStoragePlan::Iops4PerGb => p::VolumePlan::Iops4PerGb,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_menu_size_maps_there_and_back() {
        for s in api::ServerSize::ALL {
            let p = size(s);
            assert!(p.is_on_menu(), "{p}");
            assert_eq!(api_size(p), Some(s));
        }
        assert_eq!(
            api_size(p::ServerSize {
                cpus: 3,
                memory_gb: 3
            }),
            None
        );
    }
}
