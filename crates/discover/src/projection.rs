//! Songs placed in 2-D: the one projection `songrec map` (its page, its image and `--json`) and
//! the REST API's `/api/v1/map` share, so every door draws every song at the same coordinates.
//!
//! [`Projector`] is the seam: [`PcaProjector`] (the two leading principal components,
//! [`crate::pca::Pca`]) is the default, and another projection (UMAP, t-SNE) can be swapped in
//! by implementing the trait.

use crate::linalg::Matrix;
use crate::pca::Pca;

/// Projects the rows of a matrix to 2-D points; also returns, per axis, the share of the total
/// variance it explains (0..=1) where that means something.
pub trait Projector: Send + Sync {
    /// Name shown to clients, e.g. `pca`.
    fn name(&self) -> &str;
    /// One point per row, in order.
    fn project(&self, vectors: &Matrix) -> Projection;
}

/// A projection's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Projection {
    /// One `[x, y]` per row.
    pub points: Vec<[f32; 2]>,
    /// Share of the variance along each axis.
    pub explained: [f64; 2],
}

/// Principal component analysis to two components (one when the vectors have one dimension).
///
/// ```
/// use songrec_discover::Matrix;
/// use songrec_discover::projection::{PcaProjector, Projector};
/// // Points spread mostly along (1, 1, 0), a little along (0, 0, 1).
/// let v: Vec<Vec<f32>> = (0..20)
///     .map(|i| { let t = i as f32 - 10.0; vec![t, t, 0.1 * (i % 3) as f32] })
///     .collect();
/// let p = PcaProjector.project(&Matrix::from_rows(&v).unwrap());
/// assert_eq!(p.points.len(), 20);
/// assert!(p.explained[0] > 0.99);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct PcaProjector;

impl Projector for PcaProjector {
    fn name(&self) -> &str {
        "pca"
    }

    fn project(&self, vectors: &Matrix) -> Projection {
        let n = vectors.rows();
        let Ok(pca) = Pca::fit(vectors, vectors.dim().min(2)) else {
            // No rows, or rows of no dimension: every point at the origin.
            return Projection {
                points: vec![[0.0, 0.0]; n],
                explained: [0.0, 0.0],
            };
        };
        let points = pca
            .transform_all(vectors)
            .iter()
            .map(|c| first_two(c))
            .collect();
        Projection {
            points,
            explained: first_two(&pca.explained_ratio()),
        }
    }
}

/// The first two values (0 for those missing).
fn first_two<T: Copy + Default>(v: &[T]) -> [T; 2] {
    [0, 1].map(|i| v.get(i).copied().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_the_axes_of_a_stretched_cloud() {
        // Axis 1 along e0 (spread 10), axis 2 along e2 (spread 3), tiny noise elsewhere.
        let mut s = 7u64;
        let mut r = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let v: Vec<Vec<f32>> = (0..400)
            .map(|_| vec![10.0 * r(), 0.01 * r(), 3.0 * r(), 0.01 * r()])
            .collect();
        let p = PcaProjector.project(&Matrix::from_rows(&v).unwrap());
        let corr = |a: &[f32], b: &[f32]| {
            let n = a.len() as f64;
            let (ma, mb) = (
                a.iter().map(|&x| f64::from(x)).sum::<f64>() / n,
                b.iter().map(|&x| f64::from(x)).sum::<f64>() / n,
            );
            let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
            for (&x, &y) in a.iter().zip(b) {
                let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
                sab += x * y;
                saa += x * x;
                sbb += y * y;
            }
            sab / (saa * sbb).sqrt()
        };
        let px: Vec<f32> = p.points.iter().map(|q| q[0]).collect();
        let py: Vec<f32> = p.points.iter().map(|q| q[1]).collect();
        let c0: Vec<f32> = v.iter().map(|x| x[0]).collect();
        let c2: Vec<f32> = v.iter().map(|x| x[2]).collect();
        assert!(corr(&px, &c0).abs() > 0.999, "{}", corr(&px, &c0));
        assert!(corr(&py, &c2).abs() > 0.99, "{}", corr(&py, &c2));
        assert!(corr(&px, &c2).abs() < 0.1);
        let var = 100.0 / 12.0 + 9.0 / 12.0;
        assert!(
            (p.explained[0] - (100.0 / 12.0) / var).abs() < 0.03,
            "{p:?}"
        );
        assert!(p.explained[0] + p.explained[1] > 0.99);
    }

    #[test]
    fn degenerate_inputs_do_not_fail() {
        assert!(PcaProjector.project(&Matrix::new(3)).points.is_empty());
        let same = Matrix::from_rows(&vec![vec![1.0f32, 2.0]; 5]).unwrap();
        let p = PcaProjector.project(&same);
        assert_eq!(p.points, vec![[0.0, 0.0]; 5]);
        let one_d = Matrix::from_rows(&[[1.0f32], [3.0]]).unwrap();
        let p = PcaProjector.project(&one_d);
        assert_eq!(p.points.len(), 2);
        assert!(p.points.iter().all(|q| q[1] == 0.0), "{p:?}");
    }
}
