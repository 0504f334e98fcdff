//! Property tests: splitting, merging or reordering intervals never changes
//! the result; availability never rises when downtime grows; the refund tier
//! boundaries are exact.

mod common;

use common::*;
use proptest::prelude::*;
use suido_sla::jiff::Timestamp;
use suido_sla::{
    Availability, Cause, Environment, Ledger, MaintenanceWindow, MonthReport, Outage, RefundTier,
    evaluate_month,
};

/// 2026-10-30T12:00:00+09:00, two and a half days before the October/November
/// boundary in JST; generated times fall within a few days of it.
fn base_ms() -> i64 {
    ts("2026-10-30T12:00:00+09:00").as_millisecond()
}

fn at(offset_ms: i64) -> Timestamp {
    Timestamp::from_millisecond(base_ms() + offset_ms).expect("in range")
}

const SERVERS: usize = 3;
const WINDOWS: usize = 3;

#[derive(Debug, Clone)]
struct GenOutage {
    server: usize,
    cause: usize,
    environment: u8,
    start_min: i64,
    length_min: i64,
    open: bool,
    window: usize,
}

fn gen_outage() -> impl Strategy<Value = GenOutage> {
    (
        0..SERVERS,
        0..Cause::ALL.len(),
        prop_oneof![8 => Just(0u8), 1 => Just(1u8), 1 => Just(2u8)],
        0i64..4 * 24 * 60,
        0i64..8 * 60,
        prop::bool::weighted(0.1),
        0..WINDOWS,
    )
        .prop_map(
            |(server, cause, environment, start_min, length_min, open, window)| GenOutage {
                server,
                cause,
                environment,
                start_min,
                length_min,
                open,
                window,
            },
        )
}

fn gen_window() -> impl Strategy<Value = (i64, i64, u8)> {
    (0i64..4 * 24 * 60, 0i64..6 * 60, 0u8..4)
}

fn build_outage(g: &GenOutage) -> Outage {
    let cause = Cause::ALL[g.cause];
    let start = at(g.start_min * 60_000);
    Outage {
        id: None,
        server: format!("s{}", g.server),
        tenant: None,
        environment: Some(match g.environment {
            0 => Environment::Production,
            1 => Environment::Development,
            _ => Environment::Evaluation,
        }),
        start,
        end: (!g.open).then(|| at((g.start_min + g.length_min) * 60_000)),
        cause,
        maintenance_window: matches!(
            cause,
            Cause::AnnouncedMaintenance | Cause::UnannouncedEmergencyMaintenance
        )
        .then(|| format!("mw{}", g.window)),
        note: None,
    }
}

fn build_window(i: usize, (start_min, length_min, announced): (i64, i64, u8)) -> MaintenanceWindow {
    let start = at(start_min * 60_000);
    MaintenanceWindow {
        id: format!("mw{i}"),
        start,
        end: at((start_min + length_min) * 60_000),
        announced_at: match announced {
            0 => Some(at((start_min - 24 * 60) * 60_000)),
            1 => Some(start),
            2 => Some(at((start_min + 1) * 60_000)),
            _ => None,
        },
    }
}

fn gen_ledger() -> impl Strategy<Value = Ledger> {
    (
        prop::collection::vec(gen_outage(), 0..14),
        prop::collection::vec(gen_window(), WINDOWS),
    )
        .prop_map(|(outages, windows)| Ledger {
            servers: (0..SERVERS)
                .map(|i| {
                    server(
                        &format!("s{i}"),
                        &format!("t{}", i % 2),
                        Environment::Production,
                    )
                })
                .collect(),
            maintenance_windows: windows
                .into_iter()
                .enumerate()
                .map(|(i, w)| build_window(i, w))
                .collect(),
            outages: outages.iter().map(build_outage).collect(),
        })
}

