//! `songrec reembed`: compute one embedder's vectors for every song of the library (e.g. after
//! adding an embedder or a model upgrade), from the audio the backend holds.
//!
//! Resumable: without `force`, songs that have a vector of the model are skipped; with `force`,
//! the ids finished so far are kept in a state file (removed when the run completes). Each
//! song's vector and updated metadata (tags, descriptors, a new version for `sync`) are stored
//! as one record. Its song is first named in `<state>.inflight`, so a run killed between the
//! vector and the metadata recomputes it. A song deleted meanwhile stays deleted
//! ([`ReembedReport::deleted`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use songrec_audio::Embedder;
use songrec_identity::fingerprint::{self, FingerprintRecord};
use songrec_storage::{
    Embedding, SongId, SongMetadata, SongRecord, StorageBackend, StorageBackendExt,
};

use crate::embedders::model_of;
use crate::extra::{SOUND_TAGS, STYLE_TAGS, style_tags_value};
use crate::migrate::Progress;
use crate::{AppError, AppResult};

#[derive(Clone)]
pub struct ReembedOptions {
    /// The embedder whose vectors to compute.
    pub embedder: Arc<dyn Embedder>,
    /// Songs analysed at once (0 = one per core).
    pub jobs: usize,
    /// Recompute songs that already have a vector of this model.
    pub force: bool,
    /// Remembers finished ids of a forced run (resume after a kill).
    pub state_file: PathBuf,
    /// Folder for audio fetched from the backend (created; files removed as songs finish).
    pub scratch_dir: PathBuf,
}

/// What a run did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ReembedReport {
    pub model: String,
    /// Songs in the library.
    pub songs: usize,
    /// Songs given a new vector in this run.
    pub computed: usize,
    /// Songs skipped: they already had one (or finished in an interrupted forced run).
    pub already: usize,
    /// Songs that failed, with the reason.
    pub failed: Vec<(SongId, String)>,
    /// Songs deleted elsewhere while this run analysed them: left deleted, nothing stored.
    pub deleted: usize,
    /// Seconds of audio analysed.
    pub audio_secs: f64,
    /// Wall time.
    pub elapsed_secs: f64,
}

#[derive(Default, Serialize, Deserialize)]
struct State {
    model: String,
    done: Vec<SongId>,
}

fn load_state(path: &Path, model: &str) -> HashSet<SongId> {
    let Ok(b) = std::fs::read(path) else {
        return HashSet::new();
    };
    match serde_json::from_slice::<State>(&b) {
        Ok(s) if s.model == model => s.done.into_iter().collect(),
        Ok(_) => HashSet::new(),
        Err(e) => {
            tracing::warn!("ignoring unreadable reembed state {}: {e}", path.display());
            HashSet::new()
        }
    }
}

fn save_state(path: &Path, model: &str, done: &HashSet<SongId>) -> AppResult<()> {
    let mut done: Vec<SongId> = done.iter().cloned().collect();
    done.sort();
    let model = model.to_owned();
    write_json(path, &State { model, done })
}

/// Writes a state file atomically, its folder made first.
fn write_json(path: &Path, value: &impl Serialize) -> AppResult<()> {
    crate::ingest::scan::save_json(path, value)
        .map_err(|e| songrec_storage::StorageError::io(path, e).into())
}

/// The song whose record is being written ([`inflight_path`]): written before each write.
#[derive(Serialize, Deserialize)]
struct Inflight {
    model: String,
    id: SongId,
}

/// `<state file>.inflight`: the song whose record a run was writing when it stopped.
fn inflight_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".inflight");
    PathBuf::from(p)
}

/// The song an earlier run of `model` was writing when it stopped, if any.
fn load_inflight(state: &Path, model: &str) -> Option<SongId> {
    let b = std::fs::read(inflight_path(state)).ok()?;
    serde_json::from_slice::<Inflight>(&b)
        .ok()
        .filter(|f| f.model == model)
        .map(|f| f.id)
}

fn save_inflight(state: &Path, model: &str, id: &SongId) -> AppResult<()> {
    let (model, id) = (model.to_owned(), id.clone());
    write_json(&inflight_path(state), &Inflight { model, id })
}

