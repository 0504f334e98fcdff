//! Builders shared by the integration tests.
#![allow(dead_code)]

use suido_sla::jiff::Timestamp;
use suido_sla::jiff::tz::TimeZone;
use suido_sla::{
    Cause, Environment, Ledger, MaintenanceWindow, Month, MonthReport, Outage, Server,
    ServerReport, evaluate_month, time_zone,
};

pub const MINUTE: u64 = 60_000;
pub const HOUR: u64 = 60 * MINUTE;
pub const DAY: u64 = 24 * HOUR;

pub fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

pub fn jst() -> TimeZone {
    time_zone("Asia/Tokyo").expect("Asia/Tokyo in the bundled tzdb")
}

pub fn month(s: &str) -> Month {
    s.parse().expect("test month")
}

/// A closed production outage of `server` (tenant `t1`).
pub fn outage(server: &str, cause: Cause, start: &str, end: &str) -> Outage {
    Outage {
        id: None,
        server: server.to_string(),
        tenant: Some("t1".to_string()),
        environment: Some(Environment::Production),
        start: ts(start),
        end: Some(ts(end)),
        cause,
        maintenance_window: None,
        note: None,
    }
}

pub fn window(id: &str, start: &str, end: &str, announced_at: Option<&str>) -> MaintenanceWindow {
    MaintenanceWindow {
        id: id.to_string(),
        start: ts(start),
        end: ts(end),
        announced_at: announced_at.map(ts),
    }
}

pub fn server(name: &str, tenant: &str, environment: Environment) -> Server {
    Server {
        name: name.to_string(),
        tenant: tenant.to_string(),
        environment,
    }
}

pub fn ledger(outages: Vec<Outage>) -> Ledger {
    Ledger {
        outages,
        ..Ledger::default()
    }
}

/// Evaluates a month in JST at `now`.
pub fn eval(ledger: &Ledger, m: &str, now: &str) -> MonthReport {
    evaluate_month(ledger, month(m), ts(now), &jst()).expect("evaluation succeeds")
}

pub fn find<'a>(report: &'a MonthReport, name: &str) -> &'a ServerReport {
    report
        .tenants
        .iter()
        .flat_map(|t| &t.servers)
        .find(|s| s.server == name)
        .unwrap_or_else(|| panic!("server {name} in report"))
}

/// Counted milliseconds of `server`.
pub fn counted(report: &MonthReport, name: &str) -> u64 {
    find(report, name).counted_downtime.0
}

/// Excluded milliseconds of `server`.
pub fn excluded(report: &MonthReport, name: &str) -> u64 {
    find(report, name).excluded_downtime.0
}

/// The excluded breakdown of `server` as (item, cause, ms).
pub fn excluded_by_item(report: &MonthReport, name: &str) -> Vec<(u8, Cause, u64)> {
    find(report, name)
        .excluded
        .iter()
        .map(|e| (e.item.number(), e.cause, e.duration.0))
        .collect()
}

/// The counted breakdown of `server` as (cause, ms).
pub fn counted_by_cause(report: &MonthReport, name: &str) -> Vec<(Cause, u64)> {
    find(report, name)
        .counted
        .iter()
        .map(|c| (c.cause, c.duration.0))
        .collect()
}
