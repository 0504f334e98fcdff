//! Calendar months in the platform's time zone, and the time zone lookup.

use std::fmt;
use std::str::FromStr;

use jiff::civil::{Date, DateTime};
use jiff::tz::{TimeZone, TimeZoneDatabase};
use jiff::{Timestamp, Zoned};

use crate::error::SlaError;

/// The platform's time zone unless configured otherwise.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Tokyo";

/// Looks a time zone up by IANA name in the tz database bundled into the
/// binary, so that results do not depend on the machine's zoneinfo.
pub fn time_zone(name: &str) -> Result<TimeZone, SlaError> {
    TimeZoneDatabase::bundled()
        .get(name)
        .map_err(|_| SlaError::UnknownTimeZone(name.to_string()))
}

/// A calendar month, e.g. `2026-10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i16,
    month: i8,
}

impl Month {
    /// The month `month` (1 to 12) of `year` (1 to 9999).
    pub fn new(year: i16, month: i8) -> Result<Month, SlaError> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(SlaError::InvalidMonth(format!("{year:04}-{month:02}")));
        }
        Ok(Month { year, month })
    }

    /// The year.
    pub fn year(self) -> i16 {
        self.year
    }

    /// The month number, 1 to 12.
    pub fn month(self) -> i8 {
        self.month
    }

    /// The number of calendar days: 28, 29, 30 or 31.
    pub fn days(self) -> i8 {
        self.first_day().days_in_month()
    }

    fn first_day(self) -> Date {
        // Month::new checked the ranges, so this date exists.
        Date::constant(self.year, self.month, 1)
    }

    /// The month after this one.
    pub fn next(self) -> Result<Month, SlaError> {
        if self.month == 12 {
            Month::new(self.year + 1, 1)
        } else {
            Month::new(self.year, self.month + 1)
        }
    }

    /// The month's first instant and the next month's first instant in `tz`:
    /// local midnight on the 1st (or the first valid time after it, should a
    /// zone skip midnight).
    pub fn bounds(self, tz: &TimeZone) -> Result<MonthBounds, SlaError> {
        let start = local_start(self.first_day(), tz)?;
        let end = local_start(self.next()?.first_day(), tz)?;
        Ok(MonthBounds { start, end })
    }
}

fn local_start(day: Date, tz: &TimeZone) -> Result<Zoned, SlaError> {
    tz.to_zoned(DateTime::from(day))
        .map_err(|e| SlaError::TimeRange(e.to_string()))
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = SlaError;

    /// Parses exactly `YYYY-MM`.
    fn from_str(s: &str) -> Result<Month, SlaError> {
        let bad = || SlaError::InvalidMonth(s.to_string());
        let bytes = s.as_bytes();
        if bytes.len() != 7
            || bytes[4] != b'-'
            || !bytes[..4].iter().all(u8::is_ascii_digit)
            || !bytes[5..].iter().all(u8::is_ascii_digit)
        {
            return Err(bad());
        }
        let year: i16 = s[..4].parse().map_err(|_| bad())?;
        let month: i8 = s[5..].parse().map_err(|_| bad())?;
        Month::new(year, month).map_err(|_| bad())
    }
}

impl serde::Serialize for Month {
    /// As `"YYYY-MM"`.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Month {
    /// From `"YYYY-MM"`.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Month, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A month's extent as instants: `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthBounds {
    /// The first instant of the month.
    pub start: Zoned,
    /// The first instant of the next month.
    pub end: Zoned,
}

impl MonthBounds {
    /// The start as a timestamp.
    pub fn start_timestamp(&self) -> Timestamp {
        self.start.timestamp()
    }

    /// The end as a timestamp.
    pub fn end_timestamp(&self) -> Timestamp {
        self.end.timestamp()
    }

    /// The month's real length in milliseconds; in zones with daylight saving
    /// time a month containing a transition is an hour shorter or longer.
    pub fn length_ms(&self) -> i64 {
        self.end.timestamp().as_millisecond() - self.start.timestamp().as_millisecond()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_json_round_trip() {
        let m: Month = serde_json::from_str("\"2028-02\"").expect("valid");
        assert_eq!(m, Month::new(2028, 2).expect("valid"));
        assert_eq!(serde_json::to_string(&m).expect("serialize"), "\"2028-02\"");
        let err = serde_json::from_str::<Month>("\"2028-2\"").expect_err("invalid");
        assert!(err.to_string().contains("expected YYYY-MM"), "{err}");
    }

    #[test]
    fn month_bounds_in_jst() {
        let tz = time_zone("Asia/Tokyo").expect("zone");
        let b = Month::new(2026, 12)
            .expect("valid")
            .bounds(&tz)
            .expect("bounds");
        assert_eq!(b.start_timestamp().to_string(), "2026-11-30T15:00:00Z");
        assert_eq!(b.end_timestamp().to_string(), "2026-12-31T15:00:00Z");
        assert_eq!(b.length_ms(), 31 * 86_400_000);
    }
}
