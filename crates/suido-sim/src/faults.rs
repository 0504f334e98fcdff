//! Fault injection: transient errors, latency, timeouts after commit and host failures, drawn
//! from a seeded generator so that a given seed and request sequence always fail the same way.

use serde::{Deserialize, Serialize};
use suido_provider::FailureLayer;

use crate::SimError;

/// Faults to inject. Loaded from the `--faults` JSON file or set through `PUT /admin/faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Seed of the generator; the same seed gives the same faults for the same requests.
    pub seed: u64,
    /// Share of API requests (0 to 1) refused with 503 before doing anything.
    pub error_rate: f64,
    /// Share of mutating API requests (0 to 1) that are carried out and committed, but answered
    /// with 504 as if they had timed out; the client must adopt the result by client token.
    pub timeout_after_commit_rate: f64,
    /// Latency added to every API request, in milliseconds.
    pub latency_ms: u64,
    /// Host failures applied when the settings are loaded.
    pub host_failures: Vec<HostFailure>,
}

/// A failure that takes one server down for a while.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostFailure {
    /// The server taken down.
    pub server_id: String,
    /// How long it stays down, in milliseconds.
    pub duration_ms: u64,
    /// The layer that failed (default `Hypervisor`).
    #[serde(default = "default_layer")]
    pub layer: FailureLayer,
}

fn default_layer() -> FailureLayer {
    FailureLayer::Hypervisor
}

impl FaultSettings {
    /// Checks the rates.
    pub fn validate(&self) -> Result<(), SimError> {
        for (field, rate) in [
            ("errorRate", self.error_rate),
            ("timeoutAfterCommitRate", self.timeout_after_commit_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::Config(format!(
                    "{field} must be between 0 and 1, got {rate}"
                )));
            }
        }
        Ok(())
    }

    /// Reads and checks a fault file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SimError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let settings: FaultSettings = serde_json::from_str(&text)
            .map_err(|e| SimError::Config(format!("fault file {}: {e}", path.display())))?;
        settings.validate()?;
        Ok(settings)
    }
}

/// What to do to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Decision {
    pub latency_ms: u64,
    /// Refuse with 503 before doing anything.
    pub fail: bool,
    /// Carry out, then answer 504.
    pub timeout_after_commit: bool,
}

/// The settings and the generator's state.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub settings: FaultSettings,
    rng: SplitMix64,
}

impl FaultState {
    pub(crate) fn new(settings: FaultSettings) -> Self {
        let rng = SplitMix64(settings.seed);
        FaultState { settings, rng }
    }

    /// Draws the faults of the next API request. Every request draws the same number of values
    /// whatever the rates, so a decision depends only on the seed and the request's position.
    pub(crate) fn decide(&mut self, mutating: bool) -> Decision {
        let fail_draw = self.rng.next_unit();
        let timeout_draw = self.rng.next_unit();
        let fail = fail_draw < self.settings.error_rate;
        Decision {
            latency_ms: self.settings.latency_ms,
            fail,
            timeout_after_commit: mutating
                && !fail
                && timeout_draw < self.settings.timeout_after_commit_rate,
        }
    }
}

/// SplitMix64 (Steele, Lea and Flood): small, fast, and good enough to pick faults.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    fn next_unit(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(seed: u64, n: usize) -> Vec<(bool, bool)> {
        let mut state = FaultState::new(FaultSettings {
            seed,
            error_rate: 0.3,
            timeout_after_commit_rate: 0.3,
            ..FaultSettings::default()
        });
        (0..n)
            .map(|i| {
                let d = state.decide(i % 2 == 0);
                (d.fail, d.timeout_after_commit)
            })
            .collect()
    }

    #[test]
    fn same_seed_same_faults_other_seed_other_faults() {
        let a = pattern(42, 200);
        assert_eq!(a, pattern(42, 200));
        assert_ne!(a, pattern(43, 200));
        let fails = a.iter().filter(|(f, _)| *f).count();
        // 30 % of 200, with generous slack: the generator is not stuck.
        assert!((30..=90).contains(&fails), "{fails} failures");
        assert!(a.iter().any(|(_, t)| *t));
        // Reads never time out after commit.
        assert!(a.iter().skip(1).step_by(2).all(|(_, t)| !t));
    }

    #[test]
    fn zero_rates_never_fail_and_one_always_does() {
        let mut none = FaultState::new(FaultSettings::default());
        assert!((0..100).all(|_| {
            let d = none.decide(true);
            !d.fail && !d.timeout_after_commit
        }));
        let mut all = FaultState::new(FaultSettings {
            error_rate: 1.0,
            ..FaultSettings::default()
        });
        assert!((0..100).all(|_| all.decide(false).fail));
    }

    #[test]
    fn rates_out_of_range_are_refused_by_name() {
        let bad = FaultSettings {
            timeout_after_commit_rate: 1.5,
            ..FaultSettings::default()
        };
        let err = bad
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("timeoutAfterCommitRate"), "{err}");
    }

    #[test]
    fn fault_file_format() -> Result<(), serde_json::Error> {
        let s: FaultSettings = serde_json::from_str(
            r#"{"seed": 7, "errorRate": 0.2, "latencyMs": 50,
                "hostFailures": [{"serverId": "srv-000001", "durationMs": 30000}]}"#,
        )?;
        assert_eq!(s.seed, 7);
        assert_eq!(s.host_failures[0].layer, FailureLayer::Hypervisor);
        assert!(serde_json::from_str::<FaultSettings>(r#"{"errorRat": 0.2}"#).is_err());
        Ok(())
    }
}
