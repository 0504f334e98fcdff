//! Pruning of unknown fields and defaulting, the two mutations the apiserver applies
//! to a custom resource before validating it.
//!
//! Pruning follows `structuralpruning.Prune`: fields not declared in `properties` are
//! dropped unless the node has `x-kubernetes-preserve-unknown-fields: true` or an
//! `additionalProperties` schema; `apiVersion`, `kind` and `metadata` are kept at the
//! root and at every `x-kubernetes-embedded-resource`.
//!
//! Defaulting follows `structuraldefaulting.PruneNonNullableNullsWithoutDefaults` and
//! `structuraldefaulting.Default`: nulls of non-nullable fields without a default are
//! dropped, and absent fields (or non-nullable nulls) with a `default` get a copy of it,
//! in properties, `additionalProperties` maps and array items alike.

use crate::schema::Node;
use crate::validate::{Seg, descend};
use serde_json::Value;

/// Removes fields the schema does not declare, recording the path of each removed field
/// (`spec.attachTo.namespace`, `spec.disks[0].foo`) in `pruned` as the apiserver reports
/// unknown fields.
pub(crate) fn prune(
    value: &mut Value,
    node: &Node,
    resource_root: bool,
    path: &mut String,
    pruned: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            if let Some(additional) = node.additional_properties.as_deref() {
                for (k, v) in map.iter_mut() {
                    if resource_root && is_type_meta(k) {
                        continue;
                    }
                    descend(path, Seg::Field(k), |p| {
                        prune(v, additional, additional.embedded_resource, p, pruned)
                    });
                }
                return;
            }
            map.retain(|k, _| {
                let keep = node.preserve_unknown
                    || node.property(k).is_some()
                    || (resource_root && is_type_meta(k));
                if !keep {
                    pruned.push(join(path, k));
                }
                keep
            });
            for (k, v) in map.iter_mut() {
                if let Some(prop) = node.property(k) {
                    if resource_root && k == "metadata" {
                        // ObjectMeta is not governed by the CRD schema.
                        continue;
                    }
                    descend(path, Seg::Field(k), |p| {
                        prune(v, prop, prop.embedded_resource, p, pruned)
                    });
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.items.as_deref() {
                for (i, item) in items.iter_mut().enumerate() {
                    descend(path, Seg::Index(i), |p| {
                        prune(item, item_schema, item_schema.embedded_resource, p, pruned)
                    });
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn is_type_meta(key: &str) -> bool {
    matches!(key, "apiVersion" | "kind" | "metadata")
}

/// Drops nulls of non-nullable fields that have no default.
pub(crate) fn prune_nulls(value: &mut Value, node: Option<&Node>) {
    match value {
        Value::Object(map) => {
            map.retain(|k, v| {
                let sub = node.and_then(|n| n.field(k));
                !(v.is_null() && sub.is_some_and(|s| !s.nullable && s.default.is_none()))
            });
            for (k, v) in map.iter_mut() {
                prune_nulls(v, node.and_then(|n| n.field(k)));
            }
        }
        Value::Array(items) => {
            let sub = node.and_then(|n| n.items.as_deref());
            for item in items {
                prune_nulls(item, sub);
            }
        }
        _ => {}
    }
}

fn is_non_nullable_null(v: &Value, node: &Node) -> bool {
    v.is_null() && !node.nullable
}

/// Applies `default`s to absent fields and non-nullable nulls, recursively.
pub(crate) fn apply_defaults(value: &mut Value, node: &Node) {
    match value {
        Value::Object(map) => {
            for (k, prop) in &node.properties {
                let Some(default) = &prop.default else {
                    continue;
                };
                match map.get(k) {
                    Some(v) if !is_non_nullable_null(v, prop) => {}
                    _ => {
                        map.insert(k.clone(), default.clone());
                    }
                }
            }
            for (k, v) in map.iter_mut() {
                if let Some(prop) = node.property(k) {
                    apply_defaults(v, prop);
                } else if let Some(additional) = node.additional_properties.as_deref() {
                    if let Some(default) = &additional.default
                        && is_non_nullable_null(v, additional)
                    {
                        *v = default.clone();
                    }
                    apply_defaults(v, additional);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = node.items.as_deref() {
                for item in items.iter_mut() {
                    if let Some(default) = &item_schema.default
                        && is_non_nullable_null(item, item_schema)
                    {
                        *item = default.clone();
                    }
                    apply_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}
