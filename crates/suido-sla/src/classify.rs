//! Classification of outage intervals (§3.4, table 4-1) and attribution of
//! each instant of a server's downtime to exactly one interval.
//!
//! Works on integer milliseconds since the Unix epoch. An interval is first
//! cut into *pieces*, each with one precedence class: an announced-maintenance
//! interval that overruns its window yields an excluded piece inside the window
//! and counted pieces outside it. Then, per server, a sweep over all piece
//! boundaries gives every elementary segment to the covering piece that wins on
//! (class, cause, ledger index); the others see it as overlapped.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::format::local_time;
use crate::model::{Cause, Environment, ExclusionItem, Ledger, Outage};

/// The precedence classes, strongest first (see `docs/sla.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Any interval in a development or evaluation environment: §3.4 (8).
    Environment,
    /// Announced maintenance inside its announced window: §3.4 (1).
    Maintenance,
    /// Causes the platform is responsible for: counted.
    Platform,
    /// Tenant-side causes: §3.4 (2) to (7) and (9).
    Tenant,
}

/// What happened to a stretch of an interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Counted against the platform.
    Counted,
    /// Excluded by a §3.4 item.
    Excluded(ExclusionItem),
    /// Already attributed to the interval with this ledger index.
    Overlapped(usize),
}

/// One piece of one interval, before overlaps are resolved.
#[derive(Debug, Clone)]
struct Piece {
    outage: usize,
    start: i64,
    end: i64,
    class: Class,
    /// The cause the time is booked under; announced maintenance outside an
    /// announced window is booked as unannounced emergency maintenance.
    cause: Cause,
    reason: String,
}

/// A maximal stretch of one interval with one verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributedSegment {
    /// Start, milliseconds since the epoch.
    pub start: i64,
    /// End (exclusive), milliseconds since the epoch.
    pub end: i64,
    /// Counted, excluded or overlapped.
    pub verdict: Verdict,
    /// The cause booked for the stretch (for overlapped stretches, the winning
    /// interval's).
    pub cause: Cause,
    /// Why, in words.
    pub reason: String,
}

/// The classification of one server's intervals within `[lo, hi)`.
#[derive(Debug, Clone, Default)]
pub struct ServerAttribution {
    /// Counted milliseconds by booked cause.
    pub counted: BTreeMap<Cause, u64>,
    /// Excluded milliseconds by §3.4 item and booked cause.
    pub excluded: BTreeMap<(ExclusionItem, Cause), u64>,
    /// Per ledger index of each interval with time in `[lo, hi)`, its segments.
    pub outages: BTreeMap<usize, Vec<AttributedSegment>>,
}

impl ServerAttribution {
    /// Total counted milliseconds.
    pub fn counted_total(&self) -> u64 {
        self.counted.values().sum()
    }

    /// Total excluded milliseconds.
    pub fn excluded_total(&self) -> u64 {
        self.excluded.values().sum()
    }
}

/// Classifies and attributes the intervals `indices` of `ledger` (all of one
/// server) inside `[lo, hi)`, with open intervals running to `now`.
pub fn attribute_server(
    ledger: &Ledger,
    indices: &[usize],
    lo: i64,
    hi: i64,
    now: i64,
    tz: &TimeZone,
) -> ServerAttribution {
    let mut pieces = Vec::new();
    for &index in indices {
        if let Some(outage) = ledger.outages.get(index) {
            let start = outage.start.as_millisecond().max(lo);
            let end = outage.end.map_or(now, |e| e.as_millisecond()).min(hi);
            if start < end {
                pieces_of(ledger, index, outage, (start, end), tz, &mut pieces);
            }
        }
    }

    let mut cuts: Vec<i64> = pieces.iter().flat_map(|p| [p.start, p.end]).collect();
    cuts.sort_unstable();
    cuts.dedup();

    let mut result = ServerAttribution::default();
    for window in cuts.windows(2) {
        let (a, b) = (window[0], window[1]);
        let covering: Vec<&Piece> = pieces
            .iter()
            .filter(|p| p.start <= a && b <= p.end)
            .collect();
        let Some(winner) = covering
            .iter()
            .min_by_key(|p| (p.class, p.cause, p.outage))
            .copied()
        else {
            continue;
        };
        // `b > a` because the cuts are sorted and deduplicated.
        let ms = (b - a).unsigned_abs();
        let verdict = match winner.class {
            Class::Platform => {
                *result.counted.entry(winner.cause).or_default() += ms;
                Verdict::Counted
            }
            Class::Environment => Verdict::Excluded(ExclusionItem::DevelopmentOrEvaluation),
            Class::Maintenance => Verdict::Excluded(ExclusionItem::AnnouncedMaintenance),
            Class::Tenant => Verdict::Excluded(
                winner
                    .cause
                    .exclusion_item()
                    .unwrap_or(ExclusionItem::NotPlatformResponsibility),
            ),
        };
        if let Verdict::Excluded(item) = verdict {
            *result.excluded.entry((item, winner.cause)).or_default() += ms;
        }
        for piece in covering {
            let (verdict, reason) = if std::ptr::eq(piece, winner) {
                (verdict, piece.reason.clone())
            } else {
                (
                    Verdict::Overlapped(winner.outage),
                    format!(
                        "already attributed to outages[{}] ({}: {})",
                        winner.outage,
                        match verdict {
                            Verdict::Counted => "counted".to_string(),
                            Verdict::Excluded(item) => format!("excluded, {}", item.citation()),
                            Verdict::Overlapped(_) => "overlapped".to_string(),
                        },
                        winner.cause
                    ),
                )
            };
            push_segment(
                result.outages.entry(piece.outage).or_default(),
                AttributedSegment {
                    start: a,
                    end: b,
                    verdict,
                    cause: winner.cause,
                    reason,
                },
            );
        }
    }
    result
}

