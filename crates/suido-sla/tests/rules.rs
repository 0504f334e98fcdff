//! Table tests of the SLA rules: every cause and exclusion, month lengths,
//! month boundaries in JST, maintenance windows, overlaps and open intervals.

mod common;

use common::*;
use suido_sla::{
    Availability, Cause, Environment, Ledger, RefundTier, SegmentVerdict, evaluate_month, time_zone,
};

const NOW: &str = "2026-12-01T00:00:00+09:00";

#[test]
fn every_cause_in_production() {
    // (cause, counted?, §3.4 item when excluded). Announced maintenance has no
    // window here, so it counts as unannounced.
    let table = [
        (Cause::HostOrHypervisorFault, true, None),
        (Cause::PlatformNetworkFault, true, None),
        (Cause::UnannouncedEmergencyMaintenance, true, None),
        (Cause::Unknown, true, None),
        (Cause::AnnouncedMaintenance, true, None),
        (Cause::TenantMisoperation, false, Some(2)),
        (Cause::GuestOsFault, false, Some(3)),
        (Cause::ApplicationFault, false, Some(4)),
        (Cause::TenantSoftwareFault, false, Some(5)),
        (Cause::TenantStopOrRestart, false, Some(6)),
        (Cause::TenantLineFault, false, Some(7)),
        (Cause::OtherNotPlatformResponsibility, false, Some(9)),
    ];
    assert_eq!(table.len(), Cause::ALL.len());
    for (cause, is_counted, item) in table {
        let l = ledger(vec![outage(
            "vm",
            cause,
            "2026-10-10T10:00:00+09:00",
            "2026-10-10T11:00:00+09:00",
        )]);
        let r = eval(&l, "2026-10", NOW);
        if is_counted {
            assert_eq!(counted(&r, "vm"), HOUR, "{cause}");
            assert_eq!(excluded(&r, "vm"), 0, "{cause}");
            let booked = if cause == Cause::AnnouncedMaintenance {
                Cause::UnannouncedEmergencyMaintenance
            } else {
                cause
            };
            assert_eq!(counted_by_cause(&r, "vm"), vec![(booked, HOUR)], "{cause}");
            assert_eq!(find(&r, "vm").refund, RefundTier::OnePercent, "{cause}");
        } else {
            assert_eq!(counted(&r, "vm"), 0, "{cause}");
            let item = item.expect("excluded causes have an item");
            assert_eq!(
                excluded_by_item(&r, "vm"),
                vec![(item, cause, HOUR)],
                "{cause}"
            );
            assert_eq!(find(&r, "vm").availability.percent_string(), "100.0000");
            assert_eq!(find(&r, "vm").refund, RefundTier::None);
        }
    }
}

#[test]
fn every_exclusion_item_one_to_nine() {
    let mut l = ledger(vec![]);
    l.maintenance_windows.push(window(
        "mw",
        "2026-10-03T01:00:00+09:00",
        "2026-10-03T05:00:00+09:00",
        Some("2026-09-20T12:00:00+09:00"),
    ));
    let mut by_item = Vec::new();
    for (i, cause) in [
        Cause::AnnouncedMaintenance,
        Cause::TenantMisoperation,
        Cause::GuestOsFault,
        Cause::ApplicationFault,
        Cause::TenantSoftwareFault,
        Cause::TenantStopOrRestart,
        Cause::TenantLineFault,
        Cause::HostOrHypervisorFault,
        Cause::OtherNotPlatformResponsibility,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("vm{}", i + 1);
        let mut o = outage(
            &name,
            cause,
            "2026-10-03T02:00:00+09:00",
            "2026-10-03T03:00:00+09:00",
        );
        if cause == Cause::AnnouncedMaintenance {
            o.maintenance_window = Some("mw".to_string());
        }
        if i + 1 == 8 {
            o.environment = Some(Environment::Development);
        }
        l.outages.push(o);
        by_item.push(name);
    }
    let r = eval(&l, "2026-10", NOW);
    for (i, name) in by_item.iter().enumerate() {
        let items = excluded_by_item(&r, name);
        assert_eq!(items.len(), 1, "{name}");
        assert_eq!(usize::from(items[0].0), i + 1, "{name}");
        assert_eq!(items[0].2, HOUR, "{name}");
        assert_eq!(counted(&r, name), 0, "{name}");
        let reason = &find(&r, name).excluded[0].reason;
        assert!(
            reason.starts_with(&format!("§3.4 ({})", i + 1)),
            "{name}: {reason}"
        );
    }
}

