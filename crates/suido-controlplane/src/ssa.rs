//! Field ownership (`metadata.managedFields`) and an honest subset of
//! server-side apply.
//!
//! Items of `x-kubernetes-list-type: map` lists are merged and owned per
//! key, and `set` lists of scalars per value, as upstream (`metadata`
//! always has its list types). Other lists are atomic. As upstream, an
//! applied configuration owns its leaf fields and list items; an update owns
//! what it changed, including every map and list it added (`.` entries in
//! `fieldsV1`); ownership of a field with an equal value is shared without
//! conflict; entries are kept in upstream's order (Apply before Update, then
//! by time and manager).

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
        ),
        _ => false,
    }
}

/// The schema of a child field (`properties` or `additionalProperties`).
fn child_schema<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    let s = schema?;
    s.get("properties")
        .and_then(|p| p.get(key))
        .or_else(|| s.get("additionalProperties").filter(|a| a.is_object()))
}

/// The list types of `metadata`, which CRD schemas leave out: finalizers are
/// a set, ownerReferences a map keyed by uid.
fn metadata_schema() -> &'static Value {
    static META: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    META.get_or_init(|| {
        json!({"type": "object", "properties": {
            "finalizers": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "ownerReferences": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["uid"], "items": {"type": "object"}},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        }})
    })
}

/// The schema of a root field; `metadata` always gets its list types.
fn root_child<'a>(schema: Option<&'a Value>, key: &str) -> Option<&'a Value> {
    if key == "metadata" {
        Some(metadata_schema())
    } else {
        child_schema(schema, key)
    }
}

fn items_schema(schema: Option<&Value>) -> Option<&Value> {
    schema?.get("items")
}

