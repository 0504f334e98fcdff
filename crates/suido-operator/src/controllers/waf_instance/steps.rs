//! The WafInstance's pure steps: what the platform should hold (plan, the five functions, the
//! allow and deny lists, the protected targets), what differs from the spec in force, and the
//! status (protected targets and the platform's counters).

use kube::ResourceExt;
use suido_api::v1alpha1::{WafInstance, WafInstanceStatus, WafPlan};
use suido_provider::{self as p, ResourceState};

use crate::conditions::Desired;
use crate::controllers::family::{self, Step, Targets};

fn plan_of(plan: WafPlan) -> p::WafPlan {
    match plan {
        WafPlan::Cpu2Mem4 => p::WafPlan::Cpu2Mem4,
        WafPlan::Cpu4Mem6 => p::WafPlan::Cpu4Mem6,
    }
}

/// A plan as the menu writes it.
fn plan_label(plan: p::WafPlan) -> &'static str {
    match plan {
        p::WafPlan::Cpu2Mem4 => "2CPU-4GB",
        p::WafPlan::Cpu4Mem6 => "4CPU-6GB",
    }
}

/// A CIDR list in a canonical order, each once.
fn cidrs(list: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = list.into_iter().collect();
    out.sort();
    out.dedup();
    out
}

/// What the platform should hold, from the spec and the resolved targets.
pub fn build(waf: &WafInstance, targets: &Targets) -> p::WafSpec {
    let f = &waf.spec.functions;
    let access = f.ip_access_control.clone().unwrap_or_default();
    p::WafSpec {
        name: waf.name_any(),
        plan: plan_of(waf.spec.plan),
        functions: p::WafFunctionsSpec {
            signature_inspection: f.signature_inspection,
            dos_protection: f.dos_protection,
            antivirus: f.antivirus,
            ip_reputation: f.ip_reputation,
            allow: cidrs(access.allow.into_iter().map(|c| c.0)),
            deny: cidrs(access.deny.into_iter().map(|c| c.0)),
        },
        targets: targets.resolved.clone(),
    }
}

fn switch(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

/// What differs between the desired spec and the one in force, in words.
pub fn differences(desired: &p::WafSpec, waf: &p::Waf) -> Vec<String> {
    let now = &waf.spec;
    let mut out = vec![];
    if desired.name != now.name {
        out.push(format!("name {} -> {}", now.name, desired.name));
    }
    if desired.plan != now.plan {
        out.push(format!(
            "plan {} -> {}",
            plan_label(now.plan),
            plan_label(desired.plan)
        ));
    }
    let (want, have) = (&desired.functions, &now.functions);
    for (name, w, h) in [
        (
            "signature inspection",
            want.signature_inspection,
            have.signature_inspection,
        ),
        ("DoS protection", want.dos_protection, have.dos_protection),
        ("antivirus", want.antivirus, have.antivirus),
        ("IP reputation", want.ip_reputation, have.ip_reputation),
    ] {
        if w != h {
            out.push(format!("{name} {}", switch(w)));
        }
    }
    if want.allow != cidrs(have.allow.clone()) {
        out.push(format!(
            "allow list ({} -> {} CIDRs)",
            have.allow.len(),
            want.allow.len()
        ));
    }
    if want.deny != cidrs(have.deny.clone()) {
        out.push(format!(
            "deny list ({} -> {} CIDRs)",
            have.deny.len(),
            want.deny.len()
        ));
    }
    out.extend(family::targets_change(&desired.targets, &now.targets));
    out
}

/// Decides the next step for a built WAF.
pub fn plan(desired: &p::WafSpec, waf: &p::Waf, targets: &Targets) -> Step {
    family::plan(
        waf.state,
        waf.operation.as_ref(),
        differences(desired, waf),
        &targets.waiting,
    )
}

/// Fills the WAF's own status fields and returns its `ReferencesResolved` condition.
pub fn observe(
    status: &mut WafInstanceStatus,
    waf: Option<&p::Waf>,
    targets: Option<&Targets>,
) -> Vec<Desired> {
    match waf.filter(|w| w.state != ResourceState::Creating) {
        Some(waf) => {
            status.protected_targets = Some(
                targets
                    .map(|t| t.protected(&waf.spec.targets))
                    .unwrap_or_default(),
            );
            status.requests_inspected = Some(waf.requests_inspected);
            status.requests_blocked = Some(waf.requests_blocked);
        }
        None => {
            status.protected_targets = None;
            status.requests_inspected = None;
            status.requests_blocked = None;
        }
    }
    family::references_resolved(targets.map(|t| t.waiting.as_slice()))
}