#[test]
fn development_and_evaluation_exclude_even_platform_faults() {
    for env in [Environment::Development, Environment::Evaluation] {
        for cause in Cause::ALL {
            let mut o = outage(
                "vm",
                cause,
                "2026-10-10T10:00:00+09:00",
                "2026-10-10T12:00:00+09:00",
            );
            o.environment = Some(env);
            let r = eval(&ledger(vec![o]), "2026-10", NOW);
            assert_eq!(counted(&r, "vm"), 0, "{env} {cause}");
            assert_eq!(
                excluded_by_item(&r, "vm"),
                vec![(8, cause, 2 * HOUR)],
                "{env} {cause}"
            );
        }
    }
}

#[test]
fn listed_server_gives_environment_and_tenant() {
    let mut o = outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-10T10:00:00+09:00",
        "2026-10-10T12:00:00+09:00",
    );
    o.tenant = None;
    o.environment = None;
    let l = Ledger {
        servers: vec![
            server("vm", "kawasaki", Environment::Evaluation),
            server("idle", "kawasaki", Environment::Production),
        ],
        outages: vec![o],
        ..Ledger::default()
    };
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(r.tenants.len(), 1);
    assert_eq!(r.tenants[0].tenant, "kawasaki");
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![(8, Cause::HostOrHypervisorFault, 2 * HOUR)]
    );
    // A listed server without outages is reported at 100 %.
    let idle = find(&r, "idle");
    assert_eq!(idle.availability.percent_string(), "100.0000");
    assert_eq!(idle.environment, Some(Environment::Production));
    assert!(idle.outages.is_empty());
}

#[test]
fn month_lengths_28_29_30_31_days() {
    let tz = jst();
    for (m, days) in [
        ("2026-02", 28),
        ("2027-02", 28),
        ("2028-02", 29),
        ("2100-02", 28),
        ("2000-02", 29),
        ("2026-04", 30),
        ("2026-11", 30),
        ("2026-10", 31),
        ("2026-12", 31),
        ("2028-01", 31),
    ] {
        let bounds = month(m).bounds(&tz).expect("bounds");
        assert_eq!(month(m).days(), days, "{m}");
        assert_eq!(bounds.length_ms(), i64::from(days) * 86_400_000, "{m}");
        let r = eval(&ledger(vec![]), m, "2101-01-01T00:00:00Z");
        assert_eq!(r.days, days);
        assert_eq!(r.length.0, u64::try_from(days).expect("days") * DAY);
        assert!(r.complete);
    }
    let leap = eval(&ledger(vec![]), "2028-02", "2028-03-05T00:00:00+09:00");
    assert_eq!(leap.start, "2028-02-01T00:00:00+09:00");
    assert_eq!(leap.end, "2028-03-01T00:00:00+09:00");
    assert_eq!(leap.length.human(), "29d");
}

/// Downtime from the month's start of exactly `ms` milliseconds, on server "vm".
fn downtime_ledger(m: &str, ms: u64) -> (Ledger, String) {
    let tz = jst();
    let bounds = month(m).bounds(&tz).expect("bounds");
    let start = bounds.start_timestamp();
    let end = suido_sla::jiff::Timestamp::from_millisecond(
        start.as_millisecond() + i64::try_from(ms).expect("small"),
    )
    .expect("in range");
    let mut o = outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2000-01-01T00:00:00Z",
        "2000-01-01T00:00:00Z",
    );
    o.start = start;
    o.end = Some(end);
    (ledger(vec![o]), bounds.end_timestamp().to_string())
}

#[test]
fn tier_boundaries_are_exact_in_every_month_length() {
    for (m, days) in [
        ("2026-02", 28u64),
        ("2028-02", 29),
        ("2026-04", 30),
        ("2026-10", 31),
    ] {
        // 0.05 %, 0.20 % and 1 % of the month are whole milliseconds.
        let cases = [
            (0, RefundTier::None, "100.0000"),
            (days * 43_200, RefundTier::None, "99.9500"),
            (days * 43_200 + 1, RefundTier::OnePercent, "99.9499"),
            (days * 172_800, RefundTier::OnePercent, "99.8000"),
            (days * 172_800 + 1, RefundTier::ThreePercent, "99.7999"),
            (days * 864_000, RefundTier::ThreePercent, "99.0000"),
            (days * 864_000 + 1, RefundTier::TenPercent, "98.9999"),
        ];
        for (ms, tier, percent) in cases {
            let (l, end) = downtime_ledger(m, ms);
            let r = eval(&l, m, &end);
            let s = find(&r, "vm");
            assert_eq!(s.counted_downtime.0, ms, "{m} {ms}");
            assert_eq!(s.refund, tier, "{m} {ms}");
            assert_eq!(s.availability.percent_string(), percent, "{m} {ms}");
        }
    }
}

