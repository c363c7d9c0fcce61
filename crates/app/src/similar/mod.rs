//! Similarity queries: by a song in the library or by an outside audio file, on one model's
//! vectors or on a blend of several (e.g. 0.6 neural + 0.4 DSP).
//!
//! A single-model query is one [`StorageBackend::search`] (one request on a remote backend). A
//! blend asks each model for a candidate pool (`5 × (k + offset)`, at least 50), scores every
//! candidate on every model (fetching the few vectors a pool lacks), and ranks by the weighted
//! mix. Scores of different models live on different scales (DSP vectors are centred and spread
//! over −1..1; musicnn's post-ReLU vectors sit in 0.5..1), so each model's scores are
//! standardised over the candidate pool before mixing; the similarity shown is the mix mapped
//! back onto the cosine scale (see [`blend`]), so it reads like any other cosine and never
//! contradicts the order.
//!
//! - [`answer`] (in `ask`): the one `similar` of every door, from a [`SimilarAsk`];
//! - [`similar`] here, [`similar_distinct`] (in `distinct`): the searches it runs;
//! - [`Choice`] and [`choose_parts`] (in `choice`): which vectors a query compares.
//!
//! The ranking core ([`Space`], [`blend`]) stays in [`songrec_discover::space`]: playlists, the
//! map, clusters and outliers rank with it too.

use std::path::PathBuf;
use std::sync::Arc;

use songrec_audio::Embedder;
use songrec_discover::space::{self, Space, SpaceQuery};
use songrec_storage::{Filter, Match, Metric, ModelInfo, SongId, SongMetadata, StorageBackend};

/// The blended ranking and candidate pool size, shared with playlists (see
/// [`songrec_discover::space`]).
pub use songrec_discover::space::{blend, pool_size};

use crate::{AppError, AppResult};

mod ask;
mod choice;
mod distinct;

pub use ask::{Folding, Mode, Prepared, SimilarAnswer, SimilarAsk, answer, prepare};
pub use choice::{
    AUTO_BLEND, AUTO_BLEND_SHORT, Choice, DEFAULT_BLEND, SHORT_CLIP_SECS, auto_weight,
    choose_parts, choose_parts_in, choose_space,
};
pub use distinct::{
    DISTINCT_ROUNDS, DISTINCT_WIDEN, DistinctMatches, distinct_pool, similar_distinct,
};

/// What to find neighbours of.
#[derive(Clone, Debug)]
pub enum Target {
    /// A song already in the library.
    Song(Box<SongMetadata>),
    /// An audio file (analysed now; need not be in the library).
    File(PathBuf),
}

/// One model's share of a query.
///
/// ```
/// let e = songrec_app::embedders::by_name("dsp").unwrap();
/// let part = songrec_app::similar::ModelPart::of(e, 1.0);
/// assert_eq!(part.model.name, "songrec-dsp");
/// ```
#[derive(Clone)]
pub struct ModelPart {
    /// Whose vectors are compared.
    pub model: ModelInfo,
    /// The embedder that made them (needed to analyse a [`Target::File`]).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Weight in a blend (normalised over the parts; ignored for a single model).
    pub weight: f32,
}

impl ModelPart {
    /// The part for an embedder's vectors.
    pub fn of(embedder: Arc<dyn Embedder>, weight: f32) -> Self {
        Self {
            model: crate::embedders::model_of(embedder.as_ref()),
            embedder: Some(embedder),
            weight,
        }
    }

    /// The part for stored vectors of a model no embedder here can compute (e.g. `legacy@0`).
    pub fn stored(model: ModelInfo) -> Self {
        Self {
            model,
            embedder: None,
            weight: 1.0,
        }
    }
}

impl std::fmt::Debug for ModelPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}", self.model.key(), self.weight)
    }
}

/// A similarity request.
#[derive(Clone, Debug)]
pub struct SimilarRequest {
    /// Query song or file.
    pub target: Target,
    /// One model, or several to blend.
    pub parts: Vec<ModelPart>,
    /// Number of results.
    pub k: usize,
    /// Comparison.
    pub metric: Metric,
    /// Minimum similarity.
    pub threshold: Option<f32>,
    /// Results to skip.
    pub offset: usize,
    /// Metadata conditions.
    pub filter: Filter,
    /// Rank exactly even where the backend keeps an approximate index
    /// ([`songrec_storage::SearchQuery::exact`]).
    pub exact: bool,
}

