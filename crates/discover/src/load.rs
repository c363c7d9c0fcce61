//! Reading songs and their vectors through the storage trait (any backend).

use std::collections::HashMap;

use futures::{StreamExt, TryStreamExt};
use songrec_storage::{
    Filter, ModelInfo, SongId, SongMetadata, StorageBackend, StorageBackendExt, math,
};

use crate::error::DiscoverResult;
use crate::linalg::Matrix;
use songrec_rank::Space;

/// Vectors fetched at once (the Astra backend answers each `get_embedding` with one request).
pub const FETCH_CONCURRENCY: usize = 16;

/// Songs with their vectors in a [`Space`] (one model's, or a blend's combined vectors, see
/// [`songrec_rank::combine`]), L2-normalised, row `i` belonging to `songs[i]`.
///
/// ```
/// use songrec_discover::{Matrix, SongSet};
/// use songrec_storage::{ModelInfo, SongId, SongMetadata};
/// let s = SongSet::new(ModelInfo::new("m", "1", 2),
///     vec![SongMetadata::new(SongId::from_bytes(b"a"), "A")],
///     Matrix::from_rows(&[[3.0f32, 4.0]]).unwrap());
/// assert_eq!(s.vectors.row(0), &[0.6, 0.8]);
/// assert_eq!(s.len(), 1);
/// ```
#[derive(Clone, Debug)]
pub struct SongSet {
    /// Whose vectors.
    pub space: Space,
    /// The songs, in id order.
    pub songs: Vec<SongMetadata>,
    /// Their unit vectors.
    pub vectors: Matrix,
    /// Songs that matched the filter but have no (or an all-zero) vector of any of the models.
    pub without_vector: Vec<SongId>,
}

impl SongSet {
    /// A set from songs and their vectors (rows are normalised here).
    pub fn new(space: impl Into<Space>, songs: Vec<SongMetadata>, mut vectors: Matrix) -> Self {
        vectors.normalize_rows();
        Self {
            space: space.into(),
            songs,
            vectors,
            without_vector: Vec::new(),
        }
    }

    /// Number of songs.
    pub fn len(&self) -> usize {
        self.songs.len()
    }

    /// Whether there are no songs.
    pub fn is_empty(&self) -> bool {
        self.songs.is_empty()
    }
}

/// The songs matching `filter` with their vectors in `space`. A song counts when it has a
/// (non-zero) vector of at least one of the space's models; in a blend, a model it lacks leaves
/// it neutral there.
pub async fn load_songs(
    backend: &dyn StorageBackend,
    space: &Space,
    filter: &Filter,
) -> DiscoverResult<SongSet> {
    let songs = backend.list_all(filter).await?;
    let ids: Vec<SongId> = songs.iter().map(|m| m.id.clone()).collect();
    let mut per_part = Vec::with_capacity(space.parts.len());
    for p in &space.parts {
        per_part.push(fetch_vectors(backend, &p.model, &ids).await?);
    }
    let usable = |v: Option<&Vec<f32>>, dim: usize| {
        v.filter(|v| v.len() == dim && math::norm(v) > 0.0).cloned()
    };
    let mut kept = Vec::with_capacity(songs.len());
    let mut without_vector = Vec::new();
    let mut blocks: Vec<Vec<Option<Vec<f32>>>> = vec![Vec::new(); space.parts.len()];
    for m in songs {
        let row: Vec<Option<Vec<f32>>> = space
            .parts
            .iter()
            .zip(&per_part)
            .map(|(p, got)| usable(got.get(&m.id), p.model.dim))
            .collect();
        if row.iter().all(Option::is_none) {
            without_vector.push(m.id);
            continue;
        }
        for (b, v) in blocks.iter_mut().zip(row) {
            b.push(v);
        }
        kept.push(m);
    }
    let dims: Vec<usize> = space.parts.iter().map(|p| p.model.dim).collect();
    let mut vectors = Matrix::new(space.dim());
    for row in songrec_rank::combine(&blocks, &dims, &space.weights()) {
        vectors.push(&row)?;
    }
    Ok(SongSet {
        space: space.clone(),
        songs: kept,
        vectors,
        without_vector,
    })
}

/// The `model` vectors of `ids` (songs without one are left out), fetched concurrently.
pub async fn fetch_vectors(
    backend: &dyn StorageBackend,
    model: &ModelInfo,
    ids: &[SongId],
) -> DiscoverResult<HashMap<SongId, Vec<f32>>> {
    let got: Vec<Option<(SongId, Vec<f32>)>> = futures::stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let e = backend.get_embedding(&id, model).await?;
            DiscoverResult::Ok(e.map(|e| (id, e.vector)))
        })
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    Ok(got.into_iter().flatten().collect())
}

/// Unit copy of a vector.
pub fn unit(v: &[f32]) -> Vec<f32> {
    let mut v = v.to_vec();
    math::normalize(&mut v);
    v
}
