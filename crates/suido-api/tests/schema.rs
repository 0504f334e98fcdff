//! The generated CRDs carry the platform's menus (SERVICES.md tables 2-2 to 2-15) and rules, with
//! nothing invented and nothing missing.

#![allow(clippy::unwrap_used)] // a test file: a failed unwrap is a failed test

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::{Value, json};
use suido_api::v1alpha1::*;

fn schema(crd: &CustomResourceDefinition) -> Value {
    let v = serde_json::to_value(crd).unwrap();
    v["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn at<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| {
        if *k == "[]" {
            &v["items"]
        } else {
            &v["properties"][*k]
        }
    })
}

fn rules(v: &Value) -> Vec<String> {
    v["x-kubernetes-validations"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| r["rule"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn there_are_twelve_kinds_with_short_names_category_status_and_columns() {
    let crds = crds();
    let expected = [
        ("Tenant", "tn", "Cluster"),
        ("MaintenanceWindow", "mw", "Cluster"),
        ("VirtualServer", "vs", "Namespaced"),
        ("BlockVolume", "bv", "Namespaced"),
        ("LoadBalancer", "lb", "Namespaced"),
        ("WafInstance", "waf", "Namespaced"),
        ("BackupPolicy", "bkp", "Namespaced"),
        ("ServerSnapshot", "snap", "Namespaced"),
        ("ServerRestore", "rst", "Namespaced"),
        ("SmtpRelay", "smtp", "Namespaced"),
        ("IntrusionPrevention", "ips", "Namespaced"),
        ("ServiceLevelReport", "slr", "Namespaced"),
    ];
    assert_eq!(crds.len(), expected.len());
    for (crd, (kind, short, scope)) in crds.iter().zip(expected) {
        assert_eq!(crd.spec.group, "infra.suido.dev");
        assert_eq!(crd.spec.names.kind, kind);
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_owned()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["suido".to_owned()][..])
        );
        assert_eq!(crd.spec.scope, scope);
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(
            version.subresources.as_ref().unwrap().status.is_some(),
            "{kind} has status"
        );
        let columns = version.additional_printer_columns.as_ref().unwrap();
        assert!(columns.len() >= 4, "{kind} has printer columns");
        assert!(columns.iter().any(|c| c.name == "Age"));
    }
}

#[test]
fn every_field_has_a_description() {
    fn walk(v: &Value, path: &str, missing: &mut Vec<String>) {
        if let Some(props) = v["properties"].as_object() {
            for (k, p) in props {
                let here = format!("{path}.{k}");
                let skip =
                    path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&k.as_str());
                if !skip && p["description"].as_str().is_none_or(str::is_empty) {
                    missing.push(here.clone());
                }
                walk(p, &here, missing);
            }
        }
        if v["items"].is_object() {
            walk(&v["items"], &format!("{path}[]"), missing);
        }
    }
    let mut missing = vec![];
    for crd in crds() {
        walk(&schema(&crd), &crd.spec.names.kind, &mut missing);
    }
    assert!(
        missing.is_empty(),
        "fields without a description: {missing:?}"
    );
}

#[test]
fn server_menu_has_the_21_sizes_of_table_2_2() {
    let size = at(&schema(&VirtualServer::crd()), &["spec", "size"]).clone();
    let sizes: Vec<&str> = size["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        sizes,
        [
            "1CPU-2GB",
            "1CPU-4GB",
            "1CPU-8GB",
            "1CPU-16GB",
            "2CPU-4GB",
            "2CPU-8GB",
            "2CPU-16GB",
            "2CPU-32GB",
            "4CPU-8GB",
            "4CPU-16GB",
            "4CPU-32GB",
            "4CPU-64GB",
            "8CPU-16GB",
            "8CPU-32GB",
            "8CPU-64GB",
            "8CPU-128GB",
            "16CPU-32GB",
            "16CPU-64GB",
            "16CPU-128GB",
            "32CPU-64GB",
            "32CPU-128GB"
        ]
    );
    for s in ServerSize::ALL {
        assert_eq!(format!("{}CPU-{}GB", s.cpus(), s.memory_gb()), s.as_str());
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
}

#[test]
fn the_other_menus_match_the_specification() {
    let vs = schema(&VirtualServer::crd());
    assert_eq!(
        at(&vs, &["spec", "disks", "[]", "sizeGb"])["enum"],
        json!([40, 80, 100, 300, 500, 1000, 2000, 3000, 4000])
    );
    assert_eq!(
        at(&vs, &["spec", "rdsLicenses"])["enum"],
        json!([10, 30, 50, 100])
    );
    assert_eq!(
        at(&vs, &["spec", "os"])["enum"],
        json!(["RockyLinux", "RHEL", "WindowsServer"])
    );
    assert_eq!(at(&vs, &["spec", "os"])["default"], json!("RockyLinux"));
    assert_eq!(
        at(&vs, &["spec", "packages", "[]"])["enum"],
        json!(["SQLServer", "OracleSE", "OracleEE"])
    );
    assert_eq!(
        at(&vs, &["spec", "antivirus"])["enum"],
        json!(["None", "DeepSecurity", "FSecure"])
    );
    assert_eq!(
        at(&vs, &["spec", "powerState"])["enum"],
        json!(["Running", "Stopped"])
    );
    assert_eq!(
        at(&vs, &["spec", "monitoring", "icmp", "severity"])["enum"],
        json!(["Severe", "Minor"])
    );

    let bv = schema(&BlockVolume::crd());
    assert_eq!(
        at(&bv, &["spec", "plan"])["enum"],
        json!(["2IOPS/GB", "4IOPS/GB"])
    );
    assert_eq!(
        at(&bv, &["spec", "sizeGb"])["enum"],
        json!([100, 250, 500, 1000, 2000, 4000, 8000, 12000])
    );
    assert_eq!(BLOCK_VOLUME_SIZES_GB.len(), 8);
    assert_eq!(DATA_DISK_SIZES_GB.len(), 9);

    let lb = schema(&LoadBalancer::crd());
    assert_eq!(
        at(&lb, &["spec", "throughputMbps"])["enum"],
        json!([50, 200, 1000])
    );
    assert_eq!(
        at(&lb, &["spec", "topology"])["enum"],
        json!(["Single", "Redundant"])
    );

    let waf = schema(&WafInstance::crd());
    assert_eq!(
        at(&waf, &["spec", "plan"])["enum"],
        json!(["2CPU-4GB", "4CPU-6GB"])
    );
    let functions = at(&waf, &["spec", "functions"])["properties"]
        .as_object()
        .unwrap();
    let mut names: Vec<&str> = functions.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "antivirus",
            "dosProtection",
            "ipAccessControl",
            "ipReputation",
            "signatureInspection"
        ]
    );

    let tn = schema(&Tenant::crd());
    assert_eq!(
        at(&tn, &["spec", "type"])["enum"],
        json!(["Operator", "Vendor"])
    );
    assert_eq!(
        at(&tn, &["spec", "environment"])["enum"],
        json!(["Production", "Development", "Evaluation"])
    );
}

