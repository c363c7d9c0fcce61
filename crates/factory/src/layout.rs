//! Where songrec keeps its own files on this machine: the layout of the cache folder (the cache
//! store, one folder per remote library with its offline copy and circuit state, the state of
//! `ingest`, `reembed` and `migrate`), known here and nowhere else.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use songrec_cache::{CacheStore, FallbackStatus};
use songrec_config::Config;
use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::{Filter, ModelInfo, StorageResult};

/// Where a remote library's offline copy and circuit state live.
pub fn remote_dir(cfg: &Config, namespace: &str) -> PathBuf {
    remotes_dir(cfg).join(namespace)
}

/// A stable, file-name-safe name for the configured remote library: readable host, keyspace
/// and prefix, plus a hash of everything that identifies it (endpoint, keyspace, collection
/// prefix, bucket, S3 endpoint and prefix).
pub fn remote_namespace(cfg: &Config) -> String {
    let a = &cfg.astra;
    let s = &cfg.s3;
    let ident = [
        a.api_endpoint.trim(),
        &a.keyspace,
        &a.collection_prefix,
        s.endpoint.trim(),
        s.bucket.trim(),
        &s.prefix,
    ]
    .join("\n");
    let hash = hex_prefix(&Sha256::digest(ident.as_bytes()));
    let host = a
        .api_endpoint
        .trim()
        .split("://")
        .last()
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    let keep = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    let readable: String = format!("astra-{host}-{}-{}", a.keyspace, a.collection_prefix)
        .chars()
        .map(|c| if keep(c) { c } else { '_' })
        .take(80)
        .collect();
    format!("{readable}-{hash}")
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

// ---- the cache folder -----------------------------------------------------------------------
//
// <cache dir>/                    `SONGREC_CACHE_DIR`, `[cache] path`
//   (cache store)                 audio and vectors of remote libraries ([`cache_store`])
//   remotes/<namespace>/          one per remote library ([`remote_dir`])
//     offline/                    its offline copy, a local library
//     offline.json                when the offline copy was synced
//     circuit.json                the circuit breaker's state
//   ingest-state/<backend>.json   files `ingest` already read ([`ingest_state_file`])
//   reembed/<backend>-<model>.json, reembed/audio/   `reembed` ([`reembed_state_file`])
//   migrate/ledger.sqlite, migrate/scratch-*/        `migrate` ([`migrate_ledger_path`])

/// The offline copy's folder in a remote's folder.
pub(crate) const OFFLINE_DIR: &str = "offline";
/// The offline copy's state file in a remote's folder.
pub(crate) const OFFLINE_STATE: &str = "offline.json";

/// Opens (creating it when missing) the disk cache store in the cache folder.
pub fn cache_store(cfg: &Config) -> StorageResult<CacheStore> {
    CacheStore::open(&cfg.cache.path, cfg.cache.max_bytes)
}

/// The folder holding one folder per remote library (offline copy and circuit state).
pub fn remotes_dir(cfg: &Config) -> PathBuf {
    cfg.cache.path.join("remotes")
}

/// One remote library's offline copy found in the cache folder.
pub struct OfflineCopy {
    /// The remote's folder name ([`remote_namespace`]).
    pub remote: String,
    /// Songs in the copy, `None` when it cannot be read.
    pub songs: Option<u64>,
    /// When it was last synced and last fully refreshed.
    pub status: FallbackStatus,
}

/// The offline copies in the cache folder, by remote name (none when there is no folder).
pub async fn offline_copies(cfg: &Config) -> Vec<OfflineCopy> {
    let dir = remotes_dir(cfg);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if !p.is_dir() {
            continue;
        }
        let status = FallbackStatus::from_state_file(p.join(OFFLINE_STATE));
        let songs = match LocalBackend::open(p.join(OFFLINE_DIR)) {
            Ok(l) => l.count(&Filter::default()).await.ok(),
            Err(_) => None,
        };
        out.push(OfflineCopy {
            remote: e.file_name().to_string_lossy().into_owned(),
            songs,
            status,
        });
    }
    out.sort_by(|a, b| a.remote.cmp(&b.remote));
    out
}

