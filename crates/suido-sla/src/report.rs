//! The monthly report per tenant and server, and [`evaluate_month`] which
//! builds it from a ledger.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::availability::{Availability, RefundTier};
use crate::classify::{Verdict, attribute_server};
use crate::error::SlaError;
use crate::format::{Millis, local_time, local_time_ms};
use crate::model::{Cause, Environment, ExclusionItem, Ledger};
use crate::month::Month;

/// The SLA report for one calendar month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MonthReport {
    /// The month, `YYYY-MM`.
    pub month: Month,
    /// The IANA name of the zone the month is taken in.
    pub time_zone: String,
    /// The month's first instant, in that zone.
    pub start: String,
    /// The next month's first instant, in that zone.
    pub end: String,
    /// Calendar days in the month.
    pub days: i8,
    /// The month's length: the denominator of every availability.
    pub length: Millis,
    /// The `now` the report was computed at.
    pub evaluated_at: String,
    /// Downtime is counted up to here: the month's end, or `now` if earlier.
    pub evaluated_until: String,
    /// Whether the month is over at `now`; if not, figures are month-to-date
    /// and availability can only fall from here.
    pub complete: bool,
    /// Per tenant, sorted by name.
    pub tenants: Vec<TenantReport>,
}

/// One tenant's servers for the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    /// The tenant's name.
    pub tenant: String,
    /// Availability over all the tenant's server-time (counted downtime summed
    /// over servers, divided by servers × month). Informational: refunds are
    /// per server.
    pub availability: Availability,
    /// Counted downtime summed over the servers.
    pub counted_downtime: Millis,
    /// Excluded downtime summed over the servers.
    pub excluded_downtime: Millis,
    /// Counted downtime by cause.
    pub counted: Vec<CountedDowntime>,
    /// Excluded downtime by §3.4 item and cause.
    pub excluded: Vec<ExcludedDowntime>,
    /// The refund of each server, as a share of that server's monthly fee.
    pub server_refunds: Vec<ServerRefund>,
    /// Per server, sorted by name.
    pub servers: Vec<ServerReport>,
}

impl TenantReport {
    /// The lowest availability among the tenant's servers (for a status
    /// column such as "worst availability"); `None` without servers.
    pub fn worst_availability(&self) -> Option<Availability> {
        self.servers.iter().map(|s| s.availability).min()
    }

    /// The highest refund tier among the tenant's servers.
    pub fn max_refund(&self) -> RefundTier {
        self.servers
            .iter()
            .map(|s| s.refund)
            .max()
            .unwrap_or(RefundTier::None)
    }
}

/// A server's refund in the tenant summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerRefund {
    /// The server.
    pub server: String,
    /// Its refund percentage: 0, 1, 3 or 10.
    pub refund_percent: u8,
}

/// One server for the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerReport {
    /// The server's name.
    pub server: String,
    /// Its tenant.
    pub tenant: String,
    /// Its environment, when the ledger lists the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    /// 1 − counted downtime ÷ month length, exact.
    pub availability: Availability,
    /// The refund tier of table 3-1.
    pub refund: RefundTier,
    /// Downtime counted against the platform.
    pub counted_downtime: Millis,
    /// Downtime excluded by §3.4.
    pub excluded_downtime: Millis,
    /// Counted downtime by cause.
    pub counted: Vec<CountedDowntime>,
    /// Excluded downtime by §3.4 item and cause.
    pub excluded: Vec<ExcludedDowntime>,
    /// The intervals with time in the month, by start.
    pub outages: Vec<OutageReport>,
}

/// Counted downtime of one cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CountedDowntime {
    /// The cause booked.
    pub cause: Cause,
    /// How long.
    pub duration: Millis,
}

/// Excluded downtime of one §3.4 item and cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExcludedDowntime {
    /// The §3.4 item number, 1 to 9.
    #[serde(serialize_with = "item_number")]
    pub item: ExclusionItem,
    /// The item cited in words.
    pub reason: String,
    /// The cause of the interval.
    pub cause: Cause,
    /// How long.
    pub duration: Millis,
}