#[test]
fn immutable_grow_only_and_windows_only_rules_are_cel() {
    let vs = schema(&VirtualServer::crd());
    let spec_rules = rules(at(&vs, &["spec"]));
    assert!(
        spec_rules
            .iter()
            .any(|r| r.contains("self.osDiskGb == oldSelf.osDiskGb")),
        "OS disk immutable"
    );
    assert!(
        spec_rules.iter().any(|r| r.contains("self.osDiskGb >=")),
        "OS disk only larger"
    );
    assert!(
        spec_rules
            .iter()
            .any(|r| r.contains("self.rdsLicenses == oldSelf.rdsLicenses")),
        "RDS immutable"
    );
    assert!(
        spec_rules
            .iter()
            .any(|r| r.contains("rdsLicenses") && r.contains("'WindowsServer'")),
        "RDS Windows only"
    );
    assert_eq!(rules(at(&vs, &["spec", "packages"])), ["self == oldSelf"]);
    assert_eq!(rules(at(&vs, &["spec", "os"])), ["self == oldSelf"]);
    assert_eq!(
        rules(at(&vs, &["spec", "disks", "[]"])),
        ["self.sizeGb >= oldSelf.sizeGb"]
    );
    assert_eq!(at(&vs, &["spec", "disks"])["x-kubernetes-list-type"], "map");

    let bv = schema(&BlockVolume::crd());
    assert_eq!(rules(at(&bv, &["spec", "sizeGb"])), ["self >= oldSelf"]);

    // The CRD cannot see the tenant: the schema says where the vendor-only rule is enforced.
    let antivirus = at(&vs, &["spec", "antivirus"])["description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(antivirus.contains("vendor tenants only") && antivirus.contains("controller"));

    let rst = schema(&ServerRestore::crd());
    assert!(
        rules(at(&rst, &["spec"]))
            .iter()
            .any(|r| r.contains("confirmServerReplacement == self.serverName"))
    );
}

#[test]
fn managed_kinds_carry_deletion_management_and_pause_fields() {
    let managed = [
        VirtualServer::crd(),
        BlockVolume::crd(),
        LoadBalancer::crd(),
        WafInstance::crd(),
        BackupPolicy::crd(),
        ServerSnapshot::crd(),
        SmtpRelay::crd(),
        IntrusionPrevention::crd(),
    ];
    for crd in managed {
        let s = schema(&crd);
        let spec = at(&s, &["spec"]);
        assert_eq!(
            spec["properties"]["deletionPolicy"]["enum"],
            json!(["Delete", "Orphan"])
        );
        assert_eq!(
            spec["properties"]["managementPolicy"]["enum"],
            json!(["Manage", "ObserveOnly"])
        );
        assert_eq!(spec["properties"]["paused"]["type"], "boolean");
        assert_eq!(spec["properties"]["externalId"]["type"], "string");
        let status = at(&s, &["status"]);
        for field in ["observedGeneration", "conditions", "externalId", "phase"] {
            assert!(
                status["properties"][field].is_object(),
                "{} status.{field}",
                crd.spec.names.kind
            );
        }
        assert_eq!(
            status["properties"]["conditions"]["x-kubernetes-list-map-keys"],
            json!(["type"])
        );
    }
}
