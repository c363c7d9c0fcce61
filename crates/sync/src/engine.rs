//! The sync executor: takes the lease, lists both sides, plans (pure), then carries the plan
//! out and advances the record song by song as transfers complete.
//!
//! Order of work: deletions both sides already made (record only), deletions, merges of songs
//! changed on both sides, then copies in batches. A whole-song copy writes audio, then every
//! vector, then the metadata (the commit point), and only then advances the record, so a run
//! killed anywhere is finished by the next run: songs whose record was not advanced are
//! compared again, and content already on the target is recognised (same digest) or written
//! again idempotently (content-addressed audio, upserts).

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
    /// Conflict policy.
    pub policy: Policy,
    /// Safety rails.
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

/// Finds this machine's own copy of a file (`sync --music`): a folder of the user's music,
/// indexed by the SHA-256 of each file's bytes.
pub trait LocalFiles: Send + Sync + fmt::Debug {
    /// A file here whose bytes hash to `key` (the audio key of a song), if one is known. The
    /// caller links it with [`StorageBackend::link_audio`], which checks the bytes again.
    fn find(&self, key: &SongId) -> Option<PathBuf>;
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FullReason {
    /// Asked for (`--full`).
    Asked,
    /// The record has no feed position (first sync, a run that did not complete, or a
    /// remote without a feed).
    NoPosition,
    /// The last full reconciliation is older than [`SyncOptions::full_every`].
    Expired,
    /// The remote does not know the cursor (no feed, another or a recreated library).
    CursorUnknown,
}

impl fmt::Display for FullReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Asked => "asked for (--full)",
            Self::NoPosition => "no change cursor recorded yet",
            Self::Expired => "the last full reconciliation is too old",
            Self::CursorUnknown => "the remote does not know the recorded cursor",
        })
    }
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
    Full {
        /// Why.
        reason: FullReason,
    },
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
    /// Whether this was a dry run.
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
}

impl SyncReport {
    /// Both sides agree (nothing refused, nothing failed).
    pub fn is_complete(&self) -> bool {
        self.violations.is_empty() && self.failed.is_empty()
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
/// use songrec_sync::lease::{Lease, MemoryLeaseStore};
/// use songrec_sync::record::MemoryRecord;
/// let record = MemoryRecord::new("machine-a");
/// let lease = Arc::new(Lease::new(Arc::new(MemoryLeaseStore::default()), "machine-a", Duration::from_secs(60)));
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
    report.audio_linked = ex.linked.load(Ordering::SeqCst) as usize;
    let _ = std::fs::remove_dir_all(&opts.scratch_dir);
    result?;
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
    for e in feed {
        view.insert(e.id.clone(), e);
    }
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

struct Exec<'a> {
    local: &'a dyn StorageBackend,
    remote: &'a dyn StorageBackend,
    lease: Option<&'a Arc<Lease>>,
    record: &'a dyn RecordStore,
    opts: &'a SyncOptions,
    writes: AtomicU64,
    machine: String,
    models: tokio::sync::Mutex<HashMap<Side, Vec<ModelInfo>>>,
    /// Audio linked to this machine's own files.
    linked: AtomicU64,
}

impl Exec<'_> {
    fn side(&self, s: Side) -> &dyn StorageBackend {
        match s {
            Side::Local => self.local,
            Side::Remote => self.remote,
        }
    }

    /// Counts a completed write; the test fault hook aborts here.
    fn wrote(&self) {
        let _n = self.writes.fetch_add(1, Ordering::SeqCst) + 1;
        #[cfg(any(test, feature = "test-hooks"))]
        if self
            .opts
            .abort_after_writes
            .is_some_and(|limit| _n >= limit)
        {
            eprintln!("test fault hook: aborting after {_n} writes ({ABORT_AFTER_ENV})");
            std::process::abort();
        }
    }

    async fn check_lease(&self) -> Result<(), SyncError> {
        if let Some(l) = self.lease {
            l.check().await?;
        }
        Ok(())
    }

    fn commit(&self, changes: &[RecordChange]) -> Result<(), SyncError> {
        if changes.is_empty() {
            return Ok(());
        }
        self.record.commit(changes)?;
        self.wrote();
        Ok(())
    }

