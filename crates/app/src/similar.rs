//! Similarity queries: by a song in the library or by an outside audio file.

use std::path::PathBuf;
use std::sync::Arc;

use songrec_audio::Embedder;
use songrec_storage::{
    Filter, Match, Metric, ModelInfo, SearchQuery, SongId, SongMetadata, StorageBackend,
};

use crate::{AppError, AppResult};

/// What to find neighbours of.
#[derive(Clone, Debug)]
pub enum Target {
    /// A song already in the library.
    Song(Box<SongMetadata>),
    /// An audio file (analysed now; need not be in the library).
    File(PathBuf),
}

/// A similarity request.
#[derive(Clone)]
pub struct SimilarRequest {
    /// Query song or file.
    pub target: Target,
    /// Whose vectors are compared.
    pub model: ModelInfo,
    /// The embedder that made them (needed to analyse a [`Target::File`]).
    pub embedder: Option<Arc<dyn Embedder>>,
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
}

/// Runs a similarity query; the query song itself is never among the results.
pub async fn similar(backend: &dyn StorageBackend, req: &SimilarRequest) -> AppResult<Vec<Match>> {
    let model = req.model.clone();
    let (vector, exclude) = match &req.target {
        Target::Song(m) => {
            let e = backend.get_embedding(&m.id, &model).await?.ok_or_else(|| {
                AppError::Resolve(format!(
                    "{} ({}) has no {} vector; re-ingest it with this embedder",
                    m.display_name(),
                    m.id.short(),
                    model.key()
                ))
            })?;
            (e.vector, vec![m.id.clone()])
        }
        Target::File(p) => {
            let embedder = req.embedder.clone().ok_or_else(|| {
                AppError::Invalid(format!(
                    "no embedder is available for model {}; cannot analyse a file for it",
                    model.key()
                ))
            })?;
            let path = p.clone();
            let fa = tokio::task::spawn_blocking(move || {
                songrec_audio::analyze_file(&path, &[embedder.as_ref()])
            })
            .await
            .map_err(|e| AppError::Invalid(format!("analysis failed: {e}")))??;
            let id = SongId::from_file(p)?.0;
            let v = fa
                .analyses
                .into_iter()
                .next()
                .map(|a| a.analysis.vector)
                .unwrap_or_default();
            (v, vec![id])
        }
    };
    let q = SearchQuery {
        model,
        vector,
        k: req.k,
        metric: req.metric,
        threshold: req.threshold,
        offset: req.offset,
        exclude,
        filter: req.filter.clone(),
    };
    Ok(backend.search(&q).await?)
}