/// One ledger interval as it bears on the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutageReport {
    /// Its index in the ledger's `outages`.
    pub index: usize,
    /// Its id, if the ledger gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its cause as recorded.
    pub cause: Cause,
    /// Its environment.
    pub environment: Environment,
    /// The window it names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maintenance_window: Option<String>,
    /// Its start, in the configured zone.
    pub start: String,
    /// Its end, in the configured zone; `None` while open.
    pub end: Option<String>,
    /// Its time inside the month (and before `now`).
    pub in_month: Millis,
    /// Of that, counted against the platform.
    pub counted: Millis,
    /// Of that, excluded.
    pub excluded: Millis,
    /// Of that, attributed to another, overlapping interval.
    pub overlapped: Millis,
    /// The stretches with their verdicts and reasons.
    pub segments: Vec<SegmentReport>,
    /// The ledger's note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A stretch of an interval with one verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentReport {
    /// Start, in the configured zone.
    pub start: String,
    /// End (exclusive), in the configured zone.
    pub end: String,
    /// How long.
    pub duration: Millis,
    /// `counted`, `excluded` or `overlapped`.
    pub verdict: SegmentVerdict,
    /// The §3.4 item, for excluded stretches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u8>,
    /// The ledger index of the interval the time went to, for overlapped ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlapped_by: Option<usize>,
    /// The cause the time is booked under.
    pub cause: Cause,
    /// Why, in words.
    pub reason: String,
}

/// The verdict on a stretch of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SegmentVerdict {
    /// Counted against the platform.
    Counted,
    /// Excluded by §3.4.
    Excluded,
    /// Attributed to another interval.
    Overlapped,
}

fn item_number<S: Serializer>(item: &ExclusionItem, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(item.number())
}

impl Serialize for Availability {
    /// `{"uptimeMs": …, "periodMs": …, "percent": "99.9790"}`: the exact
    /// fraction and a truncated display string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Availability", 3)?;
        s.serialize_field("uptimeMs", &self.uptime_ms())?;
        s.serialize_field("periodMs", &self.period_ms())?;
        s.serialize_field("percent", &self.percent_string())?;
        s.end()
    }
}

impl Serialize for RefundTier {
    /// `{"percent": 3, "band": "under 99.80 %, at least 99.00 %"}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RefundTier", 2)?;
        s.serialize_field("percent", &self.percent())?;
        s.serialize_field("band", self.band())?;
        s.end()
    }
}

fn counted_list(map: &BTreeMap<Cause, u64>) -> Vec<CountedDowntime> {
    map.iter()
        .filter(|(_, ms)| **ms > 0)
        .map(|(cause, ms)| CountedDowntime {
            cause: *cause,
            duration: Millis(*ms),
        })
        .collect()
}

fn excluded_list(map: &BTreeMap<(ExclusionItem, Cause), u64>) -> Vec<ExcludedDowntime> {
    map.iter()
        .filter(|(_, ms)| **ms > 0)
        .map(|((item, cause), ms)| ExcludedDowntime {
            item: *item,
            reason: format!("{}: {}", item.citation(), item.text()),
            cause: *cause,
            duration: Millis(*ms),
        })
        .collect()
}

/// Evaluates `month`, taken as a calendar month in `tz`, from `ledger` as known
/// at `now`: intervals are clipped to the month and to `now`, and open
/// intervals run to `now`. Validates the ledger first.
pub fn evaluate_month(
    ledger: &Ledger,
    month: Month,
    now: Timestamp,
    tz: &TimeZone,
) -> Result<MonthReport, SlaError> {
    ledger.validate()?;
    let bounds = month.bounds(tz)?;
    let lo = bounds.start_timestamp().as_millisecond();
    let month_end = bounds.end_timestamp().as_millisecond();
    let now_ms = now.as_millisecond();
    if now_ms < lo {
        return Err(SlaError::MonthNotStarted {
            now: local_time(now, tz),
            month: month.to_string(),
            start: local_time(bounds.start_timestamp(), tz),
        });
    }
    let hi = month_end.min(now_ms);
    let length = u64::try_from(bounds.length_ms())
        .map_err(|_| SlaError::TimeRange(format!("month {month} has no length")))?;

    // Every server, with its tenant, from the inventory and the outages.
    let mut servers: BTreeMap<String, (String, Vec<usize>)> = BTreeMap::new();
    for server in &ledger.servers {
        servers.insert(server.name.clone(), (server.tenant.clone(), Vec::new()));
    }
    for (index, outage) in ledger.outages.iter().enumerate() {
        let tenant = ledger.tenant_of(outage).unwrap_or_default();
        servers
            .entry(outage.server.clone())
            .or_insert_with(|| (tenant, Vec::new()))
            .1
            .push(index);
    }

    let mut tenants: BTreeMap<String, Vec<ServerReport>> = BTreeMap::new();
    for (name, (tenant, indices)) in &servers {
        let report = server_report(ledger, name, tenant, indices, (lo, hi, now_ms), length, tz)?;
        tenants.entry(tenant.clone()).or_default().push(report);
    }

    let tenants = tenants
        .into_iter()
        .map(|(tenant, servers)| tenant_report(tenant, servers, length))
        .collect::<Result<Vec<_>, _>>()?;

    Ok(MonthReport {
        month,
        // A fixed-offset zone has no IANA name; show its offset instead.
        time_zone: tz
            .iana_name()
            .map_or_else(|| bounds.start.strftime("%:z").to_string(), str::to_string),
        start: local_time(bounds.start_timestamp(), tz),
        end: local_time(bounds.end_timestamp(), tz),
        days: month.days(),
        length: Millis(length),
        evaluated_at: local_time(now, tz),
        evaluated_until: local_time_ms(hi, tz),
        complete: now_ms >= month_end,
        tenants,
    })
}

