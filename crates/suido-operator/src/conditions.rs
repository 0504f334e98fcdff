//! kstatus-style conditions: one per type, with a stable reason, and a transition time that only
//! moves when the status flips, so recomputing the same conditions never changes status.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use suido_api::v1alpha1::conditions as cond;

/// A condition's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// `True`.
    True,
    /// `False`.
    False,
    /// `Unknown`.
    Unknown,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::True => "True",
            Status::False => "False",
            Status::Unknown => "Unknown",
        }
    }
}

impl From<bool> for Status {
    fn from(value: bool) -> Self {
        if value { Status::True } else { Status::False }
    }
}

/// A condition to set, without its transition time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Desired {
    /// Condition type, e.g. `Ready`.
    pub type_: &'static str,
    /// Its status.
    pub status: Status,
    /// A stable CamelCase reason.
    pub reason: &'static str,
    /// A human message.
    pub message: String,
}

impl Desired {
    /// A condition.
    pub fn new(
        type_: &'static str,
        status: impl Into<Status>,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Desired {
            type_,
            status: status.into(),
            reason,
            message: message.into(),
        }
    }
}

/// Puts `desired` into `conditions`, keeping `lastTransitionTime` when the status is unchanged and
/// using `now` when it flips or the condition is new. Conditions of other types are kept.
pub fn set(
    conditions: &mut Vec<Condition>,
    desired: Desired,
    generation: Option<i64>,
    now: Timestamp,
) {
    let status = desired.status.as_str();
    match conditions.iter_mut().find(|c| c.type_ == desired.type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = Time(now);
                c.status = status.to_owned();
            }
            c.reason = desired.reason.to_owned();
            c.message = desired.message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: desired.type_.to_owned(),
            status: status.to_owned(),
            reason: desired.reason.to_owned(),
            message: desired.message,
            observed_generation: generation,
            last_transition_time: Time(now),
        }),
    }
}

/// Sets every condition of `desired` in order.
pub fn set_all(
    conditions: &mut Vec<Condition>,
    desired: impl IntoIterator<Item = Desired>,
    generation: Option<i64>,
    now: Timestamp,
) {
    for d in desired {
        set(conditions, d, generation, now);
    }
}

/// How far an object is from its spec, as GitOps tools read it (kstatus, in
/// sigs.k8s.io/cli-utils, which Argo CD and Flux use): through `Reconciling` and `Stalled`,
/// two "abnormal-true" conditions that are present only while true, so that a settled object
/// carries neither.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The spec is in force: neither condition.
    Done,
    /// Work is under way, or waits for something that will come by itself: `Reconciling`.
    Working(&'static str, String),
    /// Nothing more happens until the user (or the platform's operator) acts: `Stalled`.
    Stalled(&'static str, String),
}

/// Sets `Reconciling` and `Stalled` for `progress`, removing the one that is not true.
pub fn set_progress(
    conditions: &mut Vec<Condition>,
    progress: Progress,
    generation: Option<i64>,
    now: Timestamp,
) {
    let (keep, reason, message) = match progress {
        Progress::Done => {
            conditions.retain(|c| c.type_ != cond::RECONCILING && c.type_ != cond::STALLED);
            return;
        }
        Progress::Working(reason, message) => (cond::RECONCILING, reason, message),
        Progress::Stalled(reason, message) => (cond::STALLED, reason, message),
    };
    conditions
        .retain(|c| c.type_ == keep || (c.type_ != cond::RECONCILING && c.type_ != cond::STALLED));
    set(
        conditions,
        Desired::new(keep, true, reason, message),
        generation,
        now,
    );
}

/// Whether the condition of `type_` is `True`.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn transition_time_moves_only_when_status_flips() {
        let mut cs = vec![];
        set(
            &mut cs,
            Desired::new("Ready", false, "Provisioning", "building"),
            Some(1),
            at(10),
        );
        set(
            &mut cs,
            Desired::new("Ready", false, "Provisioning", "still building"),
            Some(1),
            at(20),
        );
        assert_eq!(cs.len(), 1);
        assert_eq!(cs[0].last_transition_time, Time(at(10)));
        assert_eq!(cs[0].message, "still building");
        set(
            &mut cs,
            Desired::new("Ready", true, "Available", "up"),
            Some(2),
            at(30),
        );
        assert_eq!(cs[0].last_transition_time, Time(at(30)));
        assert_eq!(cs[0].observed_generation, Some(2));
        assert!(is_true(&cs, "Ready"));
    }

    #[test]
    fn recomputing_the_same_conditions_changes_nothing() {
        let mut cs = vec![];
        let desired = || {
            vec![
                Desired::new("Ready", true, "Available", "up"),
                Desired::new("Synced", true, "ReconcileSuccess", ""),
            ]
        };
        set_all(&mut cs, desired(), Some(3), at(1));
        let before = cs.clone();
        set_all(&mut cs, desired(), Some(3), at(99));
        assert_eq!(cs, before);
    }
}
