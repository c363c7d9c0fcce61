//! Ingest: scan folders, analyse new files in parallel, store them, report every file.
//!
//! Per file: unchanged since the last ingest (same size and modification time, remembered in a
//! per-library state file) → skipped without reading; else hashed → already in the library →
//! skipped; else decoded and analysed once for all embedders, the audio stored, then vectors and
//! metadata in batches. A file that fails is reported with its reason and the rest goes on.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use songrec_audio::{Embedder, FileAnalysis};
use songrec_discover::fingerprint::{self, FingerprintRecord};
use songrec_storage::{Embedding, SongId, SongMetadata, SongRecord, StorageBackend, StorageError};

use crate::embedders::model_of;
use crate::{AppError, AppResult};

/// File extensions ingest looks at. Anything else in the folder (covers, playlists) is ignored
/// silently; a file with one of these names that is not decodable is reported.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "wav", "wave", "ogg", "oga", "m4a", "mp4", "aac", "alac", "aif", "aiff", "aifc",
    "caf", "mka", "webm", "opus", "wma",
];

/// Of [`AUDIO_EXTENSIONS`], the ones songrec cannot decode (no decoder in symphonia): they are
/// looked at so that each file gets a clear "not supported" line, but they are not read.
pub const UNREADABLE_EXTENSIONS: &[&str] = &["opus", "wma"];

/// The extensions songrec reads: [`AUDIO_EXTENSIONS`] less [`UNREADABLE_EXTENSIONS`].
pub fn readable_extensions() -> impl Iterator<Item = &'static str> {
    AUDIO_EXTENSIONS
        .iter()
        .copied()
        .filter(|e| !UNREADABLE_EXTENSIONS.contains(e))
}

/// How to ingest.
#[derive(Clone)]
pub struct IngestOptions {
    /// Parallel analysis jobs (0 = one per core).
    pub jobs: usize,
    /// Embedders to run on each new file.
    pub embedders: Vec<Arc<dyn Embedder>>,
    /// Songs per storage batch.
    pub batch_size: usize,
    /// Where to remember (size, mtime) per path; `None` disables skipping unchanged files.
    pub state_file: Option<PathBuf>,
}

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Analysed and stored.
    Added {
        /// Song id.
        id: SongId,
        /// Display name.
        title: String,
        /// Things the user should know about the file that did not stop it from being added,
        /// e.g. `truncated: decoded 12.0 s` for a file that ends before its header says.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// Same size and modification time as when last ingested.
    Unchanged,
    /// The content is already in the library (maybe from another path or machine).
    AlreadyInLibrary {
        /// Song id.
        id: SongId,
    },
    /// Not ingested.
    Failed {
        /// Short stable reason kind (`unsupported_codec`, `corrupt`, `empty`, `storage`...).
        kind: String,
        /// What went wrong and what to do.
        reason: String,
    },
}

/// One file's report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The whole run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestSummary {
    /// Every candidate file, in completion order.
    pub files: Vec<FileReport>,
    /// Seconds of wall time.
    pub elapsed_secs: f64,
    /// Seconds of audio in the files analysed (long files are analysed in excerpts, so this
    /// is the music's length, not the seconds decoded).
    pub audio_secs: f64,
    /// The run was stopped ([`Progress::stopped`]) before every file was read: the files in
    /// hand were finished and stored, the rest was not started (a rerun continues).
    #[serde(default)]
    pub interrupted: bool,
}

impl IngestSummary {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.files.iter().filter(|r| f(&r.outcome)).count()
    }
    /// Files added.
    pub fn added(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Added { .. }))
    }
    /// Files skipped as unchanged or already present.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Unchanged | Outcome::AlreadyInLibrary { .. }))
    }
    /// Files that failed.
    pub fn failed(&self) -> Vec<&FileReport> {
        self.files
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
            .collect()
    }
}

