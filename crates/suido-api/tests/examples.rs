//! Every valid manifest under `examples/` deserializes into its Rust type, and nothing in it is
//! unknown to that type (a typo would otherwise be dropped silently).

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use suido_api::v1alpha1::*;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| {
            let v = serde_yaml::Value::deserialize(doc).unwrap();
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

/// `part` is contained in `whole`: every key of every object in `part` is in `whole` with a
/// contained value. Numbers compare by value.
fn contained(part: &Value, whole: &Value, path: &str) -> Result<(), String> {
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => {
            for (k, pv) in p {
                let wv = w
                    .get(k)
                    .ok_or_else(|| format!("{path}.{k} is not a field of the type"))?;
                contained(pv, wv, &format!("{path}.{k}"))?;
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(w)) if p.len() == w.len() => {
            for (i, (pv, wv)) in p.iter().zip(w).enumerate() {
                contained(pv, wv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (Value::Number(p), Value::Number(w)) if p.as_f64() == w.as_f64() => Ok(()),
        _ if part == whole => Ok(()),
        _ => Err(format!("{path}: {part} became {whole}")),
    }
}

fn round_trip<K: DeserializeOwned + Serialize>(doc: &Value) -> Result<(), String> {
    let typed: K = serde_json::from_value(doc.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    contained(&doc["spec"], &back["spec"], "spec")
}

fn check(doc: &Value) -> Result<(), String> {
    match doc["kind"].as_str().unwrap_or_default() {
        "VirtualServer" => round_trip::<VirtualServer>(doc),
        "BlockVolume" => round_trip::<BlockVolume>(doc),
        "LoadBalancer" => round_trip::<LoadBalancer>(doc),
        "WafInstance" => round_trip::<WafInstance>(doc),
        "BackupPolicy" => round_trip::<BackupPolicy>(doc),
        "ServerSnapshot" => round_trip::<ServerSnapshot>(doc),
        "ServerRestore" => round_trip::<ServerRestore>(doc),
        "SmtpRelay" => round_trip::<SmtpRelay>(doc),
        "IntrusionPrevention" => round_trip::<IntrusionPrevention>(doc),
        "ServiceLevelReport" => round_trip::<ServiceLevelReport>(doc),
        "Tenant" => round_trip::<Tenant>(doc),
        "MaintenanceWindow" => round_trip::<MaintenanceWindow>(doc),
        other => Err(format!("unexpected kind {other}")),
    }
}

#[test]
fn every_valid_example_deserializes_into_its_type() {
    let mut kinds = std::collections::BTreeSet::new();
    let mut servers = 0;
    for dir in [examples_dir(), examples_dir().join("operations")] {
        for file in yaml_files(&dir) {
            for doc in documents(&file) {
                if doc["apiVersion"] != API_VERSION {
                    continue;
                }
                kinds.insert(doc["kind"].as_str().unwrap().to_owned());
                if let Err(e) = check(&doc) {
                    panic!("{}: {}: {e}", file.display(), doc["metadata"]["name"]);
                }
                servers += usize::from(doc["kind"] == "VirtualServer");
            }
        }
    }
    assert_eq!(kinds.len(), 12, "examples cover every kind: {kinds:?}");
    assert!(servers >= 4);
}

#[test]
fn the_example_setup_is_realistic() {
    let docs: Vec<Value> = yaml_files(&examples_dir())
        .iter()
        .flat_map(|f| documents(f))
        .collect();
    let tenants: Vec<Tenant> = docs
        .iter()
        .filter(|d| d["kind"] == "Tenant")
        .map(|d| serde_json::from_value(d.clone()).unwrap())
        .collect();
    let types: Vec<TenantType> = tenants.iter().map(|t| t.spec.tenant_type).collect();
    assert!(types.contains(&TenantType::Vendor) && types.contains(&TenantType::Operator));
    let namespaces: Vec<&str> = docs
        .iter()
        .filter(|d| d["kind"] == "Namespace")
        .map(|d| d["metadata"]["name"].as_str().unwrap())
        .collect();
    for t in &tenants {
        for ns in &t.spec.namespaces {
            assert!(
                namespaces.contains(&ns.as_str()),
                "namespace {ns} is in examples"
            );
        }
    }
    let servers: Vec<VirtualServer> = docs
        .iter()
        .filter(|d| d["kind"] == "VirtualServer")
        .map(|d| serde_json::from_value(d.clone()).unwrap())
        .collect();
    assert!(
        servers
            .iter()
            .any(|s| s.spec.os != OperatingSystem::WindowsServer)
    );
    assert!(
        servers
            .iter()
            .any(|s| s.spec.os == OperatingSystem::WindowsServer
                && s.spec.packages.contains(&CommercialPackage::SqlServer)
                && s.spec.rds_licenses.is_some())
    );
    let lb: Vec<LoadBalancer> = docs
        .iter()
        .filter(|d| d["kind"] == "LoadBalancer")
        .map(|d| serde_json::from_value(d.clone()).unwrap())
        .collect();
    assert!(
        lb.iter()
            .any(|l| l.spec.topology == LoadBalancerTopology::Redundant
                && l.spec.listeners.iter().any(|x| x.tls.is_some()))
    );
}

#[test]
fn every_invalid_example_says_why_and_names_a_field() {
    let files = yaml_files(&examples_dir().join("invalid"));
    assert!(files.len() >= 30);
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.starts_with("# Refused: "), "{}", file.display());
        let field = text
            .lines()
            .find_map(|l| l.strip_prefix("# field: "))
            .unwrap_or_else(|| panic!("{} has no `# field:` line", file.display()));
        assert!(field.starts_with("spec."), "{}", file.display());
        assert!(!documents(&file).is_empty());
    }
}
