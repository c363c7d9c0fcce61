//! The SQLite side of the cache index: opening, counters, the shared recency ticks and the
//! generation other processes bump, entry rows and least-recently-used eviction.

use std::path::{Path, PathBuf};

use lru::LruCache;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use songrec_storage::error::StorageError;
use songrec_storage::id::SongId;

use super::counters::CacheCounters;
use super::layout::{BLOBS_DIR, SCHEMA_VERSION};

/// What one index transaction did to the entries, applied to the in-memory order afterwards.
#[derive(Default)]
pub(super) struct Delta {
    pub(super) counters: CacheCounters,
    pub(super) removed: Vec<String>,
    pub(super) files: Vec<PathBuf>,
}

/// The recency order of this process.
pub(super) struct Order {
    /// Entry key → bytes, least recently used first.
    pub(super) lru: LruCache<String, u64>,
    /// The index's `generation` this order matches.
    pub(super) generation: i64,
    /// Another process added or removed entries: reload before evicting.
    pub(super) stale: bool,
}

pub(super) enum OpenError {
    Newer(i64),
    Unreadable(rusqlite::Error),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Unreadable(e)
    }
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Newer(v) => write!(f, "schema version {v} is newer than {SCHEMA_VERSION}"),
            Self::Unreadable(e) => write!(f, "{e}"),
        }
    }
}

pub(super) fn db_err(path: &Path, message: String) -> StorageError {
    StorageError::backend("cache", format!("{}: {message}", path.display()))
}

pub(super) fn get_counter(conn: &Connection, name: &str) -> rusqlite::Result<i64> {
    Ok(conn
        .query_row(
            "SELECT value FROM counters WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0))
}

pub(super) fn add_counter(conn: &Connection, name: &str, delta: i64) -> rusqlite::Result<i64> {
    conn.query_row(
        "INSERT INTO counters (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = value + excluded.value RETURNING value",
        params![name, delta],
        |r| r.get(0),
    )
}

/// Bumps the shared generation; marks the order stale if someone else bumped it since.
pub(super) fn bump_generation(tx: &Transaction<'_>, order: &mut Order) -> rusqlite::Result<()> {
    if get_counter(tx, "generation")? != order.generation {
        order.stale = true;
    }
    order.generation = add_counter(tx, "generation", 1)?;
    Ok(())
}

/// The rows of a query whose two columns are a text and an integer (key and bytes, ...).
pub(super) fn query_pairs(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map(p, |r| r.try_into())?;
    rows.collect()
}

/// Marks an entry as just used.
pub(super) fn touch(
    tx: &Transaction<'_>,
    order: &mut Order,
    key: &str,
    bytes: i64,
) -> rusqlite::Result<()> {
    let tick = add_counter(tx, "tick", 1)?;
    tx.execute(
        "UPDATE entries SET last_access = ?2 WHERE key = ?1",
        params![key, tick],
    )?;
    if order.lru.get(key).is_none() {
        order.lru.put(key.to_owned(), bytes.max(0) as u64);
    }
    Ok(())
}

/// Accounts for an entry just written (replacing `old` bytes if it existed).
pub(super) fn added(
    tx: &Transaction<'_>,
    order: &mut Order,
    key: &str,
    bytes: i64,
    old: Option<i64>,
) -> rusqlite::Result<()> {
    add_counter(tx, "total_bytes", bytes - old.unwrap_or(0))?;
    if old.is_none() {
        add_counter(tx, "entries", 1)?;
    }
    bump_generation(tx, order)?;
    order.lru.put(key.to_owned(), bytes.max(0) as u64);
    Ok(())
}

/// Removes an entry's row (and, after commit, its file).
pub(super) fn remove_entry(
    tx: &Transaction<'_>,
    order: &mut Order,
    d: &mut Delta,
    key: &str,
    bytes: i64,
    file: Option<PathBuf>,
) -> rusqlite::Result<()> {
    if tx.execute("DELETE FROM entries WHERE key = ?1", params![key])? == 1 {
        add_counter(tx, "total_bytes", -bytes)?;
        add_counter(tx, "entries", -1)?;
        bump_generation(tx, order)?;
    }
    d.removed.push(key.to_owned());
    d.files.extend(file);
    Ok(())
}

/// Reloads the order from the index (least recently used first).
pub(super) fn reload(tx: &Transaction<'_>, order: &mut Order) -> rusqlite::Result<()> {
    let rows = query_pairs(
        tx,
        "SELECT key, bytes FROM entries ORDER BY last_access ASC",
        [],
    )?;
    order.lru.clear();
    for (k, b) in rows {
        order.lru.put(k, b.max(0) as u64);
    }
    order.stale = false;
    Ok(())
}

/// Evicts least recently used entries (never `keep`) until the cache fits `max` bytes.
pub(super) fn evict(
    tx: &Transaction<'_>,
    order: &mut Order,
    d: &mut Delta,
    root: &Path,
    max: u64,
    keep: &str,
) -> rusqlite::Result<()> {
    let mut total = get_counter(tx, "total_bytes")?.max(0) as u64;
    if total <= max {
        return Ok(());
    }
    if order.stale {
        reload(tx, order)?;
    }
    let mut reloaded = false;
    while total > max {
        let Some((key, _)) = order.lru.pop_lru() else {
            if reloaded {
                break;
            }
            reload(tx, order)?;
            reloaded = true;
            continue;
        };
        if key == keep {
            // Re-insert as most recent; everything older goes first.
            if let Some(b) = entry_bytes(tx, &key)? {
                order.lru.put(key, b.max(0) as u64);
            }
            if order.lru.len() <= 1 {
                break;
            }
            continue;
        }
        let row = tx
            .query_row(
                "SELECT bytes, kind, song FROM entries WHERE key = ?1",
                params![key],
                |r| <(i64, String, String)>::try_from(r),
            )
            .optional()?;
        let Some((bytes, kind, song)) = row else {
            continue;
        };
        let file = (kind == "audio")
            .then(|| SongId::parse(&song).ok())
            .flatten()
            .map(|id| audio_file(root, &id));
        remove_entry(tx, order, d, &key, bytes, file)?;
        d.counters.evictions += 1;
        total = total.saturating_sub(bytes.max(0) as u64);
    }
    Ok(())
}

/// Where a song's cached audio lives under the cache folder `root`.
pub(super) fn audio_file(root: &Path, id: &SongId) -> PathBuf {
    root.join(BLOBS_DIR)
        .join(&id.as_str()[..2])
        .join(id.as_str())
}

/// The size recorded for the entry `key`, `None` when there is no such entry.
pub(super) fn entry_bytes(conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT bytes FROM entries WHERE key = ?1",
        params![key],
        |r| r.get(0),
    )
    .optional()
}