/// Folds an embedder's analysis into a song's metadata (style tags, descriptors, tempo and key
/// where missing) and bumps its version.
pub fn update_metadata(m: &mut SongMetadata, a: &songrec_audio::Analysis) {
    if !a.tags.is_empty() {
        m.extra.insert(STYLE_TAGS.into(), style_tags_value(&a.tags));
    }
    if !a.sound_tags.is_empty() {
        m.extra
            .insert(SOUND_TAGS.into(), style_tags_value(&a.sound_tags));
    }
    if a.descriptors.analysed_secs > 0.0
        && let Ok(v) = serde_json::to_value(&a.descriptors)
    {
        m.extra.insert("descriptors".into(), v);
    }
    if m.bpm.is_none() {
        m.bpm = a.bpm.map(|b| (b * 10.0).round() / 10.0);
    }
    if m.key.is_none() {
        m.key = a.key.clone();
    }
    // A new vector is a change of the song too: the version tells sync to carry it.
    m.version += 1;
    m.updated_at = Utc::now();
}

/// Recomputes `opts.embedder`'s vectors for the library.
pub async fn reembed(
    backend: &dyn StorageBackend,
    opts: &ReembedOptions,
    progress: &dyn Progress,
) -> AppResult<ReembedReport> {
    let started = Instant::now();
    let model = model_of(opts.embedder.as_ref());
    let key = model.key();
    let songs = backend
        .list_all(&songrec_storage::Filter::default())
        .await?;
    let mut report = ReembedReport {
        model: key.clone(),
        songs: songs.len(),
        ..Default::default()
    };
    let mut done = if opts.force {
        load_state(&opts.state_file, &key)
    } else {
        HashSet::new()
    };
    // The song an interrupted run was writing: its vector may be stored without its metadata.
    let inflight = load_inflight(&opts.state_file, &key);
    if let Some(id) = &inflight {
        done.remove(id);
    }
    // Which songs need work.
    let todo: Vec<SongMetadata> = if opts.force {
        songs
            .into_iter()
            .filter(|s| !done.contains(&s.id))
            .collect()
    } else {
        let (model, inflight) = (&model, inflight.as_ref());
        let checked: Vec<AppResult<Option<SongMetadata>>> = futures::stream::iter(songs)
            .map(|s| async move {
                let has =
                    inflight != Some(&s.id) && backend.get_embedding(&s.id, model).await?.is_some();
                Ok((!has).then_some(s))
            })
            .buffered(16)
            .collect()
            .await;
        checked
            .into_iter()
            .filter_map(Result::transpose)
            .collect::<AppResult<_>>()?
    };
    report.already = report.songs - todo.len();
    progress.start(todo.len() as u64);
    if todo.is_empty() {
        report.elapsed_secs = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&opts.state_file);
        let _ = std::fs::remove_file(inflight_path(&opts.state_file));
        return Ok(report);
    }
    std::fs::create_dir_all(&opts.scratch_dir)
        .map_err(|e| songrec_storage::StorageError::io(&opts.scratch_dir, e))?;
    let jobs = songrec_storage::progress::jobs_or_cores(opts.jobs);
    let mut results = futures::stream::iter(todo)
        .map(|song| {
            let embedder = opts.embedder.clone();
            let scratch = opts.scratch_dir.clone();
            async move {
                let r = analyse(backend, &song, embedder, &scratch).await;
                (song, r)
            }
        })
        .buffer_unordered(jobs);
    let mut since_save = 0usize;
    while let Some((song, r)) = results.next().await {
        // Analysed: its record is written here, one song at a time.
        let r = match r {
            Ok(a) => store(backend, &song, a, &opts.state_file, &key).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(None) => report.deleted += 1,
            Ok(Some(secs)) => {
                report.computed += 1;
                report.audio_secs += secs;
                done.insert(song.id.clone());
                since_save += 1;
                if opts.force && since_save >= 16 {
                    save_state(&opts.state_file, &key, &done)?;
                    since_save = 0;
                }
            }
            Err(e) if matches!(&e, AppError::Storage(s) if s.is_fatal()) => {
                if opts.force {
                    save_state(&opts.state_file, &key, &done)?;
                }
                return Err(e);
            }
            Err(e) => report.failed.push((song.id.clone(), e.to_string())),
        }
        progress.advance(1);
    }
    drop(results);
    backend.flush().await?;
    let _ = std::fs::remove_file(inflight_path(&opts.state_file));
    if report.failed.is_empty() {
        let _ = std::fs::remove_file(&opts.state_file);
    } else if opts.force {
        save_state(&opts.state_file, &key, &done)?;
    }
    report.elapsed_secs = started.elapsed().as_secs_f64();
    Ok(report)
}

