//! The disk side of the read cache: an SQLite index in WAL mode plus content-addressed audio
//! files, with a size limit enforced by least-recently-used eviction.
//!
//! Layout of a cache folder:
//!
//! ```text
//! <cache>/index.sqlite            the index (schema: migrations/cache/001_index.sql)
//! <cache>/blobs/<ab>/<song id>    cached audio, named by content hash
//! ```
//!
//! - **Order.** Each process keeps the recency order in an [`lru::LruCache`]; every access also
//!   stores a shared tick in the index, which a process reloads its order from when the
//!   `generation` counter says another process added or removed entries.
//! - **Atomicity.** Index changes are SQLite transactions (`BEGIN IMMEDIATE`, WAL); files are
//!   written to a temporary name, fsynced and renamed before their row is committed. A file
//!   without a row is ignored; a row without its file is a miss and is dropped.
//! - **Integrity.** Audio is re-hashed while copied out and must equal its id; embeddings carry
//!   a SHA-256 of their bytes. A damaged entry is dropped, counted as `corrupt`, and refetched.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use sha2::{Digest, Sha256};

use songrec_storage::error::{StorageError, StorageResult};
use songrec_storage::id::SongId;
use songrec_storage::model::{Embedding, ModelInfo};

mod counters;
mod index;
mod layout;

use counters::*;
pub use counters::{CacheCounters, CacheStats};
use index::*;
pub use layout::{BLOBS_DIR, INDEX_FILE};
use layout::{SCHEMA, SCHEMA_VERSION};

/// One process's handle on a cache folder. Every method is blocking (file and SQLite I/O);
/// call it from `spawn_blocking` in async code. Shareable across threads.
///
/// ```
/// use songrec_cache::CacheStore;
/// use songrec_storage::{Embedding, ModelInfo, SongId};
/// let dir = tempfile::tempdir().unwrap();
/// let store = CacheStore::open(dir.path(), 1 << 20).unwrap();
/// let id = SongId::from_bytes(b"song");
/// let e = Embedding::new(ModelInfo::new("m", "1", 2), vec![0.5, 1.0]).unwrap();
/// store.put_embedding("lib", &id, &e, true).unwrap();
/// assert_eq!(store.get_embedding("lib", &id, &e.model).unwrap(), Some(e));
/// assert_eq!(store.stats().unwrap().session.hits, 1);
/// ```
pub struct CacheStore {
    root: PathBuf,
    max_bytes: u64,
    conn: Mutex<Connection>,
    order: Mutex<Order>,
    session: Mutex<CacheCounters>,
    /// Namespace → song → latest version seen (loaded lazily from the index).
    versions: Mutex<HashMap<String, HashMap<SongId, u64>>>,
}

impl std::fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheStore")
            .field("root", &self.root)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

use songrec_fs::{sync_dir, temp_path as temp_next_to};