/// Receives progress; the CLI draws a bar with it.
pub trait Progress: Send + Sync {
    /// Number of candidate files found.
    fn start(&self, total: u64);
    /// One file finished.
    fn file_done(&self, report: &FileReport);
    /// Whether to stop (e.g. the user pressed Ctrl-C): no new file is started, the files in
    /// hand are finished and stored. Checked before each file.
    fn stopped(&self) -> bool {
        false
    }
}

/// Ignores progress (the same sink that `migrate`, `sync` and `dupes` take).
pub use songrec_storage::NoProgress;
impl Progress for NoProgress {
    fn start(&self, _: u64) {}
    fn file_done(&self, _: &FileReport) {}
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Seen {
    size: u64,
    mtime_ns: u128,
    id: SongId,
}

fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Lists candidate audio files under the given paths (files are taken as given), sorted,
/// skipping hidden folders. Unreadable folders are reported as failures.
pub fn scan(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileReport>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for r in roots {
        if r.is_file() {
            files.push(r.clone());
        } else if r.is_dir() {
            stack.push(r.clone());
        } else {
            errors.push(FileReport {
                path: r.clone(),
                outcome: Outcome::Failed {
                    kind: "not_found".into(),
                    reason: format!("{}: no such file or folder", r.display()),
                },
            });
        }
    }
    while let Some(dir) = stack.pop() {
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let p = e.path();
                    let hidden = e.file_name().to_string_lossy().starts_with('.');
                    match e.file_type() {
                        Ok(t) if t.is_dir() && !hidden => stack.push(p),
                        Ok(_) if p.is_file() && !hidden && is_audio_name(&p) => files.push(p),
                        _ => {}
                    }
                }
            }
            Err(err) => errors.push(FileReport {
                path: dir.clone(),
                outcome: Outcome::Failed {
                    kind: "io".into(),
                    reason: format!("{}: cannot read folder: {err}", dir.display()),
                },
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// Extensions (lower case, without the dot) of the files under `roots` that [`scan`] passes
/// over, with how many of each: what to tell a user whose folder held no audio songrec reads.
/// Hidden files and folders are skipped, as in [`scan`]; files without an extension count as "".
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.au"), b"x").unwrap();
/// std::fs::write(dir.path().join("b.AU"), b"x").unwrap();
/// std::fs::write(dir.path().join("c.mp3"), b"x").unwrap();
/// let seen = songrec_app::ingest::unsupported_extensions(&[dir.path().to_path_buf()]);
/// assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![("au".to_string(), 2)]);
/// ```
pub fn unsupported_extensions(roots: &[PathBuf]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    let mut count = |p: &Path| {
        if !is_audio_name(p) {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            *seen.entry(ext).or_insert(0) += 1;
        }
    };
    for r in roots {
        if r.is_dir() {
            stack.push(r.clone());
        } else if r.is_file() {
            count(r);
        }
    }
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) if e.path().is_file() => count(&e.path()),
                _ => {}
            }
        }
    }
    seen
}

fn stat(p: &Path) -> Option<(u64, u128)> {
    songrec_fs::size_and_mtime(p)
}

/// What the per-file report says about a file that was added despite a problem.
///
/// ```
/// let mut info = songrec_audio::AudioInfo { duration_secs: 12.04, sample_rate: 44_100,
///     channels: 2, codec: "mp3".into(), decode_errors: 0, truncated: false };
/// assert!(songrec_app::ingest::file_warnings(&info).is_empty());
/// info.truncated = true;
/// assert_eq!(songrec_app::ingest::file_warnings(&info), ["truncated: decoded 12.0 s"]);
/// ```
pub fn file_warnings(info: &songrec_audio::AudioInfo) -> Vec<String> {
    let mut w = Vec::new();
    if info.truncated {
        w.push(format!("truncated: decoded {:.1} s", info.duration_secs));
    }
    w
}

enum Work {
    Skip(FileReport, Option<(PathBuf, Seen)>),
    Analysed {
        path: PathBuf,
        id: SongId,
        seen: Option<Seen>,
        analysis: Box<FileAnalysis>,
        /// Taken from the same decode as the embeddings, so `similar`, playlists and
        /// `--distinct` hold one copy of each recording from the first ingest on.
        fingerprint: Box<FingerprintRecord>,
    },
}

