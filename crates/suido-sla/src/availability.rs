//! Availability as an exact rational and the refund tiers of table 3-1.
//!
//! Every decision compares integers by cross-multiplication in `u128`; the
//! percentage string is for display only and is truncated, never rounded up,
//! so it never shows a tier boundary that the exact value did not reach.

use std::cmp::Ordering;
use std::fmt;

/// Uptime over a period, both in milliseconds: `uptime_ms / period_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Availability {
    uptime_ms: u64,
    period_ms: u64,
}

impl Availability {
    /// `1 - downtime / period`. `None` if the period is zero or the downtime
    /// longer than the period.
    pub fn from_downtime(downtime_ms: u64, period_ms: u64) -> Option<Availability> {
        if period_ms == 0 || downtime_ms > period_ms {
            return None;
        }
        Some(Availability {
            uptime_ms: period_ms - downtime_ms,
            period_ms,
        })
    }

    /// The numerator: milliseconds up.
    pub fn uptime_ms(self) -> u64 {
        self.uptime_ms
    }

    /// The numerator's complement: milliseconds down.
    pub fn downtime_ms(self) -> u64 {
        self.period_ms - self.uptime_ms
    }

    /// The denominator: the period's length in milliseconds.
    pub fn period_ms(self) -> u64 {
        self.period_ms
    }

    /// Whether availability ≥ `numerator / denominator`, exactly.
    pub fn at_least(self, numerator: u64, denominator: u64) -> bool {
        u128::from(self.uptime_ms) * u128::from(denominator)
            >= u128::from(numerator) * u128::from(self.period_ms)
    }

    /// The percentage with four decimals, truncated (e.g. `"99.9499"` for
    /// 99.94999…), without a `%` sign.
    pub fn percent_string(self) -> String {
        self.percent_string_with(4)
    }

    /// The percentage with `decimals` decimals (at most 12), truncated.
    pub fn percent_string_with(self, decimals: u32) -> String {
        let decimals = decimals.min(12);
        let scale = 10u128.pow(decimals);
        let scaled = u128::from(self.uptime_ms) * 100 * scale / u128::from(self.period_ms);
        let whole = scaled / scale;
        if decimals == 0 {
            return whole.to_string();
        }
        let frac = scaled % scale;
        format!("{whole}.{frac:0width$}", width = decimals as usize)
    }

    /// The refund tier this availability falls in.
    pub fn refund_tier(self) -> RefundTier {
        RefundTier::for_availability(self)
    }
}

impl PartialOrd for Availability {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Availability {
    /// Compares the rationals' values (so 1/2 equals 2/4).
    fn cmp(&self, other: &Self) -> Ordering {
        let left = u128::from(self.uptime_ms) * u128::from(other.period_ms);
        let right = u128::from(other.uptime_ms) * u128::from(self.period_ms);
        left.cmp(&right)
    }
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.percent_string())
    }
}

/// The refund rate of table 3-1 (返金に関する料率), as a share of the
/// server's fee for the month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RefundTier {
    /// 99.95 % or more: no refund.
    None,
    /// At least 99.80 %, under 99.95 %: 1 %.
    OnePercent,
    /// At least 99.00 %, under 99.80 %: 3 %.
    ThreePercent,
    /// Under 99.00 %: 10 %.
    TenPercent,
}

impl RefundTier {
    /// The tier boundaries as (availability numerator over 10 000, tier at or
    /// above it), from the top.
    const BOUNDARIES: [(u64, RefundTier); 3] = [
        (9995, RefundTier::None),
        (9980, RefundTier::OnePercent),
        (9900, RefundTier::ThreePercent),
    ];

    /// The tier for an availability, decided exactly.
    pub fn for_availability(availability: Availability) -> RefundTier {
        Self::BOUNDARIES
            .iter()
            .find(|(numerator, _)| availability.at_least(*numerator, 10_000))
            .map_or(RefundTier::TenPercent, |(_, tier)| *tier)
    }

    /// The refund as a whole percentage: 0, 1, 3 or 10.
    pub fn percent(self) -> u8 {
        match self {
            RefundTier::None => 0,
            RefundTier::OnePercent => 1,
            RefundTier::ThreePercent => 3,
            RefundTier::TenPercent => 10,
        }
    }

    /// The availability band of the tier as printed in table 3-1.
    pub fn band(self) -> &'static str {
        match self {
            RefundTier::None => "99.95 % or more",
            RefundTier::OnePercent => "under 99.95 %, at least 99.80 %",
            RefundTier::ThreePercent => "under 99.80 %, at least 99.00 %",
            RefundTier::TenPercent => "under 99.00 %",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_string_truncates() {
        let a = Availability::from_downtime(1, 2000).expect("valid");
        assert_eq!(a.percent_string(), "99.9500");
        let b = Availability::from_downtime(2, 3).expect("valid");
        assert_eq!(b.percent_string(), "33.3333");
        assert_eq!(b.percent_string_with(0), "33");
        let full = Availability::from_downtime(0, 5).expect("valid");
        assert_eq!(full.percent_string(), "100.0000");
        let zero = Availability::from_downtime(5, 5).expect("valid");
        assert_eq!(zero.percent_string_with(2), "0.00");
    }

    #[test]
    fn rejects_impossible_fractions() {
        assert_eq!(Availability::from_downtime(0, 0), None);
        assert_eq!(Availability::from_downtime(6, 5), None);
    }

    #[test]
    fn compares_by_value() {
        let half = Availability::from_downtime(1, 2).expect("valid");
        let two_quarters = Availability::from_downtime(2, 4).expect("valid");
        let third = Availability::from_downtime(2, 3).expect("valid");
        assert_eq!(half.cmp(&two_quarters), Ordering::Equal);
        assert!(third < half);
    }
}
