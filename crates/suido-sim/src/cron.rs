//! Five-field cron schedules (`minute hour day-of-month month day-of-week`), read in an IANA time
//! zone, for the backup jobs the platform runs.
//!
//! Each field is `*`, a number, a range `a-b`, any of those with a step (`*/15`, `1-10/3`,
//! `5/10` meaning 5 to the end by 10), or a comma-separated list of them. Months and days of the
//! week may be written by their English three-letter names (`JAN`, `MON`); Sunday is 0 or 7.
//! As in Vixie cron, when both the day of the month and the day of the week are restricted (do
//! not start with `*`), a day matches when either does.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cron {
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
    days_restricted: bool,
    weekdays_restricted: bool,
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// How far ahead [`Cron::next_after`] looks: long enough for a 29 February on a given weekday.
const SEARCH_DAYS: u32 = 366 * 29;

struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// The number the first name stands for.
    names_from: u32,
}

impl Field {
    fn number(&self, text: &str) -> Result<u32, String> {
        let upper = text.to_ascii_uppercase();
        if let Some(i) = self.names.iter().position(|n| *n == upper) {
            return Ok(self.names_from + u32::try_from(i).unwrap_or(0));
        }
        let n: u32 = text
            .parse()
            .map_err(|_| format!("{} field: `{text}` is not a number", self.name))?;
        if n < self.min || n > self.max {
            return Err(format!(
                "{} field: {n} is out of range {}-{}",
                self.name, self.min, self.max
            ));
        }
        Ok(n)
    }

    /// The set of values of one field, as bits.
    fn parse(&self, text: &str) -> Result<u64, String> {
        let mut bits = 0u64;
        for item in text.split(',') {
            let (range, step) = match item.split_once('/') {
                Some((r, s)) => {
                    let step: u32 = s.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                        format!("{} field: step `{s}` must be 1 or more", self.name)
                    })?;
                    (r, step)
                }
                None => (item, 1),
            };
            let (lo, hi) = if range == "*" {
                (self.min, self.max)
            } else if let Some((a, b)) = range.split_once('-') {
                let (a, b) = (self.number(a)?, self.number(b)?);
                if a > b {
                    return Err(format!("{} field: range {a}-{b} is backwards", self.name));
                }
                (a, b)
            } else {
                let a = self.number(range)?;
                (a, if item.contains('/') { self.max } else { a })
            };
            let mut v = lo;
            while v <= hi {
                bits |= 1 << v;
                v += step;
            }
        }
        Ok(bits)
    }
}

impl Cron {
    /// Parses a five-field schedule; the error names the field and what is wrong with it.
    pub(crate) fn parse(text: &str) -> Result<Cron, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [minute, hour, day, month, weekday] = fields.as_slice() else {
            return Err(format!(
                "`{text}` must have five fields: minute hour day-of-month month day-of-week"
            ));
        };
        let field = |name, min, max| Field {
            name,
            min,
            max,
            names: &[],
            names_from: 0,
        };
        let mut weekdays = Field {
            names: &WEEKDAYS,
            ..field("day-of-week", 0, 7)
        }
        .parse(weekday)?;
        if weekdays & (1 << 7) != 0 {
            weekdays = (weekdays & !(1 << 7)) | 1;
        }
        Ok(Cron {
            minutes: field("minute", 0, 59).parse(minute)?,
            hours: field("hour", 0, 23).parse(hour)?,
            days: field("day-of-month", 1, 31).parse(day)?,
            months: Field {
                names: &MONTHS,
                names_from: 1,
                ..field("month", 1, 12)
            }
            .parse(month)?,
            weekdays,
            days_restricted: !day.starts_with('*'),
            weekdays_restricted: !weekday.starts_with('*'),
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        if self.months & (1 << date.month()) == 0 {
            return false;
        }
        let dom = self.days & (1 << date.day()) != 0;
        let dow = self.weekdays & (1 << date.weekday().to_sunday_zero_offset()) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => dom || dow,
            _ => dom && dow,
        }
    }