/// Metadata `extra` key of the model's style tags: `[["electronic", 0.61], ...]`, strongest
/// first, at most [`STYLE_TAGS_KEPT`].
pub const STYLE_TAGS: &str = "style_tags";
/// How many style tags are kept per song.
pub const STYLE_TAGS_KEPT: usize = 10;

/// The stored form of a model's tag probabilities: the strongest [`STYLE_TAGS_KEPT`], rounded.
///
/// ```
/// let v = songrec_app::ingest::style_tags_value(&[("rock".into(), 0.2), ("pop".into(), 0.71234)]);
/// assert_eq!(v, serde_json::json!([["pop", 0.712], ["rock", 0.2]]));
/// ```
pub fn style_tags_value(tags: &[(String, f32)]) -> serde_json::Value {
    let mut t: Vec<&(String, f32)> = tags.iter().filter(|(_, p)| p.is_finite()).collect();
    t.sort_by(|a, b| b.1.total_cmp(&a.1));
    serde_json::Value::Array(
        t.into_iter()
            .take(STYLE_TAGS_KEPT)
            .map(|(n, p)| serde_json::json!([n, (f64::from(*p) * 1000.0).round() / 1000.0]))
            .collect(),
    )
}

/// A song's stored style tags (see [`STYLE_TAGS`]).
pub fn style_tags_of(m: &SongMetadata) -> Vec<(String, f32)> {
    tags_of(m, STYLE_TAGS)
}

/// Metadata `extra` key of the sound tags (musicnn's MTT network: instruments, voice, tempo,
/// loudness), stored like [`STYLE_TAGS`].
pub const SOUND_TAGS: &str = "sound_tags";

/// A song's stored sound tags (see [`SOUND_TAGS`]).
pub fn sound_tags_of(m: &SongMetadata) -> Vec<(String, f32)> {
    tags_of(m, SOUND_TAGS)
}

