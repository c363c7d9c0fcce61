//! `songrec migrate`: copy a whole library (metadata, every model's vectors, audio) from one
//! backend to another, in batches, never writing the source.
//!
//! Idempotent and resumable: a song counts as migrated once its metadata (written last) is on
//! the target, and each run copies what the target lacks or holds older, by comparing both
//! listings. The [`ledger`] records each batch's steps; songs that fail transiently are
//! retried in later rounds; [`verify()`] compares both sides afterwards.

pub mod ledger;
mod retry;
pub mod verify;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde::Serialize;
use songrec_config::{BackendKind, Config};
use songrec_storage::{
    ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend, StorageError, VersionEntry,
};

pub use ledger::{Ledger, SongState};
pub use verify::{VerifyLevel, VerifyReport, verify};

pub use songrec_storage::progress::{NoProgress, Progress};

use crate::AppResult;
use retry::again;

/// Which songs a migration will copy.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Plan {
    /// Songs missing or older on the target, with their source version.
    pub to_copy: Vec<VersionEntry>,
    /// Songs already on the target at the same or a newer version.
    pub up_to_date: usize,
    /// Those songs' ids: not copied, the target's copy stands (it may differ from the source's
    /// when each side ingested or edited the song separately; sync merges them).
    pub held: Vec<SongId>,
    /// Source tombstones (deletions are not migrated; sync carries them).
    pub source_tombstones: usize,
}

/// Compares the two listings (pure).
pub fn plan(source: &[VersionEntry], target: &[VersionEntry]) -> Plan {
    let tgt: HashMap<&SongId, &VersionEntry> = target.iter().map(|v| (&v.id, v)).collect();
    let mut p = Plan::default();
    for v in source {
        if v.deleted {
            p.source_tombstones += 1;
            continue;
        }
        match tgt.get(&v.id) {
            Some(t) if !t.deleted && t.version >= v.version => {
                p.up_to_date += 1;
                p.held.push(v.id.clone());
            }
            _ => p.to_copy.push(v.clone()),
        }
    }
    p
}

/// A stable name for a backend's data, used to pair ledger runs: the local library's folder,
/// or the Data API endpoint, keyspace and collection prefix plus the S3 bucket and prefix.
/// Layers stacked by the factory do not change it.
pub fn identity(cfg: &Config, kind: BackendKind) -> String {
    match kind {
        BackendKind::Local => {
            let p = &cfg.local.path;
            let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            format!("local:{}", abs.display())
        }
        BackendKind::Astra => {
            let endpoint = if cfg.s3.endpoint.is_empty() {
                format!("aws-{}", cfg.s3.region)
            } else {
                cfg.s3.endpoint.trim_end_matches('/').to_owned()
            };
            format!(
                "astra:{}/{}/{} s3:{}/{}/{}",
                cfg.astra.api_endpoint.trim_end_matches('/'),
                cfg.astra.keyspace,
                cfg.astra.collection_prefix,
                endpoint,
                cfg.s3.bucket,
                cfg.s3.prefix
            )
        }
    }
}

/// Options.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// Songs per write batch.
    pub batch_size: usize,
    /// Songs read and uploaded concurrently.
    pub concurrency: usize,
    /// Folder for audio in transit (created; emptied as songs complete).
    pub scratch_dir: PathBuf,
    /// Extra rounds for songs that failed transiently.
    pub retry_rounds: usize,
    /// Pause before retry round `n`: `n ×` this.
    pub retry_delay: Duration,
}

impl MigrateOptions {
    /// Defaults: batches of 100 (one Data API insert each), 8 songs at a time, 3 retry rounds.
    pub fn new(scratch_dir: impl Into<PathBuf>) -> Self {
        Self {
            batch_size: 100,
            concurrency: 8,
            scratch_dir: scratch_dir.into(),
            retry_rounds: 3,
            retry_delay: Duration::from_secs(1),
        }
    }
}

/// The ledger of a migration and the identities of its two sides.
#[derive(Debug)]
pub struct LedgerContext<'a> {
    pub ledger: &'a Ledger,
    /// [`identity`] of the source.
    pub source: String,
    /// [`identity`] of the target.
    pub target: String,
}

