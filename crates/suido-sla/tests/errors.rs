//! Bad input gets an error naming the field and, where the set is closed, the
//! allowed values.

use suido_sla::{Ledger, Month, SlaError, time_zone};

fn ledger_error(json: &str) -> String {
    Ledger::from_json_str(json)
        .expect_err("invalid ledger")
        .to_string()
}

const OUTAGE_OK: &str = r#"{"server": "vm", "tenant": "t", "environment": "production",
    "start": "2026-10-01T10:00:00+09:00", "end": "2026-10-01T11:00:00+09:00",
    "cause": "hostOrHypervisorFault"}"#;

fn with_outage(fields: &str) -> String {
    format!(r#"{{"outages": [{OUTAGE_OK}, {{{fields}}}]}}"#)
}

#[test]
fn a_valid_ledger_parses() {
    let ledger =
        Ledger::from_json_str(&format!(r#"{{"outages": [{OUTAGE_OK}]}}"#)).expect("valid ledger");
    assert_eq!(ledger.outages.len(), 1);
    assert!(ledger.servers.is_empty());
}

#[test]
fn malformed_json() {
    let e = ledger_error(r#"{"outages": [}"#);
    assert!(e.starts_with("ledger "), "{e}");
    assert!(e.contains("line 1"), "{e}");
    let e = ledger_error(r#"{"outages": []} trailing"#);
    assert!(e.contains("trailing"), "{e}");
}

#[test]
fn unknown_cause_lists_the_allowed_causes() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "hostfault""#,
    ));
    assert!(e.contains("outages[1].cause"), "{e}");
    assert!(e.contains("hostfault"), "{e}");
    for cause in suido_sla::Cause::ALL {
        assert!(e.contains(cause.as_str()), "{e} lacks {cause}");
    }
}

#[test]
fn unknown_environment_lists_the_allowed_ones() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "staging",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown""#,
    ));
    assert!(e.contains("outages[1].environment"), "{e}");
    for env in ["production", "development", "evaluation"] {
        assert!(e.contains(env), "{e}");
    }
}

#[test]
fn end_before_start() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "end": "2026-10-01T09:59:59+09:00",
        "cause": "unknown""#,
    ));
    assert!(e.starts_with("ledger outages[1].end:"), "{e}");
    assert!(e.contains("before start"), "{e}");

    let e = ledger_error(
        r#"{"maintenanceWindows": [{"id": "mw", "start": "2026-10-02T00:00:00Z",
        "end": "2026-10-01T00:00:00Z", "announcedAt": null}]}"#,
    );
    assert!(e.starts_with("ledger maintenanceWindows[0].end:"), "{e}");
}

#[test]
fn malformed_time_names_the_field() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01 10:00", "cause": "unknown""#,
    ));
    assert!(e.contains("outages[1].start"), "{e}");
    // A time without an offset is ambiguous and refused.
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00", "cause": "unknown""#,
    ));
    assert!(e.contains("outages[1].start"), "{e}");
}

#[test]
fn missing_and_unknown_fields() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production", "cause": "unknown""#,
    ));
    assert!(e.contains("outages[1]") && e.contains("start"), "{e}");
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown", "window": "mw""#,
    ));
    assert!(e.contains("unknown field `window`"), "{e}");
    assert!(e.contains("maintenanceWindow"), "{e}");
}

#[test]
fn tenant_and_environment_required_for_unlisted_servers() {
    let e = ledger_error(&with_outage(
        r#""server": "vm2", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown""#,
    ));
    assert!(e.starts_with("ledger outages[1].tenant:"), "{e}");
    let e = ledger_error(&with_outage(
        r#""server": "vm2", "tenant": "t",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown""#,
    ));
    assert!(e.starts_with("ledger outages[1].environment:"), "{e}");
    assert!(e.contains("production, development, evaluation"), "{e}");
}

#[test]
fn a_server_belongs_to_one_tenant() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "other", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown""#,
    ));
    assert!(e.starts_with("ledger outages[1].tenant:"), "{e}");
    assert!(e.contains("conflicts"), "{e}");
}

#[test]
fn maintenance_window_references() {
    let e = ledger_error(&with_outage(
        r#""server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "announcedMaintenance",
        "maintenanceWindow": "mw-9""#,
    ));
    assert!(e.starts_with("ledger outages[1].maintenanceWindow:"), "{e}");
    assert!(e.contains("mw-9"), "{e}");
    let json = r#"{"maintenanceWindows": [{"id": "mw", "start": "2026-10-01T00:00:00Z",
        "end": "2026-10-01T02:00:00Z", "announcedAt": "2026-09-01T00:00:00Z"}],
        "outages": [{"server": "vm", "tenant": "t", "environment": "production",
        "start": "2026-10-01T00:00:00Z", "cause": "hostOrHypervisorFault",
        "maintenanceWindow": "mw"}]}"#;
    let e = ledger_error(json);
    assert!(e.starts_with("ledger outages[0].maintenanceWindow:"), "{e}");
    assert!(e.contains("announcedMaintenance"), "{e}");
}

#[test]
fn duplicates_and_empty_names() {
    let e = ledger_error(
        r#"{"servers": [{"name": "a", "tenant": "t", "environment": "production"},
        {"name": "a", "tenant": "t", "environment": "production"}]}"#,
    );
    assert!(e.starts_with("ledger servers[1].name:"), "{e}");
    let e = ledger_error(&with_outage(
        r#""server": " ", "tenant": "t", "environment": "production",
        "start": "2026-10-01T10:00:00+09:00", "cause": "unknown""#,
    ));
    assert!(e.starts_with("ledger outages[1].server:"), "{e}");
}

#[test]
fn bad_months() {
    for bad in [
        "2026-13",
        "2026-00",
        "2026-1",
        "26-10",
        "2026/10",
        "2026-10-01",
        "",
        "0000-01",
        "２０２６-10",
    ] {
        let e = bad.parse::<Month>().expect_err(bad);
        assert!(matches!(e, SlaError::InvalidMonth(_)), "{bad}");
        let text = e.to_string();
        assert!(text.starts_with("month: expected YYYY-MM"), "{text}");
        assert!(text.contains(&format!("'{bad}'")), "{text}");
    }
    let m: Month = "2028-02".parse().expect("valid");
    assert_eq!((m.year(), m.month(), m.days()), (2028, 2, 29));
    assert_eq!(m.to_string(), "2028-02");
    assert_eq!(
        "2026-12"
            .parse::<Month>()
            .expect("valid")
            .next()
            .expect("next")
            .to_string(),
        "2027-01"
    );
}

#[test]
fn unknown_time_zone() {
    let e = time_zone("Asia/Tokio").expect_err("unknown").to_string();
    assert!(e.contains("Asia/Tokio") && e.contains("IANA"), "{e}");
    assert!(time_zone("asia/tokyo").is_ok());
}
