//! `songrec sync` wiring: builds both sides, the record and the lease from the configuration
//! and runs the engine ([`songrec_sync`]).
//!
//! - local side: the [`LocalBackend`] at `[local] path`, write-locked for the whole run;
//! - remote side: the [`AstraBackend`] (Data API + S3) from `[astra]`/`[s3]`, used directly,
//!   without read caches or offline fallbacks (sync must see the remote as it is);
//! - record: `<library>/data/.songrec/sync.sqlite`, rows keyed by [`remote_identity`], and the
//!   remote's change-feed position in `<library>/data/.songrec/sync-feed.json` ([`FeedFile`]);
//! - lease: `<s3 prefix>/locks/sync.lease` in the bucket, held by this library's machine id.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use songrec_astra::AstraBackend;
use songrec_config::Config;
use songrec_local::LocalBackend;
use songrec_sync::engine::{Progress, SyncError, SyncOptions, SyncReport, sync};
use songrec_sync::lease::Lease;
use songrec_sync::record::{FeedFile, RecordStore};
use songrec_sync::stores::object_lease::{LEASE_KEY, ObjectLeaseStore};
use songrec_sync::stores::sqlite_record::SqliteRecord;

use songrec_storage::StorageResult as AppResult;
use songrec_storage::{SongId, StorageBackend};

/// Both sides of a sync and what ties them together.
pub struct SyncSides {
    /// This machine's library.
    pub local: LocalBackend,
    /// The shared remote library.
    pub remote: Arc<AstraBackend>,
    /// The record of the last synced state, with its change-feed position.
    pub record: FeedFile<SqliteRecord>,
    pub lease: Arc<Lease>,
}

/// **Test fault hook** (feature `test-hooks`): with `SONGREC_SYNC_TEST_ABORT_AFTER=N` a run
/// aborts right after its N-th write. Without the feature this does nothing.
pub fn apply_test_hooks(opts: &mut SyncOptions) {
    #[cfg(feature = "test-hooks")]
    {
        opts.abort_after_writes = std::env::var(songrec_sync::engine::ABORT_AFTER_ENV)
            .ok()
            .and_then(|v| v.trim().parse().ok());
    }
    #[cfg(not(feature = "test-hooks"))]
    let _ = opts;
}

/// Names the remote library in the record (Data API endpoint, keyspace, collection prefix, S3
/// endpoint, bucket and prefix): another remote starts a fresh record.
///
/// ```
/// let cfg = songrec_config::Config::from_sources(None, &Default::default()).unwrap();
/// assert!(songrec_factory::sync::remote_identity(&cfg).contains("keyspace=default_keyspace"));
/// ```
pub fn remote_identity(cfg: &Config) -> String {
    format!(
        "astra {}{} keyspace={} prefix={} | s3 {} bucket={} prefix={}",
        cfg.astra.api_endpoint.trim_end_matches('/'),
        cfg.astra.api_path,
        cfg.astra.keyspace,
        cfg.astra.collection_prefix,
        cfg.s3.endpoint.trim_end_matches('/'),
        cfg.s3.bucket,
        cfg.s3.prefix
    )
}

/// The record file of a local library.
pub fn record_path(local: &LocalBackend) -> PathBuf {
    local.internal_dir().join("sync.sqlite")
}

/// This machine's id: the one `sync` knows it by (kept in the local library's sync record,
/// made anew for a copied library), under which plays and skips are counted. Without a local
/// library (a cloud library used directly), the record kept in the cache folder.
pub fn machine_id(cfg: &Config) -> songrec_storage::StorageResult<String> {
    let internal = cfg.local.path.join("data").join(".songrec");
    let path = if internal.is_dir() {
        internal.join("sync.sqlite")
    } else {
        std::fs::create_dir_all(&cfg.cache.path)
            .map_err(|e| songrec_storage::StorageError::io(&cfg.cache.path, e))?;
        cfg.cache.path.join("machine.sqlite")
    };
    Ok(SqliteRecord::open(&path, "")?.machine_id())
}

