//! The sync record in SQLite: `<library>/data/.songrec/sync.sqlite` (schema in
//! `migrations/sync/`). One file per library holds this machine's id and, per remote library,
//! the last synced state of every song ([`crate::record`]). Every commit is one
//! transaction, durable before it returns (WAL, `synchronous = FULL`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension as _, params};
use songrec_storage::{SongId, SongMetadata, StorageError, StorageResult};

use crate::record::{BaseEntry, RecordChange, RecordStore, entry_of};

/// The schema, applied to new files.
const SCHEMA: &str = include_str!("../../../../migrations/sync/001_record.sql");
/// Schema version written by this build.
const SCHEMA_VERSION: i64 = 1;

/// The SQLite-backed [`RecordStore`] for one remote library.
///
/// ```no_run
/// use songrec_sync::stores::sqlite_record::SqliteRecord;
/// use songrec_sync::record::RecordStore;
/// let r = SqliteRecord::open("/music/data/.songrec/sync.sqlite".as_ref(), "astra https://db… | s3 bucket").unwrap();
/// println!("machine {}", r.machine_id());
/// ```
#[derive(Debug)]
pub struct SqliteRecord {
    conn: Mutex<Connection>,
    path: PathBuf,
    remote: String,
    machine: String,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> StorageError + '_ {
    move |e| StorageError::Backend {
        backend: "sync record".into(),
        message: format!("{}: {e}", path.display()),
        transient: matches!(
            e,
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code: rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked,
                    ..
                },
                _
            )
        ),
    }
}

impl SqliteRecord {
    /// Opens (creating if needed) the record file and selects the `remote` library's rows.
    pub fn open(path: &Path, remote: &str) -> StorageResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        }
        let err = db_err(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(&err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(&err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&err)?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::corrupt(
                path,
                format!(
                    "sync record schema {version} was written by a newer songrec (this one knows {SCHEMA_VERSION}); upgrade songrec"
                ),
            ));
        }
        if version < SCHEMA_VERSION {
            conn.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))
            .map_err(&err)?;
        }
        let machine = machine_id_for(&conn, file_home(path)).map_err(&err)?;
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            remote: remote.to_owned(),
            machine,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> StorageResult<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| StorageError::backend("sync record", "poisoned by an earlier panic"))
    }
}

/// Where this record file lives, as the file system knows it (its inode): a copy of the
/// library (`cp -a`, a backup restored, the folder moved to another machine) is a new file
/// with another inode, while a move within one file system, a reboot or a replugged disk
/// keep it. `None` where the platform has no inodes.
fn file_home(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        std::fs::metadata(path)
            .ok()
            .map(|m| format!("ino:{}", m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// This library's machine id: generated once, and generated anew when the record file is
/// found at another home than the one it was made in ([`file_home`]). The id is what the sync
/// lease trusts ("a lease held by my machine id is a run of mine that died"), so a copy of
/// the library must not inherit it: the copy would take over the original's live lease and
/// two machines would sync at once. The base rows stay: they describe the copy's content too.
fn machine_id_for(conn: &Connection, home: Option<String>) -> rusqlite::Result<String> {
    let tx = conn.unchecked_transaction()?;
    let get = |key: &str| {
        tx.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
            r.get::<_, String>(0)
        })
        .optional()
    };
    let set = |key: &str, value: &str| {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            params![key, value],
        )
    };
    let mut machine = get("machine_id")?;
    match (&home, get("machine_home")?) {
        (Some(here), Some(made)) if *here != made && machine.is_some() => {
            tracing::info!(
                "this library's sync record was made elsewhere ({made}, here {here}): \
                 a copy gets its own machine id"
            );
            machine = None;
        }
        _ => {}
    }
    let machine = match machine {
        Some(m) => m,
        None => {
            let fresh = format!("{:032x}", rand_u128());
            set("machine_id", &fresh)?;
            fresh
        }
    };
    if let Some(here) = &home {
        set("machine_home", here)?;
    }
    tx.commit()?;
    Ok(machine)
}

/// 128 random bits from the OS (via std's randomly seeded hasher) mixed with time and pid.
fn rand_u128() -> u128 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut out = 0u128;
    for i in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        out = (out << 64) | u128::from(h.finish());
    }
    out
}

impl RecordStore for SqliteRecord {
    fn machine_id(&self) -> String {
        self.machine.clone()
    }

    fn load(&self) -> StorageResult<HashMap<SongId, BaseEntry>> {
        let err = db_err(&self.path);
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached("SELECT id, version, digest, deleted FROM base WHERE remote = ?1")
            .map_err(&err)?;
        let rows = st
            .query_map(params![self.remote], |r| {
                <(String, i64, String, bool)>::try_from(r)
            })
            .map_err(&err)?;
        let mut out = HashMap::new();
        for row in rows {
            let (id, version, digest, deleted) = row.map_err(&err)?;
            let id =
                SongId::parse(&id).map_err(|e| StorageError::corrupt(&self.path, e.to_string()))?;
            out.insert(
                id,
                BaseEntry {
                    version: u64::try_from(version).unwrap_or(0),
                    digest,
                    deleted,
                },
            );
        }
        Ok(out)
    }

