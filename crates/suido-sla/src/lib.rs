//! Suido's SLA ledger arithmetic: monthly availability of virtual servers,
//! the exclusions of §3.4 of the platform's service specification, the fault
//! responsibilities of table 4-1, and the refund tiers of table 3-1.
//!
//! Pure and exact: times are whole milliseconds, availability is a rational
//! compared by cross-multiplication, and nothing here does I/O or depends on
//! kube or tokio. Start at [`evaluate_month`]; the rules are in `docs/sla.md`.
//!
//! ```
//! use suido_sla::{Ledger, Month, RefundTier, evaluate_month, time_zone};
//!
//! let ledger = Ledger::from_json_str(r#"{"outages": [{
//!     "server": "vm-01", "tenant": "yokohama", "environment": "production",
//!     "start": "2026-11-30T23:30:00+09:00", "end": "2026-12-01T00:10:00+09:00",
//!     "cause": "hostOrHypervisorFault"}]}"#)?;
//! let month: Month = "2026-11".parse()?;
//! let now = "2026-12-02T09:00:00+09:00".parse()?;
//! let report = evaluate_month(&ledger, month, now, &time_zone("Asia/Tokyo")?)?;
//!
//! // 30 of the 40 minutes fall in November (JST): 99.9305 %, a 1 % refund.
//! let server = &report.tenants[0].servers[0];
//! assert_eq!(server.counted_downtime.human(), "30m");
//! assert_eq!(server.availability.percent_string(), "99.9305");
//! assert_eq!(server.refund, RefundTier::OnePercent);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod availability;
mod classify;
mod error;
mod format;
mod model;
mod month;
mod report;
mod table;

/// The jiff version this crate's API uses, for `Timestamp` and `TimeZone`.
pub use jiff;

pub use availability::{Availability, RefundTier};
pub use error::SlaError;
pub use format::{Millis, human_duration, local_time};
pub use model::{Cause, Environment, ExclusionItem, Ledger, MaintenanceWindow, Outage, Server};
pub use month::{DEFAULT_TIME_ZONE, Month, MonthBounds, time_zone};
pub use report::{
    CountedDowntime, ExcludedDowntime, MonthReport, OutageReport, SegmentReport, SegmentVerdict,
    ServerRefund, ServerReport, TenantReport, evaluate_month,
};