fn encode_vector(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode_vector(b: &[u8], dim: usize) -> Option<Vec<f32>> {
    if b.len() != dim * 4 || dim == 0 {
        return None;
    }
    let v: Vec<f32> = b
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    v.iter().all(|x| x.is_finite()).then_some(v)
}

fn checksum(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn audio_key(id: &SongId) -> String {
    format!("a:{id}")
}

fn embedding_key(ns: &str, id: &SongId, model: &ModelInfo) -> String {
    format!("e:{ns}:{id}:{}", model.key())
}

impl CacheStore {
    /// Opens (creating it if needed) the cache folder `root` with a size limit. An unreadable
    /// index is moved aside and a new one started; one written by a newer songrec is refused.
    pub fn open(root: impl AsRef<Path>, max_bytes: u64) -> StorageResult<Self> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(root.join(BLOBS_DIR))
            .map_err(|e| StorageError::io(root.join(BLOBS_DIR), e))?;
        let index = root.join(INDEX_FILE);
        let conn = match Self::open_index(&index) {
            Ok(c) => c,
            Err(OpenError::Newer(v)) => {
                return Err(StorageError::corrupt(
                    &index,
                    format!(
                        "the cache index has schema version {v}, newer than this songrec understands ({SCHEMA_VERSION}); upgrade songrec or use another SONGREC_CACHE_DIR"
                    ),
                ));
            }
            Err(OpenError::Unreadable(e)) => {
                let aside = root.join(format!(
                    "{INDEX_FILE}.unreadable-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S")
                ));
                tracing::warn!(
                    "the cache index {} is unreadable ({e}); moving it to {} and starting an empty cache",
                    index.display(),
                    aside.display()
                );
                fs::rename(&index, &aside).map_err(|e| StorageError::io(&index, e))?;
                for ext in ["-wal", "-shm"] {
                    let _ = fs::remove_file(root.join(format!("{INDEX_FILE}{ext}")));
                }
                Self::open_index(&index).map_err(|e| db_err(&index, e.to_string()))?
            }
        };
        Ok(Self {
            root,
            max_bytes,
            conn: Mutex::new(conn),
            order: Mutex::new(Order {
                lru: LruCache::unbounded(),
                generation: -1,
                stale: true,
            }),
            session: Mutex::new(CacheCounters::default()),
            versions: Mutex::new(HashMap::new()),
        })
    }

    fn open_index(index: &Path) -> Result<Connection, OpenError> {
        let mut conn = Connection::open(index)?;
        conn.busy_timeout(Duration::from_secs(30))?;
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let v: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if v > SCHEMA_VERSION {
            return Err(OpenError::Newer(v));
        }
        if v < SCHEMA_VERSION {
            tx.execute_batch(SCHEMA)?;
            tx.execute_batch(&format!("PRAGMA user_version={SCHEMA_VERSION}"))?;
        }
        // A quick structural check: a damaged file fails here rather than mid-command.
        tx.query_row("SELECT COUNT(*) FROM counters", [], |r| r.get::<_, i64>(0))?;
        tx.commit()?;
        Ok(conn)
    }

    /// The size limit in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    fn index_path(&self) -> PathBuf {
        self.root.join(INDEX_FILE)
    }

    /// Where a song's cached audio lives.
    pub fn audio_path(&self, id: &SongId) -> PathBuf {
        audio_file(&self.root, id)
    }

    fn err(&self, e: rusqlite::Error) -> StorageError {
        db_err(&self.index_path(), e.to_string())
    }

    /// Runs `f` in an immediate (write-locked) transaction, then applies its [`Delta`]: the
    /// counters to this process's totals, removed keys to the order, and deletes files.
    fn write_txn<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &mut Order, &mut Delta) -> rusqlite::Result<T>,
    ) -> StorageResult<T> {
        let mut conn = lock(&self.conn);
        let mut order = lock(&self.order);
        let mut delta = Delta::default();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let out = f(&tx, &mut order, &mut delta).map_err(|e| self.err(e))?;
        for n in COUNTER_NAMES {
            let v = delta.counters.get(n);
            if v > 0 {
                add_counter(&tx, n, v as i64).map_err(|e| self.err(e))?;
            }
        }
        // Evicted files go while this process still holds the index's write lock: removed
        // after the commit, another process could store the same song's file in between and
        // lose it to this removal (an index entry without its file).
        for p in &delta.files {
            match fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!("cache: cannot remove {}: {e}", p.display()),
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        for k in &delta.removed {
            order.lru.pop(k);
        }
        drop(order);
        drop(conn);
        lock(&self.session).add(&delta.counters);
        Ok(out)
    }

    // ---- embeddings ----------------------------------------------------------------------

    /// The cached vector of a song for a model, if held for the song's latest known version.
    /// Counts a hit or a miss; a stale or damaged entry is dropped (and counts as a miss).
    pub fn get_embedding(
        &self,
        ns: &str,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let key = embedding_key(ns, id, model);
        let known = self.known_version(ns, id)?.unwrap_or(0);
        let path = self.index_path();
        self.write_txn(|tx, order, d| {
            type Row = (
                Option<Vec<u8>>,
                Option<String>,
                Option<i64>,
                Option<i64>,
                Option<String>,
                Option<String>,
                i64,
            );
            let row: Option<Row> = tx
                .query_row(
                    "SELECT data, checksum, dim, song_version, model_name, model_version, bytes FROM entries WHERE key = ?1",
                    params![key],
                    |r| r.try_into(),
                )
                .optional()?;
            let Some((data, sum, dim, version, name, mversion, bytes)) = row else {
                d.counters.misses += 1;
                return Ok(None);
            };
            let data = data.unwrap_or_default();
            let dim = usize::try_from(dim.unwrap_or(0)).unwrap_or(0);
            let intact = sum.as_deref() == Some(checksum(&data).as_str());
            let vector = if intact { decode_vector(&data, dim) } else { None };
            let fresh = u64::try_from(version.unwrap_or(0)).unwrap_or(0) == known;
            let (Some(vector), true, Some(name), Some(mversion)) = (vector, fresh, name, mversion)
            else {
                if !intact {
                    tracing::warn!("cache: dropping a damaged embedding entry in {}", path.display());
                    d.counters.corrupt += 1;
                }
                remove_entry(tx, order, d, &key, bytes, None)?;
                d.counters.misses += 1;
                return Ok(None);
            };
            touch(tx, order, &key, bytes)?;
            d.counters.hits += 1;
            d.counters.bytes_served += data.len() as u64;
            Ok(Some(Embedding {
                model: ModelInfo::new(name, mversion, dim),
                vector,
            }))
        })
    }

    /// Caches a song's vector for its latest known version. `fetched`: it came from the remote
    /// (counted in `bytes_fetched`), rather than from a write passing through.
    pub fn put_embedding(
        &self,
        ns: &str,
        id: &SongId,
        e: &Embedding,
        fetched: bool,
    ) -> StorageResult<()> {
        let version = self.known_version(ns, id)?.unwrap_or(0);
        let key = embedding_key(ns, id, &e.model);
        let data = encode_vector(&e.vector);
        let bytes = (data.len() + key.len()) as i64;
        let max = self.max_bytes;
        self.write_txn(|tx, order, d| {
            if fetched {
                d.counters.bytes_fetched += data.len() as u64;
            }
            if bytes as u64 > max {
                return Ok(());
            }
            let sum = checksum(&data);
            let old: Option<i64> = entry_bytes(tx, &key)?;
            let tick = add_counter(tx, "tick", 1)?;
            tx.execute(
                "INSERT OR REPLACE INTO entries (key, kind, ns, song, model_name, model_version, dim, song_version, data, checksum, bytes, last_access)
                 VALUES (?1, 'embedding', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    key,
                    ns,
                    id.as_str(),
                    e.model.name,
                    e.model.version,
                    e.model.dim as i64,
                    version as i64,
                    data,
                    sum,
                    bytes,
                    tick
                ],
            )?;
            added(tx, order, &key, bytes, old)?;
            evict(tx, order, d, &self.root, max, &key)
        })
    }

    /// Drops a song's cached vectors (of one model, or all).
    pub fn drop_embeddings(
        &self,
        ns: &str,
        id: &SongId,
        model: Option<&ModelInfo>,
    ) -> StorageResult<()> {
        self.write_txn(|tx, order, d| {
            let rows = query_pairs(
                tx,
                "SELECT key, bytes FROM entries WHERE kind = 'embedding' AND ns = ?1 AND song = ?2",
                params![ns, id.as_str()],
            )?;
            for (k, b) in rows {
                if model.is_none_or(|m| k == embedding_key(ns, id, m)) {
                    remove_entry(tx, order, d, &k, b, None)?;
                }
            }
            Ok(())
        })
    }

    // ---- versions ------------------------------------------------------------------------

    fn with_versions<T>(
        &self,
        ns: &str,
        f: impl FnOnce(&mut HashMap<SongId, u64>) -> T,
    ) -> StorageResult<T> {
        let mut all = lock(&self.versions);
        if !all.contains_key(ns) {
            let conn = lock(&self.conn);
            let rows = query_pairs(
                &conn,
                "SELECT song, version FROM versions WHERE ns = ?1",
                params![ns],
            )
            .map_err(|e| self.err(e))?;
            let map = rows
                .into_iter()
                .filter_map(|(song, v)| {
                    Some((SongId::parse(&song).ok()?, u64::try_from(v).unwrap_or(0)))
                })
                .collect();
            all.insert(ns.to_owned(), map);
        }
        Ok(f(all.get_mut(ns).expect("inserted above")))
    }

    /// The latest version of a song seen in namespace `ns`, if any.
    pub fn known_version(&self, ns: &str, id: &SongId) -> StorageResult<Option<u64>> {
        self.with_versions(ns, |m| m.get(id).copied())
    }

    /// Records songs' current versions (`None`: the song is gone). Cached vectors of any other
    /// version are dropped. Cheap when nothing changed (compared in memory).
    pub fn learn_versions(&self, ns: &str, seen: &[(SongId, Option<u64>)]) -> StorageResult<()> {
        let changed: Vec<(SongId, Option<u64>)> = self.with_versions(ns, |m| {
            seen.iter()
                .filter(|(id, v)| m.get(id).copied() != *v)
                .cloned()
                .collect()
        })?;
        if changed.is_empty() {
            return Ok(());
        }
        self.write_txn(|tx, order, d| {
            for (id, v) in &changed {
                let rows = query_pairs(
                    tx,
                    "SELECT key, bytes FROM entries WHERE kind = 'embedding' AND ns = ?1 AND song = ?2 AND (?3 IS NULL OR song_version != ?3)",
                    params![ns, id.as_str(), v.map(|v| v as i64)],
                )?;
                for (k, b) in rows {
                    remove_entry(tx, order, d, &k, b, None)?;
                }
                match v {
                    Some(v) => tx.execute(
                        "INSERT INTO versions (ns, song, version) VALUES (?1, ?2, ?3)
                         ON CONFLICT (ns, song) DO UPDATE SET version = excluded.version",
                        params![ns, id.as_str(), *v as i64],
                    )?,
                    None => tx.execute(
                        "DELETE FROM versions WHERE ns = ?1 AND song = ?2",
                        params![ns, id.as_str()],
                    )?,
                };
            }
            Ok(())
        })?;
        self.with_versions(ns, |m| {
            for (id, v) in changed {
                match v {
                    Some(v) => m.insert(id, v),
                    None => m.remove(&id),
                };
            }
        })
    }

    // ---- audio ---------------------------------------------------------------------------

    /// Copies the cached audio of `id` to `dest` atomically (temporary file, fsync, rename),
    /// verifying its hash on the way. `None` (a miss) when not cached or damaged (dropped).
    pub fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<Option<u64>> {
        let key = audio_key(id);
        let bytes = entry_bytes(&lock(&self.conn), &key).map_err(|e| self.err(e))?;
        let Some(bytes) = bytes else {
            self.write_txn(|_, _, d| {
                d.counters.misses += 1;
                Ok(())
            })?;
            return Ok(None);
        };
        let src = self.audio_path(id);
        let tmp = temp_next_to(dest);
        let verdict = match songrec_fs::copy_to_new(&src, &tmp, |r, w| SongId::copy_hashed(r, w)) {
            Ok((got, n)) if got == *id => Ok(n),
            Ok((got, _)) => Err(Some(got)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !tmp.exists() && src.exists() => {
                // The destination folder is missing: the caller's problem, not the cache's.
                return Err(StorageError::io(dest, e));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(None),
            Err(e) => return Err(StorageError::io(&src, e)),
        };
        match verdict {
            Ok(n) => {
                if let Err(e) = fs::rename(&tmp, dest) {
                    let _ = fs::remove_file(&tmp);
                    return Err(StorageError::io(dest, e));
                }
                if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
                    sync_dir(dir).map_err(|e| StorageError::io(dir, e))?;
                }
                self.write_txn(|tx, order, d| {
                    if entry_bytes(tx, &key)?.is_some() {
                        touch(tx, order, &key, bytes)?;
                    }
                    d.counters.hits += 1;
                    d.counters.bytes_served += n;
                    Ok(())
                })?;
                Ok(Some(n))
            }
            Err(actual) => {
                let _ = fs::remove_file(&tmp);
                if let Some(actual) = &actual {
                    tracing::warn!(
                        "cache: {} hashes to {actual}, not to its id; dropping it",
                        src.display()
                    );
                }
                let file = self.audio_path(id);
                self.write_txn(|tx, order, d| {
                    remove_entry(tx, order, d, &key, bytes, Some(file))?;
                    if actual.is_some() {
                        d.counters.corrupt += 1;
                    }
                    d.counters.misses += 1;
                    Ok(())
                })?;
                Ok(None)
            }
        }
    }

    /// Counts a miss of an audio read that will not be cached (the caller fetched it itself).
    pub fn note_audio_fetched(&self, bytes: u64) -> StorageResult<()> {
        self.write_txn(|_, _, d| {
            d.counters.bytes_fetched += bytes;
            Ok(())
        })
    }

    /// Caches the audio file `src` (just fetched from the remote) under `id`: copied to a
    /// temporary file, hash-checked, fsynced, renamed; then indexed. Blobs larger than the
    /// whole cache are not kept. Counts the bytes as fetched.
    pub fn put_audio_from(&self, id: &SongId, src: &Path) -> StorageResult<()> {
        let size = fs::metadata(src)
            .map_err(|e| StorageError::io(src, e))?
            .len();
        if size > self.max_bytes {
            return self.note_audio_fetched(size);
        }
        let dest = self.audio_path(id);
        let dir = dest.parent().map(Path::to_path_buf).unwrap_or_default();
        fs::create_dir_all(&dir).map_err(|e| StorageError::io(&dir, e))?;
        let tmp = temp_next_to(&dest);
        let (got, n) = songrec_fs::copy_to_new(src, &tmp, |r, w| SongId::copy_hashed(r, w))
            .map_err(|e| StorageError::io(src, e))?;
        if got != *id {
            let _ = fs::remove_file(&tmp);
            return Err(StorageError::HashMismatch {
                id: id.to_string(),
                actual: got.to_string(),
            });
        }
        let key = audio_key(id);
        let max = self.max_bytes;
        // The file is renamed into place under the index's write lock, like evictions remove
        // files under it: an eviction of the same song in another process cannot fall between
        // the rename and the index entry.
        let mut io_failure: Option<StorageError> = None;
        let stored = self.write_txn(|tx, order, d| {
            let placed = fs::rename(&tmp, &dest)
                .map_err(|e| StorageError::io(&dest, e))
                .and_then(|()| sync_dir(&dir).map_err(|e| StorageError::io(&dir, e)));
            if let Err(e) = placed {
                io_failure = Some(e);
                return Err(rusqlite::Error::InvalidQuery);
            }
            d.counters.bytes_fetched += n;
            let old: Option<i64> = entry_bytes(tx, &key)?;
            let tick = add_counter(tx, "tick", 1)?;
            tx.execute(
                "INSERT OR REPLACE INTO entries (key, kind, ns, song, bytes, last_access)
                 VALUES (?1, 'audio', '', ?2, ?3, ?4)",
                params![key, id.as_str(), n as i64, tick],
            )?;
            added(tx, order, &key, n as i64, old)?;
            evict(tx, order, d, &self.root, max, &key)
        });
        stored.map_err(|e| match io_failure {
            Some(io) => {
                let _ = fs::remove_file(&tmp);
                io
            }
            None => e,
        })
    }

    /// Whether the audio of `id` is cached (the file is not re-hashed).
    pub fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        let row = entry_bytes(&lock(&self.conn), &audio_key(id)).map_err(|e| self.err(e))?;
        Ok(row.is_some() && self.audio_path(id).is_file())
    }

    /// Drops the cached audio of `id`.
    pub fn drop_audio(&self, id: &SongId) -> StorageResult<()> {
        let key = audio_key(id);
        let file = self.audio_path(id);
        self.write_txn(|tx, order, d| {
            let b: Option<i64> = entry_bytes(tx, &key)?;
            b.map_or(Ok(()), |b| remove_entry(tx, order, d, &key, b, Some(file)))
        })
    }

    // ---- administration ------------------------------------------------------------------

    /// What the folder holds and the counters.
    pub fn stats(&self) -> StorageResult<CacheStats> {
        let conn = lock(&self.conn);
        let read = || -> rusqlite::Result<CacheStats> {
            let mut s = CacheStats {
                path: self.root.clone(),
                session: *lock(&self.session),
                bytes: get_counter(&conn, "total_bytes")?.max(0) as u64,
                max_bytes: self.max_bytes,
                ..CacheStats::default()
            };
            for n in COUNTER_NAMES {
                *s.total.slot(n) = get_counter(&conn, n)? as u64;
            }
            let by_kind = "SELECT kind, COUNT(*) FROM entries GROUP BY kind";
            for (kind, n) in query_pairs(&conn, by_kind, [])? {
                let slot = match kind.as_str() {
                    "audio" => &mut s.audio_entries,
                    _ => &mut s.embedding_entries,
                };
                *slot = n as u64;
            }
            s.entries = s.audio_entries + s.embedding_entries;
            Ok(s)
        };
        read().map_err(|e| self.err(e))
    }

    /// Empties the cache: every entry, every audio file, the known versions and the counters.
    /// Returns the bytes freed.
    pub fn clear(&self) -> StorageResult<u64> {
        let freed = self.write_txn(|tx, order, _| {
            let freed = get_counter(tx, "total_bytes")?.max(0) as u64;
            tx.execute_batch(
                "DELETE FROM entries; DELETE FROM versions; DELETE FROM counters WHERE name != 'tick';",
            )?;
            bump_generation(tx, order)?;
            order.lru.clear();
            Ok(freed)
        })?;
        *lock(&self.session) = CacheCounters::default();
        lock(&self.versions).clear();
        let blobs = self.root.join(BLOBS_DIR);
        for d in fs::read_dir(&blobs).into_iter().flatten().flatten() {
            let p = d.path();
            let r = if p.is_dir() {
                fs::remove_dir_all(&p)
            } else {
                fs::remove_file(&p)
            };
            if let Err(e) = r {
                tracing::warn!("cache: cannot remove {}: {e}", p.display());
            }
        }
        Ok(freed)
    }

    /// Checks the index against the files: every audio row has its file, the byte and entry
    /// counters equal the rows' sums, and SQLite's own integrity check passes. Returns the
    /// problems found (empty when consistent). For tests and `songrec cache stats --check`.
    pub fn check(&self) -> StorageResult<Vec<String>> {
        let conn = lock(&self.conn);
        let read = || -> rusqlite::Result<_> {
            let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            let sums = "SELECT COALESCE(SUM(bytes), 0), COUNT(*) FROM entries";
            let (sum, n): (i64, i64) = conn.query_row(sums, [], |r| r.try_into())?;
            let total = get_counter(&conn, "total_bytes")?;
            let entries = get_counter(&conn, "entries")?;
            let audio = "SELECT song, bytes FROM entries WHERE kind = 'audio'";
            Ok((ok, sum, n, total, entries, query_pairs(&conn, audio, [])?))
        };
        let (ok, sum, n, total, entries, audio) = read().map_err(|e| self.err(e))?;
        let mut problems = Vec::new();
        if ok != "ok" {
            problems.push(format!("sqlite integrity check: {ok}"));
        }
        if sum != total || n != entries {
            problems.push(format!(
                "counters say {entries} entries / {total} bytes, rows hold {n} / {sum}"
            ));
        }
        if sum as u64 > self.max_bytes {
            problems.push(format!(
                "{sum} bytes held, over the limit {}",
                self.max_bytes
            ));
        }
        for (song, bytes) in audio {
            match SongId::parse(&song) {
                Ok(id) => match fs::metadata(self.audio_path(&id)) {
                    Ok(m) if m.len() as i64 == bytes => {}
                    Ok(m) => problems.push(format!(
                        "audio {song}: file has {} bytes, index says {bytes}",
                        m.len()
                    )),
                    Err(e) => problems.push(format!("audio {song}: {e}")),
                },
                Err(e) => problems.push(format!("bad song id in the index: {e}")),
            }
        }
        Ok(problems)
    }
}
