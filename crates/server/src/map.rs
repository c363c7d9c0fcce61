//! The library map: every song's vector projected to 2-D.
//!
//! [`Projector`] is the seam: [`Pca`] (the two leading principal components, by block power
//! iteration on the centred data) is the default, and another projection (UMAP, t-SNE, a
//! shared `discover` crate) can be swapped in by implementing the trait.

/// Projects vectors (all of one dimension) to 2-D points; also returns, per axis, the share
/// of the total variance it explains (0..=1) where that means something.
pub trait Projector: Send + Sync {
    /// Name shown to clients, e.g. `pca`.
    fn name(&self) -> &str;
    /// One point per input vector, in order.
    fn project(&self, vectors: &[Vec<f32>]) -> Projection;
}

/// A projection's result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Projection {
    /// One `[x, y]` per input vector.
    pub points: Vec<[f32; 2]>,
    /// Share of the variance along each axis.
    pub explained: [f32; 2],
}

/// Principal component analysis to two components.
///
/// ```
/// use songrec_server::map::{Pca, Projector};
/// // Points spread mostly along (1, 1, 0), a little along (0, 0, 1).
/// let v: Vec<Vec<f32>> = (0..20)
///     .map(|i| { let t = i as f32 - 10.0; vec![t, t, 0.1 * (i % 3) as f32] })
///     .collect();
/// let p = Pca::default().project(&v);
/// assert_eq!(p.points.len(), 20);
/// assert!(p.explained[0] > 0.99);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Pca {
    /// Most power iterations.
    pub max_iters: usize,
    /// Stop when the subspace moves less than this.
    pub tolerance: f64,
}

impl Default for Pca {
    fn default() -> Self {
        Self {
            max_iters: 300,
            tolerance: 1e-9,
        }
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalise(v: &mut [f64]) -> f64 {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
    n
}

impl Pca {
    /// `C v` for the covariance `C = Xᵀ X / n` of centred rows, without forming `C`.
    fn cov_times(x: &[Vec<f64>], v: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; v.len()];
        for row in x {
            let s = dot(row, v);
            out.iter_mut().zip(row).for_each(|(o, r)| *o += s * r);
        }
        let n = x.len().max(1) as f64;
        out.iter_mut().for_each(|o| *o /= n);
        out
    }
}

impl Projector for Pca {
    fn name(&self) -> &str {
        "pca"
    }

    fn project(&self, vectors: &[Vec<f32>]) -> Projection {
        let n = vectors.len();
        let d = vectors.first().map_or(0, Vec::len);
        if n == 0 || d == 0 || vectors.iter().any(|v| v.len() != d) {
            return Projection {
                points: vec![[0.0, 0.0]; n],
                explained: [0.0, 0.0],
            };
        }
        let mut mean = vec![0f64; d];
        for v in vectors {
            mean.iter_mut()
                .zip(v)
                .for_each(|(m, x)| *m += f64::from(*x));
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let x: Vec<Vec<f64>> = vectors
            .iter()
            .map(|v| {
                v.iter()
                    .zip(&mean)
                    .map(|(a, m)| f64::from(*a) - m)
                    .collect()
            })
            .collect();
        let total_var: f64 = x.iter().map(|r| dot(r, r)).sum::<f64>() / n as f64;

        // Block power iteration on two vectors with Gram-Schmidt; deterministic start.
        let mut a: Vec<f64> = (0..d).map(|i| 1.0 + (i % 7) as f64 * 0.1).collect();
        let mut b: Vec<f64> = (0..d)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 } * (1.0 + (i % 5) as f64 * 0.1))
            .collect();
        normalise(&mut a);
        let pa = dot(&b, &a);
        b.iter_mut().zip(&a).for_each(|(y, x)| *y -= pa * x);
        normalise(&mut b);
        let (mut la, mut lb) = (0.0, 0.0);
        for _ in 0..self.max_iters {
            let mut na = Self::cov_times(&x, &a);
            let mut nb = Self::cov_times(&x, &b);
            la = normalise(&mut na);
            let p = dot(&nb, &na);
            nb.iter_mut().zip(&na).for_each(|(y, x)| *y -= p * x);
            lb = normalise(&mut nb);
            let moved = (1.0 - dot(&na, &a).abs()) + (1.0 - dot(&nb, &b).abs());
            a = na;
            b = nb;
            if la == 0.0 || moved < self.tolerance {
                break;
            }
        }
        // Deterministic signs: the largest-magnitude coordinate of each axis is positive.
        for v in [&mut a, &mut b] {
            let big = v
                .iter()
                .copied()
                .fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if big < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
        }
        let points = x
            .iter()
            .map(|r| [dot(r, &a) as f32, dot(r, &b) as f32])
            .collect();
        let share = |l: f64| {
            if total_var > 0.0 {
                (l / total_var).clamp(0.0, 1.0) as f32
            } else {
                0.0
            }
        };
        Projection {
            points,
            explained: [share(la), share(lb)],
        }
    }
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
        let p = Pca::default().project(&v);
        // x follows coordinate 0 and y coordinate 2 (up to sign; the sample's small
        // correlations rotate the axes a little).
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
        assert!(Pca::default().project(&[]).points.is_empty());
        let same = vec![vec![1.0, 2.0]; 5];
        let p = Pca::default().project(&same);
        assert_eq!(p.points, vec![[0.0, 0.0]; 5]);
        let ragged = vec![vec![1.0, 2.0], vec![1.0]];
        assert_eq!(Pca::default().project(&ragged).points.len(), 2);
    }
}