    /// The first time of the schedule strictly after `after`, read in `tz`. A local time that a
    /// daylight-saving change skips runs just after the change; one that repeats runs the
    /// first time. `None` when no such time exists within decades (`0 0 30 2 *`).
    pub(crate) fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let local = after.to_zoned(tz.clone()).datetime();
        let start = DateTime::from_parts(
            local.date(),
            jiff::civil::time(local.hour(), local.minute(), 0, 0),
        );
        let mut date = start.date();
        for _ in 0..SEARCH_DAYS {
            if self.day_matches(date) {
                let first_day = date == start.date();
                for hour in 0..24i8 {
                    if self.hours & (1 << hour) == 0 || (first_day && hour < start.hour()) {
                        continue;
                    }
                    for minute in 0..60i8 {
                        if self.minutes & (1 << minute) == 0
                            || (first_day && hour == start.hour() && minute < start.minute())
                        {
                            continue;
                        }
                        let at = date.at(hour, minute, 0, 0);
                        if let Ok(zoned) = at.to_zoned(tz.clone())
                            && zoned.timestamp() > after
                        {
                            return Some(zoned.timestamp());
                        }
                    }
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    /// The last time of the schedule at or before `now`, searching forward from `from` (a time
    /// of the schedule that is due): the one missed run to make up after a downtime. Looks at
    /// most `limit` times ahead and then settles for the last one seen.
    pub(crate) fn latest_due(
        &self,
        from: Timestamp,
        now: Timestamp,
        tz: &TimeZone,
        limit: usize,
    ) -> Timestamp {
        let mut latest = from;
        for _ in 0..limit {
            match self.next_after(latest, tz) {
                Some(next) if next <= now => latest = next,
                _ => break,
            }
        }
        latest
    }
}

/// Reads an IANA time zone name.
pub(crate) fn time_zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("`{name}` is not an IANA time zone (e.g. Asia/Tokyo)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse()
            .unwrap_or_else(|e| panic!("bad timestamp {text}: {e}"))
    }

    fn tokyo() -> TimeZone {
        time_zone("Asia/Tokyo").unwrap_or_else(|e| panic!("{e}"))
    }

    fn next(cron: &str, after: &str, tz: &TimeZone) -> Option<Timestamp> {
        Cron::parse(cron)
            .unwrap_or_else(|e| panic!("{cron}: {e}"))
            .next_after(ts(after), tz)
    }

    #[test]
    fn daily_at_two_in_tokyo() {
        // 02:00 JST is 17:00 UTC the day before.
        let tz = tokyo();
        assert_eq!(
            next("0 2 * * *", "2026-11-26T00:00:00Z", &tz),
            Some(ts("2026-11-26T17:00:00Z"))
        );
        // Strictly after: the time itself gives the next day.
        assert_eq!(
            next("0 2 * * *", "2026-11-26T17:00:00Z", &tz),
            Some(ts("2026-11-27T17:00:00Z"))
        );
        assert_eq!(
            next("0 2 * * *", "2026-11-26T16:59:59.5Z", &tz),
            Some(ts("2026-11-26T17:00:00Z"))
        );
    }

    #[test]
    fn steps_ranges_lists_and_names() {
        let utc = TimeZone::UTC;
        assert_eq!(
            next("*/15 * * * *", "2026-01-01T10:07:00Z", &utc),
            Some(ts("2026-01-01T10:15:00Z"))
        );
        assert_eq!(
            next("5/20 * * * *", "2026-01-01T10:46:00Z", &utc),
            Some(ts("2026-01-01T11:05:00Z"))
        );
        assert_eq!(
            next("0 9-17/4 * * *", "2026-01-01T13:30:00Z", &utc),
            Some(ts("2026-01-01T17:00:00Z"))
        );
        // 2026-01-01 is a Thursday; the next Monday or Wednesday is the 5th.
        assert_eq!(
            next("30 1 * * MON,wed", "2026-01-01T00:00:00Z", &utc),
            Some(ts("2026-01-05T01:30:00Z"))
        );
        assert_eq!(
            next("0 0 1 jan-mar/2 *", "2026-01-02T00:00:00Z", &utc),
            Some(ts("2026-03-01T00:00:00Z"))
        );
        // Sunday as 7.
        assert_eq!(
            next("0 0 * * 7", "2026-01-01T00:00:00Z", &utc),
            Some(ts("2026-01-04T00:00:00Z"))
        );
    }

    #[test]
    fn restricted_day_and_weekday_match_either() {
        let utc = TimeZone::UTC;
        // The 15th, or any Friday: 2026-01-02 is a Friday.
        assert_eq!(
            next("0 0 15 * 5", "2026-01-01T00:00:00Z", &utc),
            Some(ts("2026-01-02T00:00:00Z"))
        );
        // With `*` days, only the weekday restricts.
        assert_eq!(
            next("0 0 * * 5", "2026-01-02T00:00:00Z", &utc),
            Some(ts("2026-01-09T00:00:00Z"))
        );
        assert_eq!(
            next("0 0 29 2 *", "2026-01-01T00:00:00Z", &utc),
            Some(ts("2028-02-29T00:00:00Z"))
        );
        assert_eq!(next("0 0 30 2 *", "2026-01-01T00:00:00Z", &utc), None);
    }

    #[test]
    fn daylight_saving_gaps_run_after_the_change() {
        let ny = time_zone("America/New_York").unwrap_or_else(|e| panic!("{e}"));
        // 2026-03-08 02:30 does not exist in New York; it runs at 03:30 EDT (07:30 UTC).
        assert_eq!(
            next("30 2 8 3 *", "2026-03-01T00:00:00Z", &ny),
            Some(ts("2026-03-08T07:30:00Z"))
        );
    }

    #[test]
    fn latest_due_makes_up_one_run() {
        let utc = TimeZone::UTC;
        let cron = Cron::parse("0 * * * *").unwrap_or_else(|e| panic!("{e}"));
        let latest = cron.latest_due(
            ts("2026-01-01T01:00:00Z"),
            ts("2026-01-01T05:30:00Z"),
            &utc,
            1000,
        );
        assert_eq!(latest, ts("2026-01-01T05:00:00Z"));
        let capped = cron.latest_due(
            ts("2026-01-01T01:00:00Z"),
            ts("2026-01-01T05:30:00Z"),
            &utc,
            2,
        );
        assert_eq!(capped, ts("2026-01-01T03:00:00Z"));
    }

    #[test]
    fn errors_name_the_field() {
        for (bad, expected) in [
            ("0 2 * *", "five fields"),
            ("60 * * * *", "minute field: 60 is out of range 0-59"),
            ("0 24 * * *", "hour field"),
            ("0 0 0 * *", "day-of-month field"),
            ("0 0 * 13 *", "month field"),
            ("0 0 * * 8", "day-of-week field"),
            ("*/0 * * * *", "step `0`"),
            ("5-1 * * * *", "backwards"),
            ("x * * * *", "`x` is not a number"),
        ] {
            let err = Cron::parse(bad).err().unwrap_or_default();
            assert!(err.contains(expected), "{bad}: {err}");
        }
        assert!(time_zone("Mars/Olympus").is_err());
        assert!(time_zone("UTC").is_ok());
    }
}