fn has_fingerprint(m: &SongMetadata) -> bool {
    m.extra
        .get(fingerprint::EXTRA_KEY)
        .and_then(FingerprintRecord::from_extra)
        .is_some()
}

/// What [`analyse`] made of one song, for [`store`].
struct Analysed {
    model: songrec_storage::ModelInfo,
    analysis: songrec_audio::Analysis,
    fingerprint: Option<FingerprintRecord>,
    secs: f64,
}

/// One song: fetch its audio and analyse it (nothing is stored).
/// An error about `song`, named by its display name and short id.
fn named(song: &SongMetadata, e: impl std::fmt::Display) -> AppError {
    let id = song.id.short();
    AppError::Invalid(format!("{} ({id}): {e}", song.display_name()))
}

async fn analyse(
    backend: &dyn StorageBackend,
    song: &SongMetadata,
    embedder: Arc<dyn Embedder>,
    scratch: &Path,
) -> AppResult<Analysed> {
    let key = song.audio_key();
    if !backend.has_audio(&key).await? {
        return Err(named(
            song,
            "the library has no audio for it; re-ingest the file",
        ));
    }
    let ext = Path::new(&song.file_name)
        .extension()
        .unwrap_or("audio".as_ref());
    let ext = ext.to_string_lossy();
    let tmp = scratch.join(format!("{}.{ext}", song.id.as_str()));
    backend.get_audio(&key, &tmp).await?;
    let path = tmp.clone();
    let e = embedder.clone();
    // A song from before fingerprints were taken at ingest gets one from this decode.
    let needs_fingerprint = !has_fingerprint(song);
    let analysed = tokio::task::spawn_blocking(move || {
        songrec_audio::analyze_file_and(&path, &[e.as_ref() as &dyn Embedder], |audio| {
            needs_fingerprint.then(|| fingerprint::analyse_audio(audio))
        })
    })
    .await
    .map_err(|e| AppError::Invalid(format!("analysis failed: {e}")));
    let _ = std::fs::remove_file(&tmp);
    let (fa, fingerprint) = analysed?.map_err(|e| named(song, e))?;
    let out = fa.analyses.into_iter().next();
    let out = out.ok_or_else(|| AppError::Invalid("the embedder returned nothing".into()))?;
    Ok(Analysed {
        model: model_of(embedder.as_ref()),
        analysis: out.analysis,
        fingerprint,
        secs: fa.info.duration_secs,
    })
}

/// Stores one analysed song: its vector and its updated metadata in one record, after naming
/// it in the in-flight file. Returns the seconds analysed, or `None` when the song was deleted
/// meanwhile (then nothing is stored: it is not brought back).
async fn store(
    backend: &dyn StorageBackend,
    song: &SongMetadata,
    a: Analysed,
    state_file: &Path,
    key: &str,
) -> AppResult<Option<f64>> {
    // Re-read: another writer may have edited the song while it was analysed, or deleted it.
    let Some(mut m) = backend.get_metadata(&song.id).await? else {
        return Ok(None);
    };
    update_metadata(&mut m, &a.analysis);
    if let Some(fp) = a.fingerprint
        && !has_fingerprint(&m)
    {
        fp.insert_into(&mut m);
    }
    let record = SongRecord {
        metadata: m,
        embeddings: vec![Embedding {
            model: a.model,
            vector: a.analysis.vector,
        }],
    };
    save_inflight(state_file, key, &song.id)?;
    let report = backend.put_songs(std::slice::from_ref(&record)).await?;
    if let Some((_, why)) = report.failed.first() {
        return Err(named(song, why));
    }
    Ok(Some(a.secs))
}