/// What a migration did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MigrateReport {
    /// The plan it followed.
    pub plan: Plan,
    pub copied: usize,
    /// Songs that could not be copied, with the reason.
    pub failed: Vec<(SongId, String)>,
    /// Audio files uploaded (the rest were on the target already, or the song had none).
    pub audio_uploaded: usize,
    pub retry_rounds: usize,
    /// The ledger's run number, if a ledger was kept.
    pub run: Option<i64>,
    /// The interrupted run this one picked up after.
    pub resumed: Option<i64>,
    /// Wall time of the copy, seconds.
    pub elapsed_secs: f64,
}

/// Writes to the ledger; after the first failure, logs once and keeps going without it (the
/// ledger is a record, the migration does not depend on it).
#[derive(Default)]
struct Journal<'a> {
    run: Option<(&'a Ledger, i64)>,
    broken: AtomicBool,
}

impl Journal<'_> {
    fn note(&self, e: &ledger::LedgerError) {
        if !self.broken.swap(true, Ordering::SeqCst) {
            tracing::warn!("{e}; continuing without the ledger (it is a record only)");
        }
    }

    /// Records the songs `done` at `state`, and the `failed` ones.
    fn record<'i>(
        &self,
        done: impl IntoIterator<Item = &'i SongId>,
        state: SongState,
        failed: &[Failure],
    ) {
        if self.broken.load(Ordering::SeqCst) {
            return;
        }
        let failed = failed
            .iter()
            .map(|f| (f.id.clone(), SongState::Failed, Some(f.why.clone())));
        let updates: Vec<_> = done
            .into_iter()
            .map(|id| (id.clone(), state, None))
            .chain(failed)
            .collect();
        if let Some((ledger, run)) = self.run
            && let Err(e) = ledger.record(run, &updates)
        {
            self.note(&e);
        }
    }

    fn finish(&self, end: &ledger::RunEnd) {
        if let Some((ledger, run)) = self.run
            && let Err(e) = ledger.finish_run(run, end)
        {
            self.note(&e);
        }
    }
}

/// A song that did not make it in this round.
struct Failure {
    id: SongId,
    why: String,
    transient: bool,
}

impl Failure {
    fn new(id: &SongId, what: &str, e: &StorageError) -> Self {
        let (id, transient) = (id.clone(), e.is_transient());
        let why = format!("{what}: {e}");
        Self { id, why, transient }
    }

    /// A failure that another round would not fix.
    fn permanent(id: SongId, why: String) -> Self {
        let transient = false;
        Self { id, why, transient }
    }
}

/// Puts a song's audio on the target unless it is there (asked first only when `check_first`).
/// `Ok(true)` if uploaded now.
async fn copy_audio(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    id: &SongId,
    check_first: bool,
    scratch: &Path,
) -> Result<bool, StorageError> {
    if check_first && target.has_audio(id).await? {
        return Ok(false);
    }
    let tmp = scratch.join(format!("{id}.audio"));
    let result = async {
        match source.get_audio(id, &tmp).await {
            Ok(_) => {}
            Err(StorageError::NotFound(_)) => return Ok(false), // a song without audio
            Err(e) => return Err(e),
        }
        Ok(!target.put_audio(id, &tmp).await?.already_present)
    }
    .await;
    let _ = std::fs::remove_file(&tmp);
    result
}