fn server_report(
    ledger: &Ledger,
    name: &str,
    tenant: &str,
    indices: &[usize],
    (lo, hi, now): (i64, i64, i64),
    length: u64,
    tz: &TimeZone,
) -> Result<ServerReport, SlaError> {
    let attribution = attribute_server(ledger, indices, lo, hi, now, tz);
    let counted = attribution.counted_total();
    let availability = Availability::from_downtime(counted, length).ok_or_else(|| {
        SlaError::TimeRange(format!(
            "server {name}: counted downtime {counted} ms exceeds the month's {length} ms"
        ))
    })?;

    let mut outages = Vec::new();
    for (&index, segments) in &attribution.outages {
        let Some(outage) = ledger.outages.get(index) else {
            continue;
        };
        let mut totals = [0u64; 3];
        let segments = segments
            .iter()
            .map(|seg| {
                let ms = (seg.end - seg.start).unsigned_abs();
                let (verdict, item, overlapped_by, slot) = match seg.verdict {
                    Verdict::Counted => (SegmentVerdict::Counted, None, None, 0),
                    Verdict::Excluded(item) => {
                        (SegmentVerdict::Excluded, Some(item.number()), None, 1)
                    }
                    Verdict::Overlapped(by) => (SegmentVerdict::Overlapped, None, Some(by), 2),
                };
                totals[slot] += ms;
                SegmentReport {
                    start: local_time_ms(seg.start, tz),
                    end: local_time_ms(seg.end, tz),
                    duration: Millis(ms),
                    verdict,
                    item,
                    overlapped_by,
                    cause: seg.cause,
                    reason: seg.reason.clone(),
                }
            })
            .collect();
        outages.push(OutageReport {
            index,
            id: outage.id.clone(),
            cause: outage.cause,
            environment: ledger
                .environment_of(outage)
                .unwrap_or(Environment::Production),
            maintenance_window: outage.maintenance_window.clone(),
            start: local_time(outage.start, tz),
            end: outage.end.map(|e| local_time(e, tz)),
            in_month: Millis(totals.iter().sum()),
            counted: Millis(totals[0]),
            excluded: Millis(totals[1]),
            overlapped: Millis(totals[2]),
            segments,
            note: outage.note.clone(),
        });
    }
    outages.sort_by_key(|o| (ledger.outages.get(o.index).map(|x| x.start), o.index));

    Ok(ServerReport {
        server: name.to_string(),
        tenant: tenant.to_string(),
        environment: ledger.server(name).map(|s| s.environment),
        availability,
        refund: availability.refund_tier(),
        counted_downtime: Millis(counted),
        excluded_downtime: Millis(attribution.excluded_total()),
        counted: counted_list(&attribution.counted),
        excluded: excluded_list(&attribution.excluded),
        outages,
    })
}

fn tenant_report(
    tenant: String,
    servers: Vec<ServerReport>,
    length: u64,
) -> Result<TenantReport, SlaError> {
    let mut counted: BTreeMap<Cause, u64> = BTreeMap::new();
    let mut excluded: BTreeMap<(ExclusionItem, Cause), u64> = BTreeMap::new();
    for server in &servers {
        for c in &server.counted {
            *counted.entry(c.cause).or_default() += c.duration.0;
        }
        for e in &server.excluded {
            *excluded.entry((e.item, e.cause)).or_default() += e.duration.0;
        }
    }
    let counted_total: u64 = counted.values().sum();
    let excluded_total: u64 = excluded.values().sum();
    let period = length * servers.len() as u64;
    let availability = Availability::from_downtime(counted_total, period).ok_or_else(|| {
        SlaError::TimeRange(format!("tenant {tenant}: no server-time to evaluate"))
    })?;
    Ok(TenantReport {
        availability,
        counted_downtime: Millis(counted_total),
        excluded_downtime: Millis(excluded_total),
        counted: counted_list(&counted),
        excluded: excluded_list(&excluded),
        server_refunds: servers
            .iter()
            .map(|s| ServerRefund {
                server: s.server.clone(),
                refund_percent: s.refund.percent(),
            })
            .collect(),
        servers,
        tenant,
    })
}
