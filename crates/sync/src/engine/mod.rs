//! The sync executor: takes the lease, lists both sides, plans (pure), then carries the plan
//! out: record-only deletions, deletions, merges, then copies in batches. A whole-song copy
//! writes audio, every vector, then the metadata (the commit point), and only then advances
//! the record, so a run killed anywhere is finished by the next (writes are idempotent).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::lease::Lease;
use crate::plan::{Plan, plan};
use crate::record::{BaseEntry, FeedPosition, RecordStore};

mod exec;
mod options;
mod report;

use exec::Exec;
#[cfg(any(test, feature = "test-hooks"))]
pub use options::ABORT_AFTER_ENV;
pub use options::{DEFAULT_FULL_EVERY, LocalFile, LocalFiles, SyncOptions};
pub use report::{FullReason, RemoteRead, SyncError, SyncReport};
pub use songrec_storage::progress::{NoProgress, Progress};
use songrec_storage::{SongId, StorageBackend, StorageError, VersionEntry};

/// Runs one sync between `local` and `remote`.
///
/// ```no_run
/// # async fn demo(local: &dyn songrec_storage::StorageBackend, remote: &dyn songrec_storage::StorageBackend) -> Result<(), songrec_sync::engine::SyncError> {
/// use std::sync::Arc;
/// use std::time::Duration;
/// use songrec_sync::engine::{sync, NoProgress, SyncOptions};
/// use songrec_sync::lease::Lease;
/// use songrec_sync::record::RecordStore as _;
/// use songrec_sync::stores::{file_lease::FileLeaseStore, sqlite_record::SqliteRecord};
/// let record = SqliteRecord::open("/music/data/.songrec/sync.sqlite".as_ref(), "remote").unwrap();
/// let store = Arc::new(FileLeaseStore::new("/shared/locks/sync.lease"));
/// let lease = Arc::new(Lease::new(store, record.machine_id(), Duration::from_secs(60)));
/// let report = sync(local, remote, &lease, &record, &SyncOptions::new("/tmp/sync-scratch"), &NoProgress).await?;
/// println!("{} conflicts", report.conflicts.len());
/// # Ok(()) }
/// ```
pub async fn sync(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    lease: &Arc<Lease>,
    record: &dyn RecordStore,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    if opts.dry_run {
        return run(local, remote, None, record, opts, progress).await;
    }
    let info = lease.acquire().await?;
    let keep = lease.keep_alive();
    let result = run(local, remote, Some(lease), record, opts, progress).await;
    drop(keep);
    let released = lease.release().await;
    let mut report = result?;
    if let Err(e) = released {
        tracing::warn!("releasing the sync lease failed (it expires by itself): {e}");
    }
    report.lease = Some(info);
    Ok(report)
}

async fn run(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    lease: Option<&Arc<Lease>>,
    record: &dyn RecordStore,
    opts: &SyncOptions,
    progress: &dyn Progress,
) -> Result<SyncReport, SyncError> {
    let base = record.load()?;
    let Listings {
        local: lv,
        remote: rv,
        read,
        next,
    } = listings(local, remote, record, &base, opts).await?;
    let Plan {
        actions,
        conflicts,
        violations,
        summary,
    } = plan(&base, &lv, &rv, opts.policy, &opts.rails);
    let mut report = SyncReport {
        summary,
        dry_run: opts.dry_run,
        conflicts,
        violations,
        remote_read: read,
        ..SyncReport::default()
    };
    if !report.violations.is_empty() {
        return Ok(report);
    }
    if opts.dry_run {
        report.actions = actions;
        report.playlists = crate::playlists::carry(local, remote, true).await?;
        return Ok(report);
    }
    std::fs::create_dir_all(&opts.scratch_dir)
        .map_err(|e| StorageError::io(&opts.scratch_dir, e))?;
    progress.start(actions.len() as u64);
    let ex = Exec {
        local,
        remote,
        lease,
        record,
        opts,
        writes: AtomicU64::new(0),
        machine: record.machine_id(),
        models: tokio::sync::Mutex::new(HashMap::new()),
        linked: AtomicU64::new(0),
    };
    let result = ex.execute(actions, &mut report, progress).await;
    if result.is_ok()
        && let Some(files) = &opts.local_files
    {
        ex.link_fresh_files(files.as_ref()).await?;
    }
    report.audio_linked = ex.linked.load(Ordering::SeqCst) as usize;
    let _ = std::fs::remove_dir_all(&opts.scratch_dir);
    result?;
    report.playlists = crate::playlists::carry(local, remote, false).await?;
    local.flush().await?;
    remote.flush().await?;
    // Every song completed and its record change is committed: the remote's changes up to
    // `next` (read before this run's listing or feed) are all in the record now. With a
    // failed song the old position stays, so the next run reads those changes again.
    if report.failed.is_empty() {
        record.set_feed_position(next.as_ref())?;
        report.cursor_advanced = next.is_some();
    }
    Ok(report)
}

