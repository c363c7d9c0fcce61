//! Ingest: scan folders, follow what changed in them, analyse new audio in parallel, store
//! it, report every file.
//!
//! Per file: unchanged since the last ingest (stamp in a per-machine state file) → skipped
//! unread. Else the bytes of a known song (moved, renamed, copied) → its path followed; else a
//! known song's audio identity under other tags → its metadata updated, vectors kept; else new
//! audio, analysed once for all embedders and stored in batches. Gone files whose song turned
//! up nowhere else are reported missing, and removed from the library with `prune`. A file
//! that fails is reported with its reason and the rest goes on.

mod describe;
mod follow;
mod report;
pub(crate) mod scan;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use songrec_audio::{Embedder, FileAnalysis};
use songrec_identity::fingerprint::{self, FingerprintRecord};
use songrec_storage::{AudioMode, Embedding, SongId, SongRecord, StorageBackend, StorageError};

use crate::embedders::model_of;
use crate::{AppError, AppResult};

pub use describe::*;
use report::failed;
pub use report::{FileReport, IngestSummary, NoProgress, Outcome, Progress};
pub use scan::{
    AUDIO_EXTENSIONS, UNREADABLE_EXTENSIONS, load_state, readable_extensions, remember, scan,
    unsupported_extensions,
};
use scan::{Seen, below_root, read_pruned, read_state, save_pruned, save_state};

#[derive(Clone)]
pub struct IngestOptions {
    /// Parallel analysis jobs (0 = one per core).
    pub jobs: usize,
    /// Embedders to run on each new file.
    pub embedders: Vec<Arc<dyn Embedder>>,
    /// Songs per storage batch.
    pub batch_size: usize,
    /// Where to remember (size, mtime) per path; `None` disables skipping unchanged files
    /// (and following moves and deletions).
    pub state_file: Option<PathBuf>,
    /// Remove from the library the songs whose files are gone (never the files).
    pub prune: bool,
    /// The files are temporary (downloaded previews): store copies (`put_audio`) instead of
    /// keeping them the library's way (`link_audio`, a reference by default).
    pub copy_audio: bool,
    /// Folders never walked: songrec's own (the library's data, the cache), so that a copy
    /// of songrec's is never taken for a user's file.
    pub exclude: Vec<PathBuf>,
    /// Bring back songs deleted from the library whose files are as they were (without it,
    /// such a file is [`Outcome::Deleted`]: kept out).
    pub readd: bool,
}

impl IngestOptions {
    /// A one-off ingest with `embedders`: `jobs` threads, batches of 32, no state file (every
    /// file read, nothing followed or pruned), files kept the library's way; set the fields
    /// that differ.
    pub fn new(embedders: Vec<Arc<dyn Embedder>>, jobs: usize) -> Self {
        Self {
            jobs,
            embedders,
            batch_size: 32,
            state_file: None,
            prune: false,
            copy_audio: false,
            exclude: Vec::new(),
            readd: false,
        }
    }
}

/// What the per-file report says about a file that was added despite a problem.
pub fn file_warnings(info: &songrec_audio::AudioInfo) -> Vec<String> {
    info.truncated
        .then(|| format!("truncated: decoded {:.1} s", info.duration_secs))
        .into_iter()
        .collect()
}

/// What analysing one file found; the song is `Seen::id`.
enum Work {
    Skip(FileReport),
    /// The bytes of a song in the library.
    Known(PathBuf, Seen),
    /// A song's audio under other bytes: tags read again.
    Retagged(PathBuf, Seen, Box<songrec_audio::Tags>),
    /// New audio, analysed, with the fingerprint taken from the same decode (so `similar`,
    /// playlists and `--distinct` hold one copy of each recording from the first ingest on).
    Analysed(PathBuf, Seen, Box<FileAnalysis>, Box<FingerprintRecord>),
}

/// A file not ingested, for the reason given.
fn skip(path: &Path, kind: &str, reason: impl Into<String>) -> Work {
    Work::Skip(failed(path, kind, reason))
}