/// `now`: between a day before the month boundary and two days after.
fn gen_now() -> impl Strategy<Value = Timestamp> {
    (24 * 60i64..5 * 24 * 60).prop_map(|m| at(m * 60_000 + 123))
}

type Breakdown = (Vec<(Cause, u64)>, Vec<(u8, Cause, u64)>);
/// A tenant's (name, uptime, period, breakdown, server refunds).
type TenantSummary = (String, u64, u64, Breakdown, Vec<(String, u8)>);

/// Everything in a report except the per-interval detail, which legitimately
/// changes when intervals are split or renumbered.
#[derive(Debug, PartialEq, Eq)]
struct Summary {
    tenants: Vec<TenantSummary>,
    servers: Vec<(String, u64, u64, u8, Breakdown)>,
}

fn breakdown(
    counted: &[suido_sla::CountedDowntime],
    excluded: &[suido_sla::ExcludedDowntime],
) -> Breakdown {
    (
        counted.iter().map(|c| (c.cause, c.duration.0)).collect(),
        excluded
            .iter()
            .map(|e| (e.item.number(), e.cause, e.duration.0))
            .collect(),
    )
}

fn summary(report: &MonthReport) -> Summary {
    Summary {
        tenants: report
            .tenants
            .iter()
            .map(|t| {
                (
                    t.tenant.clone(),
                    t.availability.uptime_ms(),
                    t.availability.period_ms(),
                    breakdown(&t.counted, &t.excluded),
                    t.server_refunds
                        .iter()
                        .map(|r| (r.server.clone(), r.refund_percent))
                        .collect(),
                )
            })
            .collect(),
        servers: report
            .tenants
            .iter()
            .flat_map(|t| &t.servers)
            .map(|s| {
                (
                    s.server.clone(),
                    s.availability.uptime_ms(),
                    s.availability.period_ms(),
                    s.refund.percent(),
                    breakdown(&s.counted, &s.excluded),
                )
            })
            .collect(),
    }
}

/// Summaries for October and, when `now` has reached it, November.
fn summaries(ledger: &Ledger, now: Timestamp) -> Vec<Summary> {
    let tz = jst();
    let mut out = vec![summary(
        &evaluate_month(ledger, month("2026-10"), now, &tz).expect("october"),
    )];
    if now >= ts("2026-11-01T00:00:00+09:00") {
        out.push(summary(
            &evaluate_month(ledger, month("2026-11"), now, &tz).expect("november"),
        ));
    }
    out
}

