//! The project's own CRDs (`crds/*.yaml`, generated from suido-api) compile, admit
//! every valid example and refuse every manifest in `examples/invalid/`.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use suido_admission::{Validator, strict_decoding_message};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).expect("readable yaml");
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("valid yaml"))
        .filter(|v| !v.is_null())
        .collect()
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// Validators by (`group/version`, kind).
fn validators() -> BTreeMap<(String, String), Validator> {
    let mut out = BTreeMap::new();
    for file in yaml_files(&repo().join("crds")) {
        for crd in yaml_docs(&file) {
            let group = crd["spec"]["group"].as_str().expect("group").to_string();
            let kind = crd["spec"]["names"]["kind"]
                .as_str()
                .expect("kind")
                .to_string();
            for version in crd["spec"]["versions"].as_array().expect("versions") {
                let name = version["name"].as_str().expect("version name");
                let schema = &version["schema"]["openAPIV3Schema"];
                let v = Validator::new(schema)
                    .unwrap_or_else(|e| panic!("{}: {kind} {name}: {e}", file.display()));
                out.insert((format!("{group}/{name}"), kind.clone()), v);
            }
        }
    }
    out
}

fn key(obj: &Value) -> (String, String) {
    (
        obj["apiVersion"].as_str().unwrap_or_default().to_string(),
        obj["kind"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn every_crd_schema_compiles() {
    let v = validators();
    let crd_files = yaml_files(&repo().join("crds")).len();
    assert!(v.len() >= crd_files, "one validator per CRD version");
}

#[test]
fn valid_examples_are_admitted() {
    let validators = validators();
    let mut admitted = 0;
    let dirs = [repo().join("examples"), repo().join("examples/operations")];
    for file in dirs.iter().flat_map(|d| yaml_files(d)) {
        for mut obj in yaml_docs(&file) {
            let Some(v) = validators.get(&key(&obj)) else {
                continue;
            };
            let unknown = v.unknown_fields(&obj);
            assert!(
                unknown.is_empty(),
                "{}: unknown fields {unknown:?}",
                file.display()
            );
            if let Err(errs) = v.admit(&mut obj, None) {
                let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
                panic!(
                    "{} {}/{}: {msgs:#?}",
                    file.display(),
                    obj["kind"],
                    obj["metadata"]["name"]
                );
            }
            admitted += 1;
        }
    }
    if !validators.is_empty() {
        assert!(admitted > 0, "some examples have a CRD");
    }
}

/// The `# field:` line of an invalid manifest.
fn expected_field(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("# field:").map(|f| f.trim().to_string()))
}

#[test]
fn invalid_examples_are_refused() {
    let validators = validators();
    let mut failures = Vec::new();
    let mut checked = 0;
    for file in yaml_files(&repo().join("examples/invalid")) {
        let docs = yaml_docs(&file);
        let Some(v) = docs.first().and_then(|d| validators.get(&key(d))) else {
            continue;
        };
        checked += 1;
        let (mut obj, old) = match docs.as_slice() {
            [single] => (single.clone(), None),
            [first, second, ..] => {
                let mut old = first.clone();
                if let Err(errs) = v.admit(&mut old, None) {
                    failures.push(format!(
                        "{}: first document refused: {errs:?}",
                        file.display()
                    ));
                    continue;
                }
                (second.clone(), Some(old))
            }
            [] => continue,
        };
        // kubectl apply asks for fieldValidation=Strict: unknown fields are refused too.
        let unknown = v.unknown_fields(&obj);
        let mut msgs: Vec<String> = Vec::new();
        if !unknown.is_empty() {
            msgs.push(strict_decoding_message(&unknown));
        }
        if let Err(errs) = v.admit(&mut obj, old.as_ref()) {
            msgs.extend(errs.iter().map(ToString::to_string));
        }
        if msgs.is_empty() {
            failures.push(format!("{}: admitted", file.display()));
        } else if let Some(field) = expected_field(&file)
            && !msgs.iter().any(|m| m.contains(&field))
        {
            failures.push(format!(
                "{}: errors do not mention {field}: {msgs:?}",
                file.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    if !validators.is_empty() {
        assert!(checked > 0);
    }
}