    async fn execute(
        &self,
        actions: Vec<Action>,
        report: &mut SyncReport,
        progress: &dyn Progress,
    ) -> Result<(), SyncError> {
        let batch = self.opts.batch_size.max(1);
        let mut recorded_deleted = Vec::new();
        let mut deletes = Vec::new();
        let mut reconciles = Vec::new();
        let mut copies: HashMap<(Side, bool), Vec<SongId>> = HashMap::new();
        for a in actions {
            match a {
                Action::RecordDeleted { id, version } => {
                    recorded_deleted.push(RecordChange::Deleted { id, version });
                }
                Action::Delete { id, on } => deletes.push((id, on)),
                Action::Reconcile { id, added_both } => reconciles.push((id, added_both)),
                Action::Copy { id, from, full } => copies.entry((from, full)).or_default().push(id),
            }
        }
        self.name_conflicts(report).await;

        for chunk in recorded_deleted.chunks(batch) {
            self.commit(chunk)?;
            progress.advance(chunk.len() as u64);
        }

        for chunk in deletes.chunks(batch) {
            self.check_lease().await?;
            let done: Vec<(SongId, Side, Result<bool, StorageError>)> =
                futures::stream::iter(chunk.iter())
                    .map(|(id, on)| async move {
                        let r = self.side(*on).delete_song(id).await;
                        if r.is_ok() {
                            self.wrote();
                        }
                        (id.clone(), *on, r)
                    })
                    .buffer_unordered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut changes = Vec::new();
            for (id, on, r) in done {
                match r {
                    Ok(_) => {
                        match on {
                            Side::Local => report.deleted_local += 1,
                            Side::Remote => report.deleted_remote += 1,
                        }
                        // The version is informational for deleted entries.
                        changes.push(RecordChange::Deleted { id, version: 0 });
                    }
                    Err(e) if e.is_fatal() => return Err(e.into()),
                    Err(e) => report
                        .failed
                        .push((id, format!("deleting on the {on} side: {e}"))),
                }
            }
            self.commit(&changes)?;
            progress.advance(chunk.len() as u64);
        }

        for chunk in reconciles.chunks(batch) {
            self.check_lease().await?;
            self.reconcile(chunk, report).await?;
            progress.advance(chunk.len() as u64);
        }

        let mut keys: Vec<(Side, bool)> = copies.keys().copied().collect();
        keys.sort();
        for key in keys {
            let ids = copies.remove(&key).unwrap_or_default();
            let (from, full) = key;
            let models = self.models(from).await?;
            for chunk in ids.chunks(batch) {
                self.check_lease().await?;
                self.copy(chunk, from, full, &models, report).await?;
                progress.advance(chunk.len() as u64);
            }
        }
        Ok(())
    }

    /// Fills in song names of edit-vs-delete conflicts (a few reads, only when there are any).
    async fn name_conflicts(&self, report: &mut SyncReport) {
        for c in report.conflicts.iter_mut().filter(|c| c.title.is_empty()) {
            let live = match c.kind {
                ConflictKind::DeletedHereEditedThere => Side::Remote,
                _ => Side::Local,
            };
            if let Ok(Some(m)) = self.side(live).get_metadata(&c.id).await {
                c.title = m.display_name();
            }
        }
    }