/// The file of a local library's change-feed positions (one per remote).
pub fn feed_path(local: &LocalBackend) -> PathBuf {
    local.internal_dir().join("sync-feed.json")
}

/// The record of `local` for `remote`: the SQLite rows plus the feed position file.
pub fn open_record(local: &LocalBackend, remote: &str) -> AppResult<FeedFile<SqliteRecord>> {
    Ok(FeedFile::new(
        SqliteRecord::open(&record_path(local), remote)?,
        feed_path(local),
        remote,
    ))
}

/// The sync lease in `remote`'s bucket: `<s3 prefix>/locks/sync.lease`.
pub fn lease_store(remote: &AstraBackend) -> ObjectLeaseStore {
    let blobs = remote.blob_store().clone();
    let (store, key) = (blobs.object_store(), blobs.object_key(LEASE_KEY));
    let location = format!("s3://{}", blobs.bucket());
    ObjectLeaseStore::new(
        store,
        key,
        location,
        Arc::new(move |k: &str, e| blobs.storage_error(k, e)),
    )
}

/// Opens both sides. `lock` takes the local library's write lock now (real runs; dry runs
/// only read).
pub async fn open(cfg: &Config, lock: bool) -> AppResult<SyncSides> {
    // The cloud settings first: a sync without them writes nothing here.
    let remote = Arc::new(AstraBackend::connect(&crate::options::astra_options(cfg))?);
    let local = LocalBackend::open_with(&cfg.local.path, crate::options::local_options(cfg)?)?;
    if lock {
        local.lock_for_writing().await?;
    }
    let record = open_record(&local, &remote_identity(cfg))?;
    let lease = Arc::new(Lease::new(
        Arc::new(lease_store(&remote)),
        record.machine_id(),
        Duration::from_secs(cfg.sync.lease_ttl_secs.max(3)),
    ));
    Ok(SyncSides {
        local,
        remote,
        record,
        lease,
    })
}

/// A finished run and what it cost.
#[derive(Debug)]
pub struct SyncRun {
    pub report: SyncReport,
    /// Data API requests sent by the remote side.
    pub requests: u64,
    /// This machine's id.
    pub machine: String,
    /// Dry runs: the songs the plan's steps name, as `Artist – Title` (from either side).
    pub names: HashMap<SongId, String>,
}

/// Runs one sync with the configured sides.
pub async fn run(
    cfg: &Config,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncRun, RunError> {
    let sides = open(cfg, !opts.dry_run).await?;
    let before = sides.remote.requests_sent();
    let report = sync(
        &sides.local,
        sides.remote.as_ref(),
        &sides.lease,
        &sides.record,
        opts,
        progress,
    )
    .await?;
    let requests = sides.remote.requests_sent() - before;
    let names = if report.dry_run {
        let ids: Vec<SongId> = report.actions.iter().map(|a| a.id().clone()).collect();
        names_of(
            &ids,
            [&sides.local as &dyn StorageBackend, sides.remote.as_ref()],
        )
        .await?
    } else {
        HashMap::new()
    };
    Ok(SyncRun {
        report,
        requests,
        machine: sides.record.machine_id(),
        names,
    })
}

/// The display names of `ids` (`Artist – Title`), from the first of `sides` that holds each.
async fn names_of(
    ids: &[SongId],
    sides: [&dyn StorageBackend; 2],
) -> AppResult<HashMap<SongId, String>> {
    let mut names = HashMap::new();
    for side in sides {
        let wanted: Vec<SongId> = ids
            .iter()
            .filter(|id| !names.contains_key(*id))
            .cloned()
            .collect();
        for chunk in wanted.chunks(100) {
            for m in side.get_metadata_many(chunk).await? {
                names.insert(m.id.clone(), m.display_name());
            }
        }
    }
    Ok(names)
}

/// Why a run could not finish.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Opening a side failed.
    #[error(transparent)]
    Open(#[from] songrec_storage::StorageError),
    /// The engine stopped.
    #[error(transparent)]
    Sync(#[from] SyncError),
}
