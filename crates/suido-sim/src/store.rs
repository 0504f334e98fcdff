//! Durable state in an embedded redb database, one record per server, volume, service-family
//! resource, operation and client token, plus the id counter and the clock offset. Every commit
//! is fsynced (redb's default `Durability::Immediate`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use redb::{ReadableDatabase, ReadableTable, TableDefinition};

use crate::SimError;
use crate::world::{Family, Kind, OpRecord, ServerRecord, World, with_kind};

const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");

/// A record that changed in a transaction of the world.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Key {
    Server(String),
    Volume(String),
    Record(Family, String),
    Op(String),
    Token(String),
    NextId,
    ClockOffset,
}

impl Key {
    fn encode(&self) -> String {
        match self {
            Key::Server(id) => format!("server/{id}"),
            Key::Volume(id) => format!("volume/{id}"),
            Key::Op(id) => format!("op/{id}"),
            Key::Token(t) => format!("token/{t}"),
            Key::Record(family, id) => format!("{}/{id}", family.store_prefix()),
            Key::NextId => "meta/next_id".to_string(),
            Key::ClockOffset => "meta/clock_offset_ms".to_string(),
        }
    }
}

fn db_err(e: impl std::fmt::Display) -> SimError {
    SimError::Store(e.to_string())
}

/// The database file of a state directory.
pub(crate) struct Store {
    db: redb::Database,
    path: PathBuf,
}

impl Store {
    /// Opens (creating when needed) `DIR/sim.redb`.
    pub(crate) fn open(dir: &Path) -> Result<Store, SimError> {
        std::fs::create_dir_all(dir).map_err(|source| SimError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join("sim.redb");
        let db = redb::Database::create(&path)
            .map_err(|e| SimError::Store(format!("cannot open {}: {e}", path.display())))?;
        let wtx = db.begin_write().map_err(db_err)?;
        wtx.open_table(RECORDS).map_err(db_err)?;
        wtx.commit().map_err(db_err)?;
        Ok(Store { db, path })
    }

    /// Reads the whole world.
    pub(crate) fn load(&self) -> Result<World, SimError> {
        let mut world = World::default();
        let rtx = self.db.begin_read().map_err(db_err)?;
        let table = rtx.open_table(RECORDS).map_err(db_err)?;
        for item in table.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let key = k.value();
            let bytes = v.value();
            let corrupt = |source| SimError::Corrupt {
                key: key.to_string(),
                source,
            };
            let Some((kind, id)) = key.split_once('/') else {
                tracing::warn!(key, "skipping a record with a malformed key");
                continue;
            };
            match kind {
                "server" => {
                    let rec: ServerRecord = serde_json::from_slice(bytes).map_err(corrupt)?;
                    world.servers.insert(id.to_string(), rec);
                }
                "volume" => {
                    let vol = serde_json::from_slice(bytes).map_err(corrupt)?;
                    world.volumes.insert(id.to_string(), vol);
                }
                "op" => {
                    let op: OpRecord = serde_json::from_slice(bytes).map_err(corrupt)?;
                    world.ops.insert(id.to_string(), op);
                }
                "token" => {
                    let op_id = serde_json::from_slice(bytes).map_err(corrupt)?;
                    world.tokens.insert(id.to_string(), op_id);
                }
                "meta" if id == "next_id" => {
                    world.next_id = serde_json::from_slice(bytes).map_err(corrupt)?;
                }
                "meta" if id == "clock_offset_ms" => {
                    world.clock_offset_ms = serde_json::from_slice(bytes).map_err(corrupt)?;
                }
                other => match Family::from_store_prefix(other) {
                    Some(family) => with_kind!(family, K => {
                        let rec = serde_json::from_slice(bytes).map_err(corrupt)?;
                        K::table_mut(&mut world).insert(id.to_string(), rec);
                    }),
                    None => tracing::warn!(key, "skipping a record of an unknown kind"),
                },
            }
        }
        tracing::info!(
            path = %self.path.display(),
            servers = world.servers.len(),
            volumes = world.volumes.len(),
            services = Family::ALL
                .iter()
                .map(|f| with_kind!(*f, K => K::table(&world).len()))
                .sum::<usize>(),
            operations = world.ops.len(),
            "sim state loaded"
        );
        Ok(world)
    }

    /// Writes the records named by `dirty` as they are now in `world` (absent ones are removed),
    /// in one fsynced transaction.
    pub(crate) fn commit(&self, world: &World, dirty: &BTreeSet<Key>) -> Result<(), SimError> {
        if dirty.is_empty() {
            return Ok(());
        }
        let wtx = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = wtx.open_table(RECORDS).map_err(db_err)?;
            for key in dirty {
                let value = match key {
                    Key::Server(id) => world.servers.get(id).map(serde_json::to_vec),
                    Key::Volume(id) => world.volumes.get(id).map(serde_json::to_vec),
                    Key::Op(id) => world.ops.get(id).map(serde_json::to_vec),
                    Key::Token(t) => world.tokens.get(t).map(serde_json::to_vec),
                    Key::Record(family, id) => {
                        with_kind!(*family, K => K::table(world).get(id).map(serde_json::to_vec))
                    }
                    Key::NextId => Some(serde_json::to_vec(&world.next_id)),
                    Key::ClockOffset => Some(serde_json::to_vec(&world.clock_offset_ms)),
                };
                let encoded = key.encode();
                match value {
                    Some(bytes) => {
                        let bytes = bytes.map_err(db_err)?;
                        table
                            .insert(encoded.as_str(), bytes.as_slice())
                            .map_err(db_err)?;
                    }
                    None => {
                        table.remove(encoded.as_str()).map_err(db_err)?;
                    }
                }
            }
        }
        wtx.commit().map_err(db_err)?;
        Ok(())
    }
}
