//! Throughput of `Validator::admit`: 10,000 VirtualServer objects on create and on
//! update (transition rules evaluated), using the project CRD and example when present.
//!
//! Run with `cargo bench -p suido-admission --bench admit`.

use serde::Deserialize;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;
use suido_admission::Validator;

fn load() -> Option<(Validator, Value)> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let crd_text =
        std::fs::read_to_string(repo.join("crds/virtualservers.infra.suido.dev.yaml")).ok()?;
    let crd: Value = serde_yaml::from_str(&crd_text).ok()?;
    let validator =
        Validator::new(&crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]).ok()?;
    let examples = std::fs::read_to_string(repo.join("examples/10-vendor-servers.yaml")).ok()?;
    let obj = serde_yaml::Deserializer::from_str(&examples)
        .filter_map(|d| Value::deserialize(d).ok())
        .find(|v| v["kind"] == "VirtualServer")?;
    Some((validator, obj))
}

fn fallback() -> (Validator, Value) {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
        "size": {"type": "string", "enum": ["1CPU-2GB", "2CPU-8GB"]},
        "osDiskGb": {"type": "integer", "default": 40, "x-kubernetes-validations": [{"rule": "self >= oldSelf"}]},
        "disks": {"type": "array", "items": {"type": "object", "properties": {"sizeGb": {"type": "integer", "minimum": 10}}}}
    }}}});
    let obj = json!({"apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer", "metadata": {"name": "a"},
        "spec": {"size": "2CPU-8GB", "disks": [{"sizeGb": 100}]}});
    (Validator::new(&schema).expect("schema compiles"), obj)
}

fn main() {
    let (validator, obj) = load().unwrap_or_else(fallback);
    let n = 10_000;
    let mut stored = obj.clone();
    validator
        .admit(&mut stored, None)
        .expect("example is valid");

    let start = Instant::now();
    for _ in 0..n {
        let mut o = obj.clone();
        validator.admit(&mut o, None).expect("valid");
    }
    let create = start.elapsed();

    let start = Instant::now();
    for _ in 0..n {
        let mut o = obj.clone();
        validator.admit(&mut o, Some(&stored)).expect("valid");
    }
    let update = start.elapsed();

    println!(
        "admit x{n}: create {:?} ({:.1} us/object), update {:?} ({:.1} us/object)",
        create,
        create.as_secs_f64() * 1e6 / n as f64,
        update,
        update.as_secs_f64() * 1e6 / n as f64
    );
}
