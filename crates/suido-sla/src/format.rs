//! Display helpers: instants in the configured zone and durations for people.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

/// An instant as RFC 3339 in `tz`, e.g. `2026-10-31T23:30:00+09:00`, with
/// milliseconds only when they are not zero.
pub fn local_time(ts: Timestamp, tz: &TimeZone) -> String {
    let zoned = ts.to_zoned(tz.clone());
    if ts.subsec_millisecond() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string()
    }
}

/// Like [`local_time`], for milliseconds since the Unix epoch.
pub fn local_time_ms(ms: i64, tz: &TimeZone) -> String {
    match Timestamp::from_millisecond(ms) {
        Ok(ts) => local_time(ts, tz),
        Err(_) => format!("{ms} ms since the Unix epoch"),
    }
}

/// A duration for people: `0s`, `21m 36s`, `1h 26m 24s`, `2d 3h 0.250s`.
/// Zero units are left out.
pub fn human_duration(ms: u64) -> String {
    if ms == 0 {
        return "0s".to_string();
    }
    let days = ms / 86_400_000;
    let hours = ms / 3_600_000 % 24;
    let minutes = ms / 60_000 % 60;
    let seconds = ms / 1000 % 60;
    let millis = ms % 1000;
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days}d"));
    }
    if hours > 0 {
        parts.push(format!("{hours}h"));
    }
    if minutes > 0 {
        parts.push(format!("{minutes}m"));
    }
    if millis > 0 {
        parts.push(format!("{seconds}.{millis:03}s"));
    } else if seconds > 0 {
        parts.push(format!("{seconds}s"));
    }
    parts.join(" ")
}

/// A duration in whole milliseconds; serializes as
/// `{"ms": 1296000, "human": "21m 36s"}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Millis(pub u64);

impl Millis {
    /// The human string, as [`human_duration`].
    pub fn human(self) -> String {
        human_duration(self.0)
    }
}

impl Serialize for Millis {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Millis", 2)?;
        s.serialize_field("ms", &self.0)?;
        s.serialize_field("human", &self.human())?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(0), "0s");
        assert_eq!(human_duration(1_296_000), "21m 36s");
        assert_eq!(human_duration(5_184_000), "1h 26m 24s");
        assert_eq!(human_duration(25_920_000), "7h 12m");
        assert_eq!(human_duration(86_400_000 * 31), "31d");
        assert_eq!(human_duration(86_400_000 + 250), "1d 0.250s");
        assert_eq!(human_duration(7), "0.007s");
    }

    #[test]
    fn local_times() {
        let tz = TimeZone::fixed(jiff::tz::offset(9));
        let ts: Timestamp = "2026-10-31T14:30:00Z".parse().expect("valid");
        assert_eq!(local_time(ts, &tz), "2026-10-31T23:30:00+09:00");
        let ts: Timestamp = "2026-10-31T14:30:00.120Z".parse().expect("valid");
        assert_eq!(local_time(ts, &tz), "2026-10-31T23:30:00.120+09:00");
    }
}