#[test]
fn refund_follows_availability_not_the_30_day_minute_figures() {
    // Table 3-1's minute column is for a 30-day month; the rate is set by
    // availability. 21m36s in February 2026 (28 days) is 99.9464 %: 1 %.
    let (l, end) = downtime_ledger("2026-02", 21 * MINUTE + 36_000);
    let r = eval(&l, "2026-02", &end);
    assert_eq!(find(&r, "vm").availability.percent_string(), "99.9464");
    assert_eq!(find(&r, "vm").refund.percent(), 1);
    // 22 minutes in October (31 days) is 99.9507 %: no refund.
    let (l, end) = downtime_ledger("2026-10", 22 * MINUTE);
    let r = eval(&l, "2026-10", &end);
    assert_eq!(find(&r, "vm").availability.percent_string(), "99.9507");
    assert_eq!(find(&r, "vm").refund.percent(), 0);
    // In a 30-day month the two columns agree: 21m36s is 99.95 % exactly.
    let (l, end) = downtime_ledger("2026-11", 21 * MINUTE + 36_000);
    let r = eval(&l, "2026-11", &end);
    assert_eq!(find(&r, "vm").availability.percent_string(), "99.9500");
    assert_eq!(find(&r, "vm").refund.percent(), 0);
}

#[test]
fn outage_spanning_two_months_is_split_in_jst() {
    // 23:30 JST on 31 October to 00:45 JST on 1 November; in UTC all of it
    // falls on 31 October.
    let l = ledger(vec![outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-31T23:30:00+09:00",
        "2026-11-01T00:45:00+09:00",
    )]);
    let oct = eval(&l, "2026-10", NOW);
    let nov = eval(&l, "2026-11", NOW);
    assert_eq!(counted(&oct, "vm"), 30 * MINUTE);
    assert_eq!(counted(&nov, "vm"), 45 * MINUTE);
    let seg = &find(&oct, "vm").outages[0].segments;
    assert_eq!(seg.len(), 1);
    assert_eq!(seg[0].start, "2026-10-31T23:30:00+09:00");
    assert_eq!(seg[0].end, "2026-11-01T00:00:00+09:00");
    assert_eq!(
        find(&nov, "vm").outages[0].segments[0].start,
        "2026-11-01T00:00:00+09:00"
    );

    let utc = time_zone("UTC").expect("UTC");
    let oct_utc = evaluate_month(&l, month("2026-10"), ts(NOW), &utc).expect("eval");
    let nov_utc = evaluate_month(&l, month("2026-11"), ts(NOW), &utc).expect("eval");
    assert_eq!(counted(&oct_utc, "vm"), 75 * MINUTE);
    assert_eq!(counted(&nov_utc, "vm"), 0);
    assert_eq!(oct_utc.time_zone, "UTC");
}

#[test]
fn daylight_saving_months_have_their_real_length() {
    let ny = time_zone("America/New_York").expect("zone");
    let march = month("2026-03").bounds(&ny).expect("bounds");
    assert_eq!(march.length_ms(), 31 * 86_400_000 - 3_600_000);
    let november = month("2026-11").bounds(&ny).expect("bounds");
    assert_eq!(november.length_ms(), 30 * 86_400_000 + 3_600_000);
}

fn announced_window() -> suido_sla::MaintenanceWindow {
    window(
        "mw-1",
        "2026-10-05T01:00:00+09:00",
        "2026-10-05T03:00:00+09:00",
        Some("2026-09-28T10:00:00+09:00"),
    )
}

fn maintenance(start: &str, end: &str) -> suido_sla::Outage {
    let mut o = outage("vm", Cause::AnnouncedMaintenance, start, end);
    o.maintenance_window = Some("mw-1".to_string());
    o
}