/// Reads metadata (one batch call) and every model's vector of `ids` from the source.
async fn read_records(
    source: &dyn StorageBackend,
    models: &[ModelInfo],
    ids: &[SongId],
    concurrency: usize,
) -> Result<(Vec<SongRecord>, Vec<Failure>), StorageError> {
    let metas: HashMap<SongId, SongMetadata> = source
        .get_metadata_many(ids)
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m))
        .collect();
    let reads = futures::stream::iter(ids.iter())
        .map(|id| {
            let meta = metas.get(id).cloned();
            async move {
                let Some(metadata) = meta else {
                    let why = "deleted on the source during the migration".into();
                    return Err(Failure::permanent(id.clone(), why));
                };
                let mut embeddings = Vec::new();
                for m in models {
                    match source.get_embedding(id, m).await {
                        Ok(Some(e)) => embeddings.push(e),
                        Ok(None) => {}
                        Err(e) => return Err(Failure::new(id, "reading vectors", &e)),
                    }
                }
                Ok(SongRecord {
                    metadata,
                    embeddings,
                })
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let (records, failed): (Vec<_>, Vec<_>) = reads.into_iter().partition(Result::is_ok);
    let records = records.into_iter().flatten().collect();
    Ok((
        records,
        failed.into_iter().filter_map(Result::err).collect(),
    ))
}

#[derive(Default)]
struct BatchOutcome {
    copied: Vec<SongId>,
    failed: Vec<Failure>,
    audio_uploaded: usize,
}

/// Audio, then vectors and metadata, of one batch; the ledger records each step.
#[allow(clippy::too_many_arguments)]
async fn copy_batch(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    models: &[ModelInfo],
    batch: &[SongId],
    audio_known: Option<&HashSet<String>>,
    opts: &MigrateOptions,
    journal: &Journal<'_>,
) -> AppResult<BatchOutcome> {
    let mut out = BatchOutcome::default();
    // 1. Audio, kept under each file's content hash (the song id for older songs).
    let keys: HashMap<SongId, SongId> = source
        .get_metadata_many(batch)
        .await?
        .iter()
        .map(|m| (m.id.clone(), m.audio_key()))
        .collect();
    let keys = &keys;
    let audio = futures::stream::iter(batch.iter())
        .map(|id| async move {
            let key = keys.get(id).unwrap_or(id);
            // Without a ledger, ask the target first; with one, only for songs an earlier run
            // touched (a conditional upload of a present blob is a no-op either way).
            let check_first = audio_known.is_none_or(|k| k.contains(id.as_str()));
            (
                id,
                copy_audio(source, target, key, check_first, &opts.scratch_dir).await,
            )
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    let mut ready = Vec::new();
    for (id, r) in audio {
        match r {
            Ok(uploaded) => {
                out.audio_uploaded += usize::from(uploaded);
                ready.push(id.clone());
            }
            Err(e) if e.is_fatal() => return Err(e.into()),
            Err(e) => out.failed.push(Failure::new(id, "audio", &e)),
        }
    }
    journal.record(&ready, SongState::AudioDone, &out.failed);

    // 2. Vectors and metadata, read and sent.
    if ready.is_empty() {
        return Ok(out);
    }
    let (records, read_failed) = match read_records(source, models, &ready, opts.concurrency).await
    {
        Ok(r) => r,
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(e) => (
            Vec::new(),
            ready
                .iter()
                .map(|id| Failure::new(id, "reading metadata", &e))
                .collect(),
        ),
    };
    let read = records.iter().map(|r| &r.metadata.id);
    journal.record(read, SongState::VectorsDone, &read_failed);
    out.failed.extend(read_failed);
    if records.is_empty() {
        return Ok(out);
    }

    // 3. The target's acknowledgement.
    let mut write_failed = Vec::new();
    match target.put_songs(&records).await {
        Ok(rep) => {
            out.copied = rep.stored;
            write_failed.extend(
                rep.failed
                    .into_iter()
                    .map(|(id, w)| Failure::permanent(id, w)),
            );
        }
        Err(e) if e.is_fatal() => return Err(e.into()),
        Err(e) => write_failed.extend(
            records
                .iter()
                .map(|r| Failure::new(&r.metadata.id, "writing", &e)),
        ),
    }
    journal.record(&out.copied, SongState::Done, &write_failed);
    out.failed.extend(write_failed);
    Ok(out)
}

/// Lists both sides and compares them (see [`plan`]).
pub async fn plan_for(source: &dyn StorageBackend, target: &dyn StorageBackend) -> AppResult<Plan> {
    Ok(plan(
        &again(|| source.list_versions()).await?,
        &again(|| target.list_versions()).await?,
    ))
}

/// Copies the songs of `plan` (from [`plan_for`]): everything the target lacks or has at an
/// older version. Never changes the source. With a ledger, the run and every song's progress
/// are recorded in it (a run with nothing to copy is recorded too).
///
/// ```no_run
/// # async fn demo(source: &dyn songrec_storage::StorageBackend, target: &dyn songrec_storage::StorageBackend) -> songrec_app::AppResult<()> {
/// use songrec_app::migrate::{migrate, plan_for, MigrateOptions, NoProgress};
/// let plan = plan_for(source, target).await?;
/// let report = migrate(source, target, plan, &MigrateOptions::new("/tmp/scratch"), &NoProgress, None).await?;
/// println!("copied {} songs", report.copied);
/// # Ok(()) }
/// ```
pub async fn migrate(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    plan: Plan,
    opts: &MigrateOptions,
    progress: &dyn Progress,
    ledger: Option<&LedgerContext<'_>>,
) -> AppResult<MigrateReport> {
    let mut journal = Journal::default();
    let mut report = MigrateReport {
        plan: plan.clone(),
        ..MigrateReport::default()
    };
    let mut audio_known = None;
    if let Some(LedgerContext {
        ledger,
        source,
        target,
    }) = ledger
    {
        let planned: Vec<(SongId, u64)> = plan
            .to_copy
            .iter()
            .map(|v| (v.id.clone(), v.version))
            .collect();
        let up_to_date = plan.up_to_date as u64;
        let begun = ledger
            .audio_maybe_on_target(source, target)
            .and_then(|known| {
                let run = ledger.begin_run(source, target, &planned, up_to_date)?;
                Ok((known, run))
            });
        match begun {
            Ok((known, run)) => {
                audio_known = Some(known);
                journal.run = Some((*ledger, run));
                report.run = Some(run);
                let runs = ledger.runs(2).unwrap_or_default();
                report.resumed = runs
                    .into_iter()
                    .find(|r| r.id == run)
                    .and_then(|r| r.resumes);
            }
            Err(e) => journal.note(&e),
        }
    }
    let started = Instant::now();
    let result = copy_all(
        source,
        target,
        opts,
        progress,
        &journal,
        audio_known.as_ref(),
        &mut report,
    )
    .await;
    report.elapsed_secs = started.elapsed().as_secs_f64();
    let end = ledger::RunEnd {
        copied: report.copied as u64,
        failed: report.failed.len() as u64,
        error: result.as_ref().err().map(ToString::to_string),
        verify: None,
    };
    journal.finish(&end);
    result.map(|()| report)
}

async fn copy_all(
    source: &dyn StorageBackend,
    target: &dyn StorageBackend,
    opts: &MigrateOptions,
    progress: &dyn Progress,
    journal: &Journal<'_>,
    audio_known: Option<&HashSet<String>>,
    report: &mut MigrateReport,
) -> AppResult<()> {
    let models: Vec<ModelInfo> = again(|| source.models())
        .await?
        .into_iter()
        .map(|s| s.model)
        .collect();
    std::fs::create_dir_all(&opts.scratch_dir)
        .map_err(|e| StorageError::io(&opts.scratch_dir, e))?;
    progress.start(report.plan.to_copy.len() as u64);
    let mut pending: Vec<SongId> = report.plan.to_copy.iter().map(|v| v.id.clone()).collect();
    for round in 0..=opts.retry_rounds {
        if pending.is_empty() {
            break;
        }
        if round > 0 {
            report.retry_rounds = round;
            tracing::info!(
                songs = pending.len(),
                round,
                "retrying songs that failed transiently"
            );
            tokio::time::sleep(opts.retry_delay * round as u32).await;
        }
        let last = round == opts.retry_rounds;
        let mut retry = Vec::new();
        for batch in pending.chunks(opts.batch_size.max(1)) {
            let out =
                copy_batch(source, target, &models, batch, audio_known, opts, journal).await?;
            report.audio_uploaded += out.audio_uploaded;
            let mut finished = out.copied.len();
            report.copied += out.copied.len();
            for f in out.failed {
                if f.transient && !last {
                    retry.push(f.id);
                } else {
                    finished += 1;
                    report.failed.push((f.id, f.why));
                }
            }
            progress.advance(finished as u64);
        }
        pending = retry;
    }
    again(|| target.flush()).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_migrateoptions() {
        let mut opts = crate::migrate::MigrateOptions::new("/tmp/scratch");
        opts.batch_size = 10;
        assert_eq!(opts.retry_rounds, 3);
    }

    use super::*;

    fn v(n: u8, version: u64, deleted: bool) -> VersionEntry {
        VersionEntry {
            id: SongId::from_bytes(&[n]),
            version,
            content_hash: String::new(),
            deleted,
        }
    }

    #[test]
    fn plan_copies_missing_and_older_only() {
        let src = [
            v(1, 1, false),
            v(2, 3, false),
            v(3, 1, false),
            v(4, 2, true),
            v(5, 1, false),
        ];
        let tgt = [
            v(1, 1, false),
            v(2, 2, false),
            v(3, 5, false),
            v(5, 9, true),
        ];
        let p = plan(&src, &tgt);
        assert_eq!(
            p.to_copy.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
            vec![SongId::from_bytes(&[2]), SongId::from_bytes(&[5])]
        );
        assert_eq!(p.to_copy[0].version, 3);
        assert_eq!(p.up_to_date, 2);
        assert_eq!(
            p.held,
            vec![SongId::from_bytes(&[1]), SongId::from_bytes(&[3])]
        );
        assert_eq!(p.source_tombstones, 1);
    }
}
