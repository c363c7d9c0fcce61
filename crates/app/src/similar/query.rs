//! The query's side of a search: what to find neighbours of ([`Target`]), its vectors
//! ([`probe`]) and the embedders that make a file's ([`embedders_for`]), and how far its
//! search may reach ([`reach`]).

use std::path::PathBuf;
use std::sync::Arc;

use songrec_audio::Embedder;
use songrec_rank::Space;
use songrec_storage::{ModelInfo, Ranking, SongId, SongMetadata, StorageBackend};

use crate::embedders::Pool;
use crate::probe::Probe;
use crate::{AppError, AppResult};

/// What to find neighbours of.
#[derive(Clone, Debug)]
pub enum Target {
    /// A song already in the library.
    Song(Box<SongMetadata>),
    /// An audio file (analysed now; need not be in the library).
    File(PathBuf),
}

/// The embedders that analyse `target` for each part of `space`, started now (none for a song
/// of the library, whose vectors are stored).
pub(crate) fn embedders_for(
    target: &Target,
    space: &Space,
    pool: &Pool,
) -> AppResult<Vec<Arc<dyn Embedder>>> {
    if let Target::Song(_) = target {
        return Ok(Vec::new());
    }
    // The embedder's name users type, with the version for an earlier one (`mix@1`).
    let live = |model: &ModelInfo| {
        let short = crate::embedders::short_name(&model.name);
        let name = [short.to_owned(), format!("{short}@{}", model.version)]
            .into_iter()
            .find(|n| crate::embedders::model_by_name(n).is_ok_and(|m| m == *model))
            .ok_or_else(|| {
                AppError::Invalid(format!(
                    "no embedder is available for model {}; cannot analyse a file for it",
                    model.key()
                ))
            })?;
        pool.get(&name)
    };
    space.parts.iter().map(|p| live(&p.model)).collect()
}

/// The query's vectors in `space`: a song's stored ones, or a file's analysed by `embedders`
/// ([`embedders_for`]).
pub(crate) async fn probe(
    backend: &dyn StorageBackend,
    target: &Target,
    space: &Space,
    embedders: &[Arc<dyn Embedder>],
) -> AppResult<Probe> {
    match target {
        Target::Song(m) => {
            let mut vectors = Vec::with_capacity(space.parts.len());
            for p in &space.parts {
                let e = backend.get_embedding(&m.id, &p.model).await?.ok_or_else(|| {
                    AppError::Resolve(format!(
                        "{} ({}) has no {} vector; compute it with `songrec reembed --embedder {}`",
                        m.display_name(),
                        m.id.short(),
                        p.model.key(),
                        crate::embedders::short_name(&p.model.name),
                    ))
                })?;
                vectors.push(e.vector);
            }
            Ok(Probe {
                vectors,
                exclude: vec![m.id.clone()],
                song: (**m).clone(),
            })
        }
        Target::File(path) => {
            let (p, embedders) = (path.clone(), embedders.to_vec());
            let fa = tokio::task::spawn_blocking(move || {
                let refs: Vec<&dyn Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
                songrec_audio::analyze_file(&p, &refs)
            })
            .await
            .map_err(|e| AppError::Invalid(format!("analysis failed: {e}")))??;
            // The library's own record of this file if it has one, else its tags as read now.
            let song = match crate::resolve::song_of_file(backend, path).await? {
                Some(m) => m,
                None => {
                    let (key, size) = SongId::from_file(path)?;
                    crate::ingest::metadata_from(&key, &key, &fa, size)
                }
            };
            Ok(Probe {
                vectors: fa.analyses.into_iter().map(|a| a.analysis.vector).collect(),
                exclude: vec![song.id.clone()],
                song,
            })
        }
    }
}

/// `k + offset`, when the backend's searches reach that far (the same limits for one model and
/// for a blend, whose pools are capped: an oversized request would otherwise quietly return
/// fewer results than asked for). The rule and its wording are [`Ranking::reach`]'s.
pub(crate) fn reach(backend: &dyn StorageBackend, r: &Ranking) -> AppResult<usize> {
    r.reach(backend.max_results()).map_err(|e| match e {
        songrec_storage::StorageError::InvalidInput(m) => AppError::Invalid(m),
        other => other.into(),
    })
}