fn tags_of(m: &SongMetadata, key: &str) -> Vec<(String, f32)> {
    m.extra
        .get(key)
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|e| {
                    let e = e.as_array()?;
                    Some((e.first()?.as_str()?.to_owned(), e.get(1)?.as_f64()? as f32))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Metadata `extra` key of where each described field came from: `{"title": "file_name",
/// "artist": "path", "album": "tag", …}` (`tag`, `path`, `file_name`; `edit` once edited by
/// hand, `itunes` once `previews` wrote it).
pub const TAG_SOURCES: &str = "tag_sources";

/// Records that `field` of `m` now comes from `source` (for [`TAG_SOURCES`]); `None` forgets
/// it (the field was removed).
pub fn set_field_source(m: &mut SongMetadata, field: &str, source: Option<&str>) {
    let entry = m
        .extra
        .entry(TAG_SOURCES.to_owned())
        .or_insert_with(|| serde_json::Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = serde_json::Value::Object(Default::default());
    }
    if let Some(o) = entry.as_object_mut() {
        match source {
            Some(s) => o.insert(field.to_owned(), s.into()),
            None => o.remove(field),
        };
    }
}

/// Where `field` of `m` came from ([`TAG_SOURCES`]), when known.
pub fn field_source<'a>(m: &'a SongMetadata, field: &str) -> Option<&'a str> {
    m.extra.get(TAG_SOURCES)?.get(field)?.as_str()
}

/// Builds a song's metadata from its analysis: the tags (embedded, else from the path) with
/// where each came from ([`TAG_SOURCES`]), and the track, disc and year in `extra`.
pub fn metadata_from(id: &SongId, fa: &FileAnalysis, file_size: u64) -> SongMetadata {
    use songrec_audio::FieldSource;
    let t = &fa.tags;
    let (title, title_source) = match t.title.clone().filter(|t| !t.trim().is_empty()) {
        Some(title) => (title, t.sources.title.unwrap_or(FieldSource::Tag)),
        None => (
            fa.path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            FieldSource::FileName,
        ),
    };
    let mut m = SongMetadata::new(id.clone(), title);
    m.artist = t.artist.clone();
    m.album = t.album.clone();
    m.genre = t.genre.clone();
    let s = &t.sources;
    let known = [
        ("title", Some(title_source)),
        ("artist", m.artist.as_ref().and(s.artist)),
        ("album", m.album.as_ref().and(s.album)),
        ("genre", m.genre.as_ref().and(s.genre)),
        ("track", t.track.and(s.track)),
        ("disc", t.disc.and(s.disc)),
        ("year", t.year.and(s.year)),
    ];
    for (field, source) in known {
        if let Some(source) = source {
            set_field_source(&mut m, field, Some(source.as_str()));
        }
    }
    for (k, v) in [("track", t.track), ("disc", t.disc), ("year", t.year)] {
        if let Some(v) = v {
            m.extra.insert(k.into(), v.into());
        }
    }
    m.duration_secs = fa.info.duration_secs;
    m.sample_rate = fa.info.sample_rate;
    m.channels = fa.info.channels;
    m.file_size = file_size;
    m.file_name = fa
        .path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Tempo and key from the first embedder that estimates them (the DSP embedder does).
    m.bpm = fa
        .analyses
        .iter()
        .find_map(|a| a.analysis.bpm)
        .map(|b| (b * 10.0).round() / 10.0);
    m.key = fa.analyses.iter().find_map(|a| a.analysis.key.clone());
    m.extra.insert(
        "codec".into(),
        serde_json::Value::String(fa.info.codec.clone()),
    );
    // Descriptors from the embedder that measures them (the DSP one; a neural embedder leaves
    // them empty), style tags from the one that predicts them (musicnn).
    if let Some(d) = fa
        .analyses
        .iter()
        .find(|a| a.analysis.descriptors.analysed_secs > 0.0)
        && let Ok(v) = serde_json::to_value(&d.analysis.descriptors)
    {
        m.extra.insert("descriptors".into(), v);
    }
    if let Some(a) = fa.analyses.iter().find(|a| !a.analysis.tags.is_empty()) {
        m.extra
            .insert(STYLE_TAGS.into(), style_tags_value(&a.analysis.tags));
    }
    if let Some(a) = fa
        .analyses
        .iter()
        .find(|a| !a.analysis.sound_tags.is_empty())
    {
        m.extra
            .insert(SOUND_TAGS.into(), style_tags_value(&a.analysis.sound_tags));
    }
    m.created_at = Utc::now();
    m.updated_at = m.created_at;
    m
}

fn failed(path: &Path, kind: &str, reason: impl Into<String>) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        outcome: Outcome::Failed {
            kind: kind.into(),
            reason: reason.into(),
        },
    }
}