    fn base_metadata(&self, ids: &[SongId]) -> StorageResult<HashMap<SongId, SongMetadata>> {
        let err = db_err(&self.path);
        let conn = self.conn()?;
        let mut st = conn
            .prepare_cached(
                "SELECT metadata FROM base WHERE remote = ?1 AND id = ?2 AND metadata IS NOT NULL",
            )
            .map_err(&err)?;
        let mut out = HashMap::new();
        for id in ids {
            let text: Option<String> = st
                .query_row(params![self.remote, id.as_str()], |r| r.get(0))
                .optional()
                .map_err(&err)?;
            if let Some(t) = text {
                let m: SongMetadata = serde_json::from_str(&t).map_err(|e| {
                    StorageError::corrupt(&self.path, format!("metadata of song {id}: {e}"))
                })?;
                out.insert(id.clone(), m);
            }
        }
        Ok(out)
    }

    fn commit(&self, changes: &[RecordChange]) -> StorageResult<()> {
        let err = db_err(&self.path);
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(&err)?;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO base (remote, id, version, digest, deleted, metadata, synced_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(&err)?;
            let now = chrono::Utc::now().to_rfc3339();
            for c in changes {
                let e = entry_of(c);
                let meta = match c {
                    RecordChange::Live(m) => Some(serde_json::to_string(m).map_err(|e| {
                        StorageError::InvalidInput(format!("metadata of song {}: {e}", m.id))
                    })?),
                    RecordChange::Deleted { .. } => None,
                };
                st.execute(params![
                    self.remote,
                    c.id().as_str(),
                    i64::try_from(e.version).unwrap_or(i64::MAX),
                    e.digest,
                    e.deleted,
                    meta,
                    now
                ])
                .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopen_keeps_machine_id_and_separates_remotes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("sync.sqlite");
        let a = SqliteRecord::open(&path, "remote-1").unwrap();
        let machine = a.machine_id();
        assert_eq!(machine.len(), 32);
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        m.version = 4;
        let gone = SongId::from_bytes(b"y");
        a.commit(&[
            RecordChange::Live(m.clone()),
            RecordChange::Deleted {
                id: gone.clone(),
                version: 2,
            },
        ])
        .unwrap();
        drop(a);
        let a = SqliteRecord::open(&path, "remote-1").unwrap();
        assert_eq!(a.machine_id(), machine, "generated once");
        let base = a.load().unwrap();
        assert_eq!(base.len(), 2);
        assert_eq!(base[&m.id].version, 4);
        assert_eq!(base[&m.id].digest, crate::digest::digest(&m));
        assert!(base[&gone].deleted);
        let metas = a.base_metadata(&[m.id.clone(), gone.clone()]).unwrap();
        assert_eq!(metas.len(), 1);
        assert_eq!(metas[&m.id], m);
        let other = SqliteRecord::open(&path, "remote-2").unwrap();
        assert!(other.load().unwrap().is_empty());
        assert_eq!(other.machine_id(), machine, "one machine id per library");
        // Replacing a row.
        m.version = 5;
        a.commit(&[RecordChange::Live(m.clone())]).unwrap();
        assert_eq!(a.load().unwrap()[&m.id].version, 5);
    }

    #[cfg(unix)]
    #[test]
    fn a_copied_library_gets_its_own_machine_id_and_keeps_its_base() {
        let dir = tempfile::tempdir().unwrap();
        let original = dir.path().join("a/sync.sqlite");
        let a = SqliteRecord::open(&original, "remote").unwrap();
        let machine = a.machine_id();
        let m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        a.commit(&[RecordChange::Live(m.clone())]).unwrap();
        drop(a);
        // `cp -a` of the library: a new file with the same bytes.
        let copy = dir.path().join("b/sync.sqlite");
        std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
        std::fs::copy(&original, &copy).unwrap();
        let b = SqliteRecord::open(&copy, "remote").unwrap();
        assert_ne!(
            b.machine_id(),
            machine,
            "the copy must not hold the original's lease"
        );
        assert_eq!(b.load().unwrap().len(), 1, "the copy keeps its sync base");
        let copy_machine = b.machine_id();
        drop(b);
        assert_eq!(
            SqliteRecord::open(&copy, "remote").unwrap().machine_id(),
            copy_machine,
            "the copy's new id is kept from then on"
        );
        assert_eq!(
            SqliteRecord::open(&original, "remote")
                .unwrap()
                .machine_id(),
            machine,
            "the original keeps its id"
        );
        // Moved (renamed) within the file system: the same library, the same id.
        let moved = dir.path().join("a/moved.sqlite");
        std::fs::rename(&original, &moved).unwrap();
        assert_eq!(
            SqliteRecord::open(&moved, "remote").unwrap().machine_id(),
            machine
        );
    }

    #[test]
    fn different_libraries_get_different_machine_ids() {
        let dir = tempfile::tempdir().unwrap();
        let a = SqliteRecord::open(&dir.path().join("a.sqlite"), "r").unwrap();
        let b = SqliteRecord::open(&dir.path().join("b.sqlite"), "r").unwrap();
        assert_ne!(a.machine_id(), b.machine_id());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(SqliteRecord::open(&path, "r").unwrap());
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 9).unwrap();
        drop(c);
        let e = SqliteRecord::open(&path, "r").unwrap_err().to_string();
        assert!(e.contains("newer songrec"), "{e}");
    }
}