    async fn reconcile(
        &self,
        chunk: &[(SongId, bool)],
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let ids: Vec<SongId> = chunk.iter().map(|(id, _)| id.clone()).collect();
        let (lm, rm) = futures::join!(
            self.local.get_metadata_many(&ids),
            self.remote.get_metadata_many(&ids)
        );
        let by_id = |v: Vec<SongMetadata>| -> HashMap<SongId, SongMetadata> {
            v.into_iter().map(|m| (m.id.clone(), m)).collect()
        };
        let (lm, rm) = (by_id(lm?), by_id(rm?));
        let base = self.record.base_metadata(&ids)?;
        let now = chrono::Utc::now();
        let mut writes: HashMap<Side, Vec<SongRecord>> = HashMap::new();
        let mut results: HashMap<SongId, (SongMetadata, Vec<Side>)> = HashMap::new();
        for (id, added_both) in chunk {
            let (Some(l), Some(r)) = (lm.get(id), rm.get(id)) else {
                report.failed.push((
                    id.clone(),
                    "changed while syncing (deleted on one side); the next run picks it up".into(),
                ));
                continue;
            };
            let b = if *added_both { None } else { base.get(id) };
            let m = merge(b, l, r, self.opts.policy, now, &self.machine);
            if let Some(c) = m.conflict {
                report.conflicts.push(c);
            }
            for s in &m.write {
                writes.entry(*s).or_default().push(SongRecord {
                    metadata: m.result.clone(),
                    embeddings: Vec::new(),
                });
            }
            results.insert(id.clone(), (m.result, m.write));
        }
        // The side written to also gets the other side's vectors: a new vector (e.g. from
        // `songrec reembed`, which bumps the version) travels with the change. Vectors are a
        // function of the audio and the model, so overwriting an equal one is harmless.
        for (side, recs) in &mut writes {
            let models = self.models(side.other()).await?;
            let fetched: Vec<Result<Vec<Embedding>, StorageError>> =
                futures::stream::iter(recs.iter())
                    .map(|r| self.vectors(side.other(), &r.metadata.id, &models))
                    .buffered(self.opts.concurrency.max(1))
                    .collect()
                    .await;
            let mut keep = Vec::new();
            for (mut r, v) in std::mem::take(recs).into_iter().zip(fetched) {
                match v {
                    Ok(v) => {
                        r.embeddings = v;
                        keep.push(r);
                    }
                    Err(e) if e.is_fatal() => return Err(e.into()),
                    Err(e) => {
                        results.remove(&r.metadata.id);
                        report.failed.push((
                            r.metadata.id.clone(),
                            format!("reading vectors on the {} side: {e}", side.other()),
                        ));
                    }
                }
            }
            *recs = keep;
        }
        // A merge that takes a retag (another content hash) brings that file's audio along.
        for (side, recs) in &mut writes {
            let here = if *side == Side::Local { &lm } else { &rm };
            let mut keep = Vec::new();
            for r in std::mem::take(recs) {
                let changed = here
                    .get(&r.metadata.id)
                    .is_some_and(|m| m.content_hash != r.metadata.content_hash);
                if changed && let Err(e) = self.move_audio(side.other(), &r.metadata).await {
                    if e.is_fatal() {
                        return Err(e.into());
                    }
                    results.remove(&r.metadata.id);
                    report.failed.push((
                        r.metadata.id.clone(),
                        format!("copying the audio from the {} side: {e}", side.other()),
                    ));
                    continue;
                }
                keep.push(r);
            }
            *recs = keep;
        }
        // Remote first, then here: a run killed in between leaves the merge on the remote,
        // which the next run recognises (the remote then holds the merged, newer version).
        let mut stored: HashMap<Side, HashSet<SongId>> = HashMap::new();
        for side in [Side::Remote, Side::Local] {
            let Some(recs) = writes.get(&side) else {
                continue;
            };
            let ok = self.put_records(side, recs, report).await?;
            stored.insert(side, ok);
        }
        let mut changes = Vec::new();
        for (id, (result, sides)) in results {
            if sides
                .iter()
                .all(|s| stored.get(s).is_some_and(|ok| ok.contains(&id)))
            {
                for s in &sides {
                    match s {
                        Side::Local => report.pulled_changed += 1,
                        Side::Remote => report.pushed_changed += 1,
                    }
                }
                if sides.is_empty() {
                    report.recorded += 1;
                }
                changes.push(RecordChange::Live(result));
            }
        }
        self.commit(&changes)
    }

    /// Writes metadata-bearing records to a side; returns the ids stored.
    async fn put_records(
        &self,
        side: Side,
        recs: &[SongRecord],
        report: &mut SyncReport,
    ) -> Result<HashSet<SongId>, SyncError> {
        match self.side(side).put_songs(recs).await {
            Ok(rep) => {
                self.wrote();
                report.failed.extend(
                    rep.failed
                        .into_iter()
                        .map(|(id, why)| (id, format!("writing on the {side} side: {why}"))),
                );
                Ok(rep.stored.into_iter().collect())
            }
            Err(e) if e.is_fatal() => Err(e.into()),
            Err(e) => {
                report.failed.extend(recs.iter().map(|r| {
                    (
                        r.metadata.id.clone(),
                        format!("writing on the {side} side: {e}"),
                    )
                }));
                Ok(HashSet::new())
            }
        }
    }

