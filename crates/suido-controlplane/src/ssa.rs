//! Field ownership (`metadata.managedFields`) and an honest subset of
//! server-side apply.
//!
//! Differences from the real server (also in docs/control-plane.md):
//! lists are always atomic (no `listType=map`/`set` merging), so a list is
//! owned and replaced as a whole; `fieldsV1` lists leaf fields only (no
//! `.` entries for maps); ownership of a field with an equal value is shared
//! without conflict, as upstream.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

/// A field path: object keys from the root.
pub type FieldPath = Vec<String>;

/// Paths never tracked: identity and bookkeeping.
fn ignored(path: &[String]) -> bool {
    match path {
        [a] if a == "apiVersion" || a == "kind" => true,
        [m, f] if m == "metadata" => matches!(
            f.as_str(),
            "name"
                | "namespace"
                | "uid"
                | "resourceVersion"
                | "generation"
                | "creationTimestamp"
                | "managedFields"
                | "deletionTimestamp"
                | "deletionGracePeriodSeconds"
                | "selfLink"
                | "generateName"
        ),
        _ => false,
    }
}

/// Collects the leaf paths of a value. Scalars, lists and empty objects are
/// leaves.
pub fn leaves(v: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        if ignored(path) {
            return;
        }
        match v {
            Value::Object(o) if !o.is_empty() => {
                for (k, x) in o {
                    path.push(k.clone());
                    walk(x, path, out);
                    path.pop();
                }
            }
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

/// The value at a path.
pub fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p.as_str())?;
    }
    Some(cur)
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parent {
        match cur.get_mut(p.as_str()) {
            Some(x) => cur = x,
            None => return,
        }
    }
    if let Some(o) = cur.as_object_mut() {
        o.remove(last);
    }
}

/// Encodes a set of paths as `fieldsV1`.
pub fn encode(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        let mut cur = &mut root;
        for seg in p {
            let entry = cur
                .entry(format!("f:{seg}"))
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => cur = m,
                _ => break,
            }
        }
    }
    Value::Object(root)
}

/// Decodes `fieldsV1` into leaf paths; list item keys (`k:`, `v:`, `i:`)
/// make the list itself the leaf.
pub fn decode(fields: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let children: Vec<(&String, &Value)> = v
            .as_object()
            .map(|o| o.iter().filter(|(k, _)| k.starts_with("f:")).collect())
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, x) in children {
            path.push(k[2..].to_string());
            walk(x, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

/// One managedFields entry, decoded.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Manager name.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// API version of the write.
    pub api_version: String,
    /// When.
    pub time: String,
    /// Subresource (`status`) or empty.
    pub subresource: String,
    /// Owned leaf paths.
    pub fields: BTreeSet<FieldPath>,
}

/// Reads `metadata.managedFields`.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj.get("metadata")
        .and_then(|m| m.get("managedFields"))
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e["manager"].as_str().unwrap_or_default().to_string(),
                    operation: e["operation"].as_str().unwrap_or("Update").to_string(),
                    api_version: e["apiVersion"].as_str().unwrap_or_default().to_string(),
                    time: e["time"].as_str().unwrap_or_default().to_string(),
                    subresource: e["subresource"].as_str().unwrap_or_default().to_string(),
                    fields: decode(e.get("fieldsV1").unwrap_or(&Value::Null)),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Writes `metadata.managedFields`, dropping empty entries.
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let arr: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": encode(&e.fields),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = Value::String(e.subresource.clone());
            }
            v
        })
        .collect();
    if let Some(m) = obj.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        if arr.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(arr));
        }
    }
}

/// Records an update (PUT, merge or JSON patch, create): the fields that
/// changed between `old` and `new` now belong to `manager`.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
    api_version: &str,
    now: &str,
) {
    let mut entries = old.map(read).unwrap_or_default();
    let new_leaves = leaves(new);
    let changed: BTreeSet<FieldPath> = new_leaves
        .iter()
        .filter(|p| old.and_then(|o| get(o, p)) != get(new, p))
        .cloned()
        .collect();
    for e in &mut entries {
        e.fields
            .retain(|p| new_leaves.contains(p) && !changed.contains(p));
    }
    if !changed.is_empty() {
        match entries.iter_mut().find(|e| {
            e.manager == manager && e.operation == "Update" && e.subresource == subresource
        }) {
            Some(e) => {
                e.fields.extend(changed);
                e.time = now.to_string();
                e.api_version = api_version.to_string();
            }
            None => entries.push(Entry {
                manager: manager.to_string(),
                operation: "Update".into(),
                api_version: api_version.to_string(),
                time: now.to_string(),
                subresource: subresource.to_string(),
                fields: changed,
            }),
        }
    }
    write(new, &entries);
}

/// A server-side apply conflict: the path and the manager owning it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// `.spec.replicas`.
    pub field: String,
    /// The other manager.
    pub manager: String,
    /// Its API version.
    pub api_version: String,
}

fn deep_merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) if !a.is_empty() => {
            for (k, v) in a {
                match t.get_mut(k) {
                    Some(x) if x.is_object() && v.is_object() => deep_merge(x, v),
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, a) => {
            if !(a.is_object() && t.is_object()) {
                *t = a.clone();
            }
        }
    }
}

/// What one server-side apply asks for.
pub struct ApplyRequest<'a> {
    /// The applied configuration.
    pub applied: &'a Value,
    /// Field manager.
    pub manager: &'a str,
    /// `status` or empty.
    pub subresource: &'a str,
    /// `force=true`.
    pub force: bool,
    /// API version recorded in managedFields.
    pub api_version: &'a str,
    /// Timestamp recorded in managedFields.
    pub now: &'a str,
    /// Schema defaulting, so that a list the server defaulted does not
    /// count as a different value.
    pub normalize: &'a dyn Fn(&mut Value),
}

