//! The platform's fixed menus (service specification tables 2-2, 2-5, 2-12, the RDS SAL
//! counts and the load balancer throughputs), shared by the providers and the simulator for
//! validation.

use crate::types::{OperatingSystem, ServerSize};

/// The CPU-memory menu for virtual servers (table 2-2), as (vCPUs, memory GB).
pub const SERVER_MENU: [(u32, u32); 21] = [
    (1, 2),
    (1, 4),
    (1, 8),
    (1, 16),
    (2, 4),
    (2, 8),
    (2, 16),
    (2, 32),
    (4, 8),
    (4, 16),
    (4, 32),
    (4, 64),
    (8, 16),
    (8, 32),
    (8, 64),
    (8, 128),
    (16, 32),
    (16, 64),
    (16, 128),
    (32, 64),
    (32, 128),
];

/// Sizes of the additional server disk menu (table 2-5), in GB; 1 TB is 1000.
pub const DATA_DISK_SIZES_GB: [u32; 9] = [40, 80, 100, 300, 500, 1000, 2000, 3000, 4000];

/// Sizes of the block storage menu (table 2-12), in GB, for both plans.
pub const VOLUME_SIZES_GB: [u32; 8] = [100, 250, 500, 1000, 2000, 4000, 8000, 12000];

/// Maximum throughputs of the load balancer menu, in Mbps.
pub const LB_THROUGHPUT_MBPS: [u32; 3] = [50, 200, 1000];

/// Remote Desktop (RDS SAL) licence counts that can be ordered with Windows Server.
pub const RDS_LICENSE_COUNTS: [u32; 4] = [10, 30, 50, 100];

/// Every size on the server menu.
pub fn server_sizes() -> impl Iterator<Item = ServerSize> {
    SERVER_MENU
        .iter()
        .map(|&(cpus, memory_gb)| ServerSize { cpus, memory_gb })
}

/// The server menu as one comma-separated string, for error messages.
pub fn server_menu_text() -> String {
    server_sizes()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The standard OS disk size in GB: 40 for Linux, 80 for Windows Server.
pub fn standard_os_disk_gb(os: OperatingSystem) -> u32 {
    match os {
        OperatingSystem::RockyLinux | OperatingSystem::Rhel => 40,
        OperatingSystem::WindowsServer => 80,
    }
}

/// A list of numbers as text, for error messages (`40, 80, 100`).
pub fn list_text(values: &[u32]) -> String {
    values
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
