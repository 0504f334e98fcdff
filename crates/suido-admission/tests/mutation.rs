//! Pruning of unknown fields and defaulting, as the apiserver applies them before
//! validation.

use serde_json::{Value, json};
use suido_admission::{Validator, strict_decoding_message};

fn validator(schema: Value) -> Validator {
    Validator::new(&schema).expect("schema compiles")
}

#[test]
fn prune_drops_undeclared_fields_but_keeps_type_meta() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "size": {"type": "string"},
            "disks": {"type": "array", "items": {"type": "object", "properties": {"sizeGb": {"type": "integer"}}}}
        }}}}),
    );
    let mut obj = json!({
        "apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
        "metadata": {"name": "web-1", "labels": {"a": "b"}, "whatever": 1},
        "spec": {"size": "1CPU-2GB", "colour": "blue", "disks": [{"sizeGb": 40, "tier": "gold"}]},
        "status": {"phase": "Ready"},
        "extra": true
    });
    let pruned = v.prune_reporting(&mut obj);
    assert_eq!(
        obj,
        json!({
            "apiVersion": "infra.suido.dev/v1alpha1", "kind": "VirtualServer",
            "metadata": {"name": "web-1", "labels": {"a": "b"}, "whatever": 1},
            "spec": {"size": "1CPU-2GB", "disks": [{"sizeGb": 40}]}
        })
    );
    let mut sorted = pruned.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["extra", "spec.colour", "spec.disks[0].tier", "status"]
    );
    assert_eq!(
        strict_decoding_message(&["spec.colour".to_string(), "status".to_string()]),
        "strict decoding error: unknown field \"spec.colour\", unknown field \"status\""
    );
}

#[test]
fn unknown_fields_does_not_mutate() {
    let v = validator(json!({"type": "object", "properties": {"spec": {"type": "object"}}}));
    let obj = json!({"spec": {}, "x": 1});
    assert_eq!(v.unknown_fields(&obj), ["x"]);
    assert_eq!(obj, json!({"spec": {}, "x": 1}));
}

#[test]
fn preserve_unknown_fields_keeps_everything_below() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "partial": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
                "known": {"type": "object", "properties": {"a": {"type": "string"}}}
            }}
        }}}}),
    );
    let mut obj = json!({"spec": {
        "config": {"anything": {"deep": [1, 2]}},
        "partial": {"free": 1, "known": {"a": "x", "b": "pruned"}}
    }});
    v.prune(&mut obj);
    assert_eq!(
        obj,
        json!({"spec": {
            "config": {"anything": {"deep": [1, 2]}},
            "partial": {"free": 1, "known": {"a": "x"}}
        }})
    );
}

#[test]
fn additional_properties_prune_inside_values() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "pools": {"type": "object", "additionalProperties": {"type": "object", "properties": {"size": {"type": "integer"}}}}
        }}}}),
    );
    let mut obj = json!({"spec": {"pools": {"a": {"size": 1, "junk": 2}, "b": {}}}});
    v.prune(&mut obj);
    assert_eq!(obj, json!({"spec": {"pools": {"a": {"size": 1}, "b": {}}}}));
}

#[test]
fn embedded_resources_keep_type_meta() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {
                "spec": {"type": "object", "properties": {"image": {"type": "string"}}}
            }}
        }}}}),
    );
    let mut obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"image": "nginx", "junk": 1}, "junk": 2}}});
    v.prune(&mut obj);
    assert_eq!(
        obj,
        json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"image": "nginx"}}}})
    );
}

#[test]
fn defaults_fill_absent_fields_recursively() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "default": {}, "properties": {
            "antivirus": {"type": "string", "default": "None"},
            "console": {"type": "boolean", "default": false},
            "monitoring": {"type": "object", "default": {}, "properties": {
                "icmp": {"type": "object", "default": {}, "properties": {"severity": {"type": "string", "default": "Minor"}}}
            }},
            "replicas": {"type": "integer"}
        }}}}),
    );
    let mut obj = json!({"apiVersion": "x/v1", "kind": "X"});
    v.apply_defaults(&mut obj);
    assert_eq!(
        obj["spec"],
        json!({
            "antivirus": "None", "console": false,
            "monitoring": {"icmp": {"severity": "Minor"}}
        })
    );
    // Values present are never overwritten.
    let mut obj = json!({"spec": {"antivirus": "FSecure", "console": true}});
    v.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["antivirus"], "FSecure");
    assert_eq!(obj["spec"]["console"], true);
}

#[test]
fn defaults_inside_array_items_and_maps() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "disks": {"type": "array", "items": {"type": "object", "properties": {
                "sizeGb": {"type": "integer"}, "tier": {"type": "string", "default": "standard"}}}},
            "pools": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "replicas": {"type": "integer", "default": 2}}}},
            "names": {"type": "array", "items": {"type": "string", "default": "unnamed"}}
        }}}}),
    );
    let mut obj = json!({"spec": {
        "disks": [{"sizeGb": 40}, {"sizeGb": 80, "tier": "fast"}],
        "pools": {"a": {}, "b": {"replicas": 5}},
        "names": ["x", null]
    }});
    v.apply_defaults(&mut obj);
    assert_eq!(
        obj["spec"],
        json!({
            "disks": [{"sizeGb": 40, "tier": "standard"}, {"sizeGb": 80, "tier": "fast"}],
            "pools": {"a": {"replicas": 2}, "b": {"replicas": 5}},
            "names": ["x", "unnamed"]
        })
    );
}

#[test]
fn nulls_are_defaulted_or_dropped_unless_nullable() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "withDefault": {"type": "string", "default": "d"},
            "plain": {"type": "string"},
            "nullable": {"type": "string", "nullable": true, "default": "d"}
        }}}}),
    );
    let mut obj = json!({"spec": {"withDefault": null, "plain": null, "nullable": null}});
    v.apply_defaults(&mut obj);
    assert_eq!(obj["spec"], json!({"withDefault": "d", "nullable": null}));
}

#[test]
fn admit_prunes_defaults_then_validates() {
    let v = validator(
        json!({"type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
            "size": {"type": "string", "enum": ["S", "M"]},
            "replicas": {"type": "integer", "minimum": 1, "default": 1},
            "mode": {"type": "string", "default": "auto", "x-kubernetes-validations": [{"rule": "self in ['auto', 'manual']"}]}
        }}}}),
    );
    let mut obj = json!({"apiVersion": "x/v1", "kind": "X", "metadata": {"name": "a"}, "spec": {"size": "S", "unknown": 1}});
    v.admit(&mut obj, None).expect("admitted");
    assert_eq!(
        obj["spec"],
        json!({"size": "S", "replicas": 1, "mode": "auto"})
    );

    let mut bad = json!({"spec": {"size": "XL", "replicas": 0}});
    let errs: Vec<String> = v
        .admit(&mut bad, None)
        .expect_err("refused")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        [
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            "spec.size: Unsupported value: \"XL\": supported values: \"S\", \"M\"",
            "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ]
    );
}