/// Server-side apply of `req.applied` (already restricted to the writable
/// part) onto `live` (or an empty object when creating). Returns the new
/// object, with managedFields updated, or the conflicts.
pub fn apply(live: &Value, req: &ApplyRequest<'_>) -> Result<Value, Vec<Conflict>> {
    let ApplyRequest {
        applied,
        manager,
        subresource,
        force,
        api_version,
        now,
        normalize,
    } = *req;
    let mut entries = read(live);
    let applied_paths = leaves(applied);
    let mut candidate = live.clone();
    deep_merge(&mut candidate, applied);
    normalize(&mut candidate);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| {
        !(e.manager == manager && e.operation == "Apply") && e.subresource == subresource
    }) {
        for p in e.fields.intersection(&applied_paths) {
            if get(live, p) != get(&candidate, p) {
                conflicts.push(Conflict {
                    field: format!(".{}", p.join(".")),
                    manager: e.manager.clone(),
                    api_version: e.api_version.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let conflicting: BTreeSet<FieldPath> = conflicts
        .iter()
        .map(|c| c.field[1..].split('.').map(str::to_string).collect())
        .collect();
    let previous: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.subresource == subresource)
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let mut out = live.clone();
    // Fields this manager applied before and no longer applies are removed
    // unless another manager also owns them.
    let others: BTreeSet<&FieldPath> = entries
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
        .flat_map(|e| e.fields.iter())
        .collect();
    for p in previous.difference(&applied_paths) {
        if !others.contains(p) {
            remove_path(&mut out, p);
        }
    }
    deep_merge(&mut out, applied);
    for e in &mut entries {
        if force && !(e.manager == manager && e.operation == "Apply") {
            e.fields.retain(|p| !conflicting.contains(p));
        }
    }
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Apply" && e.subresource == subresource)
    {
        Some(e) => {
            e.fields = applied_paths;
            e.time = now.to_string();
            e.api_version = api_version.to_string();
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: "Apply".into(),
            api_version: api_version.to_string(),
            time: now.to_string(),
            subresource: subresource.to_string(),
            fields: applied_paths,
        }),
    }
    write(&mut out, &entries);
    Ok(out)
}

/// The apiserver's conflict message.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    let mut by_manager: BTreeMap<&str, Vec<&Conflict>> = BTreeMap::new();
    for c in conflicts {
        by_manager.entry(c.manager.as_str()).or_default().push(c);
    }
    let n = conflicts.len();
    let mut msg = format!(
        "Apply failed with {n} conflict{}:",
        if n == 1 { "" } else { "s" }
    );
    for cs in by_manager.values() {
        for c in cs {
            msg.push_str(&format!(
                " conflict with \"{}\" using {}: {}",
                c.manager, c.api_version, c.field
            ));
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(
        live: &Value,
        applied: &Value,
        manager: &str,
        sub: &str,
        force: bool,
        av: &str,
        now: &str,
    ) -> Result<Value, Vec<Conflict>> {
        super::apply(
            live,
            &ApplyRequest {
                applied,
                manager,
                subresource: sub,
                force,
                api_version: av,
                now,
                normalize: &|_| {},
            },
        )
    }

    #[test]
    fn encode_decode_roundtrip() {
        let v = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"l": [1], "o": {"p": 1}}});
        let ls = leaves(&v);
        assert_eq!(ls.len(), 3);
        assert_eq!(decode(&encode(&ls)), ls);
    }

    #[test]
    fn apply_conflicts_force_and_removal() {
        let now = "2026-01-01T00:00:00Z";
        let a1 = json!({"metadata": {"name": "x"}, "spec": {"a": 1, "b": 2}});
        let obj = apply(
            &json!({"metadata": {"name": "x"}}),
            &a1,
            "m1",
            "",
            false,
            "v1",
            now,
        )
        .unwrap();
        assert_eq!(obj["spec"], json!({"a": 1, "b": 2}));
        // Same value from another manager: shared, no conflict.
        let obj = apply(&obj, &json!({"spec": {"a": 1}}), "m2", "", false, "v1", now).unwrap();
        // Different value: conflict.
        let err = apply(&obj, &json!({"spec": {"b": 3}}), "m2", "", false, "v1", now).unwrap_err();
        assert_eq!(err[0].field, ".spec.b");
        assert!(conflict_message(&err).contains("conflict with \"m1\""));
        let obj = apply(&obj, &json!({"spec": {"b": 3}}), "m2", "", true, "v1", now).unwrap();
        assert_eq!(obj["spec"]["b"], 3);
        // m1 stops applying b (now m2's) and a (shared with... m2 dropped a).
        let obj = apply(&obj, &json!({"spec": {}}), "m1", "", false, "v1", now).unwrap();
        assert_eq!(obj["spec"], json!({"b": 3}));
    }

    #[test]
    fn updates_take_ownership_of_changed_fields() {
        let now = "t";
        let mut o = json!({"metadata": {"name": "x"}, "spec": {"a": 1}});
        record_update(None, &mut o, "kubectl", "", "v1", now);
        let old = o.clone();
        o["spec"]["a"] = json!(2);
        o["spec"]["b"] = json!(1);
        record_update(Some(&old), &mut o, "other", "", "v1", now);
        let es = read(&o);
        assert_eq!(es.len(), 1);
        assert_eq!(es[0].manager, "other");
        assert_eq!(es[0].fields.len(), 2);
    }
}
