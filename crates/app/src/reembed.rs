//! `songrec reembed`: compute one embedder's vectors for every song of the library, e.g. after
//! adding the neural embedder to a library ingested with DSP only, or after a model upgrade.
//!
//! Resumable: without `force`, songs that already have a vector of the model are skipped, so a
//! rerun after a kill continues where it stopped. With `force` every song is recomputed; the ids
//! finished so far are kept in a state file, so a forced run that is interrupted also resumes
//! (the state file is removed when the run completes). Each song's audio is read from the
//! backend (any backend: local files, or S3 through the cache), analysed, and its vector stored
//! before its metadata is updated (style tags, descriptors) with a new version, so `sync` carries
//! the new vectors to other machines.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use songrec_audio::Embedder;
use songrec_discover::fingerprint::{self, FingerprintRecord};
use songrec_storage::{Embedding, SongId, SongMetadata, StorageBackend, StorageBackendExt};

use crate::embedders::model_of;
use crate::ingest::{SOUND_TAGS, STYLE_TAGS, style_tags_value};
use crate::migrate::Progress;
use crate::{AppError, AppResult};

/// Options.
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
    /// The model computed.
    pub model: String,
    /// Songs in the library.
    pub songs: usize,
    /// Songs given a new vector in this run.
    pub computed: usize,
    /// Songs skipped: they already had one (or finished in an interrupted forced run).
    pub already: usize,
    /// Songs that failed, with the reason.
    pub failed: Vec<(SongId, String)>,
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
    match std::fs::read(path) {
        Ok(b) => match serde_json::from_slice::<State>(&b) {
            Ok(s) if s.model == model => s.done.into_iter().collect(),
            Ok(_) => HashSet::new(),
            Err(e) => {
                tracing::warn!("ignoring unreadable reembed state {}: {e}", path.display());
                HashSet::new()
            }
        },
        Err(_) => HashSet::new(),
    }
}

fn save_state(path: &Path, model: &str, done: &HashSet<SongId>) -> AppResult<()> {
    let mut ids: Vec<SongId> = done.iter().cloned().collect();
    ids.sort();
    let body = serde_json::to_vec(&State {
        model: model.to_owned(),
        done: ids,
    })
    .map_err(|e| AppError::Invalid(format!("reembed state: {e}")))?;
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    songrec_fs::write_atomic(path, |w| w.write_all(&body))
        .map_err(|e| songrec_storage::StorageError::io(path, e).into())
}

/// Every live song's metadata, in id order.
pub async fn all_songs(backend: &dyn StorageBackend) -> AppResult<Vec<SongMetadata>> {
    Ok(backend
        .list_all(&songrec_storage::Filter::default())
        .await?)
}

/// Folds an embedder's analysis into a song's metadata (style tags, descriptors, tempo and key
/// where missing) and bumps its version. Returns whether anything changed.
pub fn update_metadata(m: &mut SongMetadata, a: &songrec_audio::Analysis) -> bool {
    let before = m.clone();
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
    let changed = *m != before;
    // A new vector is a change of the song too: the version tells sync to carry it.
    m.version += 1;
    m.updated_at = Utc::now();
    changed
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
    let songs = all_songs(backend).await?;
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
    // Which songs need work.
    let mut todo = Vec::new();
    if opts.force {
        for s in songs {
            if done.contains(&s.id) {
                report.already += 1;
            } else {
                todo.push(s);
            }
        }
    } else {
        let checks: Vec<AppResult<(SongMetadata, bool)>> = futures::stream::iter(songs)
            .map(|s| {
                let model = &model;
                async move {
                    let has = backend.get_embedding(&s.id, model).await?.is_some();
                    Ok((s, has))
                }
            })
            .buffered(16)
            .collect()
            .await;
        for c in checks {
            let (s, has) = c?;
            if has {
                report.already += 1;
            } else {
                todo.push(s);
            }
        }
    }
    progress.start(todo.len() as u64);
    if todo.is_empty() {
        report.elapsed_secs = started.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&opts.state_file);
        return Ok(report);
    }
    std::fs::create_dir_all(&opts.scratch_dir).map_err(|error| {
        AppError::Storage(songrec_storage::StorageError::Io {
            path: opts.scratch_dir.clone(),
            error,
        })
    })?;
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(2, |n| n.get())
    } else {
        opts.jobs
    };
    let mut results = futures::stream::iter(todo)
        .map(|song| {
            let embedder = opts.embedder.clone();
            let scratch = opts.scratch_dir.clone();
            async move {
                let r = one(backend, &song, embedder, &scratch).await;
                (song, r)
            }
        })
        .buffer_unordered(jobs);
    let mut since_save = 0usize;
    while let Some((song, r)) = results.next().await {
        match r {
            Ok(secs) => {
                report.computed += 1;
                report.audio_secs += secs;
                done.insert(song.id.clone());
                since_save += 1;
                if opts.force && since_save >= 16 {
                    save_state(&opts.state_file, &key, &done)?;
                    since_save = 0;
                }
            }
            Err(e) if is_fatal(&e) => {
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

fn is_fatal(e: &AppError) -> bool {
    use songrec_storage::StorageError as S;
    matches!(
        e,
        AppError::Storage(S::Locked { .. } | S::Unauthorized(_) | S::Unavailable { .. })
    )
}

/// One song: fetch audio, analyse, store vector, then metadata. Returns seconds analysed.
async fn one(
    backend: &dyn StorageBackend,
    song: &SongMetadata,
    embedder: Arc<dyn Embedder>,
    scratch: &Path,
) -> AppResult<f64> {
    let key = song.audio_key();
    if !backend.has_audio(&key).await? {
        return Err(AppError::Invalid(format!(
            "{} ({}): the library has no audio for it; re-ingest the file",
            song.display_name(),
            song.id.short()
        )));
    }
    let ext = Path::new(&song.file_name)
        .extension()
        .map(|e| e.to_string_lossy().into_owned())
        .unwrap_or_else(|| "audio".into());
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
    let (fa, fingerprint) = analysed?.map_err(|e| {
        AppError::Invalid(format!(
            "{} ({}): {e}",
            song.display_name(),
            song.id.short()
        ))
    })?;
    let Some(out) = fa.analyses.into_iter().next() else {
        return Err(AppError::Invalid("the embedder returned nothing".into()));
    };
    backend
        .put_embedding(
            &song.id,
            &Embedding {
                model: model_of(embedder.as_ref()),
                vector: out.analysis.vector.clone(),
            },
        )
        .await?;
    // Re-read: another writer may have edited the song while it was being analysed.
    let mut m = backend
        .get_metadata(&song.id)
        .await?
        .unwrap_or_else(|| song.clone());
    update_metadata(&mut m, &out.analysis);
    if let Some(fp) = fingerprint
        && !has_fingerprint(&m)
    {
        fp.insert_into(&mut m);
    }
    backend.put_metadata(&m).await?;
    Ok(fa.info.duration_secs)
}