#[test]
fn maintenance_inside_an_announced_window_is_excluded() {
    let mut l = ledger(vec![maintenance(
        "2026-10-05T01:00:00+09:00",
        "2026-10-05T03:00:00+09:00",
    )]);
    l.maintenance_windows.push(announced_window());
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(counted(&r, "vm"), 0);
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![(1, Cause::AnnouncedMaintenance, 2 * HOUR)]
    );
}

#[test]
fn maintenance_overrunning_its_window_counts_outside_it() {
    let mut l = ledger(vec![maintenance(
        "2026-10-05T00:45:00+09:00",
        "2026-10-05T03:30:00+09:00",
    )]);
    l.maintenance_windows.push(announced_window());
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(
        counted_by_cause(&r, "vm"),
        vec![(Cause::UnannouncedEmergencyMaintenance, 45 * MINUTE)]
    );
    assert_eq!(excluded(&r, "vm"), 2 * HOUR);
    let segments = &find(&r, "vm").outages[0].segments;
    let verdicts: Vec<_> = segments.iter().map(|s| (s.verdict, s.duration.0)).collect();
    assert_eq!(
        verdicts,
        vec![
            (SegmentVerdict::Counted, 15 * MINUTE),
            (SegmentVerdict::Excluded, 2 * HOUR),
            (SegmentVerdict::Counted, 30 * MINUTE),
        ]
    );
    assert!(segments[0].reason.contains("outside announced window mw-1"));
}

#[test]
fn maintenance_not_announced_in_advance_counts() {
    let cases = [
        // Announced after the window started.
        Some("2026-10-05T02:00:00+09:00"),
        // Announced at the very instant it started: not in advance.
        Some("2026-10-05T01:00:00+09:00"),
        // Never announced.
        None,
    ];
    for announced in cases {
        let mut l = ledger(vec![maintenance(
            "2026-10-05T01:00:00+09:00",
            "2026-10-05T03:00:00+09:00",
        )]);
        l.maintenance_windows.push(window(
            "mw-1",
            "2026-10-05T01:00:00+09:00",
            "2026-10-05T03:00:00+09:00",
            announced,
        ));
        let r = eval(&l, "2026-10", NOW);
        assert_eq!(
            counted_by_cause(&r, "vm"),
            vec![(Cause::UnannouncedEmergencyMaintenance, 2 * HOUR)],
            "{announced:?}"
        );
    }
    // Claimed as announced, but no window named.
    let mut o = maintenance("2026-10-05T01:00:00+09:00", "2026-10-05T03:00:00+09:00");
    o.maintenance_window = None;
    let r = eval(&ledger(vec![o]), "2026-10", NOW);
    assert_eq!(counted(&r, "vm"), 2 * HOUR);
    assert!(
        find(&r, "vm").outages[0].segments[0]
            .reason
            .contains("no maintenance window given")
    );
}

#[test]
fn maintenance_overlapping_a_fault() {
    // Maintenance 01:00-03:00 inside its announced window, host fault
    // 02:00-04:00: the overlap is the maintenance's, 03:00-04:00 counts.
    let mut l = ledger(vec![
        outage(
            "vm",
            Cause::HostOrHypervisorFault,
            "2026-10-05T02:00:00+09:00",
            "2026-10-05T04:00:00+09:00",
        ),
        maintenance("2026-10-05T01:00:00+09:00", "2026-10-05T03:00:00+09:00"),
    ]);
    l.maintenance_windows.push(announced_window());
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(
        counted_by_cause(&r, "vm"),
        vec![(Cause::HostOrHypervisorFault, HOUR)]
    );
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![(1, Cause::AnnouncedMaintenance, 2 * HOUR)]
    );
    let fault = find(&r, "vm")
        .outages
        .iter()
        .find(|o| o.index == 0)
        .expect("fault listed");
    assert_eq!(fault.overlapped.0, HOUR);
    assert_eq!(fault.counted.0, HOUR);
    assert_eq!(fault.segments[0].verdict, SegmentVerdict::Overlapped);
    assert_eq!(fault.segments[0].overlapped_by, Some(1));
}

