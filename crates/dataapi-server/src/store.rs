//! Storage: every collection lives in memory (documents ordered by id key,
//! vectors decoded to f32 once) and is written through to SQLite.
//!
//! Locking: one `RwLock` over the catalog; reads share it, writes hold it
//! exclusively while they persist (one SQLite transaction per command) and
//! then update memory, so memory and disk never diverge.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rusqlite::{Connection, params};
use serde_json::{Map, Value};

use crate::error::{ApiError, Code, ServerError, err};
use crate::schema::CollectionDef;
use crate::vector::StoredVector;

/// The keyspace that always exists.
pub const DEFAULT_KEYSPACE: &str = "default_keyspace";

/// One stored document: the body (with `_id`, without `$vector`) and its vector.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StoredDoc {
    pub(crate) body: Map<String, Value>,
    pub(crate) vector: Option<StoredVector>,
}

impl StoredDoc {
    pub(crate) fn id(&self) -> Value {
        self.body.get("_id").cloned().unwrap_or(Value::Null)
    }
}

#[derive(Debug)]
pub(crate) struct Collection {
    pub(crate) def: CollectionDef,
    pub(crate) docs: BTreeMap<String, StoredDoc>,
}

/// A document to write, with its body already serialized when known.
pub(crate) struct Put {
    pub(crate) key: String,
    pub(crate) doc: StoredDoc,
    pub(crate) json: Option<String>,
}

impl Put {
    pub(crate) fn new(key: String, doc: StoredDoc) -> Self {
        Put {
            key,
            doc,
            json: None,
        }
    }
}

/// Document changes made by one command, applied atomically.
#[derive(Default)]
pub(crate) struct Changes {
    pub(crate) puts: Vec<Put>,
    pub(crate) deletes: Vec<String>,
    pub(crate) truncate: bool,
}

impl Changes {
    pub(crate) fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.deletes.is_empty() && !self.truncate
    }
}

#[derive(Default)]
pub(crate) struct Catalog {
    pub(crate) keyspaces: BTreeMap<String, BTreeMap<String, Collection>>,
}

impl Catalog {
    pub(crate) fn collection_count(&self) -> usize {
        self.keyspaces.values().map(BTreeMap::len).sum()
    }
}

pub(crate) struct Store {
    catalog: RwLock<Catalog>,
    conn: Mutex<Connection>,
}

pub(crate) fn db_error(e: rusqlite::Error) -> ApiError {
    tracing::error!(error = %e, "SQLite error");
    err(
        Code::UNAVAILABLE_DATABASE,
        format!(
            "The database could not complete the operation: {e}. It is safe to retry this request."
        ),
    )
}

impl Store {
    /// Open (or create) the database under `dir`, or in memory when `None`.
    pub(crate) fn open(dir: Option<&Path>, keyspaces: &[String]) -> Result<Store, ServerError> {
        let conn = match dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                let c = Connection::open(d.join("dataapi.sqlite3"))?;
                c.pragma_update(None, "journal_mode", "WAL")?;
                c.pragma_update(None, "synchronous", "NORMAL")?;
                c
            }
            None => Connection::open_in_memory()?,
        };
        c_init(&conn)?;
        let tx_keyspaces =
            std::iter::once(DEFAULT_KEYSPACE.to_owned()).chain(keyspaces.iter().cloned());
        for ks in tx_keyspaces {
            if !crate::schema::valid_name(&ks) {
                return Err(ServerError::Config(format!("invalid keyspace name '{ks}'")));
            }
            conn.execute(
                "INSERT OR IGNORE INTO keyspaces(name) VALUES (?1)",
                params![ks],
            )?;
        }
        let catalog = load(&conn)?;
        Ok(Store {
            catalog: RwLock::new(catalog),
            conn: Mutex::new(conn),
        })
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Catalog> {
        self.catalog.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Exclusive access to the catalog plus the database connection.
    pub(crate) fn write(&self) -> (RwLockWriteGuard<'_, Catalog>, MutexGuard<'_, Connection>) {
        let cat = self.catalog.write().unwrap_or_else(|p| p.into_inner());
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        (cat, conn)
    }
}

fn c_init(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS keyspaces(name TEXT PRIMARY KEY);
         CREATE TABLE IF NOT EXISTS collections(
             keyspace TEXT NOT NULL, name TEXT NOT NULL, options_json TEXT NOT NULL,
             PRIMARY KEY(keyspace, name));
         CREATE TABLE IF NOT EXISTS documents(
             keyspace TEXT NOT NULL, collection TEXT NOT NULL, id_key TEXT NOT NULL,
             doc_json TEXT NOT NULL, vector BLOB, vector_binary INTEGER NOT NULL DEFAULT 0,
             PRIMARY KEY(keyspace, collection, id_key));",
    )
}