/// The keys of a `x-kubernetes-list-type: map` list.
fn map_keys(schema: Option<&Value>) -> Option<Vec<String>> {
    let s = schema?;
    if s.get("x-kubernetes-list-type")?.as_str()? != "map" {
        return None;
    }
    let keys: Vec<String> = s
        .get("x-kubernetes-list-map-keys")?
        .as_array()?
        .iter()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// The path element of a list-map item: `k:{"name":"data"}`.
fn item_key(item: &Value, keys: &[String]) -> Option<String> {
    let o = item.as_object()?;
    let mut m = Map::new();
    for k in keys {
        m.insert(k.clone(), o.get(k)?.clone());
    }
    Some(format!("k:{}", Value::Object(m)))
}

fn item_matches(item: &Value, elem: &str) -> bool {
    let Some(Ok(Value::Object(want))) = elem.strip_prefix("k:").map(serde_json::from_str::<Value>)
    else {
        return false;
    };
    want.iter().all(|(k, v)| item.get(k) == Some(v))
}

/// Whether a list is a `listType=set` of scalars.
fn scalar_set(list: &[Value], schema: Option<&Value>) -> bool {
    schema
        .and_then(|s| s.get("x-kubernetes-list-type"))
        .and_then(|t| t.as_str())
        == Some("set")
        && list.iter().all(|i| !i.is_object() && !i.is_array())
}

/// The path element of a set item: `v:"value"`.
fn set_elem(item: &Value) -> String {
    format!("v:{item}")
}

fn set_matches(item: &Value, elem: &str) -> bool {
    elem.strip_prefix("v:")
        .and_then(|j| serde_json::from_str::<Value>(j).ok())
        .is_some_and(|v| v == *item)
}

/// Whether a list item is the one a path element names.
fn elem_matches(item: &Value, elem: &str) -> bool {
    item_matches(item, elem) || set_matches(item, elem)
}

/// Whether a list is merged per item: a list-map whose items all have keys.
fn keyed_list(list: &[Value], schema: Option<&Value>) -> Option<Vec<String>> {
    let keys = map_keys(schema)?;
    list.iter()
        .all(|i| item_key(i, &keys).is_some())
        .then_some(keys)
}

/// The fields an applied configuration owns: its leaves (scalars, atomic
/// lists, empty objects) and its list items, those of `listType=map` lists
/// (per `schema`) addressed by their keys (`k:{"type":"Ready"}`), those of
/// sets by value (`v:"a"`).
pub fn leaves(v: &Value, schema: Option<&Value>) -> BTreeSet<FieldPath> {
    paths(v, schema, false).into_keys().collect()
}

/// Every field of a value, each with whether it is compound (a non-empty map,
/// a set or a keyed list, whose own membership is written `.`), the items and
/// leaves as [`leaves`] has them.
fn nodes(v: &Value, schema: Option<&Value>) -> BTreeMap<FieldPath, bool> {
    paths(v, schema, true)
}

fn paths(v: &Value, schema: Option<&Value>, compound: bool) -> BTreeMap<FieldPath, bool> {
    fn walk(
        v: &Value,
        schema: Option<&Value>,
        path: &mut FieldPath,
        compound: bool,
        out: &mut BTreeMap<FieldPath, bool>,
    ) {
        if ignored(path) {
            return;
        }
        match v {
            Value::Object(o) if !o.is_empty() => {
                // The root and `metadata` are never members (upstream strips them).
                let item = path.last().is_some_and(|l| l.starts_with("k:{"));
                if item || (compound && !path.is_empty() && path != &["metadata"]) {
                    out.insert(path.clone(), true);
                }
                for (k, x) in o {
                    path.push(k.clone());
                    let child = if path.len() == 1 {
                        root_child(schema, k)
                    } else {
                        child_schema(schema, k)
                    };
                    walk(x, child, path, compound, out);
                    path.pop();
                }
            }
            Value::Array(a) if !a.is_empty() && scalar_set(a, schema) => {
                if compound {
                    out.insert(path.clone(), true);
                }
                for item in a {
                    path.push(set_elem(item));
                    out.insert(path.clone(), false);
                    path.pop();
                }
            }
            Value::Array(a) if !a.is_empty() => match keyed_list(a, schema) {
                Some(keys) => {
                    if compound {
                        out.insert(path.clone(), true);
                    }
                    for item in a {
                        if let Some(elem) = item_key(item, &keys) {
                            path.push(elem);
                            walk(item, items_schema(schema), path, compound, out);
                            path.pop();
                        }
                    }
                }
                None => {
                    out.insert(path.clone(), false);
                }
            },
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone(), false);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(v, schema, &mut Vec::new(), compound, &mut out);
    out
}

/// The value at a path.
pub fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for p in path {
        cur = match cur {
            Value::Array(a) => a.iter().find(|i| elem_matches(i, p))?,
            _ => cur.get(p.as_str())?,
        };
    }
    Some(cur)
}

fn remove_path(v: &mut Value, path: &[String]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for p in parent {
        let next = match cur {
            Value::Array(a) => a.iter_mut().find(|i| elem_matches(i, p)),
            Value::Object(o) => o.get_mut(p.as_str()),
            _ => None,
        };
        match next {
            Some(x) => cur = x,
            None => return,
        }
    }
    match cur {
        Value::Object(o) => {
            o.remove(last);
        }
        Value::Array(a) => a.retain(|i| !elem_matches(i, last)),
        _ => {}
    }
}

/// Drops list-map items left empty after their fields were removed.
fn drop_empty_items(v: &mut Value, schema: Option<&Value>, root: bool) {
    match v {
        Value::Object(o) => {
            for (k, x) in o.iter_mut() {
                let child = if root {
                    root_child(schema, k)
                } else {
                    child_schema(schema, k)
                };
                drop_empty_items(x, child, false);
            }
        }
        Value::Array(a) if map_keys(schema).is_some() => {
            a.retain(|i| !i.as_object().is_some_and(|o| o.is_empty()));
            for i in a.iter_mut() {
                drop_empty_items(i, items_schema(schema), false);
            }
        }
        _ => {}
    }
}

/// Encodes a set of paths as `fieldsV1`; a member with members below it gets
/// a `.` entry.
pub fn encode(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for p in paths {
        // The paths below `p` sort right after it.
        let has_children = paths
            .range::<FieldPath, _>((std::ops::Bound::Excluded(p), std::ops::Bound::Unbounded))
            .next()
            .is_some_and(|q| q.starts_with(p));
        if has_children {
            let mut dotted = p.clone();
            dotted.push(".".into());
            insert_encoded(&mut root, &dotted);
        } else {
            insert_encoded(&mut root, p);
        }
    }
    Value::Object(root)
}

/// Inserts one path into an encoded tree (a `.` segment stays `.`).
fn insert_encoded(root: &mut Map<String, Value>, path: &[String]) {
    let mut cur = root;
    for seg in path {
        let key = if seg == "." || seg.starts_with("k:{") || seg.starts_with("v:") {
            seg.clone()
        } else {
            format!("f:{seg}")
        };
        let entry = cur.entry(key).or_insert_with(|| Value::Object(Map::new()));
        match entry {
            Value::Object(m) => cur = m,
            _ => return,
        }
    }
}

/// Decodes `fieldsV1` into paths: leaves, and nodes marked `.`; `k:` item
/// keys are kept as path elements, and `v:`/`i:` items make the list itself
/// the leaf.
pub fn decode(fields: &Value) -> BTreeSet<FieldPath> {
    fn walk(v: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        if !path.is_empty() && v.get(".").is_some() {
            out.insert(path.clone());
        }
        let children: Vec<(String, &Value)> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, x)| {
                        if let Some(f) = k.strip_prefix("f:") {
                            Some((f.to_string(), x))
                        } else if k.starts_with("k:{") || k.starts_with("v:") {
                            Some((k.clone(), x))
                        } else {
                            None
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        if children.is_empty() {
            if !path.is_empty() {
                out.insert(path.clone());
            }
            return;
        }
        for (k, x) in children {
            path.push(k);
            walk(x, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

/// A path as the apiserver prints it: `.status.conditions[type="Ready"].status`.
pub fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for p in path {
        match p
            .strip_prefix("k:")
            .and_then(|j| serde_json::from_str::<Map<String, Value>>(j).ok())
        {
            Some(keys) => {
                let parts: Vec<String> = keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            None => match p.strip_prefix("v:") {
                Some(v) => s.push_str(&format!("[={v}]")),
                None => {
                    s.push('.');
                    s.push_str(p);
                }
            },
        }
    }
    s
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

/// Writes `metadata.managedFields`, dropping empty entries, in upstream's
/// order: Apply before Update, then by time, manager, API version and
/// subresource.
pub fn write(obj: &mut Value, entries: &[Entry]) {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|p, q| {
        (
            &p.operation,
            &p.time,
            &p.manager,
            &p.api_version,
            &p.subresource,
        )
            .cmp(&(
                &q.operation,
                &q.time,
                &q.manager,
                &q.api_version,
                &q.subresource,
            ))
    });
    let arr: Vec<Value> = sorted
        .into_iter()
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
/// changed between `old` and `new` now belong to `manager`. As upstream,
/// "changed" is every field `new` added (maps and lists included) and every
/// leaf whose value differs; fields `new` removed leave every manager.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    schema: Option<&Value>,
    who: (&str, &str),
    api_version: &str,
    now: &str,
) {
    let (manager, subresource) = who;
    // The entries the write carries (the stored ones unless the client
    // changed them).
    let mut entries = read(new);
    let new_nodes = nodes(new, schema);
    let old_nodes = old.map(|o| nodes(o, schema)).unwrap_or_default();
    let changed: BTreeSet<FieldPath> = new_nodes
        .iter()
        .filter(|(p, compound)| match old_nodes.get(*p) {
            None => true,
            Some(was_compound) => {
                !(**compound && *was_compound) && old.and_then(|o| get(o, p)) != get(new, p)
            }
        })
        .map(|(p, _)| p.clone())
        .collect();
    for e in &mut entries {
        e.fields
            .retain(|p| new_nodes.contains_key(p) && !changed.contains(p));
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
    /// `.spec.replicas`, as printed.
    pub field: String,
    /// The path.
    pub path: FieldPath,
    /// The other manager.
    pub manager: String,
    /// Its API version.
    pub api_version: String,
    /// Its operation (`Apply` or `Update`).
    pub operation: String,
    /// Its subresource, or empty.
    pub subresource: String,
    /// When it last wrote.
    pub time: String,
}

impl Conflict {
    /// The other manager as kube-apiserver names it: `"m"`, with `with subresource "status"`
    /// when it wrote a subresource, and `using v1 at TIME` when it updated rather than applied.
    pub fn manager_text(&self) -> String {
        let mut s = format!("\"{}\"", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource \"{}\"", self.subresource));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
            if !self.time.is_empty() {
                s.push_str(&format!(" at {}", self.time));
            }
        }
        s
    }
}

fn deep_merge(target: &mut Value, applied: &Value, schema: Option<&Value>, root: bool) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) if !a.is_empty() => {
            for (k, v) in a {
                let child = if root {
                    root_child(schema, k)
                } else {
                    child_schema(schema, k)
                };
                match t.get_mut(k) {
                    Some(x) if x.is_object() && v.is_object() => deep_merge(x, v, child, false),
                    Some(x)
                        if (x.as_array().is_some_and(|l| keyed_list(l, child).is_some())
                            && v.as_array().is_some_and(|l| keyed_list(l, child).is_some()))
                            || (x.as_array().is_some_and(|l| scalar_set(l, child))
                                && v.as_array().is_some_and(|l| scalar_set(l, child))) =>
                    {
                        deep_merge(x, v, child, false)
                    }
                    _ => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(a)) if scalar_set(a, schema) && scalar_set(t, schema) => {
            for item in a {
                if !t.contains(item) {
                    t.push(item.clone());
                }
            }
        }
        (Value::Array(t), Value::Array(a)) if keyed_list(a, schema).is_some() => {
            let keys = map_keys(schema).unwrap_or_default();
            for item in a {
                let key = item_key(item, &keys).unwrap_or_default();
                match t.iter_mut().find(|x| item_matches(x, &key)) {
                    Some(x) => deep_merge(x, item, items_schema(schema), false),
                    None => t.push(item.clone()),
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
    /// The structural schema, for `listType=map` lists.
    pub schema: Option<&'a Value>,
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
        schema,
    } = *req;
    let mut entries = read(live);
    let applied_paths = leaves(applied, schema);
    let mut candidate = live.clone();
    deep_merge(&mut candidate, applied, schema, true);
    normalize(&mut candidate);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| {
        !(e.manager == manager && e.operation == "Apply") && e.subresource == subresource
    }) {
        for p in e.fields.intersection(&applied_paths) {
            let (before, after) = (get(live, p), get(&candidate, p));
            // A list item present before and after conflicts only in its fields.
            let both_items =
                before.is_some_and(Value::is_object) && after.is_some_and(Value::is_object);
            if !both_items && before != after {
                conflicts.push(Conflict {
                    field: display_path(p),
                    path: p.clone(),
                    manager: e.manager.clone(),
                    api_version: e.api_version.clone(),
                    operation: e.operation.clone(),
                    subresource: e.subresource.clone(),
                    time: e.time.clone(),
                });
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(conflicts);
    }
    let conflicting: BTreeSet<FieldPath> = conflicts.iter().map(|c| c.path.clone()).collect();
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
    drop_empty_items(&mut out, schema, true);
    deep_merge(&mut out, applied, schema, true);
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

/// The apiserver's conflict message: one conflict inline, several listed per manager (in the
/// order of their names).
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager_text(),
            c.field
        );
    }
    let mut by_manager: BTreeMap<String, Vec<&Conflict>> = BTreeMap::new();
    for c in conflicts {
        by_manager.entry(c.manager_text()).or_default().push(c);
    }
    let mut lines = Vec::new();
    for (manager, cs) in &by_manager {
        lines.push(format!("conflicts with {manager}:"));
        lines.extend(cs.iter().map(|c| format!("- {}", c.field)));
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
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
                schema: None,
            },
        )
    }

    #[test]
    fn encode_decode_roundtrip() {
        let v = json!({"metadata": {"name": "x", "labels": {"a": "1"}}, "spec": {"l": [1], "o": {"p": 1}}});
        let ls = leaves(&v, None);
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
        record_update(None, &mut o, None, ("kubectl", ""), "v1", now);
        assert_eq!(
            o["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:spec": {".": {}, "f:a": {}}})
        );
        let old = o.clone();
        o["spec"]["a"] = json!(2);
        o["spec"]["b"] = json!(1);
        record_update(Some(&old), &mut o, None, ("other", ""), "v1", now);
        let es = read(&o);
        // kubectl keeps the map it created; the changed and added leaves are other's.
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].manager, "kubectl");
        assert_eq!(es[0].fields, BTreeSet::from([vec!["spec".to_string()]]));
        assert_eq!(es[1].manager, "other");
        assert_eq!(es[1].fields.len(), 2);
        assert_eq!(
            o["metadata"]["managedFields"][0]["fieldsV1"],
            json!({"f:spec": {}})
        );
    }
}

#[cfg(test)]
mod list_map_tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {"status": {"type": "object", "properties": {
            "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["type"],
                "items": {"type": "object", "properties": {"type": {"type": "string"}, "status": {"type": "string"}}}}}}}})
    }

    fn apply_as(
        live: &Value,
        applied: &Value,
        manager: &str,
        force: bool,
    ) -> Result<Value, Vec<Conflict>> {
        let s = schema();
        apply(
            live,
            &ApplyRequest {
                applied,
                manager,
                subresource: "status",
                force,
                api_version: "v1",
                now: "t",
                normalize: &|_| {},
                schema: Some(&s),
            },
        )
    }

    #[test]
    fn managers_own_their_own_list_items() {
        let live = json!({"metadata": {"name": "x"}});
        let a = json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        let b = json!({"status": {"conditions": [{"type": "Synced", "status": "False"}]}});
        let o = apply_as(&live, &a, "ready-ctl", false).unwrap();
        let o = apply_as(&o, &b, "sync-ctl", false).unwrap();
        assert_eq!(o["status"]["conditions"].as_array().unwrap().len(), 2);
        let fields = &o["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:status"]["f:conditions"]
                .get("k:{\"type\":\"Ready\"}")
                .is_some(),
            "{fields}"
        );
        // Conflict on another manager's item, named like the apiserver does.
        let c = json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}});
        let err = apply_as(&o, &c, "sync-ctl", false).unwrap_err();
        assert_eq!(err[0].field, ".status.conditions[type=\"Ready\"].status");
        // A manager that stops applying its item removes it, and only it.
        let o = apply_as(
            &o,
            &json!({"status": {"conditions": []}}),
            "ready-ctl",
            false,
        )
        .unwrap();
        let conds = o["status"]["conditions"].as_array().unwrap();
        assert_eq!(conds.len(), 1);
        assert_eq!(conds[0]["type"], "Synced");
        assert_eq!(
            decode(&encode(&leaves(&o, Some(&schema())))),
            leaves(&o, Some(&schema()))
        );
    }
}

