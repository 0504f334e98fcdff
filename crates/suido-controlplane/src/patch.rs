//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902) with the
//! apiserver's quirks: a `test` of `null` against a missing path passes,
//! and a failed operation is a 422.

use serde_json::{Map, Value};

/// Applies a JSON merge patch in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// A JSON patch failure; the message is what the client sees.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchError(pub String);

fn parse_pointer(p: &str) -> Result<Vec<String>, PatchError> {
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let rest = p
        .strip_prefix('/')
        .ok_or_else(|| PatchError(format!("invalid JSON pointer {p:?}")))?;
    Ok(rest
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn get_path<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Object(o) => o.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_parent<'a>(
    doc: &'a mut Value,
    path: &[String],
    op: &str,
    full: &str,
) -> Result<&'a mut Value, PatchError> {
    let mut cur = doc;
    for seg in path {
        let missing = || {
            PatchError(format!(
                "{op} operation does not apply: doc is missing path: \"{full}\": missing value"
            ))
        };
        cur = match cur {
            Value::Object(o) => o.get_mut(seg).ok_or_else(missing)?,
            Value::Array(a) => {
                let i = seg.parse::<usize>().map_err(|_| missing())?;
                a.get_mut(i).ok_or_else(missing)?
            }
            _ => return Err(missing()),
        };
    }
    Ok(cur)
}

fn add(doc: &mut Value, path: &[String], value: Value, full: &str) -> Result<(), PatchError> {
    let Some((last, parent_path)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    let parent = get_parent(doc, parent_path, "add", full)?;
    match parent {
        Value::Object(o) => {
            o.insert(last.clone(), value);
            Ok(())
        }
        Value::Array(a) => {
            let idx = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| {
                        PatchError(format!(
                            "add operation does not apply: index out of bounds: \"{full}\""
                        ))
                    })?
            };
            a.insert(idx, value);
            Ok(())
        }
        _ => Err(PatchError(format!(
            "add operation does not apply: doc is missing path: \"{full}\""
        ))),
    }
}

fn remove(doc: &mut Value, path: &[String], op: &str, full: &str) -> Result<Value, PatchError> {
    let Some((last, parent_path)) = path.split_last() else {
        return Err(PatchError(format!(
            "{op} operation does not apply: cannot remove the root"
        )));
    };
    let missing = || {
        PatchError(format!(
            "{op} operation does not apply: doc is missing key: \"{full}\": missing value"
        ))
    };
    let parent = get_parent(doc, parent_path, op, full)?;
    match parent {
        Value::Object(o) => o.remove(last).ok_or_else(missing),
        Value::Array(a) => {
            let i = last
                .parse::<usize>()
                .ok()
                .filter(|i| *i < a.len())
                .ok_or_else(missing)?;
            Ok(a.remove(i))
        }
        _ => Err(missing()),
    }
}

/// Applies an RFC 6902 JSON patch document to `doc`.
pub fn json_patch(doc: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| PatchError("a JSON patch must be an array of operations".into()))?;
    for op in ops {
        let name = op.get("op").and_then(|o| o.as_str()).unwrap_or_default();
        let path_str = op
            .get("path")
            .and_then(|p| p.as_str())
            .ok_or_else(|| PatchError(format!("{name} operation is missing \"path\"")))?;
        let path = parse_pointer(path_str)?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| PatchError(format!("{name} operation is missing \"value\"")))
        };
        let from = || -> Result<(String, Vec<String>), PatchError> {
            let f = op
                .get("from")
                .and_then(|p| p.as_str())
                .ok_or_else(|| PatchError(format!("{name} operation is missing \"from\"")))?;
            Ok((f.to_string(), parse_pointer(f)?))
        };
        match name {
            "add" => add(doc, &path, value()?, path_str)?,
            "remove" => {
                remove(doc, &path, "remove", path_str)?;
            }
            "replace" => {
                let v = value()?;
                if path.is_empty() {
                    *doc = v;
                } else {
                    remove(doc, &path, "replace", path_str)?;
                    add(doc, &path, v, path_str)?;
                }
            }
            "move" => {
                let (fs, fp) = from()?;
                let v = remove(doc, &fp, "move", &fs)?;
                add(doc, &path, v, path_str)?;
            }
            "copy" => {
                let (fs, fp) = from()?;
                let v = get_path(doc, &fp).cloned().ok_or_else(|| {
                    PatchError(format!(
                        "copy operation does not apply: doc is missing from path: \"{fs}\""
                    ))
                })?;
                add(doc, &path, v, path_str)?;
            }
            "test" => {
                let want = op.get("value").cloned().unwrap_or(Value::Null);
                let ok = match get_path(doc, &path) {
                    // The quirk kube-rs' finalizer() relies on.
                    None => want.is_null(),
                    Some(actual) => *actual == want,
                };
                if !ok {
                    return Err(PatchError(format!(
                        "testing value {path_str} failed: test failed"
                    )));
                }
            }
            other => {
                return Err(PatchError(format!("Unexpected kind: {other:?}")));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut d = json!({"a": {"b": 1, "c": 2}, "l": [1]});
        merge_patch(&mut d, &json!({"a": {"b": null, "d": 3}, "l": [2, 3]}));
        assert_eq!(d, json!({"a": {"c": 2, "d": 3}, "l": [2, 3]}));
    }

    #[test]
    fn finalizer_patches_from_kube_rs() {
        let mut d = json!({"metadata": {"name": "x"}});
        json_patch(
            &mut d,
            &json!([{"op":"test","path":"/metadata/finalizers","value":null},
                    {"op":"add","path":"/metadata/finalizers","value":["f/a"]}]),
        )
        .unwrap();
        json_patch(
            &mut d,
            &json!([{"op":"test","path":"/metadata/finalizers","value":["f/a"]},
                    {"op":"add","path":"/metadata/finalizers/-","value":"f/b"}]),
        )
        .unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["f/a", "f/b"]));
        json_patch(
            &mut d,
            &json!([{"op":"test","path":"/metadata/finalizers/0","value":"f/a"},
                    {"op":"remove","path":"/metadata/finalizers/0"}]),
        )
        .unwrap();
        assert_eq!(d["metadata"]["finalizers"], json!(["f/b"]));
        let err = json_patch(
            &mut d,
            &json!([{"op":"test","path":"/metadata/finalizers/0","value":"f/a"}]),
        )
        .unwrap_err();
        assert!(err.0.contains("test failed"));
    }

    #[test]
    fn errors_on_missing_paths() {
        let mut d = json!({"a": [1]});
        assert!(json_patch(&mut d, &json!([{"op":"remove","path":"/b"}])).is_err());
        assert!(json_patch(&mut d, &json!([{"op":"replace","path":"/b","value":1}])).is_err());
        assert!(json_patch(&mut d, &json!([{"op":"add","path":"/x/y","value":1}])).is_err());
        assert!(json_patch(&mut d, &json!([{"op":"add","path":"/a/5","value":1}])).is_err());
        assert!(json_patch(&mut d, &json!({"op":"add"})).is_err());
        json_patch(
            &mut d,
            &json!([{"op":"move","from":"/a","path":"/b"},{"op":"copy","from":"/b","path":"/c"}]),
        )
        .unwrap();
        assert_eq!(d, json!({"b": [1], "c": [1]}));
    }
}