impl SimilarRequest {
    /// The 10 nearest by cosine to `target` in the space of `parts`: no threshold, offset,
    /// filter, and the approximate index where the backend has one. Other values by struct
    /// update: `SimilarRequest { k: 5, ..SimilarRequest::new(target, parts) }`.
    pub fn new(target: Target, parts: Vec<ModelPart>) -> Self {
        SimilarRequest {
            target,
            parts,
            k: 10,
            metric: Metric::Cosine,
            threshold: None,
            offset: 0,
            filter: Filter::default(),
            exact: false,
        }
    }
}

/// The query: its vectors (one per part), the ids to leave out of the results, and what is
/// known of it as a song (a file's tags and duration), for recognising its copies.
struct Query {
    vectors: Vec<Vec<f32>>,
    exclude: Vec<SongId>,
    song: SongMetadata,
}

async fn query_vectors(backend: &dyn StorageBackend, req: &SimilarRequest) -> AppResult<Query> {
    match &req.target {
        Target::Song(m) => {
            let mut out = Vec::with_capacity(req.parts.len());
            for p in &req.parts {
                let e = backend.get_embedding(&m.id, &p.model).await?.ok_or_else(|| {
                    AppError::Resolve(format!(
                        "{} ({}) has no {} vector; compute it with `songrec reembed --embedder {}`",
                        m.display_name(),
                        m.id.short(),
                        p.model.key(),
                        crate::embedders::short_name(&p.model.name),
                    ))
                })?;
                out.push(e.vector);
            }
            Ok(Query {
                vectors: out,
                exclude: vec![m.id.clone()],
                song: (**m).clone(),
            })
        }
        Target::File(path) => {
            let embedders = req
                .parts
                .iter()
                .map(|p| {
                    p.embedder.clone().ok_or_else(|| {
                        AppError::Invalid(format!(
                            "no embedder is available for model {}; cannot analyse a file for it",
                            p.model.key()
                        ))
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            let p = path.clone();
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
            let id = song.id.clone();
            let vectors = fa.analyses.into_iter().map(|a| a.analysis.vector).collect();
            Ok(Query {
                vectors,
                exclude: vec![id],
                song,
            })
        }
    }
}

/// Runs a similarity query; the query song itself is never among the results.
pub async fn similar(backend: &dyn StorageBackend, req: &SimilarRequest) -> AppResult<Vec<Match>> {
    if req.parts.is_empty() {
        return Err(AppError::Invalid("no model to compare".into()));
    }
    // The same limits for one model and for a blend (whose pools are capped, so an oversized
    // request would otherwise quietly return fewer results than asked for).
    let reach = req.k.checked_add(req.offset);
    let max = backend.max_results();
    if req.k == 0 || reach.is_none_or(|n| n > max) {
        return Err(AppError::Invalid(format!(
            "k must be 1 or more and offset + k at most {} on this backend, got k = {} and offset = {}",
            max, req.k, req.offset
        )));
    }
    let q = query_vectors(backend, req).await?;
    ranked(backend, req, q.vectors, q.exclude).await
}

/// The ranked results of a query whose vectors are known: one search in the request's
/// [`Space`] (the same search playlists use).
async fn ranked(
    backend: &dyn StorageBackend,
    req: &SimilarRequest,
    vectors: Vec<Vec<f32>>,
    exclude: Vec<SongId>,
) -> AppResult<Vec<Match>> {
    let q = SpaceQuery {
        vectors,
        k: req.k,
        offset: req.offset,
        metric: req.metric,
        threshold: req.threshold,
        exclude,
        filter: req.filter.clone(),
        exact: req.exact,
    };
    Ok(space::search(backend, &space_of(&req.parts), &q).await?)
}

/// The [`Space`] of model parts (their models and weights).
pub(crate) fn space_of(parts: &[ModelPart]) -> Space {
    Space::blend(parts.iter().map(|p| (p.model.clone(), p.weight)).collect())
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[tokio::test]
    async fn extreme_offsets_are_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = songrec_local::LocalBackend::open(dir.path()).expect("library");
        for (k, offset) in [(1, usize::MAX), (usize::MAX, 1), (usize::MAX, usize::MAX)] {
            let req = SimilarRequest {
                k,
                offset,
                ..SimilarRequest::new(
                    Target::File("query.wav".into()),
                    vec![ModelPart::stored(ModelInfo::new("m", "1", 2))],
                )
            };
            match similar(&backend, &req).await {
                Err(AppError::Invalid(m)) => assert!(m.contains("offset + k"), "{m}"),
                other => panic!("k {k}, offset {offset}: {other:?}"),
            }
        }
        assert_eq!(pool_size(usize::MAX, usize::MAX, 1000), 1000);
    }
}
