//! Tenant rules that a CRD cannot check: which Tenant owns a namespace, which features are
//! vendor-only, and which MaintenanceWindow lets a disruptive change run now.

use std::sync::Arc;

use jiff::Timestamp;
use suido_api::v1alpha1::{MaintenanceWindow, Tenant, TenantType};

/// The Tenant that owns a namespace.
#[derive(Clone, Debug)]
pub enum Owner {
    /// The Tenant that claimed the namespace first.
    Tenant(Arc<Tenant>),
    /// No Tenant lists it.
    None,
}

/// Finds the Tenant whose `spec.namespaces` lists `namespace`. When several claim it, the
/// earliest (by creation time, then name) owns it and the later ones are not honoured for it,
/// so that a new Tenant cannot take over another's namespace by naming it.
pub fn owner(tenants: &[Arc<Tenant>], namespace: &str) -> Owner {
    tenants
        .iter()
        .filter(|t| t.spec.namespaces.iter().any(|n| n == namespace))
        .min_by_key(|t| {
            (
                t.metadata.creation_timestamp.clone().map(|c| c.0),
                t.metadata.name.clone(),
            )
        })
        .map_or(Owner::None, |t| Owner::Tenant(t.clone()))
}

/// Checks that an operator tenant asks for no vendor-only feature. `features` are the
/// vendor-only features the object uses, in words (e.g. `antivirus DeepSecurity`). Returns the
/// message of the refusal, naming the features and the tenant.
pub fn vendor_only(tenant: &Tenant, features: &[&str]) -> Result<(), String> {
    if tenant.spec.tenant_type == TenantType::Vendor || features.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} {} only available to vendor tenants; tenant {} is an Operator tenant",
        features.join(" and "),
        if features.len() == 1 { "is" } else { "are" },
        tenant.metadata.name.as_deref().unwrap_or("?"),
    ))
}

/// A MaintenanceWindow's start and end.
fn bounds(w: &MaintenanceWindow) -> Option<(Timestamp, Timestamp)> {
    Some((w.spec.start.parse().ok()?, w.spec.end.parse().ok()?))
}

fn covers(w: &MaintenanceWindow, tenant: &str) -> bool {
    w.spec.stops_servers
        && (w.spec.scope.all_tenants || w.spec.scope.tenants.iter().any(|t| t == tenant))
}

/// The window that stops servers of `tenant` and is open at `now`, if any.
pub fn open_window<'a>(
    windows: &'a [Arc<MaintenanceWindow>],
    tenant: &str,
    now: Timestamp,
) -> Option<&'a MaintenanceWindow> {
    windows
        .iter()
        .map(AsRef::as_ref)
        .filter(|w| covers(w, tenant))
        .find(|w| bounds(w).is_some_and(|(start, end)| start <= now && now < end))
}

/// The start of the next window that stops servers of `tenant`, after `now`.
pub fn next_window_start(
    windows: &[Arc<MaintenanceWindow>],
    tenant: &str,
    now: Timestamp,
) -> Option<Timestamp> {
    windows
        .iter()
        .filter(|w| covers(w, tenant))
        .filter_map(|w| bounds(w).map(|(start, _)| start))
        .filter(|start| *start > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use suido_api::v1alpha1::*;

    fn tenant(name: &str, t: TenantType, namespaces: &[&str]) -> Arc<Tenant> {
        let mut tn = Tenant::new(
            name,
            TenantSpec {
                tenant_type: t,
                utility: "Kawasemi".into(),
                environment: Environment::Production,
                namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
                contacts: Contacts {
                    severe: vec![],
                    minor: vec![],
                },
            },
        );
        tn.metadata.name = Some(name.into());
        Arc::new(tn)
    }

    fn window(
        name: &str,
        start: &str,
        end: &str,
        scope: MaintenanceScope,
        stops: bool,
    ) -> Arc<MaintenanceWindow> {
        Arc::new(MaintenanceWindow::new(
            name,
            MaintenanceWindowSpec {
                start: start.into(),
                end: end.into(),
                announced_at: None,
                scope,
                stops_servers: stops,
                description: None,
            },
        ))
    }

    #[test]
    fn a_namespace_has_one_owner_none_or_a_conflict() {
        let ts = vec![
            tenant("water", TenantType::Operator, &["ops"]),
            tenant("vendor", TenantType::Vendor, &["billing", "shared"]),
            tenant("other", TenantType::Vendor, &["shared"]),
        ];
        assert!(
            matches!(owner(&ts, "ops"), Owner::Tenant(t) if t.metadata.name.as_deref() == Some("water"))
        );
        assert!(matches!(owner(&ts, "nobody"), Owner::None));
        // Without creation times the name decides; with them, the earlier claim wins.
        assert!(
            matches!(owner(&ts, "shared"), Owner::Tenant(t) if t.metadata.name.as_deref() == Some("other"))
        );
        let mut late = (*ts[2]).clone();
        late.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-12-02T00:00:00Z".parse().unwrap(),
            ));
        let mut early = (*ts[1]).clone();
        early.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                "2026-12-01T00:00:00Z".parse().unwrap(),
            ));
        let dated = vec![Arc::new(late), Arc::new(early)];
        assert!(
            matches!(owner(&dated, "shared"), Owner::Tenant(t) if t.metadata.name.as_deref() == Some("vendor"))
        );
    }

    #[test]
    fn vendor_only_features_are_refused_in_operator_tenants() {
        let op = tenant("water", TenantType::Operator, &["ops"]);
        let vendor = tenant("vendor", TenantType::Vendor, &["billing"]);
        assert!(vendor_only(&vendor, &["antivirus DeepSecurity"]).is_ok());
        assert!(vendor_only(&op, &[]).is_ok());
        assert_eq!(
            vendor_only(&op, &["antivirus DeepSecurity", "the management console"]).unwrap_err(),
            "antivirus DeepSecurity and the management console are only available to vendor tenants; tenant water is an Operator tenant"
        );
    }

    #[test]
    fn only_open_server_stopping_windows_for_the_tenant_count() {
        let all = MaintenanceScope {
            all_tenants: true,
            tenants: vec![],
        };
        let some = MaintenanceScope {
            all_tenants: false,
            tenants: vec!["vendor".into()],
        };
        let ws = vec![
            window(
                "a",
                "2026-12-13T01:00:00+09:00",
                "2026-12-13T05:00:00+09:00",
                all.clone(),
                true,
            ),
            window(
                "b",
                "2026-12-20T01:00:00+09:00",
                "2026-12-20T02:00:00+09:00",
                some,
                true,
            ),
            window(
                "c",
                "2026-12-01T00:00:00Z",
                "2026-12-31T00:00:00Z",
                all,
                false,
            ),
        ];
        let inside: Timestamp = "2026-12-12T17:30:00Z".parse().unwrap();
        assert_eq!(
            open_window(&ws, "water", inside).map(|w| w.spec.start.as_str()),
            Some("2026-12-13T01:00:00+09:00")
        );
        let before: Timestamp = "2026-12-10T00:00:00Z".parse().unwrap();
        assert!(
            open_window(&ws, "water", before).is_none(),
            "c does not stop servers"
        );
        assert_eq!(next_window_start(&ws, "water", inside), None);
        assert_eq!(
            next_window_start(&ws, "vendor", inside),
            Some("2026-12-19T16:00:00Z".parse().unwrap())
        );
    }
}