/// Ingests files and folders into a backend, following moves, retags and deletions of files
/// ingested before (see the module docs).
pub async fn ingest(
    backend: &dyn StorageBackend,
    roots: &[PathBuf],
    opts: &IngestOptions,
    progress: Arc<Progress>,
) -> AppResult<IngestSummary> {
    if opts.embedders.is_empty() {
        return Err(AppError::Invalid("no embedder selected".into()));
    }
    let started = Instant::now();
    // Absolute, resolved roots: the state file and the library's references hold such paths.
    let roots: Vec<PathBuf> = roots
        .iter()
        .map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| r.clone()))
        .collect();
    let (files, scan_errors) = scan(&roots, &opts.exclude);
    progress.start((files.len() + scan_errors.len()) as u64);
    let mut summary = IngestSummary::default();
    let folders: Vec<PathBuf> = roots.iter().filter(|r| r.is_dir()).cloned().collect();
    let unreadable: Vec<PathBuf> = scan_errors.iter().map(|r| r.path.clone()).collect();
    for r in scan_errors {
        summary.report(&*progress, r);
    }

    let versions = backend.list_versions().await?;
    let (dead, alive): (Vec<_>, Vec<_>) = versions.iter().partition(|v| v.deleted);
    let live: HashSet<SongId> = alive.iter().map(|v| v.id.clone()).collect();
    let deleted: HashSet<&SongId> = dead.iter().map(|v| &v.id).collect();
    let state_file = opts.state_file.as_deref();
    let before = state_file.map_or_else(BTreeMap::new, read_state);
    let mut state = before.clone();
    // Songs pruned before, whose hand edits come back with their files.
    let mut pruned = state_file.map(read_pruned).unwrap_or_default();
    let mut pruned_changed = false;

    // Files as they were: reported at once, never read.
    let mut candidates = Vec::new();
    for path in files.iter() {
        match (before.get(path), songrec_fs::stamp(path)) {
            (Some(s), Some(now)) if s.matches(&now) && live.contains(&s.id) => {
                if s.ino == 0 {
                    state.insert(path.clone(), Seen::new(&now, s.id.clone(), s.key.clone()));
                }
                summary.report_outcome(&*progress, path.clone(), Outcome::Unchanged);
            }
            // A song deleted from the library while its file stayed: the deletion sticks.
            (Some(s), Some(now)) if s.matches(&now) && deleted.contains(&s.id) && !opts.readd => {
                let outcome = Outcome::Deleted { id: s.id.clone() };
                summary.report_outcome(&*progress, path.clone(), outcome);
            }
            _ => candidates.push(path.clone()),
        }
    }
    // Only files that changed need to know every song's file hash and audio identity.
    let known = if candidates.is_empty() {
        follow::Known::default()
    } else {
        follow::Known::of(backend, &versions).await?
    };

    // Analysis runs on a rayon pool; results stream back through a bounded channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(64);
    let jobs = songrec_storage::progress::jobs_or_cores(opts.jobs);
    let embedders = opts.embedders.clone();
    let folders_for_workers = folders.clone();
    let total = files.len() + summary.files.len();
    let stop = progress.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.blocking_send(skip(
                    Path::new("."),
                    "internal",
                    format!("thread pool: {e}"),
                ));
                return;
            }
        };
        pool.install(|| {
            use rayon::prelude::*;
            candidates.par_iter().for_each(|path| {
                if stop.stopped() {
                    return;
                }
                let work = analyse_one(
                    path,
                    below_root(path, &folders_for_workers),
                    &known,
                    &embedders,
                );
                let _ = tx.blocking_send(work);
            });
        });
    });

    let mut batch: Vec<(PathBuf, SongRecord, Seen, Vec<String>)> = Vec::new();
    let batch_size = opts.batch_size.max(1);
    let mut added_this_run: HashSet<SongId> = HashSet::new();
    while let Some(work) = rx.recv().await {
        let report = match work {
            Work::Skip(report) => report,
            Work::Known(path, seen) => {
                follow::known_file(backend, &before, path, seen, &mut state, opts.copy_audio)
                    .await?
            }
            Work::Retagged(path, seen, tags) => {
                follow::retagged(backend, path, seen, &tags, &mut state, opts.copy_audio).await?
            }
            Work::Analysed(path, seen, analysis, fingerprint) => {
                let id = seen.id.clone();
                // The same audio at two paths in one run: store it once.
                if !added_this_run.insert(id.clone()) {
                    state.insert(path.clone(), seen);
                    let outcome = Outcome::AlreadyInLibrary { id };
                    summary.report_outcome(&*progress, path, outcome);
                    continue;
                }
                summary.audio_secs += analysis.info.duration_secs;
                let key = seen.audio_key();
                // Audio first: metadata (the commit point) only follows stored audio.
                match follow::keep_audio(backend, &key, &path, opts.copy_audio).await {
                    Ok(out) => {
                        summary.copies +=
                            usize::from(out.kept == AudioMode::Copy && !out.already_present)
                    }
                    Err(e) => {
                        let r = follow::storage_failure(e, &path, "could not store audio")?;
                        summary.report(&*progress, r);
                        continue;
                    }
                }
                let mut metadata = metadata_from(&id, &key, &analysis, seen.size);
                if let Some(saved) = pruned.remove(&id) {
                    crate::edit::carry_edits(&saved, &mut metadata);
                    pruned_changed = true;
                }
                fingerprint.insert_into(&mut metadata);
                let warnings = file_warnings(&analysis.info);
                let embeddings = analysis
                    .analyses
                    .iter()
                    .zip(&opts.embedders)
                    .map(|(a, e)| Embedding {
                        model: model_of(e.as_ref()),
                        vector: a.analysis.vector.clone(),
                    })
                    .collect();
                let record = SongRecord {
                    metadata,
                    embeddings,
                };
                batch.push((path, record, seen, warnings));
                if batch.len() >= batch_size {
                    store_batch(backend, &mut batch, &mut state, &mut summary, &*progress).await?;
                    save_state(state_file, &state);
                }
                continue;
            }
        };
        summary.report(&*progress, report);
    }
    store_batch(backend, &mut batch, &mut state, &mut summary, &*progress).await?;
    producer
        .await
        .map_err(|e| AppError::Invalid(format!("analysis workers failed: {e}")))?;
    summary.interrupted = progress.stopped() && summary.files.len() < total;
    // Gone files are only looked for after a whole walk, and never below unreadable folders.
    if !summary.interrupted && state_file.is_some() {
        let gone = follow::gone(
            backend,
            &before,
            &mut state,
            &summary,
            &folders,
            &unreadable,
            &live,
            opts.prune,
            &mut pruned,
        )
        .await?;
        pruned_changed |= gone
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Removed { .. }));
        for r in gone {
            summary.report(&*progress, r);
        }
    }
    backend.flush().await?;
    save_state(state_file, &state);
    if pruned_changed && let Some(f) = state_file {
        save_pruned(f, &pruned);
    }
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

