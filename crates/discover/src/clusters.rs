//! Groups of songs that sound alike (k-means on the vectors), described by size, dominant
//! genres and the songs nearest each group's centre.

use std::collections::BTreeMap;

use serde::Serialize;
use songrec_storage::SongMetadata;

use crate::error::DiscoverResult;
use crate::kmeans::{KMeansOptions, kmeans, purity, similarity_to_centroid};
use crate::load::SongSet;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cluster {
    /// Number, from 1 (the largest cluster), as the map's legend and pages number them.
    pub id: usize,
    /// Songs in it.
    pub size: usize,
    /// Most common genres (name, songs), at most three, most common first.
    pub genres: Vec<(String, usize)>,
    /// Mean cosine similarity of its songs to its centre (1 = all alike).
    pub cohesion: f32,
    /// The songs nearest the centre.
    pub examples: Vec<SongMetadata>,
}

/// A clustering of a library.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClusterReport {
    /// Model whose vectors were clustered.
    pub model: String,
    /// Songs clustered.
    pub songs: usize,
    /// Clusters, largest first.
    pub clusters: Vec<Cluster>,
    /// k-means inertia (sum of squared distances to the centres, unit vectors).
    pub inertia: f64,
    /// How well clusters follow the genre tags (see [`purity`]); `None` when fewer than half
    /// of the songs have a genre.
    pub genre_purity: Option<f64>,
    /// Cluster of each song of the set, in the set's order.
    #[serde(skip)]
    pub assignments: Vec<usize>,
}

/// Songs shown per cluster.
pub const EXAMPLES: usize = 3;

/// Clusters `set` into `k` groups.
///
/// ```
/// use songrec_discover::{Matrix, SongSet, clusters::cluster, kmeans::KMeansOptions};
/// use songrec_storage::{ModelInfo, SongId, SongMetadata};
/// let songs: Vec<_> = (0..4).map(|i| {
///     let mut m = SongMetadata::new(SongId::from_bytes(&[i]), format!("S{i}"));
///     m.genre = Some(if i < 2 { "rock" } else { "jazz" }.into());
///     m
/// }).collect();
/// let v = Matrix::from_rows(&[[1.0f32, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]]).unwrap();
/// let r = cluster(&SongSet::new(ModelInfo::new("m", "1", 2), songs, v), 2, &KMeansOptions::default()).unwrap();
/// assert_eq!(r.clusters.len(), 2);
/// assert_eq!(r.genre_purity, Some(1.0));
/// ```
pub fn cluster(set: &SongSet, k: usize, opts: &KMeansOptions) -> DiscoverResult<ClusterReport> {
    let km = kmeans(&set.vectors, k, opts)?;
    // Renumber by size (largest first, ties by old number) so output is stable and readable.
    let mut sizes = vec![0usize; k];
    for &l in &km.labels {
        sizes[l] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(a.cmp(&b)));
    let mut new_id = vec![0usize; k];
    for (new, &old) in order.iter().enumerate() {
        new_id[old] = new;
    }
    let assignments: Vec<usize> = km.labels.iter().map(|&l| new_id[l]).collect();

    let mut clusters = Vec::new();
    for (new, &old) in order.iter().enumerate() {
        if sizes[old] == 0 {
            continue;
        }
        let members: Vec<usize> = (0..set.len()).filter(|&i| assignments[i] == new).collect();
        let mut genres: BTreeMap<String, usize> = BTreeMap::new();
        for &i in &members {
            if let Some(g) = &set.songs[i].genre {
                *genres.entry(g.to_lowercase()).or_default() += 1;
            }
        }
        let mut genres: Vec<(String, usize)> = genres.into_iter().collect();
        genres.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        genres.truncate(3);
        let centre = &km.centroids[old];
        let mut sims: Vec<(f32, usize)> = members
            .iter()
            .map(|&i| (similarity_to_centroid(set.vectors.row(i), centre), i))
            .collect();
        let cohesion = sims.iter().map(|s| s.0).sum::<f32>() / sims.len() as f32;
        sims.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| set.songs[a.1].id.cmp(&set.songs[b.1].id))
        });
        clusters.push(Cluster {
            id: new + 1,
            size: members.len(),
            genres,
            cohesion,
            examples: sims
                .iter()
                .take(EXAMPLES)
                .map(|&(_, i)| set.songs[i].clone())
                .collect(),
        });
    }

    let with_genre: Vec<usize> = (0..set.len())
        .filter(|&i| set.songs[i].genre.is_some())
        .collect();
    let genre_purity = (with_genre.len() * 2 >= set.len() && !with_genre.is_empty()).then(|| {
        let c: Vec<usize> = with_genre.iter().map(|&i| assignments[i]).collect();
        let g: Vec<String> = with_genre
            .iter()
            .map(|&i| set.songs[i].genre.as_deref().unwrap_or("").to_lowercase())
            .collect();
        purity(&c, &g)
    });
    Ok(ClusterReport {
        model: set.space.key(),
        songs: set.len(),
        clusters,
        inertia: km.inertia,
        genre_purity,
        assignments,
    })
}
