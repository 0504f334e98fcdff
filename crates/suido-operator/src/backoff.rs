//! Per-object exponential backoff with jitter for transient errors: each failure of the same
//! object doubles its delay up to a ceiling; a success forgets it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Failure counts by object key (the object's UID).
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Backoff {
    /// Backoff starting at `base` and never above `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure of `key` and returns how long to wait: `base * 2^(n-1)` capped at
    /// `max`, times a jitter between 0.8 and 1.2 so that objects failing together spread out.
    pub fn next_delay(&self, key: &str) -> Duration {
        let n = {
            let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
            let n = failures.entry(key.to_owned()).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        let exp = self.base.saturating_mul(1u32 << (n - 1).min(20));
        let capped = exp.min(self.max);
        capped.mul_f64(0.8 + 0.4 * fastrand::f64())
    }

    /// Forgets the failures of `key` after a successful reconcile.
    pub fn reset(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// How many failures in a row `key` has had.
    pub fn failures(&self, key: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_with_jitter_up_to_the_ceiling_and_reset() {
        let b = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let d1 = b.next_delay("a");
        assert!(d1 >= Duration::from_millis(800) && d1 <= Duration::from_millis(1200));
        let d2 = b.next_delay("a");
        assert!(d2 >= Duration::from_millis(1600) && d2 <= Duration::from_millis(2400));
        for _ in 0..10 {
            let d = b.next_delay("a");
            assert!(d <= Duration::from_millis(9600), "capped: {d:?}");
        }
        // Another object has its own count.
        assert!(b.next_delay("b") <= Duration::from_millis(1200));
        b.reset("a");
        assert_eq!(b.failures("a"), 0);
        assert!(b.next_delay("a") <= Duration::from_millis(1200));
    }
}