fn analyse_one(
    path: &Path,
    relative: &Path,
    known: &follow::Known,
    embedders: &[Arc<dyn Embedder>],
) -> Work {
    let Some(now) = songrec_fs::stamp(path) else {
        return skip(
            path,
            "io",
            format!("{}: cannot read file metadata", path.display()),
        );
    };
    let key = match SongId::from_file(path) {
        Ok((key, _)) => key,
        Err(e) => return skip(path, "io", e.to_string()),
    };
    let seen = |id: &SongId| Seen::new(&now, id.clone(), Some(key.clone()));
    if let Some(id) = known.by_key.get(&key) {
        return Work::Known(path.to_path_buf(), seen(id));
    }
    let identified = match songrec_audio::identity::identify(path) {
        Ok(i) => i,
        Err(e) => return skip(path, e.kind(), e.to_string()),
    };
    let audio = SongId::from_raw(&identified.audio);
    if let Some(id) = known.by_audio.get(&audio) {
        let tags = identified.tags.with_file_name_fallback(path);
        let tags = Box::new(tags.with_path_fallback(relative));
        return Work::Retagged(path.to_path_buf(), seen(id), tags);
    }
    let refs: Vec<&dyn Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
    match songrec_audio::analyze_file_and(path, &refs, fingerprint::analyse_audio) {
        Ok((mut fa, fp)) => {
            fa.tags = fa.tags.with_path_fallback(relative);
            Work::Analysed(path.to_path_buf(), seen(&audio), Box::new(fa), Box::new(fp))
        }
        Err(e) => skip(path, e.kind(), e.to_string()),
    }
}

async fn store_batch(
    backend: &dyn StorageBackend,
    batch: &mut Vec<(PathBuf, SongRecord, Seen, Vec<String>)>,
    state: &mut BTreeMap<PathBuf, Seen>,
    summary: &mut IngestSummary,
    progress: &Progress,
) -> AppResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let records: Vec<SongRecord> = batch.iter().map(|(_, r, _, _)| r.clone()).collect();
    let result = match backend.put_songs(&records).await {
        Err(e) if e.is_fatal() => return Err(e.into()),
        result => result,
    };
    for (path, rec, seen, warnings) in batch.drain(..) {
        let id = rec.metadata.id.clone();
        let report = match &result {
            Ok(rep) => match rep.failed.iter().find(|(f, _)| *f == id) {
                Some((_, why)) => failed(&path, "storage", format!("{}: {why}", path.display())),
                None => {
                    let title = rec.metadata.display_name();
                    state.insert(path.clone(), seen);
                    let outcome = Outcome::Added {
                        id,
                        title,
                        warnings,
                    };
                    FileReport { path, outcome }
                }
            },
            Err(e) => failed(
                &path,
                storage_kind(e),
                format!("{}: could not store: {e}", path.display()),
            ),
        };
        summary.report(progress, report);
    }
    Ok(())
}

fn storage_kind(e: &StorageError) -> &'static str {
    match e {
        StorageError::DimensionMismatch { .. } => "dimension_mismatch",
        StorageError::Locked { .. } => "locked",
        _ => "storage",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_file_warnings() {
        let mut info = songrec_audio::AudioInfo {
            duration_secs: 12.04,
            sample_rate: 44_100,
            channels: 2,
            codec: "mp3".into(),
            decode_errors: 0,
            truncated: false,
        };
        assert!(crate::ingest::file_warnings(&info).is_empty());
        info.truncated = true;
        assert_eq!(
            crate::ingest::file_warnings(&info),
            ["truncated: decoded 12.0 s"]
        );
    }
}