/// Appends a segment, merging it into the previous one when they touch and
/// say the same thing.
fn push_segment(segments: &mut Vec<AttributedSegment>, segment: AttributedSegment) {
    if let Some(last) = segments.last_mut()
        && last.end == segment.start
        && last.verdict == segment.verdict
        && last.cause == segment.cause
        && last.reason == segment.reason
    {
        last.end = segment.end;
        return;
    }
    segments.push(segment);
}

/// Cuts one interval, already clipped to `[start, end)`, into classified pieces.
fn pieces_of(
    ledger: &Ledger,
    index: usize,
    outage: &Outage,
    (start, end): (i64, i64),
    tz: &TimeZone,
    pieces: &mut Vec<Piece>,
) {
    let piece = |start: i64, end: i64, class: Class, cause: Cause, reason: String| Piece {
        outage: index,
        start,
        end,
        class,
        cause,
        reason,
    };

    let environment = ledger
        .environment_of(outage)
        .unwrap_or(Environment::Production);
    if environment != Environment::Production {
        let item = ExclusionItem::DevelopmentOrEvaluation;
        pieces.push(piece(
            start,
            end,
            Class::Environment,
            outage.cause,
            format!(
                "{}: {} ({} environment)",
                item.citation(),
                item.text(),
                environment
            ),
        ));
        return;
    }

    if outage.cause == Cause::AnnouncedMaintenance {
        maintenance_pieces(ledger, index, outage, (start, end), tz, pieces);
        return;
    }

    if outage.cause.is_platform_responsible() {
        pieces.push(piece(
            start,
            end,
            Class::Platform,
            outage.cause,
            counted_reason(outage.cause).to_string(),
        ));
        return;
    }

    let item = outage
        .cause
        .exclusion_item()
        .unwrap_or(ExclusionItem::NotPlatformResponsibility);
    pieces.push(piece(
        start,
        end,
        Class::Tenant,
        outage.cause,
        format!("{}: {}", item.citation(), item.text()),
    ));
}

/// Why a platform-responsible cause counts.
fn counted_reason(cause: Cause) -> &'static str {
    match cause {
        Cause::HostOrHypervisorFault => {
            "counted: virtualization layer or hardware fault, the platform's responsibility (table 4-1)"
        }
        Cause::PlatformNetworkFault => {
            "counted: platform-side network fault, the platform's responsibility (table 4-1)"
        }
        Cause::UnannouncedEmergencyMaintenance => {
            "counted: maintenance not announced in advance is not excluded by §3.4 (1)"
        }
        _ => "counted: cause unknown; counts against the platform until it is classified",
    }
}

/// Pieces of an announced-maintenance interval: excluded inside an announced
/// window, counted as unannounced emergency maintenance everywhere else.
fn maintenance_pieces(
    ledger: &Ledger,
    index: usize,
    outage: &Outage,
    (start, end): (i64, i64),
    tz: &TimeZone,
    pieces: &mut Vec<Piece>,
) {
    let counted = |start: i64, end: i64, reason: String| Piece {
        outage: index,
        start,
        end,
        class: Class::Platform,
        cause: Cause::UnannouncedEmergencyMaintenance,
        reason,
    };
    let window = outage
        .maintenance_window
        .as_deref()
        .and_then(|id| ledger.window(id));
    let Some(window) = window else {
        pieces.push(counted(
            start,
            end,
            "counted as unannounced emergency maintenance: no maintenance window given".into(),
        ));
        return;
    };
    if !window.announced_in_advance() {
        let why = match window.announced_at {
            Some(at) => format!(
                "window {} was announced at {}, not before it started at {}",
                window.id,
                local_time(at, tz),
                local_time(window.start, tz)
            ),
            None => format!("window {} was never announced", window.id),
        };
        pieces.push(counted(
            start,
            end,
            format!("counted as unannounced emergency maintenance: {why}"),
        ));
        return;
    }

    let window_start = window.start.as_millisecond();
    let window_end = window.end.as_millisecond();
    let inside_start = start.max(window_start);
    let inside_end = end.min(window_end);
    let outside = format!(
        "counted as unannounced emergency maintenance: outside announced window {} ({} to {})",
        window.id,
        local_time(window.start, tz),
        local_time(window.end, tz)
    );
    if inside_start < inside_end {
        if start < inside_start {
            pieces.push(counted(start, inside_start, outside.clone()));
        }
        let item = ExclusionItem::AnnouncedMaintenance;
        pieces.push(Piece {
            outage: index,
            start: inside_start,
            end: inside_end,
            class: Class::Maintenance,
            cause: Cause::AnnouncedMaintenance,
            reason: format!(
                "{}: {} (window {}, announced at {})",
                item.citation(),
                item.text(),
                window.id,
                window
                    .announced_at
                    .map_or_else(String::new, |at| local_time(at, tz))
            ),
        });
        if inside_end < end {
            pieces.push(counted(inside_end, end, outside));
        }
    } else {
        pieces.push(counted(start, end, outside));
    }
}
