//! Durable object storage: a redb file holding every object as JSON, one
//! global resourceVersion counter, an in-memory index for reads, and a
//! bounded history of watch events for resuming watches.
//!
//! Every write is one redb transaction committed with immediate durability
//! (fsync) before the change becomes visible to readers or watchers, so a
//! kill -9 never loses an acknowledged write and never exposes one that was
//! not acknowledged. The watch history is stored in the same transactions,
//! so watches can resume across a restart.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};
use serde_json::Value;
use tokio::sync::broadcast;

const OBJECTS: TableDefinition<&str, &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("events");
const RV_KEY: &str = "resourceVersion";
const FLOOR_KEY: &str = "historyFloor";

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or written.
    #[error("storage: {0}")]
    Db(String),
    /// A stored object could not be decoded.
    #[error("storage: corrupt object {key}: {source}")]
    Corrupt {
        /// Storage key of the object.
        key: String,
        /// Decoding error.
        source: serde_json::Error,
    },
}

fn db_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Db(e.to_string())
}

/// Where an object lives: storage group, resource (plural), namespace
/// (empty when cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// Storage API group (`""` for core).
    pub group: String,
    /// Plural resource name.
    pub resource: String,
    /// Namespace, or empty for cluster-scoped objects.
    pub namespace: String,
    /// Object name.
    pub name: String,
}