/// Ingests files and folders into a backend.
pub async fn ingest(
    backend: &dyn StorageBackend,
    roots: &[PathBuf],
    opts: &IngestOptions,
    progress: Arc<dyn Progress>,
) -> AppResult<IngestSummary> {
    if opts.embedders.is_empty() {
        return Err(AppError::Invalid("no embedder selected".into()));
    }
    let started = Instant::now();
    let (files, scan_errors) = scan(roots);
    progress.start((files.len() + scan_errors.len()) as u64);
    let mut summary = IngestSummary::default();
    for r in scan_errors {
        progress.file_done(&r);
        summary.files.push(r);
    }

    let known: HashSet<SongId> = backend
        .list_versions()
        .await?
        .into_iter()
        .filter(|v| !v.deleted)
        .map(|v| v.id)
        .collect();
    let mut state: BTreeMap<PathBuf, Seen> = match &opts.state_file {
        Some(p) => read_state(p),
        None => BTreeMap::new(),
    };

    // Analysis runs on a rayon pool; results stream back through a bounded channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Work>(64);
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.jobs
    };
    let embedders = opts.embedders.clone();
    let folders: Vec<PathBuf> = roots.iter().filter(|r| r.is_dir()).cloned().collect();
    let known_for_workers = known.clone();
    let previous = state.clone();
    let candidates = files.len() + summary.files.len();
    let stop = progress.clone();
    let producer = tokio::task::spawn_blocking(move || {
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(jobs).build() {
            Ok(p) => p,
            Err(e) => {
                let _ = tx.blocking_send(Work::Skip(
                    failed(Path::new("."), "internal", format!("thread pool: {e}")),
                    None,
                ));
                return;
            }
        };
        pool.install(|| {
            use rayon::prelude::*;
            files.par_iter().for_each(|path| {
                if stop.stopped() {
                    return;
                }
                let work = analyse_one(
                    path,
                    below_root(path, &folders),
                    &previous,
                    &known_for_workers,
                    &embedders,
                );
                let _ = tx.blocking_send(work);
            });
        });
    });

    let mut batch: Vec<(PathBuf, SongRecord, Option<Seen>, Vec<String>)> = Vec::new();
    let batch_size = opts.batch_size.max(1);
    let mut added_this_run: HashSet<SongId> = HashSet::new();
    while let Some(work) = rx.recv().await {
        match work {
            Work::Skip(report, seen) => {
                if let Some((p, s)) = seen {
                    state.insert(p, s);
                }
                progress.file_done(&report);
                summary.files.push(report);
            }
            Work::Analysed {
                path,
                id,
                seen,
                analysis,
                fingerprint,
            } => {
                // The same content at two paths in one run: store it once.
                if !added_this_run.insert(id.clone()) {
                    if let Some(s) = seen {
                        state.insert(path.clone(), s);
                    }
                    let r = FileReport {
                        path,
                        outcome: Outcome::AlreadyInLibrary { id },
                    };
                    progress.file_done(&r);
                    summary.files.push(r);
                    continue;
                }
                summary.audio_secs += analysis.info.duration_secs;
                // Audio first: metadata (the commit point) only follows stored audio.
                match backend.put_audio(&id, &path).await {
                    Ok(_) => {}
                    Err(e) if is_fatal(&e) => return Err(e.into()),
                    Err(e) => {
                        let r = failed(
                            &path,
                            "storage",
                            format!("{}: could not store audio: {e}", path.display()),
                        );
                        progress.file_done(&r);
                        summary.files.push(r);
                        continue;
                    }
                }
                let size = seen.as_ref().map_or(0, |s| s.size);
                let mut metadata = metadata_from(&id, &analysis, size);
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
                batch.push((
                    path,
                    SongRecord {
                        metadata,
                        embeddings,
                    },
                    seen,
                    warnings,
                ));
                if batch.len() >= batch_size {
                    store_batch(
                        backend,
                        &mut batch,
                        &mut state,
                        &mut summary,
                        progress.as_ref(),
                    )
                    .await?;
                    save_state(opts.state_file.as_deref(), &state);
                }
            }
        }
    }
    store_batch(
        backend,
        &mut batch,
        &mut state,
        &mut summary,
        progress.as_ref(),
    )
    .await?;
    producer
        .await
        .map_err(|e| AppError::Invalid(format!("analysis workers failed: {e}")))?;
    backend.flush().await?;
    save_state(opts.state_file.as_deref(), &state);
    summary.interrupted = progress.stopped() && summary.files.len() < candidates;
    summary.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// `path` below the folder given to `ingest` that holds it (the nearest, when folders nest),
/// or its name alone for a file given by itself: what [`songrec_audio::Tags::with_path_fallback`]
/// reads artist and album folders from, so the ingested folder itself is never an artist.
fn below_root<'a>(path: &'a Path, folders: &[PathBuf]) -> &'a Path {
    folders
        .iter()
        .filter_map(|r| path.strip_prefix(r).ok())
        .min_by_key(|p| p.components().count())
        .unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()))
}