#[test]
fn platform_fault_outranks_tenant_work_outside_maintenance() {
    // Tenant restart 10:00-12:00, host fault 11:00-13:00.
    let l = ledger(vec![
        outage(
            "vm",
            Cause::TenantStopOrRestart,
            "2026-10-07T10:00:00+09:00",
            "2026-10-07T12:00:00+09:00",
        ),
        outage(
            "vm",
            Cause::HostOrHypervisorFault,
            "2026-10-07T11:00:00+09:00",
            "2026-10-07T13:00:00+09:00",
        ),
    ]);
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(counted(&r, "vm"), 2 * HOUR);
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![(6, Cause::TenantStopOrRestart, HOUR)]
    );
}

#[test]
fn environment_outranks_maintenance_and_faults() {
    // On one server: a development-environment interval 01:00-03:00 and
    // announced maintenance 01:00-03:00 in its window, and a host fault to 04:00.
    let mut dev = outage(
        "vm",
        Cause::GuestOsFault,
        "2026-10-05T01:00:00+09:00",
        "2026-10-05T02:00:00+09:00",
    );
    dev.environment = Some(Environment::Development);
    let mut l = ledger(vec![
        maintenance("2026-10-05T01:00:00+09:00", "2026-10-05T03:00:00+09:00"),
        outage(
            "vm",
            Cause::HostOrHypervisorFault,
            "2026-10-05T01:30:00+09:00",
            "2026-10-05T04:00:00+09:00",
        ),
        dev,
    ]);
    l.maintenance_windows.push(announced_window());
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![
            (1, Cause::AnnouncedMaintenance, HOUR),
            (8, Cause::GuestOsFault, HOUR)
        ]
    );
    assert_eq!(
        counted_by_cause(&r, "vm"),
        vec![(Cause::HostOrHypervisorFault, HOUR)]
    );
}

#[test]
fn overlapping_and_duplicate_intervals_count_once() {
    let a = outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-07T10:00:00+09:00",
        "2026-10-07T12:00:00+09:00",
    );
    let b = outage(
        "vm",
        Cause::PlatformNetworkFault,
        "2026-10-07T11:00:00+09:00",
        "2026-10-07T12:30:00+09:00",
    );
    let l = ledger(vec![a.clone(), a, b]);
    let r = eval(&l, "2026-10", NOW);
    assert_eq!(counted(&r, "vm"), 2 * HOUR + 30 * MINUTE);
    // Within one class the earlier-listed cause wins: host fault before network.
    assert_eq!(
        counted_by_cause(&r, "vm"),
        vec![
            (Cause::HostOrHypervisorFault, 2 * HOUR),
            (Cause::PlatformNetworkFault, 30 * MINUTE)
        ]
    );
}

#[test]
fn unknown_counts_until_classified() {
    let mut o = outage(
        "vm",
        Cause::Unknown,
        "2026-10-07T10:00:00+09:00",
        "2026-10-07T11:00:00+09:00",
    );
    let r = eval(&ledger(vec![o.clone()]), "2026-10", NOW);
    assert_eq!(counted_by_cause(&r, "vm"), vec![(Cause::Unknown, HOUR)]);
    o.cause = Cause::GuestOsFault;
    let r = eval(&ledger(vec![o]), "2026-10", NOW);
    assert_eq!(counted(&r, "vm"), 0);
    assert_eq!(
        excluded_by_item(&r, "vm"),
        vec![(3, Cause::GuestOsFault, HOUR)]
    );
}

#[test]
fn open_intervals_count_up_to_now() {
    let mut o = outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-31T23:00:00+09:00",
        "2026-10-31T23:00:00+09:00",
    );
    o.end = None;
    let l = ledger(vec![o]);

    // Month to date.
    let r = eval(&l, "2026-10", "2026-10-31T23:20:00+09:00");
    assert!(!r.complete);
    assert_eq!(r.evaluated_until, "2026-10-31T23:20:00+09:00");
    assert_eq!(counted(&r, "vm"), 20 * MINUTE);
    assert_eq!(find(&r, "vm").outages[0].end, None);
    // The denominator is still the whole month.
    assert_eq!(find(&r, "vm").availability.period_ms(), 31 * DAY);

    // After the month: up to its end; the rest belongs to November.
    let r = eval(&l, "2026-10", "2026-11-01T05:00:00+09:00");
    assert!(r.complete);
    assert_eq!(r.evaluated_until, "2026-11-01T00:00:00+09:00");
    assert_eq!(counted(&r, "vm"), HOUR);
    let r = eval(&l, "2026-11", "2026-11-01T05:00:00+09:00");
    assert!(!r.complete);
    assert_eq!(counted(&r, "vm"), 5 * HOUR);
}

