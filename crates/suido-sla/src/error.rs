//! The crate's error type: every message names the field or argument at fault
//! and, where there is a closed set, the allowed values.

/// Errors from reading a ledger or evaluating a month.
#[derive(Debug, thiserror::Error)]
pub enum SlaError {
    /// The ledger JSON does not match the schema (wrong type, unknown field,
    /// unknown cause or environment, malformed time).
    #[error("ledger {path}: {message}")]
    LedgerJson {
        /// Where in the document, e.g. `outages[2].cause`.
        path: String,
        /// What is wrong, with allowed values where serde knows them.
        message: String,
    },
    /// The ledger parses but breaks a rule (end before start, unknown window).
    #[error("ledger {field}: {message}")]
    InvalidLedger {
        /// The field at fault, e.g. `outages[0].end`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// The month is not `YYYY-MM` with a month from 01 to 12.
    #[error("month: expected YYYY-MM with a month from 01 to 12 (e.g. 2026-10), got '{0}'")]
    InvalidMonth(String),
    /// The time zone is not in the bundled IANA database.
    #[error("time zone: '{0}' is not an IANA time zone name (e.g. Asia/Tokyo, UTC)")]
    UnknownTimeZone(String),
    /// `now` is before the month starts, so there is nothing to evaluate yet.
    #[error("now: {now} is before month {month} starts at {start}")]
    MonthNotStarted {
        /// The evaluation instant.
        now: String,
        /// The month asked for.
        month: String,
        /// Its first instant in the configured zone.
        start: String,
    },
    /// Date arithmetic left jiff's supported range.
    #[error("time arithmetic out of range: {0}")]
    TimeRange(String),
}
