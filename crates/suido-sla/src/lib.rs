//! Suido's SLA ledger arithmetic: monthly availability of virtual servers,
//! the exclusions of §3.4 of the platform's service specification, the fault
//! responsibilities of table 4-1, and the refund tiers of table 3-1.
//!
//! Pure and exact: times are whole milliseconds, availability is a rational
//! compared by cross-multiplication, and nothing here does I/O or depends on
//! kube or tokio. Start at [`evaluate_month`]; the rules are in `docs/sla.md`.

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