/// Cuts interval `i` at `fraction` (per mille) of its length, or `offset_ms`
/// after its start if it is open.
fn split(ledger: &Ledger, i: usize, fraction: u64, offset_ms: i64) -> Ledger {
    let mut out = ledger.clone();
    let o = out.outages[i].clone();
    let start = o.start.as_millisecond();
    let cut = match o.end {
        Some(end) => {
            let len = u64::try_from(end.as_millisecond() - start).expect("end after start");
            start + i64::try_from(len * fraction / 1000).expect("small")
        }
        None => start + offset_ms,
    };
    let cut = Timestamp::from_millisecond(cut).expect("in range");
    let mut first = o.clone();
    first.end = Some(cut);
    let mut second = o;
    second.start = cut;
    out.outages[i] = first;
    out.outages.push(second);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn reordering_changes_nothing(
        ledger in gen_ledger(),
        now in gen_now(),
        keys in prop::collection::vec(any::<u32>(), 32),
    ) {
        let mut shuffled = ledger.clone();
        let mut order: Vec<usize> = (0..shuffled.outages.len()).collect();
        order.sort_by_key(|&i| (keys[i % keys.len()], i));
        shuffled.outages = order.iter().map(|&i| ledger.outages[i].clone()).collect();
        shuffled.maintenance_windows.reverse();
        shuffled.servers.reverse();
        prop_assert_eq!(summaries(&ledger, now), summaries(&shuffled, now));
    }

    #[test]
    fn splitting_changes_nothing(
        ledger in gen_ledger(),
        now in gen_now(),
        pick in any::<usize>(),
        fraction in 0u64..=1000,
        offset_ms in 0i64..3 * 86_400_000,
    ) {
        prop_assume!(!ledger.outages.is_empty());
        let i = pick % ledger.outages.len();
        let cut = split(&ledger, i, fraction, offset_ms);
        prop_assert_eq!(summaries(&ledger, now), summaries(&cut, now));
    }

    #[test]
    fn merging_overlapping_copies_changes_nothing(
        ledger in gen_ledger(),
        now in gen_now(),
        pick in any::<usize>(),
        a in 0u64..=1000,
        b in 0u64..=1000,
    ) {
        // Replacing [s, e) by the overlapping [s, m2) and [m1, e) (m1 <= m2)
        // is undone by merging them back; both must give the same report.
        prop_assume!(!ledger.outages.is_empty());
        let i = pick % ledger.outages.len();
        let o = ledger.outages[i].clone();
        prop_assume!(o.end.is_some());
        let start = o.start.as_millisecond();
        let len = u64::try_from(o.end.map_or(start, |e| e.as_millisecond()) - start)
            .expect("end after start");
        let point = |f: u64| {
            Timestamp::from_millisecond(start + i64::try_from(len * f / 1000).expect("small"))
                .expect("in range")
        };
        let (m1, m2) = (point(a.min(b)), point(a.max(b)));
        let mut pieces = ledger.clone();
        let mut first = o.clone();
        first.end = Some(m2);
        let mut second = o.clone();
        second.start = m1;
        pieces.outages[i] = first;
        pieces.outages.push(second);
        pieces.outages.push(o);
        prop_assert_eq!(summaries(&ledger, now), summaries(&pieces, now));
    }

    #[test]
    fn more_platform_downtime_never_raises_availability(
        ledger in gen_ledger(),
        now in gen_now(),
        extra in gen_outage(),
        platform_cause in 0usize..4,
    ) {
        let mut extra = build_outage(&extra);
        extra.cause = Cause::ALL[platform_cause];
        prop_assume!(extra.cause.is_platform_responsible());
        extra.environment = Some(Environment::Production);
        extra.maintenance_window = None;
        let server = extra.server.clone();
        let mut more = ledger.clone();
        more.outages.push(extra);
        let tz = jst();
        let before = evaluate_month(&ledger, month("2026-10"), now, &tz).expect("eval");
        let after = evaluate_month(&more, month("2026-10"), now, &tz).expect("eval");
        let (b, a) = (find(&before, &server), find(&after, &server));
        prop_assert!(a.counted_downtime >= b.counted_downtime);
        prop_assert!(a.availability <= b.availability);
        prop_assert!(a.refund >= b.refund);
        for (tb, ta) in before.tenants.iter().zip(&after.tenants) {
            prop_assert!(ta.availability <= tb.availability);
        }
    }

    #[test]
    fn tenant_side_intervals_never_change_counted_time(
        ledger in gen_ledger(),
        now in gen_now(),
        extra in gen_outage(),
        tenant_cause in 5usize..12,
    ) {
        let mut extra = build_outage(&extra);
        extra.cause = Cause::ALL[tenant_cause];
        // In production: a development-environment interval outranks
        // everything and may well change counted time.
        extra.environment = Some(Environment::Production);
        extra.maintenance_window = None;
        let mut more = ledger.clone();
        more.outages.push(extra);
        let tz = jst();
        let before = evaluate_month(&ledger, month("2026-10"), now, &tz).expect("eval");
        let after = evaluate_month(&more, month("2026-10"), now, &tz).expect("eval");
        for (b, a) in before
            .tenants
            .iter()
            .flat_map(|t| &t.servers)
            .zip(after.tenants.iter().flat_map(|t| &t.servers))
        {
            prop_assert_eq!(&b.counted, &a.counted);
            prop_assert_eq!(b.availability, a.availability);
        }
    }

    #[test]
    fn interval_detail_adds_up_to_the_totals(ledger in gen_ledger(), now in gen_now()) {
        let report = evaluate_month(&ledger, month("2026-10"), now, &jst()).expect("eval");
        let evaluated = u64::try_from(
            now.as_millisecond().min(ts("2026-11-01T00:00:00+09:00").as_millisecond())
                - ts("2026-10-01T00:00:00+09:00").as_millisecond(),
        )
        .expect("positive");
        for s in report.tenants.iter().flat_map(|t| &t.servers) {
            let counted: u64 = s.outages.iter().map(|o| o.counted.0).sum();
            let excluded: u64 = s.outages.iter().map(|o| o.excluded.0).sum();
            prop_assert_eq!(counted, s.counted_downtime.0);
            prop_assert_eq!(excluded, s.excluded_downtime.0);
            prop_assert!(counted + excluded <= evaluated);
            for o in &s.outages {
                prop_assert_eq!(o.in_month.0, o.counted.0 + o.excluded.0 + o.overlapped.0);
            }
        }
    }

    #[test]
    fn availability_falls_as_downtime_grows(
        period in 1u64..=10_000_000_000_000,
        d1 in any::<u64>(),
        d2 in any::<u64>(),
    ) {
        let (lo, hi) = (d1.min(d2) % (period + 1), d1.max(d2) % (period + 1));
        let (lo, hi) = (lo.min(hi), lo.max(hi));
        let a_lo = Availability::from_downtime(lo, period).expect("valid");
        let a_hi = Availability::from_downtime(hi, period).expect("valid");
        prop_assert!(a_hi <= a_lo);
        prop_assert!(a_hi.refund_tier() >= a_lo.refund_tier());
    }

    #[test]
    fn tiers_match_table_3_1_exactly(period in 1u64..=10_000_000_000_000, d in any::<u64>()) {
        let d = d % (period + 1);
        let a = Availability::from_downtime(d, period).expect("valid");
        // Downtime form of the bands: 0.05 %, 0.20 % and 1 % of the period.
        let expected = if u128::from(d) * 2000 <= u128::from(period) {
            RefundTier::None
        } else if u128::from(d) * 500 <= u128::from(period) {
            RefundTier::OnePercent
        } else if u128::from(d) * 100 <= u128::from(period) {
            RefundTier::ThreePercent
        } else {
            RefundTier::TenPercent
        };
        prop_assert_eq!(a.refund_tier(), expected);
        // The truncated display never crosses a boundary the exact value did not.
        let shown: u64 = a.percent_string().replace('.', "").parse().expect("digits");
        prop_assert_eq!(shown >= 999_500, expected == RefundTier::None);
        prop_assert_eq!(shown >= 998_000, expected <= RefundTier::OnePercent);
        prop_assert_eq!(shown >= 990_000, expected <= RefundTier::ThreePercent);
    }

    #[test]
    fn tier_boundaries_are_exact(k in 1u64..=1_000_000_000) {
        // At exactly 99.95 %, 99.80 % and 99.00 % the better tier applies;
        // one millisecond more downtime drops to the next.
        let at = |d: u64, p: u64| Availability::from_downtime(d, p).expect("valid").refund_tier();
        prop_assert_eq!(at(k, 2000 * k), RefundTier::None);
        prop_assert_eq!(at(k + 1, 2000 * k), RefundTier::OnePercent);
        prop_assert_eq!(at(k, 500 * k), RefundTier::OnePercent);
        prop_assert_eq!(at(k + 1, 500 * k), RefundTier::ThreePercent);
        prop_assert_eq!(at(k, 100 * k), RefundTier::ThreePercent);
        prop_assert_eq!(at(k + 1, 100 * k), RefundTier::TenPercent);
    }
}
