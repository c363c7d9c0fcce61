//! The sync executor: takes the lease, lists both sides, plans (pure), then carries the plan
//! out: record-only deletions, deletions, merges, then copies in batches. A whole-song copy
//! writes audio, every vector, then the metadata (the commit point), and only then advances
//! the record, so a run killed anywhere is finished by the next (writes are idempotent).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt as _;
use serde::Serialize;

use crate::lease::{Lease, LeaseError, LeaseInfo};
use crate::merge::merge;
use crate::plan::{
    Action, Conflict, ConflictKind, Plan, PlanSummary, Policy, Rails, Side, Violation, plan,
};
use crate::record::{BaseEntry, FeedPosition, RecordChange, RecordStore};

mod exec;
use exec::Exec;
pub use songrec_storage::progress::{NoProgress, Progress};
use songrec_storage::{
    Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend, StorageError,
    VersionEntry,
};

/// Environment variable of the test fault hook (see [`SyncOptions::abort_after_writes`]);
/// exists only with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
pub const ABORT_AFTER_ENV: &str = "SONGREC_SYNC_TEST_ABORT_AFTER";

/// Options of one run.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub policy: Policy,
    pub rails: Rails,
    /// Plan only: take no lease, change nothing.
    pub dry_run: bool,
    /// Songs per write batch.
    pub batch_size: usize,
    /// Songs transferred concurrently.
    pub concurrency: usize,
    /// Folder for audio in transit (created, removed at the end).
    pub scratch_dir: PathBuf,
    /// Do a full reconciliation (list both sides whole) even when the record has a valid
    /// feed position (`songrec sync --full`).
    pub full: bool,
    /// A feed position descending from a full reconciliation older than this is not used:
    /// the run reconciles fully (default 7 days).
    pub full_every: Duration,
    /// **Test fault hook**: `std::process::abort()` right after this many writes (backend
    /// writes and record commits), to test that a killed run is finished by the next one.
    /// The CLI sets it from the `SONGREC_SYNC_TEST_ABORT_AFTER` environment variable. Only
    /// with the `test-hooks` feature.
    #[cfg(any(test, feature = "test-hooks"))]
    pub abort_after_writes: Option<u64>,
    /// This machine's own copy of the music (`songrec sync --music`): audio coming to the
    /// local side is linked to the file found there instead of downloaded.
    pub local_files: Option<Arc<dyn LocalFiles>>,
}

/// Finds this machine's own copy of a song's audio (`sync --music`): a folder of the user's
/// music, indexed by the SHA-256 of each file's bytes and by its audio identity.
pub trait LocalFiles: Send + Sync + fmt::Debug {
    /// A file here whose bytes hash to `key` (the audio key of a song), if one is known. The
    /// caller links it with [`StorageBackend::link_audio`], which checks the bytes again.
    fn find(&self, key: &SongId) -> Option<PathBuf>;

    /// A file here holding the recording whose audio identity is `audio` (a song's id) under
    /// any tags, with the hash of its bytes. The caller links it with
    /// [`StorageBackend::link_audio_as`], which checks the bytes against that hash.
    fn find_audio(&self, audio: &SongId) -> Option<(PathBuf, SongId)> {
        let _ = audio;
        None
    }

    /// The files read anew since the last index of the folder (new, or changed: a retag): a
    /// song whose audio here is a downloaded copy is linked to such a file after the run, so
    /// a file that appears (or is retagged) replaces the copy by itself.
    fn fresh(&self) -> Vec<LocalFile> {
        Vec::new()
    }
}

/// A file of this machine's music folder ([`LocalFiles::fresh`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    /// The SHA-256 of its bytes.
    pub key: SongId,
    /// Its audio identity, when its stream could be read.
    pub audio: Option<SongId>,
}

impl SyncOptions {
    /// Defaults: policy `newer`, 50 % delete rail, batches of 64, 8 transfers at a time.
    pub fn new(scratch_dir: impl Into<PathBuf>) -> Self {
        Self {
            policy: Policy::default(),
            rails: Rails::default(),
            dry_run: false,
            batch_size: 64,
            concurrency: 8,
            scratch_dir: scratch_dir.into(),
            full: false,
            full_every: DEFAULT_FULL_EVERY,
            #[cfg(any(test, feature = "test-hooks"))]
            abort_after_writes: None,
            local_files: None,
        }
    }
}

/// Default of [`SyncOptions::full_every`]: a week.
pub const DEFAULT_FULL_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a run listed the remote whole instead of reading its change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "snake_case")]
pub enum FullReason {
    /// Asked for (`--full`).
    #[strum(to_string = "asked for (--full)")]
    Asked,
    /// The record has no feed position (first sync, a run that did not complete, or a
    /// remote without a feed).
    #[strum(to_string = "no change cursor recorded yet")]
    NoPosition,
    /// The last full reconciliation is older than [`SyncOptions::full_every`].
    #[strum(to_string = "the last full reconciliation is too old")]
    Expired,
    /// The remote does not know the cursor (no feed, another or a recreated library).
    #[strum(to_string = "the remote does not know the recorded cursor")]
    CursorUnknown,
}

/// How a run read the remote side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RemoteRead {
    /// Only what changed since the recorded cursor (the record stands in for the rest).
    Feed {
        /// Entries the feed returned (overlap included).
        changes: usize,
    },
    /// The whole listing (a full reconciliation).
    Full { reason: FullReason },
}

impl Default for RemoteRead {
    fn default() -> Self {
        Self::Full {
            reason: FullReason::NoPosition,
        }
    }
}

/// What a run did (or, for a dry run, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    /// The plan's counts.
    pub summary: PlanSummary,
    /// The plan's steps (dry runs only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    pub dry_run: bool,
    /// Safety-rail refusals; when present nothing was changed.
    pub violations: Vec<Violation>,
    /// Whole songs uploaded.
    pub pushed_new: usize,
    /// Metadata changes uploaded (incl. merges written to the remote).
    pub pushed_changed: usize,
    /// Whole songs downloaded.
    pub pulled_new: usize,
    /// Songs whose audio was linked to this machine's own copy of the file (`--music`)
    /// instead of downloaded.
    pub audio_linked: usize,
    /// Metadata changes downloaded (incl. merges written here).
    pub pulled_changed: usize,
    /// Songs deleted here.
    pub deleted_local: usize,
    /// Songs deleted on the remote.
    pub deleted_remote: usize,
    /// Songs found equal on both sides (only the record advanced).
    pub recorded: usize,
    /// Conflicts, each with its resolution.
    pub conflicts: Vec<Conflict>,
    /// Songs that could not be synced this run, with the reason (the next run retries them).
    pub failed: Vec<(SongId, String)>,
    /// The lease held during the run.
    pub lease: Option<LeaseInfo>,
    /// How the remote was read (change feed or full listing).
    pub remote_read: RemoteRead,
    /// Whether the record's feed position was advanced (complete runs on a remote with a feed).
    pub cursor_advanced: bool,
    /// Saved playlists carried (or, for a dry run, to carry).
    pub playlists: crate::playlists::PlaylistReport,
}

impl SyncReport {
    /// Both sides agree (nothing refused, nothing failed).
    pub fn is_complete(&self) -> bool {
        self.violations.is_empty() && self.failed.is_empty() && self.playlists.failed.is_empty()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The lease is held by another machine, or was lost.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// A storage failure that concerns the whole library (unreachable, locked, unauthorised,
    /// listing or record failures).
    #[error(transparent)]
    Storage(#[from] StorageError),
}

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