#[cfg(test)]
mod set_tests {
    use super::*;

    fn apply_as(live: &Value, applied: &Value, manager: &str) -> Result<Value, Vec<Conflict>> {
        apply(
            live,
            &ApplyRequest {
                applied,
                manager,
                subresource: "",
                force: false,
                api_version: "v1",
                now: "t",
                normalize: &|_| {},
                schema: None,
            },
        )
    }

    #[test]
    fn finalizers_are_a_set_per_manager() {
        let live = json!({"metadata": {"name": "x"}});
        let o = apply_as(&live, &json!({"metadata": {"finalizers": ["a/one"]}}), "m1").unwrap();
        let o = apply_as(&o, &json!({"metadata": {"finalizers": ["b/two"]}}), "m2").unwrap();
        assert_eq!(o["metadata"]["finalizers"], json!(["a/one", "b/two"]));
        let fields = &o["metadata"]["managedFields"][0]["fieldsV1"];
        assert!(
            fields["f:metadata"]["f:finalizers"]
                .get("v:\"a/one\"")
                .is_some(),
            "{fields}"
        );
        let o = apply_as(&o, &json!({"metadata": {}}), "m1").unwrap();
        assert_eq!(o["metadata"]["finalizers"], json!(["b/two"]));
        assert_eq!(
            display_path(&["metadata".into(), "finalizers".into(), "v:\"b\"".into()]),
            ".metadata.finalizers[=\"b\"]"
        );
    }
}