impl ObjKey {
    /// Builds a key from its parts.
    pub fn new(group: &str, resource: &str, namespace: &str, name: &str) -> Self {
        ObjKey {
            group: group.to_string(),
            resource: resource.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    fn encode(&self) -> String {
        // Names, namespaces, groups and resources never contain '/'.
        format!(
            "{}/{}/{}/{}",
            self.group, self.resource, self.namespace, self.name
        )
    }

    fn decode(s: &str) -> Option<Self> {
        let mut parts = s.splitn(4, '/');
        Some(ObjKey {
            group: parts.next()?.to_string(),
            resource: parts.next()?.to_string(),
            namespace: parts.next()?.to_string(),
            name: parts.next()?.to_string(),
        })
    }
}

/// Kind of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Object created.
    Added,
    /// Object changed.
    Modified,
    /// Object removed.
    Deleted,
}

impl EventType {
    /// The wire name (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as delivered to watchers.
#[derive(Debug, Clone)]
pub struct ChangeEvent {
    /// The resourceVersion the change produced.
    pub rv: u64,
    /// What happened.
    pub kind: EventType,
    /// Which object.
    pub key: ObjKey,
    /// The state before the change, for a modification (lets selector
    /// watches turn a change into ADDED or DELETED).
    pub previous: Option<Arc<Value>>,
    /// The object after the change (for deletions, the last state with the
    /// deletion's resourceVersion).
    pub object: Arc<Value>,
}

/// A pending write, applied atomically by [`Store::commit`].
#[derive(Debug)]
pub enum Write {
    /// Insert or replace an object; `added` tells which event to emit.
    Put {
        /// Where.
        key: ObjKey,
        /// The object; its `metadata.resourceVersion` is set by the store.
        object: Value,
        /// Whether this is a creation.
        added: bool,
    },
    /// Remove an object; the last state is emitted in the DELETED event.
    Delete {
        /// Where.
        key: ObjKey,
        /// The last state of the object.
        object: Value,
    },
}

/// All objects by key.
pub type Objects = BTreeMap<ObjKey, Arc<Value>>;

struct Inner {
    objects: Objects,
    rv: u64,
    history: VecDeque<Arc<ChangeEvent>>,
    /// Every event with a resourceVersion above this is in `history`.
    history_floor: u64,
}

/// The object store. Cheap to share behind an `Arc`.
pub struct Store {
    db: redb::Database,
    inner: Mutex<Inner>,
    history_limit: usize,
    tx: broadcast::Sender<Arc<ChangeEvent>>,
}

/// A consistent view handed to a new watcher: the current resourceVersion,
/// the history events it may need, and a live subscription that continues
/// exactly after them.
pub struct WatchStart {
    /// The store's resourceVersion when the watch subscribed.
    pub current_rv: u64,
    /// Lowest resourceVersion a watch may resume from.
    pub history_floor: u64,
    /// Buffered events newer than the requested resourceVersion.
    pub replay: Vec<Arc<ChangeEvent>>,
    /// Objects at `current_rv` (only filled when asked for).
    pub snapshot: Vec<Arc<Value>>,
    /// Live events after `current_rv`.
    pub live: broadcast::Receiver<Arc<ChangeEvent>>,
}

impl Store {
    /// Opens (or creates) the database at `path` and loads every object.
    pub fn open(path: &Path, history_limit: usize) -> Result<Store, StoreError> {
        let db = redb::Database::create(path).map_err(db_err)?;
        // Make sure both tables exist so that reads never fail on a new file.
        let wtx = db.begin_write().map_err(db_err)?;
        {
            wtx.open_table(OBJECTS).map_err(db_err)?;
            wtx.open_table(EVENTS).map_err(db_err)?;
            let mut meta = wtx.open_table(META).map_err(db_err)?;
            // A new database has its whole history: it starts at 0.
            let fresh = meta.get(RV_KEY).map_err(db_err)?.is_none()
                && meta.get(FLOOR_KEY).map_err(db_err)?.is_none();
            if fresh {
                meta.insert(FLOOR_KEY, 0).map_err(db_err)?;
            }
        }
        wtx.commit().map_err(db_err)?;

        let mut objects = BTreeMap::new();
        let rtx = db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(OBJECTS).map_err(db_err)?;
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let key_str = k.value().to_string();
            let Some(key) = ObjKey::decode(&key_str) else {
                tracing::warn!(key = %key_str, "skipping malformed storage key");
                continue;
            };
            let obj: Value =
                serde_json::from_slice(v.value()).map_err(|source| StoreError::Corrupt {
                    key: key_str.clone(),
                    source,
                })?;
            objects.insert(key, Arc::new(obj));
        }
        let meta = rtx.open_table(META).map_err(db_err)?;
        let rv = meta
            .get(RV_KEY)
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(0);
        let mut history_floor = meta
            .get(FLOOR_KEY)
            .map_err(db_err)?
            .map(|g| g.value())
            .unwrap_or(rv);
        let mut history = VecDeque::new();
        let events = rtx.open_table(EVENTS).map_err(db_err)?;
        for item in events.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            match decode_event(k.value(), v.value()) {
                Some(ev) => history.push_back(Arc::new(ev)),
                None => {
                    // An undecodable entry breaks the chain: resume only after it.
                    history.clear();
                    history_floor = k.value();
                }
            }
        }
        while history.len() > history_limit.max(1) {
            if let Some(old) = history.pop_front() {
                history_floor = old.rv;
            }
        }
        drop(table);
        drop(meta);
        drop(events);
        drop(rtx);
        let (tx, _) = broadcast::channel(history_limit.clamp(1024, 65536));
        tracing::info!(
            objects = objects.len(),
            rv,
            history = history.len(),
            "store opened"
        );
        Ok(Store {
            db,
            inner: Mutex::new(Inner {
                objects,
                rv,
                history,
                history_floor,
            }),
            history_limit: history_limit.max(1),
            tx,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means another request panicked while holding
        // it; the data is replaced atomically, so it is still consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current global resourceVersion.
    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Reads one object.
    pub fn get(&self, key: &ObjKey) -> Option<Arc<Value>> {
        self.lock().objects.get(key).cloned()
    }

    /// Lists the objects of one resource, optionally in one namespace,
    /// in key order starting strictly after `after` (a name or
    /// `namespace/name`), together with the current resourceVersion.
    pub fn list(
        &self,
        group: &str,
        resource: &str,
        namespace: Option<&str>,
    ) -> (u64, Vec<(ObjKey, Arc<Value>)>) {
        let inner = self.lock();
        let start = ObjKey::new(group, resource, namespace.unwrap_or(""), "");
        let items = inner
            .objects
            .range(start..)
            .take_while(|(k, _)| {
                k.group == group
                    && k.resource == resource
                    && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        (inner.rv, items)
    }

    /// Applies a group of writes atomically, each getting the next
    /// resourceVersion. `prepare` runs under the store lock with read access
    /// to the current objects and returns the writes (or an error), so a
    /// read-modify-write is free of races. Returns what `prepare` returned
    /// along with the written objects.
    pub fn transact<T, E>(
        &self,
        prepare: impl FnOnce(&Objects) -> Result<(Vec<Write>, T), E>,
    ) -> Result<(T, Vec<Arc<Value>>), E>
    where
        E: From<StoreError>,
    {
        let mut inner = self.lock();
        let (writes, out) = prepare(&inner.objects)?;
        if writes.is_empty() {
            return Ok((out, Vec::new()));
        }
        let mut rv = inner.rv;
        let mut events = Vec::with_capacity(writes.len());
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(OBJECTS).map_err(db_err)?;
            for w in writes {
                rv += 1;
                match w {
                    Write::Put {
                        key,
                        mut object,
                        added,
                    } => {
                        set_rv(&mut object, rv);
                        let bytes = serde_json::to_vec(&object).map_err(db_err)?;
                        table
                            .insert(key.encode().as_str(), bytes.as_slice())
                            .map_err(db_err)?;
                        let previous = if added {
                            None
                        } else {
                            inner.objects.get(&key).cloned()
                        };
                        events.push(ChangeEvent {
                            rv,
                            previous,
                            kind: if added {
                                EventType::Added
                            } else {
                                EventType::Modified
                            },
                            key,
                            object: Arc::new(object),
                        });
                    }
                    Write::Delete { key, mut object } => {
                        set_rv(&mut object, rv);
                        table.remove(key.encode().as_str()).map_err(db_err)?;
                        events.push(ChangeEvent {
                            rv,
                            previous: None,
                            kind: EventType::Deleted,
                            key,
                            object: Arc::new(object),
                        });
                    }
                }
            }
            let mut log = wtx.open_table(EVENTS).map_err(db_err)?;
            for ev in &events {
                log.insert(ev.rv, encode_event(ev).as_slice())
                    .map_err(db_err)?;
            }
            // Evict what the in-memory history will drop below.
            let total = inner.history.len() + events.len();
            let evict = total.saturating_sub(self.history_limit);
            let mut floor = None;
            for rv in inner
                .history
                .iter()
                .map(|e| e.rv)
                .chain(events.iter().map(|e| e.rv))
                .take(evict)
            {
                log.remove(rv).map_err(db_err)?;
                floor = Some(rv);
            }
            let mut meta = wtx.open_table(META).map_err(db_err)?;
            meta.insert(RV_KEY, rv).map_err(db_err)?;
            if let Some(f) = floor {
                meta.insert(FLOOR_KEY, f).map_err(db_err)?;
            }
        }
        wtx.commit().map_err(db_err)?;

        inner.rv = rv;
        let mut written = Vec::with_capacity(events.len());
        for ev in events {
            match ev.kind {
                EventType::Deleted => {
                    inner.objects.remove(&ev.key);
                }
                _ => {
                    inner.objects.insert(ev.key.clone(), ev.object.clone());
                }
            }
            written.push(ev.object.clone());
            let ev = Arc::new(ev);
            inner.history.push_back(ev.clone());
            while inner.history.len() > self.history_limit {
                if let Some(old) = inner.history.pop_front() {
                    inner.history_floor = old.rv;
                }
            }
            // No receivers is fine.
            let _ = self.tx.send(ev);
        }
        Ok((out, written))
    }

    /// Starts a watch: subscribes to live events and, under the same lock,
    /// collects the history after `since` (when given) and a snapshot of
    /// the matching objects (when `snapshot` is given).
    pub fn watch_start(
        &self,
        since: Option<u64>,
        snapshot: Option<(&str, &str, Option<&str>)>,
    ) -> WatchStart {
        let inner = self.lock();
        let live = self.tx.subscribe();
        let replay = match since {
            Some(since) if since >= inner.history_floor => inner
                .history
                .iter()
                .filter(|e| e.rv > since)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let snapshot = match snapshot {
            Some((group, resource, ns)) => {
                let start = ObjKey::new(group, resource, ns.unwrap_or(""), "");
                inner
                    .objects
                    .range(start..)
                    .take_while(|(k, _)| {
                        k.group == group
                            && k.resource == resource
                            && ns.is_none_or(|n| k.namespace == n)
                    })
                    .map(|(_, v)| v.clone())
                    .collect()
            }
            None => Vec::new(),
        };
        WatchStart {
            current_rv: inner.rv,
            history_floor: inner.history_floor,
            replay,
            snapshot,
            live,
        }
    }

    /// Drops the whole watch history, so that every watch resuming from an
    /// older resourceVersion gets 410 Expired. Used by tests to force a
    /// relist.
    pub fn compact_history(&self) {
        let mut inner = self.lock();
        let rv = inner.rv;
        let persisted = (|| -> Result<(), StoreError> {
            let wtx = self.db.begin_write().map_err(db_err)?;
            {
                let mut log = wtx.open_table(EVENTS).map_err(db_err)?;
                for e in &inner.history {
                    log.remove(e.rv).map_err(db_err)?;
                }
                let mut meta = wtx.open_table(META).map_err(db_err)?;
                meta.insert(FLOOR_KEY, rv).map_err(db_err)?;
            }
            wtx.commit().map_err(db_err)
        })();
        if let Err(e) = persisted {
            tracing::warn!(error = %e, "could not persist the compaction");
        }
        inner.history.clear();
        inner.history_floor = rv;
    }
}

fn encode_event(ev: &ChangeEvent) -> Vec<u8> {
    let v = serde_json::json!({
        "type": ev.kind.as_str(),
        "key": ev.key.encode(),
        "object": &*ev.object,
    });
    serde_json::to_vec(&v).unwrap_or_default()
}

fn decode_event(rv: u64, bytes: &[u8]) -> Option<ChangeEvent> {
    let v: Value = serde_json::from_slice(bytes).ok()?;
    let kind = match v.get("type")?.as_str()? {
        "ADDED" => EventType::Added,
        "MODIFIED" => EventType::Modified,
        "DELETED" => EventType::Deleted,
        _ => return None,
    };
    Some(ChangeEvent {
        rv,
        previous: None,
        kind,
        key: ObjKey::decode(v.get("key")?.as_str()?)?,
        object: Arc::new(v.get("object")?.clone()),
    })
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj
        .as_object_mut()
        .and_then(|o| o.get_mut("metadata"))
        .and_then(|m| m.as_object_mut())
    {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn put(name: &str) -> Write {
        Write::Put {
            key: ObjKey::new("", "configmaps", "default", name),
            object: json!({"metadata": {"name": name}}),
            added: true,
        }
    }

    #[test]
    fn writes_survive_reopen_with_same_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.redb");
        {
            let store = Store::open(&path, 10).unwrap();
            store
                .transact::<_, StoreError>(|_| Ok((vec![put("a"), put("b")], ())))
                .unwrap();
            assert_eq!(store.current_rv(), 2);
        }
        let store = Store::open(&path, 10).unwrap();
        assert_eq!(store.current_rv(), 2);
        let b = store
            .get(&ObjKey::new("", "configmaps", "default", "b"))
            .unwrap();
        assert_eq!(b["metadata"]["resourceVersion"], "2");
        let (rv, items) = store.list("", "configmaps", Some("default"));
        assert_eq!(rv, 2);
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn history_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let store = Store::open(&path, 3).unwrap();
            for i in 0..5 {
                store
                    .transact::<_, StoreError>(|_| Ok((vec![put(&format!("o{i}"))], ())))
                    .unwrap();
            }
        }
        let store = Store::open(&path, 3).unwrap();
        let w = store.watch_start(Some(3), None);
        assert_eq!(w.history_floor, 2);
        assert_eq!(
            w.replay.iter().map(|e| e.rv).collect::<Vec<_>>(),
            vec![4, 5]
        );
        assert_eq!(w.replay[1].object["metadata"]["name"], "o4");
        store.compact_history();
        drop(store);
        let store = Store::open(&path, 3).unwrap();
        let w = store.watch_start(Some(4), None);
        assert_eq!(w.history_floor, 5);
        assert!(w.replay.is_empty());
    }

    #[test]
    fn history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db"), 3).unwrap();
        for i in 0..5 {
            store
                .transact::<_, StoreError>(|_| Ok((vec![put(&format!("o{i}"))], ())))
                .unwrap();
        }
        let w = store.watch_start(Some(2), None);
        assert_eq!(w.history_floor, 2);
        assert_eq!(w.replay.len(), 3);
        let w = store.watch_start(Some(1), None);
        assert!(w.replay.is_empty());
        assert!(1 < w.history_floor);
    }
}
