//! Validation ratcheting on update (CRDValidationRatcheting, on by default since
//! Kubernetes 1.30): values unchanged from the stored object are not refused again.

use serde_json::{Value, json};
use suido_admission::Validator;

fn validator() -> Validator {
    Validator::new(&json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "string", "enum": ["S", "M"]},
        "name": {"type": "string", "x-kubernetes-validations": [{"rule": "self.size() <= 3", "message": "name too long"}]},
        "zones": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
        "replicas": {"type": "integer"},
        "disk": {"type": "integer", "x-kubernetes-validations": [{"rule": "self >= oldSelf", "message": "may only grow"}]}
    }}}}))
    .expect("schema compiles")
}

fn texts(new: Value, old: Option<Value>) -> Vec<String> {
    let old = old.map(|s| json!({"spec": s}));
    validator()
        .validate(&json!({"spec": new}), old.as_ref())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn unchanged_invalid_values_pass_on_update_only() {
    // Stored under an older, looser schema.
    let stored = json!({"size": "XL", "name": "toolong", "zones": ["EU"], "replicas": 1});
    assert_eq!(texts(stored.clone(), None).len(), 3);
    let mut update = stored.clone();
    update["replicas"] = json!(2);
    assert!(texts(update, Some(stored.clone())).is_empty());
}

#[test]
fn changed_values_are_validated() {
    let stored = json!({"size": "XL", "name": "toolong", "zones": ["EU"]});
    assert_eq!(
        texts(
            json!({"size": "XXL", "name": "toolong2", "zones": ["EU", "US"]}),
            Some(stored)
        ),
        [
            "spec.size: Unsupported value: \"XXL\": supported values: \"S\", \"M\"",
            "spec.zones[0]: Invalid value: \"EU\": spec.zones[0] in body should match '^[a-z]+$'",
            "spec.zones[1]: Invalid value: \"US\": spec.zones[1] in body should match '^[a-z]+$'",
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ]
    );
    assert_eq!(
        texts(
            json!({"name": "toolong2"}),
            Some(json!({"name": "toolong"}))
        ),
        ["spec.name: Invalid value: \"toolong2\": name too long"]
    );
}

#[test]
fn transition_rules_are_never_ratcheted() {
    assert_eq!(
        texts(
            json!({"disk": 10, "replicas": 2}),
            Some(json!({"disk": 20, "replicas": 1}))
        ),
        ["spec.disk: Invalid value: 10: may only grow"]
    );
}