/// `s` with every character but ASCII letters and digits replaced by `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The folders that hold songrec's own files on this machine (the local library's data, the
/// cache), never walked as the user's music.
pub fn own_folders(cfg: &Config) -> Vec<PathBuf> {
    [cfg.local.path.join("data"), cfg.cache.path.clone()]
        .into_iter()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .collect()
}

/// Where `songrec ingest` remembers the files it already read into `backend` (its `Display`).
pub fn ingest_state_file(cfg: &Config, backend: &str) -> PathBuf {
    cfg.cache
        .path
        .join("ingest-state")
        .join(format!("{}.json", file_safe(backend)))
}

/// Where a long-running process (`what`: "serve", "radio") keeps the plays and stars it could
/// not write while another process held the library (`songrec_app::marks`), per library
/// (`backend`, its `Display`).
pub fn pending_marks_file(cfg: &Config, backend: &str, what: &str) -> PathBuf {
    cfg.cache.path.join("pending-marks").join(format!(
        "{}-{}.json",
        file_safe(backend),
        file_safe(what)
    ))
}

/// Where `songrec reembed` records its progress computing `model` for `backend` (its `Display`).
pub fn reembed_state_file(cfg: &Config, backend: &str, model: &ModelInfo) -> PathBuf {
    let key = format!("{}-{}", file_safe(backend), model.file_key());
    cfg.cache.path.join("reembed").join(format!("{key}.json"))
}

/// Where `songrec reembed` keeps the audio it fetched while it analyses it.
pub fn reembed_scratch_dir(cfg: &Config) -> PathBuf {
    cfg.cache.path.join("reembed").join("audio")
}

/// The folder of `songrec migrate`: its ledger and its scratch folders.
pub fn migrate_dir(cfg: &Config) -> PathBuf {
    cfg.cache.path.join("migrate")
}

/// Where the migration ledger lives: `<cache dir>/migrate/ledger.sqlite` (history only, and
/// never in a library folder, so migrating never writes into the source).
pub fn migrate_ledger_path(cfg: &Config) -> PathBuf {
    migrate_dir(cfg).join("ledger.sqlite")
}

/// Where a local library remembers this machine's music folder (`sync --music DIR`), so a plain
/// `sync` on this machine links its own files instead of downloading them.
fn remembered_music_file(cfg: &Config) -> PathBuf {
    cfg.local
        .path
        .join("data")
        .join(".songrec")
        .join("music-folder.json")
}

/// The music folder `sync --music` last named for this machine's library, if it still is a
/// folder.
pub fn remembered_music(cfg: &Config) -> Option<PathBuf> {
    let bytes = std::fs::read(remembered_music_file(cfg)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let dir = PathBuf::from(v.get("music")?.as_str()?);
    dir.is_dir().then_some(dir)
}

/// Remembers `dir` (absolute) as this machine's music folder (atomically; only where the local
/// library exists).
pub fn remember_music(cfg: &Config, dir: &Path) -> StorageResult<()> {
    let file = remembered_music_file(cfg);
    if !file.parent().is_some_and(Path::is_dir) {
        return Ok(());
    }
    let text = serde_json::json!({ "music": dir.to_string_lossy() }).to_string();
    songrec_fs::write_atomic(&file, |w| w.write_all(text.as_bytes()))
        .map_err(|e| songrec_storage::StorageError::io(&file, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_music_folder_named_once_is_remembered_while_it_exists() {
        let home = tempfile::tempdir().unwrap();
        let mut cfg = Config::from_sources(None, &Default::default()).unwrap();
        cfg.local.path = home.path().join("lib");
        let music = home.path().join("music");
        std::fs::create_dir_all(&music).unwrap();
        remember_music(&cfg, &music).unwrap();
        assert_eq!(
            remembered_music(&cfg),
            None,
            "no library here: nothing written"
        );
        std::fs::create_dir_all(cfg.local.path.join("data/.songrec")).unwrap();
        remember_music(&cfg, &music).unwrap();
        assert_eq!(remembered_music(&cfg), Some(music.clone()));
        std::fs::remove_dir(&music).unwrap();
        assert_eq!(
            remembered_music(&cfg),
            None,
            "a folder that is gone is not used"
        );
    }
}
