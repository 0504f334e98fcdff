//! The IntrusionPrevention's pure steps: what the platform should hold (profile and protected
//! targets), what differs from the spec in force, and the status (protected targets and the
//! platform's counters).

use kube::ResourceExt;
use suido_api::v1alpha1::{IntrusionPrevention, IntrusionPreventionStatus, IpsProfile};
use suido_provider::{self as p, ResourceState};

use crate::conditions::Desired;
use crate::controllers::family::{self, Step, Targets};

fn profile(profile: IpsProfile) -> p::IpsProfileKind {
    match profile {
        IpsProfile::DetectOnly => p::IpsProfileKind::DetectOnly,
        IpsProfile::Balanced => p::IpsProfileKind::Balanced,
        IpsProfile::Strict => p::IpsProfileKind::Strict,
    }
}

/// What the platform should hold, from the spec and the resolved targets.
pub fn build(ips: &IntrusionPrevention, targets: &Targets) -> p::IpsSpec {
    p::IpsSpec {
        name: ips.name_any(),
        profile: profile(ips.spec.profile),
        targets: targets.resolved.clone(),
    }
}

/// What differs between the desired spec and the one in force, in words.
pub fn differences(desired: &p::IpsSpec, ips: &p::Ips) -> Vec<String> {
    let now = &ips.spec;
    let mut out = vec![];
    if desired.name != now.name {
        out.push(format!("name {} -> {}", now.name, desired.name));
    }
    if desired.profile != now.profile {
        out.push(format!(
            "profile {:?} -> {:?}",
            now.profile, desired.profile
        ));
    }
    out.extend(family::targets_change(&desired.targets, &now.targets));
    out
}

/// Decides the next step for a built IDS/IPS.
pub fn plan(desired: &p::IpsSpec, ips: &p::Ips, targets: &Targets) -> Step {
    family::plan(
        ips.state,
        ips.operation.as_ref(),
        differences(desired, ips),
        &targets.waiting,
    )
}

/// Fills the IDS/IPS's own status fields and returns its `ReferencesResolved` condition.
pub fn observe(
    status: &mut IntrusionPreventionStatus,
    ips: Option<&p::Ips>,
    targets: Option<&Targets>,
) -> Vec<Desired> {
    match ips.filter(|i| i.state != ResourceState::Creating) {
        Some(ips) => {
            status.protected_targets = Some(
                targets
                    .map(|t| t.protected(&ips.spec.targets))
                    .unwrap_or_default(),
            );
            status.alerts = Some(ips.alerts);
            status.drops = Some(ips.drops);
        }
        None => {
            status.protected_targets = None;
            status.alerts = None;
            status.drops = None;
        }
    }
    family::references_resolved(targets.map(|t| t.waiting.as_slice()))
}
