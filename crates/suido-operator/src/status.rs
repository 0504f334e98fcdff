//! Status writes that happen only when something changed, as a JSON merge patch that also
//! clears fields the new status no longer has.

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The merge patch that turns `old` status into `new`, or `None` when they are equal. Top-level
/// fields present in `old` but not in `new` are set to `null` so that the server removes them.
pub fn diff<S: Serialize>(old: Option<&S>, new: &S) -> Result<Option<Value>, serde_json::Error> {
    let new_v = serde_json::to_value(new)?;
    let old_v = match old {
        Some(o) => serde_json::to_value(o)?,
        None => Value::Object(Map::new()),
    };
    if old_v == new_v {
        return Ok(None);
    }
    let mut patch = match new_v {
        Value::Object(m) => m,
        other => return Ok(Some(serde_json::json!({ "status": other }))),
    };
    if let Value::Object(old_m) = old_v {
        for k in old_m.keys() {
            patch.entry(k.clone()).or_insert(Value::Null);
        }
    }
    Ok(Some(serde_json::json!({ "status": Value::Object(patch) })))
}

/// Patches the status of `name` to `new` if it differs from `old`. Returns whether it wrote.
pub async fn patch_if_changed<K, S>(
    api: &Api<K>,
    name: &str,
    old: Option<&S>,
    new: &S,
) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let Some(patch) = diff(old, new).map_err(kube::Error::SerdeError)? else {
        return Ok(false);
    };
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Serialize)]
    struct S {
        #[serde(skip_serializing_if = "Option::is_none")]
        a: Option<u32>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        b: Vec<u32>,
    }

    #[test]
    fn equal_status_means_no_patch_and_removed_fields_become_null() {
        let old = S {
            a: Some(1),
            b: vec![1],
        };
        assert_eq!(
            diff(
                Some(&old),
                &S {
                    a: Some(1),
                    b: vec![1]
                }
            )
            .unwrap(),
            None
        );
        assert_eq!(
            diff(
                Some(&old),
                &S {
                    a: Some(2),
                    b: vec![]
                }
            )
            .unwrap(),
            Some(json!({"status": {"a": 2, "b": null}}))
        );
        assert_eq!(
            diff(
                None,
                &S {
                    a: None,
                    b: vec![3]
                }
            )
            .unwrap(),
            Some(json!({"status": {"b": [3]}}))
        );
    }
}