fn load(conn: &Connection) -> Result<Catalog, ServerError> {
    let mut cat = Catalog::default();
    let mut st = conn.prepare("SELECT name FROM keyspaces")?;
    for ks in st.query_map([], |r| r.get::<_, String>(0))? {
        cat.keyspaces.insert(ks?, BTreeMap::new());
    }
    let mut st = conn.prepare("SELECT keyspace, name, options_json FROM collections")?;
    let rows = st.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (ks, name, opts) = row?;
        let v: Value = serde_json::from_str(&opts)
            .map_err(|e| ServerError::Corrupt(format!("options of {ks}.{name}: {e}")))?;
        let def = CollectionDef::from_stored_json(&v)
            .map_err(|e| ServerError::Corrupt(format!("options of {ks}.{name}: {}", e.message)))?;
        cat.keyspaces.entry(ks).or_default().insert(
            name,
            Collection {
                def,
                docs: BTreeMap::new(),
            },
        );
    }
    let mut st = conn.prepare(
        "SELECT keyspace, collection, id_key, doc_json, vector, vector_binary FROM documents",
    )?;
    let mut rows = st.query([])?;
    let mut rekey: Vec<(String, String, String, String)> = Vec::new();
    while let Some(r) = rows.next()? {
        let ks: String = r.get(0)?;
        let coll: String = r.get(1)?;
        let key: String = r.get(2)?;
        let json: String = r.get(3)?;
        let blob: Option<Vec<u8>> = r.get(4)?;
        let binary: bool = r.get(5)?;
        let Some(c) = cat.keyspaces.get_mut(&ks).and_then(|k| k.get_mut(&coll)) else {
            continue;
        };
        let body: Map<String, Value> = serde_json::from_str(&json)
            .map_err(|e| ServerError::Corrupt(format!("document {key} in {ks}.{coll}: {e}")))?;
        // Databases written before keys carried a token: re-key them.
        let want = body.get("_id").map(crate::docid::key);
        if let Some(w) = want.filter(|w| *w != key) {
            rekey.push((ks.clone(), coll.clone(), key.clone(), w));
        }
        let vector =
            match blob {
                None => None,
                Some(b) => Some(StoredVector::from_le_bytes(&b, binary).ok_or_else(|| {
                    ServerError::Corrupt(format!("vector of {key} in {ks}.{coll}"))
                })?),
            };
        let key = rekey
            .last()
            .filter(|r| r.2 == key)
            .map_or(key, |r| r.3.clone());
        c.docs.insert(key, StoredDoc { body, vector });
    }
    drop(rows);
    drop(st);
    for (ks, coll, old, new) in rekey {
        conn.execute(
            "UPDATE documents SET id_key = ?4 WHERE keyspace = ?1 AND collection = ?2 AND id_key = ?3",
            params![ks, coll, old, new],
        )?;
    }
    Ok(cat)
}

/// Persist a new keyspace.
pub(crate) fn persist_keyspace(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO keyspaces(name) VALUES (?1)",
        params![name],
    )?;
    Ok(())
}

/// Drop a keyspace with all its collections and documents.
pub(crate) fn persist_drop_keyspace(conn: &mut Connection, name: &str) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute("DELETE FROM documents WHERE keyspace = ?1", params![name])?;
    tx.execute("DELETE FROM collections WHERE keyspace = ?1", params![name])?;
    tx.execute("DELETE FROM keyspaces WHERE name = ?1", params![name])?;
    tx.commit()
}

pub(crate) fn persist_collection(
    conn: &Connection,
    ks: &str,
    name: &str,
    options: &Value,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO collections(keyspace, name, options_json) VALUES (?1, ?2, ?3)",
        params![ks, name, options.to_string()],
    )?;
    Ok(())
}

pub(crate) fn persist_drop_collection(
    conn: &mut Connection,
    ks: &str,
    name: &str,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "DELETE FROM documents WHERE keyspace = ?1 AND collection = ?2",
        params![ks, name],
    )?;
    tx.execute(
        "DELETE FROM collections WHERE keyspace = ?1 AND name = ?2",
        params![ks, name],
    )?;
    tx.commit()
}

/// Write `changes` to SQLite in one transaction, then apply them in memory.
pub(crate) fn commit(
    conn: &mut Connection,
    ks: &str,
    name: &str,
    coll: &mut Collection,
    changes: Changes,
) -> Result<(), ApiError> {
    if changes.is_empty() {
        return Ok(());
    }
    let write = |conn: &mut Connection| -> rusqlite::Result<()> {
        let tx = conn.transaction()?;
        if changes.truncate {
            tx.execute(
                "DELETE FROM documents WHERE keyspace = ?1 AND collection = ?2",
                params![ks, name],
            )?;
        }
        {
            let mut del = tx.prepare_cached(
                "DELETE FROM documents WHERE keyspace = ?1 AND collection = ?2 AND id_key = ?3",
            )?;
            for key in &changes.deletes {
                del.execute(params![ks, name, key])?;
            }
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO documents(keyspace, collection, id_key, doc_json, vector, vector_binary)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for p in &changes.puts {
                let serialized;
                let json = match &p.json {
                    Some(j) => j,
                    None => {
                        serialized = serde_json::to_string(&p.doc.body)
                            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                        &serialized
                    }
                };
                let blob = p.doc.vector.as_ref().map(StoredVector::to_le_bytes);
                let binary = p.doc.vector.as_ref().is_some_and(|v| v.binary.is_some());
                put.execute(params![ks, name, p.key, json, blob, binary])?;
            }
        }
        tx.commit()
    };
    write(conn).map_err(db_error)?;
    if changes.truncate {
        coll.docs.clear();
    }
    for key in changes.deletes {
        coll.docs.remove(&key);
    }
    for p in changes.puts {
        coll.docs.insert(p.key, p.doc);
    }
    Ok(())
}
