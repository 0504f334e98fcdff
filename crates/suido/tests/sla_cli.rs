//! `suido sla evaluate` against the example ledger and its expected reports in
//! `examples/sla/`, plus the CLI's handling of bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

const NOW: &str = "2026-11-02T09:00:00+09:00";

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/sla")
        .join(name)
}

fn suido(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_suido"))
        .args(args)
        .output()
        .expect("run suido")
}

fn evaluate(month: &str, extra: &[&str]) -> Output {
    let ledger = example("ledger.json");
    let ledger = ledger.to_str().expect("utf-8 path");
    let mut args = vec![
        "sla", "evaluate", "--month", month, "--ledger", ledger, "--now", NOW,
    ];
    args.extend_from_slice(extra);
    suido(&args)
}

fn stdout_json(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "suido failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("report is JSON")
}

fn expected_json(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(example(name)).expect("expected report");
    serde_json::from_str(&text).expect("expected report is JSON")
}

fn server<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tenants"]
        .as_array()
        .expect("tenants")
        .iter()
        .flat_map(|t| t["servers"].as_array().expect("servers"))
        .find(|s| s["server"] == name)
        .unwrap_or_else(|| panic!("server {name}"))
}

#[test]
fn october_json_matches_the_expected_report() {
    let report = stdout_json(&evaluate("2026-10", &[]));
    assert_eq!(report, expected_json("report-2026-10.json"));
    // The figures that matter, spelled out.
    assert_eq!(report["days"], 31);
    assert_eq!(report["complete"], true);
    let app = server(&report, "vm-app-01");
    assert_eq!(app["countedDowntime"]["ms"], 3_600_000);
    assert_eq!(app["availability"]["percent"], "99.8655");
    assert_eq!(app["refund"]["percent"], 1);
    let web = server(&report, "vm-web-01");
    assert_eq!(web["countedDowntime"]["human"], "20m");
    assert_eq!(web["refund"]["percent"], 0);
    let db = server(&report, "vm-db-01");
    assert_eq!(db["countedDowntime"]["ms"], 25 * 60_000);
    assert_eq!(db["refund"]["percent"], 1);
    assert_eq!(server(&report, "vm-dev-01")["excluded"][0]["item"], 8);
}

#[test]
fn october_table_matches_the_expected_text() {
    let output = evaluate("2026-10", &["--format", "table"]);
    assert!(output.status.success());
    let expected = std::fs::read_to_string(example("report-2026-10.txt")).expect("expected");
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn november_month_to_date_matches_the_expected_report() {
    let report = stdout_json(&evaluate("2026-11", &["--format", "json"]));
    assert_eq!(report, expected_json("report-2026-11.json"));
    assert_eq!(report["complete"], false);
    let batch = server(&report, "vm-batch-01");
    assert_eq!(batch["countedDowntime"]["ms"], 30 * 60_000);
    assert_eq!(batch["outages"][0]["end"], serde_json::Value::Null);
}

#[test]
fn time_zone_decides_the_month_boundary() {
    // INC-2240 runs 23:40 to 00:25 JST across the month boundary; in UTC it
    // lies wholly in October.
    let report = stdout_json(&evaluate("2026-10", &["--tz", "UTC"]));
    assert_eq!(report["timeZone"], "UTC");
    assert_eq!(report["start"], "2026-10-01T00:00:00+00:00");
    assert_eq!(
        server(&report, "vm-db-01")["countedDowntime"]["ms"],
        50 * 60_000
    );
}

#[test]
fn bad_month_is_refused_with_the_format() {
    let ledger = example("ledger.json");
    let output = suido(&[
        "sla",
        "evaluate",
        "--month",
        "2026-13",
        "--ledger",
        ledger.to_str().expect("utf-8 path"),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--month"), "{stderr}");
    assert!(stderr.contains("YYYY-MM"), "{stderr}");
}

#[test]
fn bad_ledger_names_the_field_and_allowed_values() {
    let path = std::env::temp_dir().join(format!("suido-sla-bad-{}.json", std::process::id()));
    std::fs::write(
        &path,
        r#"{"outages": [{"server": "vm", "tenant": "t", "environment": "production",
            "start": "2026-10-01T00:00:00+09:00", "cause": "power"}]}"#,
    )
    .expect("write temp ledger");
    let output = suido(&[
        "sla",
        "evaluate",
        "--month",
        "2026-10",
        "--ledger",
        path.to_str().expect("utf-8 path"),
        "--now",
        NOW,
    ]);
    let _ = std::fs::remove_file(&path);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("outages[0].cause"), "{stderr}");
    assert!(stderr.contains("hostOrHypervisorFault"), "{stderr}");
}