    async fn copy(
        &self,
        ids: &[SongId],
        from: Side,
        full: bool,
        models: &[ModelInfo],
        report: &mut SyncReport,
    ) -> Result<(), SyncError> {
        let src = self.side(from);
        let metas = match src.get_metadata_many(ids).await {
            Ok(v) => v,
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => {
                report.failed.extend(
                    ids.iter()
                        .map(|id| (id.clone(), format!("reading on the {from} side: {e}"))),
                );
                return Ok(());
            }
        };
        let found: HashSet<&SongId> = metas.iter().map(|m| &m.id).collect();
        for id in ids.iter().filter(|id| !found.contains(id)) {
            report.failed.push((
                id.clone(),
                format!("deleted on the {from} side while syncing; the next run picks it up"),
            ));
        }
        // The target's content hashes: a song whose file changed brings its audio along.
        let targets: HashMap<SongId, String> = if full {
            HashMap::new()
        } else {
            self.side(from.other())
                .versions_of(ids)
                .await?
                .into_iter()
                .filter(|v| !v.deleted)
                .map(|v| (v.id, v.content_hash))
                .collect()
        };
        let targets = &targets;
        let reads: Vec<(SongId, Result<SongRecord, StorageError>)> = futures::stream::iter(metas)
            .map(|m| async move {
                let id = m.id.clone();
                let hash = targets.get(&id).map(String::as_str);
                (id, self.transfer(from, m, full, hash, models).await)
            })
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
        let mut records = Vec::new();
        for (id, r) in reads {
            match r {
                Ok(rec) => records.push(rec),
                Err(e) if e.is_fatal() => return Err(e.into()),
                Err(e) => report
                    .failed
                    .push((id, format!("copying from the {from} side: {e}"))),
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let stored = self.put_records(from.other(), &records, report).await?;
        let mut changes = Vec::new();
        for r in records {
            if stored.contains(&r.metadata.id) {
                // The audio of the file as it was before a retag is no song's any more.
                if let Some(old) = targets
                    .get(&r.metadata.id)
                    .filter(|h| **h != r.metadata.content_hash)
                    .and_then(|h| SongId::parse(h).ok())
                    && let Err(e) = self.side(from.other()).delete_audio(&old).await
                {
                    tracing::warn!("removing the audio of an earlier version of a file: {e}");
                }
                match (from, full) {
                    (Side::Local, true) => report.pushed_new += 1,
                    (Side::Local, false) => report.pushed_changed += 1,
                    (Side::Remote, true) => report.pulled_new += 1,
                    (Side::Remote, false) => report.pulled_changed += 1,
                }
                changes.push(RecordChange::Live(r.metadata));
            }
        }
        self.commit(&changes)
    }

    /// Puts a song's audio, kept under its file's content hash on the `from` side, onto the
    /// other side: linked to this machine's own copy of the file when `--music` found one,
    /// else copied through a file in transit. A source without the audio is no error (a song
    /// added without it).
    async fn move_audio(&self, from: Side, metadata: &SongMetadata) -> Result<(), StorageError> {
        let (src, dst) = (self.side(from), self.side(from.other()));
        let key = metadata.audio_key();
        if from.other() == Side::Local
            && let Some(path) = self.opts.local_files.as_ref().and_then(|f| f.find(&key))
        {
            match dst.link_audio(&key, &path).await {
                Ok(_) => {
                    self.linked.fetch_add(1, Ordering::SeqCst);
                    self.wrote();
                    return Ok(());
                }
                Err(e) if e.is_fatal() => return Err(e),
                Err(e) => tracing::warn!(
                    "{}: not linked ({e}); downloading the audio instead",
                    path.display()
                ),
            }
        }
        let ext = Path::new(&metadata.file_name)
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| {
                !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .unwrap_or("bin");
        let tmp = self.opts.scratch_dir.join(format!("{key}.{ext}"));
        let moved = async {
            match src.get_audio(&key, &tmp).await {
                Ok(_) => {
                    dst.put_audio(&key, &tmp).await?;
                    self.wrote();
                    Ok(())
                }
                Err(StorageError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            }
        }
        .await;
        let _ = std::fs::remove_file(&tmp);
        moved
    }

    /// The models with vectors on a side (asked once per run and side).
    async fn models(&self, side: Side) -> Result<Vec<ModelInfo>, StorageError> {
        let mut cache = self.models.lock().await;
        if let Some(m) = cache.get(&side) {
            return Ok(m.clone());
        }
        let m: Vec<ModelInfo> = self
            .side(side)
            .models()
            .await?
            .into_iter()
            .map(|s| s.model)
            .collect();
        cache.insert(side, m.clone());
        Ok(m)
    }

    /// Every vector a side holds for a song.
    async fn vectors(
        &self,
        side: Side,
        id: &SongId,
        models: &[ModelInfo],
    ) -> Result<Vec<Embedding>, StorageError> {
        let mut out = Vec::new();
        for m in models {
            if let Some(e) = self.side(side).get_embedding(id, m).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Every vector of a song and, for a whole-song copy or a song whose file changed (a
    /// retag: another content hash than the target holds), its audio (if the source has it),
    /// moved to the target side; returns the record (vectors + metadata) to store there.
    async fn transfer(
        &self,
        from: Side,
        metadata: SongMetadata,
        full: bool,
        target_hash: Option<&str>,
        models: &[ModelInfo],
    ) -> Result<SongRecord, StorageError> {
        let id = &metadata.id;
        if full || target_hash.is_some_and(|h| h != metadata.content_hash) {
            self.move_audio(from, &metadata).await?;
        }
        let embeddings = self.vectors(from, id, models).await?;
        Ok(SongRecord {
            metadata,
            embeddings,
        })
    }
}
