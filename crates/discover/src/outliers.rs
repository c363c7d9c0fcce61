//! Songs least like the rest of the library.
//!
//! Score: the mean cosine distance (1 − cosine similarity) to the song's `k` nearest
//! neighbours. A song in a crowded neighbourhood scores near 0; a song nothing resembles scores
//! high. Unlike the distance to the library's centre, this does not flag every song of a small
//! but coherent genre.

use serde::Serialize;
use songrec_storage::SongMetadata;

use crate::error::{DiscoverError, DiscoverResult};
use crate::linalg::Matrix;
use crate::linalg::{Neighbour, knn_all};
use crate::load::SongSet;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outlier {
    /// Mean cosine distance to the nearest neighbours (0 ..= 2).
    pub score: f32,
    pub song: SongMetadata,
    /// Its most similar song and their cosine similarity.
    pub nearest: Option<(SongMetadata, f32)>,
}

/// Mean cosine distance of every unit row to its `k` nearest other rows, with the neighbours.
///
/// ```
/// use songrec_discover::{Matrix, outliers::knn_scores};
/// let mut m = Matrix::from_rows(&[[1.0f32, 0.0], [0.99, 0.1], [0.98, 0.2], [0.0, 1.0]]).unwrap();
/// m.normalize_rows();
/// let (scores, _) = knn_scores(&m, 2);
/// let worst = (0..4).max_by(|&a, &b| scores[a].total_cmp(&scores[b])).unwrap();
/// assert_eq!(worst, 3);
/// ```
pub fn knn_scores(m: &Matrix, k: usize) -> (Vec<f32>, Vec<Vec<Neighbour>>) {
    let nn = knn_all(m, k);
    let scores = nn
        .iter()
        .map(|ns| {
            if ns.is_empty() {
                0.0
            } else {
                ns.iter().map(|n| 1.0 - n.similarity).sum::<f32>() / ns.len() as f32
            }
        })
        .collect();
    (scores, nn)
}

/// The `n` songs of `set` with the highest scores, highest first (ties by id).
pub fn outliers(set: &SongSet, n: usize, k: usize) -> DiscoverResult<Vec<Outlier>> {
    if k == 0 {
        return Err(DiscoverError::Invalid(
            "the neighbourhood size k must be at least 1".into(),
        ));
    }
    if set.len() < 2 {
        return Err(DiscoverError::Invalid(format!(
            "need at least 2 songs with {} vectors to compare, found {}",
            set.space.key(),
            set.len()
        )));
    }
    let (scores, nn) = knn_scores(&set.vectors, k);
    let mut order: Vec<usize> = (0..set.len()).collect();
    order.sort_by(|&a, &b| {
        scores[b]
            .total_cmp(&scores[a])
            .then_with(|| set.songs[a].id.cmp(&set.songs[b].id))
    });
    Ok(order
        .into_iter()
        .take(n)
        .map(|i| Outlier {
            score: scores[i],
            song: set.songs[i].clone(),
            nearest: nn[i]
                .first()
                .map(|nb| (set.songs[nb.index].clone(), nb.similarity)),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;
    use songrec_storage::{ModelInfo, SongId};

    #[test]
    fn planted_outlier_ranks_first() {
        let mut r = SplitMix::new(4);
        let dim = 16;
        let centres: Vec<Vec<f32>> = (0..3)
            .map(|_| (0..dim).map(|_| r.gauss()).collect())
            .collect();
        let mut rows = Vec::new();
        let mut songs = Vec::new();
        for i in 0..60 {
            let c = &centres[i % 3];
            rows.push(c.iter().map(|x| x + 0.2 * r.gauss()).collect::<Vec<f32>>());
            songs.push(SongMetadata::new(
                SongId::from_bytes(format!("s{i}").as_bytes()),
                format!("S{i}"),
            ));
        }
        // A song pointing away from every cluster.
        let odd: Vec<f32> = (0..dim).map(|_| r.gauss()).collect();
        rows.insert(17, odd);
        songs.insert(17, SongMetadata::new(SongId::from_bytes(b"odd"), "Odd One"));
        let set = SongSet::new(
            ModelInfo::new("m", "1", dim),
            songs,
            Matrix::from_rows(&rows).unwrap(),
        );
        let out = outliers(&set, 3, 5).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0].song.title, "Odd One");
        assert!(out[0].score > out[1].score);
        assert!(out.windows(2).all(|w| w[0].score >= w[1].score));
        let (_, sim) = out[0].nearest.as_ref().unwrap();
        assert!(
            (1.0 - sim) <= out[0].score + 1e-6,
            "nearest is at most the mean distance"
        );
    }

    #[test]
    fn refuses_degenerate_requests() {
        let set = SongSet::new(
            ModelInfo::new("m", "1", 2),
            vec![SongMetadata::new(SongId::from_bytes(b"a"), "A")],
            Matrix::from_rows(&[[1.0f32, 0.0]]).unwrap(),
        );
        assert!(outliers(&set, 1, 5).is_err());
        assert!(outliers(&set, 1, 0).is_err());
    }
}
