//! Helpers of the world's unit tests: a fixed clock, tokens, tenant tags, specs and rules.

use jiff::{SignedDuration, Timestamp};
use suido_provider::{Antivirus, ClientToken, OperatingSystem, ServerSize, ServerSpec, Tags};

use crate::config::{Durations, Rules, ServiceDurations};

/// A fixed start time.
pub(crate) fn t0() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// `t0` plus `secs` seconds.
pub(crate) fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs))
        .unwrap_or(Timestamp::MAX)
}

/// A client token.
pub(crate) fn token(t: &str) -> ClientToken {
    ClientToken::new(t).unwrap_or_else(|e| panic!("{e}"))
}

/// The tags of tenant `t`.
pub(crate) fn tenant(t: &str) -> Tags {
    [("suido.dev/tenant".to_string(), t.to_string())].into()
}

/// A Rocky Linux server of a menu size.
pub(crate) fn server_spec(menu: &str) -> ServerSpec {
    ServerSpec {
        name: "s".into(),
        size: ServerSize::parse(menu).unwrap_or(ServerSize {
            cpus: 0,
            memory_gb: 0,
        }),
        os: OperatingSystem::RockyLinux,
        os_disk_gb: None,
        packages: Vec::new(),
        antivirus: Antivirus::None,
        rds_licenses: None,
        disks: Vec::new(),
    }
}

/// Rules where every operation completes at once.
pub(crate) fn instant() -> Rules {
    Rules {
        durations: Durations::instant(),
        service_durations: ServiceDurations::uniform(0),
        ..Rules::default()
    }
}