#[test]
fn time_after_now_is_ignored() {
    let l = ledger(vec![
        outage(
            "vm",
            Cause::HostOrHypervisorFault,
            "2026-10-10T10:00:00+09:00",
            "2026-10-10T12:00:00+09:00",
        ),
        outage(
            "vm",
            Cause::HostOrHypervisorFault,
            "2026-10-20T10:00:00+09:00",
            "2026-10-20T12:00:00+09:00",
        ),
    ]);
    let r = eval(&l, "2026-10", "2026-10-10T11:00:00+09:00");
    assert_eq!(counted(&r, "vm"), HOUR);
    assert_eq!(find(&r, "vm").outages.len(), 1);
}

#[test]
fn a_month_not_yet_started_is_an_error() {
    let err = evaluate_month(
        &ledger(vec![]),
        month("2026-12"),
        ts("2026-11-30T23:59:59+09:00"),
        &jst(),
    )
    .expect_err("not started");
    let text = err.to_string();
    assert!(text.starts_with("now:"), "{text}");
    assert!(text.contains("2026-12-01T00:00:00+09:00"), "{text}");
}

#[test]
fn tenant_summary_aggregates_its_servers() {
    let mut b = outage(
        "vm-b",
        Cause::HostOrHypervisorFault,
        "2026-10-07T10:00:00+09:00",
        "2026-10-07T11:00:00+09:00",
    );
    b.tenant = Some("t1".into());
    let mut other = b.clone();
    other.server = "vm-x".into();
    other.tenant = Some("t2".into());
    let l = ledger(vec![
        outage(
            "vm-a",
            Cause::TenantLineFault,
            "2026-10-07T10:00:00+09:00",
            "2026-10-07T11:00:00+09:00",
        ),
        b,
        other,
    ]);
    let r = eval(&l, "2026-10", NOW);
    let names: Vec<_> = r.tenants.iter().map(|t| t.tenant.as_str()).collect();
    assert_eq!(names, vec!["t1", "t2"]);
    let t1 = &r.tenants[0];
    assert_eq!(t1.servers.len(), 2);
    assert_eq!(t1.counted_downtime.0, HOUR);
    assert_eq!(t1.excluded_downtime.0, HOUR);
    assert_eq!(
        t1.availability,
        Availability::from_downtime(HOUR, 2 * 31 * DAY).expect("valid")
    );
    let refunds: Vec<_> = t1
        .server_refunds
        .iter()
        .map(|s| (s.server.as_str(), s.refund_percent))
        .collect();
    assert_eq!(refunds, vec![("vm-a", 0), ("vm-b", 1)]);
    assert_eq!(t1.max_refund(), RefundTier::OnePercent);
    assert_eq!(
        t1.worst_availability().map(|a| a.percent_string()),
        Some("99.8655".to_string())
    );
}

#[test]
fn reports_render_times_in_the_configured_zone() {
    let mut o = outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-07T01:00:00Z",
        "2026-10-07T01:00:00.250Z",
    );
    o.id = Some("INC-1".into());
    let r = eval(&ledger(vec![o]), "2026-10", NOW);
    let out = &find(&r, "vm").outages[0];
    assert_eq!(out.start, "2026-10-07T10:00:00+09:00");
    assert_eq!(out.end.as_deref(), Some("2026-10-07T10:00:00.250+09:00"));
    assert_eq!(out.counted.human(), "0.250s");
    assert_eq!(r.start, "2026-10-01T00:00:00+09:00");
    assert_eq!(r.evaluated_at, "2026-12-01T00:00:00+09:00");
}

#[test]
fn a_fixed_offset_zone_is_labelled_by_its_offset() {
    let l = ledger(vec![outage(
        "vm",
        Cause::HostOrHypervisorFault,
        "2026-10-31T23:30:00+09:00",
        "2026-11-01T00:45:00+09:00",
    )]);
    let fixed = suido_sla::jiff::tz::TimeZone::fixed(suido_sla::jiff::tz::offset(9));
    let r = evaluate_month(&l, month("2026-10"), ts(NOW), &fixed).expect("eval");
    assert_eq!(r.time_zone, "+09:00");
    assert_eq!(counted(&r, "vm"), 30 * MINUTE);
}