fn analyse_one(
    path: &Path,
    relative: &Path,
    previous: &BTreeMap<PathBuf, Seen>,
    known: &HashSet<SongId>,
    embedders: &[Arc<dyn Embedder>],
) -> Work {
    let Some((size, mtime_ns)) = stat(path) else {
        return Work::Skip(
            failed(
                path,
                "io",
                format!("{}: cannot read file metadata", path.display()),
            ),
            None,
        );
    };
    if let Some(s) = previous.get(path)
        && s.size == size
        && s.mtime_ns == mtime_ns
        && known.contains(&s.id)
    {
        return Work::Skip(
            FileReport {
                path: path.to_path_buf(),
                outcome: Outcome::Unchanged,
            },
            None,
        );
    }
    let id = match SongId::from_file(path) {
        Ok((id, _)) => id,
        Err(e) => return Work::Skip(failed(path, "io", e.to_string()), None),
    };
    let seen = Seen {
        size,
        mtime_ns,
        id: id.clone(),
    };
    if known.contains(&id) {
        return Work::Skip(
            FileReport {
                path: path.to_path_buf(),
                outcome: Outcome::AlreadyInLibrary { id },
            },
            Some((path.to_path_buf(), seen)),
        );
    }
    let refs: Vec<&dyn Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
    match songrec_audio::analyze_file_and(path, &refs, fingerprint::analyse_audio) {
        Ok((mut fa, fp)) => Work::Analysed {
            path: path.to_path_buf(),
            id,
            seen: Some(seen),
            analysis: {
                fa.tags = fa.tags.with_path_fallback(relative);
                Box::new(fa)
            },
            fingerprint: Box::new(fp),
        },
        Err(e) => Work::Skip(failed(path, e.kind(), e.to_string()), None),
    }
}

/// Errors that are about the library, not the file: stop instead of failing every file.
fn is_fatal(e: &StorageError) -> bool {
    matches!(
        e,
        StorageError::Locked { .. }
            | StorageError::Unauthorized(_)
            | StorageError::Unavailable { .. }
    )
}

async fn store_batch(
    backend: &dyn StorageBackend,
    batch: &mut Vec<(PathBuf, SongRecord, Option<Seen>, Vec<String>)>,
    state: &mut BTreeMap<PathBuf, Seen>,
    summary: &mut IngestSummary,
    progress: &dyn Progress,
) -> AppResult<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let records: Vec<SongRecord> = batch.iter().map(|(_, r, _, _)| r.clone()).collect();
    let result = backend.put_songs(&records).await;
    if let Err(e) = &result
        && is_fatal(e)
    {
        return Err(result
            .err()
            .map_or_else(|| AppError::Invalid("store failed".into()), AppError::from));
    }
    for (path, rec, seen, warnings) in batch.drain(..) {
        let id = rec.metadata.id.clone();
        let outcome = match &result {
            Ok(rep) => match rep.failed.iter().find(|(f, _)| *f == id) {
                Some((_, why)) => Outcome::Failed {
                    kind: "storage".into(),
                    reason: format!("{}: {why}", path.display()),
                },
                None => Outcome::Added {
                    id: id.clone(),
                    title: rec.metadata.display_name(),
                    warnings,
                },
            },
            Err(e) => Outcome::Failed {
                kind: storage_kind(e).into(),
                reason: format!("{}: could not store: {e}", path.display()),
            },
        };
        if matches!(outcome, Outcome::Added { .. })
            && let Some(s) = seen
        {
            state.insert(path.clone(), s);
        }
        let r = FileReport { path, outcome };
        progress.file_done(&r);
        summary.files.push(r);
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

fn read_state(p: &Path) -> BTreeMap<PathBuf, Seen> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("ignoring unreadable ingest state {}: {e}", p.display());
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

/// The song id of each path an ingest with this state file has seen.
pub fn load_state(path: &Path) -> BTreeMap<PathBuf, SongId> {
    read_state(path)
        .into_iter()
        .map(|(p, s)| (p, s.id))
        .collect()
}

fn save_state(path: Option<&Path>, state: &BTreeMap<PathBuf, Seen>) {
    let Some(path) = path else { return };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let result = songrec_fs::write_atomic(path, |w| {
        serde_json::to_writer(&mut *w, state).map_err(std::io::Error::other)
    });
    if let Err(e) = result {
        tracing::warn!(
            "could not save ingest state (unchanged files will be re-hashed next time): {e}"
        );
    }
}
