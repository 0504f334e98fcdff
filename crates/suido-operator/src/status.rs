//! Status writes that happen only when something changed, as a JSON merge patch that also
//! clears fields the new status no longer has, and a memo of the last status written so that a
//! reconcile that runs on a cached object older than our own last write does not write again.

use std::collections::HashMap;
use std::sync::Mutex;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use suido_api::v1alpha1::{BlockVolume, BlockVolumeStatus, VirtualServer, VirtualServerStatus};

/// A kind whose status the operator writes.
pub trait HasStatus:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug
{
    /// The status type.
    type Status: Serialize + DeserializeOwned + Clone + Default;
    /// The status, if any.
    fn status_ref(&self) -> Option<&Self::Status>;
    /// The status slot.
    fn status_slot(&mut self) -> &mut Option<Self::Status>;
    /// The conditions of a status.
    fn conditions(status: &mut Self::Status) -> &mut Vec<Condition>;
}

crate::has_status!(VirtualServer, VirtualServerStatus, managed.conditions);

crate::has_status!(BlockVolume, BlockVolumeStatus, managed.conditions);

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

#[derive(Debug)]
struct Entry {
    /// Versions of the object that our last write supersedes.
    superseded: Vec<String>,
    /// The version our last write produced.
    last: String,
    /// What it wrote.
    status: Value,
}

/// How many superseded versions an entry keeps.
const SUPERSEDED_KEPT: usize = 8;

/// The last status the operator wrote per object (by UID), and the object versions it
/// supersedes. The controller's cache can lag behind our own writes; without this, a reconcile
/// on the stale object would recompute the status from the older one and write it again.
#[derive(Debug, Default)]
pub struct Memo {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Memo {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings `obj` up to our last write when the cached copy predates it. When the cache has
    /// caught up, or someone else wrote since, the memo entry is dropped and `obj` is kept.
    pub fn refresh<K: HasStatus>(&self, obj: &mut K) {
        let uid = obj.uid().unwrap_or_default();
        let rv = obj.resource_version().unwrap_or_default();
        let mut entries = self.lock();
        let Some(entry) = entries.get(&uid) else {
            return;
        };
        if entry.superseded.contains(&rv)
            && let Ok(status) = serde_json::from_value(entry.status.clone())
        {
            *obj.status_slot() = Some(status);
            obj.meta_mut().resource_version = Some(entry.last.clone());
            return;
        }
        entries.remove(&uid);
    }

    /// Forgets an object (after it is deleted).
    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Writes `new` as the status of `obj` if it differs from `obj`'s, then updates `obj` and
    /// the memo. Returns whether it wrote.
    pub async fn write<K: HasStatus>(
        &self,
        api: &Api<K>,
        obj: &mut K,
        new: &K::Status,
    ) -> Result<bool, kube::Error> {
        let Some(patch) = diff(obj.status_ref(), new).map_err(kube::Error::SerdeError)? else {
            return Ok(false);
        };
        let written = api
            .patch_status(
                &obj.name_any(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await?;
        let before = obj.resource_version().unwrap_or_default();
        let after = written.resource_version().unwrap_or_default();
        let uid = obj.uid().unwrap_or_default();
        let status = serde_json::to_value(new).map_err(kube::Error::SerdeError)?;
        {
            let mut entries = self.lock();
            let entry = entries.entry(uid).or_insert_with(|| Entry {
                superseded: vec![],
                last: String::new(),
                status: Value::Null,
            });
            entry.superseded.push(before);
            if entry.superseded.len() > SUPERSEDED_KEPT {
                entry.superseded.remove(0);
            }
            entry.last = after.clone();
            entry.status = status;
        }
        *obj.status_slot() = Some(new.clone());
        obj.meta_mut().resource_version = Some(after);
        Ok(true)
    }
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

    fn vs(rv: &str, phase: Option<suido_api::v1alpha1::Phase>) -> VirtualServer {
        let mut vs = VirtualServer::new(
            "web",
            serde_json::from_value(json!({"size": "1CPU-2GB"})).unwrap(),
        );
        vs.metadata.uid = Some("u1".into());
        vs.metadata.resource_version = Some(rv.into());
        vs.status = phase.map(|p| {
            let mut s = VirtualServerStatus::default();
            s.managed.phase = Some(p);
            s
        });
        vs
    }

    #[test]
    fn a_stale_cached_object_is_brought_up_to_our_last_write_and_a_fresh_one_wins() {
        use suido_api::v1alpha1::Phase;
        let memo = Memo::default();
        let mut written = VirtualServerStatus::default();
        written.managed.phase = Some(Phase::Provisioning);
        memo.lock().insert(
            "u1".into(),
            Entry {
                superseded: vec!["5".into()],
                last: "7".into(),
                status: serde_json::to_value(&written).unwrap(),
            },
        );
        // The cache still has version 5: our write of version 7 is what counts.
        let mut stale = vs("5", None);
        memo.refresh(&mut stale);
        assert_eq!(
            stale.status.unwrap().managed.phase,
            Some(Phase::Provisioning)
        );
        assert_eq!(stale.metadata.resource_version.as_deref(), Some("7"));
        // The cache caught up: the memo is dropped.
        let mut fresh = vs("7", Some(Phase::Provisioning));
        memo.refresh(&mut fresh);
        assert!(memo.lock().is_empty());
        // Someone else wrote a later version: theirs is kept.
        memo.lock().insert(
            "u1".into(),
            Entry {
                superseded: vec!["5".into()],
                last: "7".into(),
                status: json!({}),
            },
        );
        let mut other = vs("9", Some(Phase::Failed));
        memo.refresh(&mut other);
        assert_eq!(other.status.unwrap().managed.phase, Some(Phase::Failed));
        assert!(memo.lock().is_empty());
    }
}