/// Both sides' entries for the planner, how the remote was read, and the feed position to
/// record once the run completes.
struct Listings {
    local: Vec<VersionEntry>,
    remote: Vec<VersionEntry>,
    read: RemoteRead,
    next: Option<FeedPosition>,
}

/// Reads both sides: the local listing whole (cheap: in memory), the remote from its change
/// feed when the record has a usable position, else whole (a full reconciliation).
async fn listings(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    record: &dyn RecordStore,
    base: &HashMap<SongId, BaseEntry>,
    opts: &SyncOptions,
) -> Result<Listings, SyncError> {
    let now = chrono::Utc::now();
    let reason = if opts.full {
        FullReason::Asked
    } else {
        match record.feed_position()? {
            None => FullReason::NoPosition,
            Some(p)
                if chrono::Duration::from_std(opts.full_every)
                    .is_ok_and(|limit| now.signed_duration_since(p.full_at) > limit) =>
            {
                FullReason::Expired
            }
            Some(p) => match remote.changes_since(Some(&p.cursor)).await? {
                None => FullReason::CursorUnknown,
                Some(ch) => {
                    let lv = local.list_versions().await?;
                    let changes = ch.entries.len();
                    let rv = remote_view(remote, base, &lv, ch.entries).await?;
                    return Ok(Listings {
                        local: lv,
                        remote: rv,
                        read: RemoteRead::Feed { changes },
                        next: Some(FeedPosition {
                            cursor: ch.cursor,
                            full_at: p.full_at,
                        }),
                    });
                }
            },
        }
    };
    // The head cursor is taken before the listing, so every change the listing misses is in
    // the feed from there. Dry runs record nothing, so they do not ask for it.
    let head = if opts.dry_run {
        None
    } else {
        remote.changes_since(None).await?
    };
    let (lv, rv) = futures::join!(local.list_versions(), remote.list_versions());
    Ok(Listings {
        local: lv?,
        remote: rv?,
        read: RemoteRead::Full { reason },
        next: head.map(|h| FeedPosition {
            cursor: h.cursor,
            full_at: now,
        }),
    })
}

/// The remote as the planner sees it on the feed path: the record's state of every song (the
/// remote held exactly that at the cursor), overridden by the feed's entries, plus the remote
/// state of local songs the record has never seen (asked by id: only a tombstone can be
/// there, and it decides whether a new local copy is a deleted song coming back).
async fn remote_view(
    remote: &dyn StorageBackend,
    base: &HashMap<SongId, BaseEntry>,
    local: &[VersionEntry],
    feed: Vec<VersionEntry>,
) -> Result<Vec<VersionEntry>, SyncError> {
    let mut view: HashMap<SongId, VersionEntry> = base
        .iter()
        .map(|(id, b)| {
            (
                id.clone(),
                VersionEntry {
                    id: id.clone(),
                    version: b.version,
                    content_hash: String::new(),
                    deleted: b.deleted,
                },
            )
        })
        .collect();
    view.extend(feed.into_iter().map(|e| (e.id.clone(), e)));
    let unknown: Vec<SongId> = local
        .iter()
        .filter(|l| !l.deleted && !view.contains_key(&l.id))
        .map(|l| l.id.clone())
        .collect();
    if !unknown.is_empty() {
        for e in remote.versions_of(&unknown).await? {
            view.insert(e.id.clone(), e);
        }
    }
    let mut out: Vec<VersionEntry> = view.into_values().collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
