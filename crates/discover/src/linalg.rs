//! Dense row-major matrices of song vectors and all-pairs nearest neighbours.

use rayon::prelude::*;
use songrec_storage::math::{self, TopK};

use crate::error::{DiscoverError, DiscoverResult};

/// Rows of equal length, stored contiguously (one row per song).
///
/// ```
/// use songrec_discover::Matrix;
/// let mut m = Matrix::new(2);
/// m.push(&[3.0, 4.0]).unwrap();
/// m.normalize_rows();
/// assert_eq!(m.row(0), &[0.6, 0.8]);
/// assert!(m.push(&[1.0]).is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    dim: usize,
    data: Vec<f32>,
}

impl Matrix {
    /// An empty matrix whose rows have `dim` values.
    pub fn new(dim: usize) -> Self {
        Self {
            dim,
            data: Vec::new(),
        }
    }

    /// Builds a matrix from rows (all of one length).
    pub fn from_rows<R: AsRef<[f32]>>(rows: &[R]) -> DiscoverResult<Self> {
        let dim = rows.first().map_or(0, |r| r.as_ref().len());
        let mut m = Self::new(dim);
        m.data.reserve(dim * rows.len());
        for r in rows {
            m.push(r.as_ref())?;
        }
        Ok(m)
    }

    pub fn push(&mut self, row: &[f32]) -> DiscoverResult<()> {
        if row.len() != self.dim {
            return Err(DiscoverError::Invalid(format!(
                "vector of length {} in a set of {}-d vectors",
                row.len(),
                self.dim
            )));
        }
        self.data.extend_from_slice(row);
        Ok(())
    }

    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Every row, in order.
    pub fn iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }

    /// Scales every row to unit length (zero rows stay zero).
    pub fn normalize_rows(&mut self) {
        if self.dim == 0 {
            return;
        }
        self.data
            .par_chunks_exact_mut(self.dim)
            .for_each(math::normalize);
    }
}

/// Cosine similarity (the workspace's one copy, in the storage crate).
pub use songrec_storage::math::cosine;

/// A neighbour: row index and cosine similarity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Neighbour {
    /// Row of the neighbour.
    pub index: usize,
    /// Similarity (dot product of unit rows = cosine).
    pub similarity: f32,
}

/// The `k` most similar other rows of every row, best first (ties by lower index), for rows
/// that are already unit length (so the dot product is the cosine).
///
/// Exact: every pair is compared. Query rows are processed in blocks so each stored row is read
/// from memory once per block rather than once per query, and blocks run on every core.
///
/// ```
/// use songrec_discover::{Matrix, linalg::knn_all};
/// let m = Matrix::from_rows(&[[1.0, 0.0], [0.9, 0.436], [0.0, 1.0]]).unwrap();
/// let nn = knn_all(&m, 1);
/// assert_eq!(nn[0][0].index, 1);
/// assert_eq!(nn[2][0].index, 1);
/// ```
pub fn knn_all(m: &Matrix, k: usize) -> Vec<Vec<Neighbour>> {
    const BLOCK: usize = 32;
    let n = m.rows();
    let k = k.min(n.saturating_sub(1));
    let blocks: Vec<usize> = (0..n).step_by(BLOCK).collect();
    blocks
        .par_iter()
        .flat_map_iter(|&start| {
            let end = (start + BLOCK).min(n);
            let mut tops: Vec<TopK<usize>> = (start..end).map(|_| TopK::new(k)).collect();
            for j in 0..n {
                let rj = m.row(j);
                for (q, top) in (start..end).zip(tops.iter_mut()) {
                    if q != j {
                        top.push(math::dot(m.row(q), rj), j);
                    }
                }
            }
            tops.into_iter().map(|t| {
                t.into_sorted()
                    .into_iter()
                    .map(|s| Neighbour {
                        index: s.key,
                        similarity: s.score,
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;

    #[test]
    fn knn_matches_brute_force() {
        let mut r = SplitMix::new(3);
        let rows: Vec<Vec<f32>> = (0..150)
            .map(|_| (0..9).map(|_| r.next_signed()).collect())
            .collect();
        let mut m = Matrix::from_rows(&rows).unwrap();
        m.normalize_rows();
        let nn = knn_all(&m, 5);
        assert_eq!(nn.len(), 150);
        for (i, got) in nn.iter().enumerate() {
            let mut all: Vec<(f32, usize)> = (0..150)
                .filter(|&j| j != i)
                .map(|j| (cosine(&rows[i], &rows[j]), j))
                .collect();
            all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let want: Vec<usize> = all.iter().take(5).map(|x| x.1).collect();
            let got_ids: Vec<usize> = got.iter().map(|n| n.index).collect();
            assert_eq!(got_ids, want, "row {i}");
            assert!((got[0].similarity - all[0].0).abs() < 1e-5);
        }
    }

    #[test]
    fn knn_small_cases() {
        let m = Matrix::from_rows(&[[1.0f32, 0.0]]).unwrap();
        assert_eq!(knn_all(&m, 3), vec![Vec::<Neighbour>::new()]);
        assert!(knn_all(&Matrix::new(4), 3).is_empty());
    }

    #[test]
    fn matrix_shape_checks() {
        assert!(Matrix::from_rows(&[vec![1.0, 2.0], vec![1.0]]).is_err());
        let m = Matrix::from_rows(&[[1.0f32, 2.0], [3.0, 4.0]]).unwrap();
        assert_eq!((m.rows(), m.dim()), (2, 2));
        assert_eq!(m.iter().nth(1).unwrap(), &[3.0, 4.0]);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), 0.0);
    }
}
