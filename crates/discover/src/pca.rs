//! Principal component analysis: the directions along which the library varies most.
//!
//! The covariance matrix is accumulated in f64 on every core (one pass over the data); its
//! leading eigenvectors come from the cyclic Jacobi method when the dimension is small, else
//! from orthogonal (subspace) iteration followed by a Rayleigh–Ritz step solved with Jacobi.
//! Signs are fixed (the largest entry of each component is positive), so results are
//! deterministic.
//!
//! Kept rather than `nalgebra` or `linfa-reduction` after measurement
//! (`scripts/eval/crate_compare/REPORT.md` §4): the same explained variance as nalgebra's exact
//! decomposition, 2.4–10× faster; linfa's `Pca` panicked on the same data.

use rayon::prelude::*;

use crate::error::{DiscoverError, DiscoverResult};
use crate::linalg::Matrix;
use songrec_storage::rng::SplitMix;

/// Dimensions up to this use a full Jacobi eigen-decomposition of the covariance.
const JACOBI_MAX_DIM: usize = 128;

/// A fitted projection.
///
/// ```
/// use songrec_discover::{Matrix, pca::Pca};
/// // Points spread along (1, 1) with a little spread along (1, -1).
/// let m = Matrix::from_rows(&[[2.0f32, 2.0], [-2.0, -2.0], [0.1, -0.1], [-0.1, 0.1]]).unwrap();
/// let p = Pca::fit(&m, 1).unwrap();
/// let c = &p.components[0];
/// assert!((c[0] - 0.70710677).abs() < 1e-5 && (c[1] - 0.70710677).abs() < 1e-5);
/// assert!(p.explained_ratio()[0] > 0.99);
/// assert!((p.transform(&[2.0, 2.0])[0] - 8f32.sqrt()).abs() < 1e-5);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Pca {
    /// Mean of the rows.
    pub mean: Vec<f32>,
    /// Unit components, most variance first.
    pub components: Vec<Vec<f32>>,
    /// Variance along each component.
    pub variances: Vec<f64>,
    /// Total variance (trace of the covariance).
    pub total_variance: f64,
}

impl Pca {
    /// Fits `k` components to the rows of `m` (needs at least one row and `k` ≤ the dimension).
    pub fn fit(m: &Matrix, k: usize) -> DiscoverResult<Self> {
        let (n, d) = (m.rows(), m.dim());
        if n == 0 || d == 0 {
            return Err(DiscoverError::Invalid(
                "PCA needs at least one vector".into(),
            ));
        }
        if k == 0 || k > d {
            return Err(DiscoverError::Invalid(format!(
                "cannot take {k} principal components of {d}-d vectors"
            )));
        }
        let mean = column_mean(m);
        let cov = covariance(m, &mean);
        let total_variance: f64 = (0..d).map(|i| cov[i * d + i]).sum();
        let (values, vectors) = if d <= JACOBI_MAX_DIM {
            let (vals, vecs) = jacobi_eigen(cov, d);
            top_k(vals, vecs, d, k)
        } else {
            subspace_eigen(&cov, d, k)
        };
        let components = vectors
            .into_iter()
            .map(|mut v| {
                fix_sign(&mut v);
                v.into_iter().map(|x| x as f32).collect()
            })
            .collect();
        Ok(Self {
            mean,
            components,
            variances: values.into_iter().map(|v| v.max(0.0)).collect(),
            total_variance,
        })
    }

    /// Share of the total variance each component explains.
    pub fn explained_ratio(&self) -> Vec<f64> {
        self.variances
            .iter()
            .map(|v| {
                if self.total_variance > 0.0 {
                    v / self.total_variance
                } else {
                    0.0
                }
            })
            .collect()
    }

    /// Coordinates of one vector along the components.
    pub fn transform(&self, row: &[f32]) -> Vec<f32> {
        self.components
            .iter()
            .map(|c| {
                c.iter()
                    .zip(row.iter().zip(&self.mean))
                    .map(|(ci, (x, mu))| f64::from(*ci) * f64::from(x - mu))
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// Coordinates of every row.
    pub fn transform_all(&self, m: &Matrix) -> Vec<Vec<f32>> {
        (0..m.rows())
            .into_par_iter()
            .map(|i| self.transform(m.row(i)))
            .collect()
    }
}

fn column_mean(m: &Matrix) -> Vec<f32> {
    let d = m.dim();
    let mut sum = vec![0f64; d];
    for r in m.iter() {
        for (s, x) in sum.iter_mut().zip(r) {
            *s += f64::from(*x);
        }
    }
    let n = m.rows() as f64;
    sum.into_iter().map(|s| (s / n) as f32).collect()
}

/// Sample covariance (divided by n − 1, or n for a single row), full symmetric d×d in f64.
fn covariance(m: &Matrix, mean: &[f32]) -> Vec<f64> {
    let (n, d) = (m.rows(), m.dim());
    const CHUNK: usize = 256;
    let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
    let mut c = starts
        .par_iter()
        .fold(
            || vec![0f64; d * d],
            |mut acc, &s| {
                let mut x = vec![0f64; d];
                for i in s..(s + CHUNK).min(n) {
                    for ((xi, v), mu) in x.iter_mut().zip(m.row(i)).zip(mean) {
                        *xi = f64::from(v - mu);
                    }
                    for a in 0..d {
                        let xa = x[a];
                        let row = &mut acc[a * d + a..(a + 1) * d];
                        for (r, xb) in row.iter_mut().zip(&x[a..]) {
                            *r += xa * xb;
                        }
                    }
                }
                acc
            },
        )
        .reduce(
            || vec![0f64; d * d],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let denom = if n > 1 { (n - 1) as f64 } else { 1.0 };
    for a in 0..d {
        for b in a..d {
            let v = c[a * d + b] / denom;
            c[a * d + b] = v;
            c[b * d + a] = v;
        }
    }
    c
}

/// Eigen-decomposition of a symmetric `n`×`n` matrix (row-major) by cyclic Jacobi rotations.
/// Returns eigenvalues and the matching eigenvectors as the columns of a row-major matrix.
///
/// ```
/// let (vals, vecs) = songrec_discover::pca::jacobi_eigen(vec![2.0, 1.0, 1.0, 2.0], 2);
/// let mut v = vals.clone();
/// v.sort_by(f64::total_cmp);
/// assert!((v[0] - 1.0).abs() < 1e-12 && (v[1] - 3.0).abs() < 1e-12);
/// assert_eq!(vecs.len(), 4);
/// ```
pub fn jacobi_eigen(mut a: Vec<f64>, n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|p| (0..n).filter(move |&q| q != p).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q] * a[p * n + q])
            .sum();
        if off <= 1e-24 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // Rotates the pair of entries `i`, `j` of `m`.
                let rotate = |m: &mut [f64], i: usize, j: usize| {
                    let (x, y) = (m[i], m[j]);
                    m[i] = c * x - s * y;
                    m[j] = s * x + c * y;
                };
                (0..n).for_each(|k| rotate(&mut a, k * n + p, k * n + q));
                (0..n).for_each(|k| rotate(&mut a, p * n + k, q * n + k));
                (0..n).for_each(|k| rotate(&mut v, k * n + p, k * n + q));
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

/// The `k` largest eigenpairs (eigenvectors as owned rows), largest first.
fn top_k(vals: Vec<f64>, vecs: Vec<f64>, n: usize, k: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut order: Vec<usize> = (0..vals.len()).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]).then(a.cmp(&b)));
    let cols = vecs.len() / n;
    order.truncate(k);
    let values = order.iter().map(|&i| vals[i]).collect();
    let vectors = order
        .iter()
        .map(|&j| (0..n).map(|i| vecs[i * cols + j]).collect())
        .collect();
    (values, vectors)
}

/// Leading `k` eigenpairs of a symmetric `d`×`d` matrix by orthogonal iteration on a few extra
/// vectors, then Rayleigh–Ritz.
fn subspace_eigen(c: &[f64], d: usize, k: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
    let r = (k + 4).min(d);
    let mut rng = SplitMix::new(0x5EED_0CA0);
    let mut q: Vec<Vec<f64>> = (0..r)
        .map(|_| (0..d).map(|_| f64::from(rng.gauss())).collect())
        .collect();
    orthonormalize(&mut q);
    let mut last: Vec<f64> = vec![f64::INFINITY; k];
    for iter in 0..1000 {
        let mut z: Vec<Vec<f64>> = q.par_iter().map(|v| mat_vec(c, d, v)).collect();
        if iter % 5 == 4 {
            // Rayleigh quotients of the current basis: stop when they settle.
            let rq: Vec<f64> = q
                .iter()
                .zip(&z)
                .take(k)
                .map(|(v, cv)| dot64(v, cv))
                .collect();
            let settled = rq
                .iter()
                .zip(&last)
                .all(|(a, b)| (a - b).abs() <= 1e-12 * a.abs().max(1e-300));
            last = rq;
            if settled {
                break;
            }
        }
        orthonormalize(&mut z);
        q = z;
    }
    // Rayleigh–Ritz: T = Qᵀ C Q, solved exactly.
    let cq: Vec<Vec<f64>> = q.par_iter().map(|v| mat_vec(c, d, v)).collect();
    let mut t = vec![0f64; r * r];
    for i in 0..r {
        for j in 0..r {
            t[i * r + j] = dot64(&q[i], &cq[j]);
        }
    }
    for i in 0..r {
        for j in i + 1..r {
            let s = 0.5 * (t[i * r + j] + t[j * r + i]);
            t[i * r + j] = s;
            t[j * r + i] = s;
        }
    }
    let (vals, w) = jacobi_eigen(t, r);
    let (values, small) = top_k(vals, w, r, k);
    let vectors = small
        .iter()
        .map(|coef| {
            let mut v = vec![0f64; d];
            for (qi, ci) in q.iter().zip(coef) {
                v.iter_mut().zip(qi).for_each(|(x, y)| *x += ci * y);
            }
            v
        })
        .collect();
    (values, vectors)
}

fn mat_vec(c: &[f64], d: usize, v: &[f64]) -> Vec<f64> {
    (0..d).map(|i| dot64(&c[i * d..(i + 1) * d], v)).collect()
}

fn dot64(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Modified Gram–Schmidt (twice, for stability); a vector that collapses is replaced by a unit
/// basis vector orthogonalised against the others.
fn orthonormalize(vs: &mut [Vec<f64>]) {
    let d = vs.first().map_or(0, Vec::len);
    for i in 0..vs.len() {
        for _pass in 0..2 {
            for j in 0..i {
                let p = dot64(&vs[i], &vs[j]);
                let (head, tail) = vs.split_at_mut(i);
                tail[0]
                    .iter_mut()
                    .zip(&head[j])
                    .for_each(|(x, y)| *x -= p * y);
            }
        }
        let n = dot64(&vs[i], &vs[i]).sqrt();
        if n > 1e-150 {
            vs[i].iter_mut().for_each(|x| *x /= n);
        } else {
            vs[i] = (0..d).map(|j| if j == i % d { 1.0 } else { 0.0 }).collect();
        }
    }
}

fn fix_sign(v: &mut [f64]) {
    let big = v
        .iter()
        .copied()
        .fold(0f64, |m, x| if x.abs() > m.abs() { x } else { m });
    if big < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Orthonormal basis of R^d from a seeded Gram–Schmidt.
    fn basis(d: usize, count: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut r = SplitMix::new(seed);
        let mut b: Vec<Vec<f64>> = (0..count)
            .map(|_| (0..d).map(|_| f64::from(r.gauss())).collect())
            .collect();
        orthonormalize(&mut b);
        b
    }

    /// Points ±s_i·u_i around a centre: the covariance is exactly Σ 2 s_i² u_i u_iᵀ / (n − 1).
    fn star(centre: &[f64], axes: &[Vec<f64>], spreads: &[f64]) -> Matrix {
        let mut rows = Vec::new();
        for (u, s) in axes.iter().zip(spreads) {
            for sign in [1.0, -1.0] {
                rows.push(
                    centre
                        .iter()
                        .zip(u)
                        .map(|(c, x)| (c + sign * s * x) as f32)
                        .collect::<Vec<f32>>(),
                );
            }
        }
        Matrix::from_rows(&rows).unwrap()
    }

    fn assert_parallel(a: &[f32], b: &[f64], tol: f64) {
        let d: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
        assert!((d.abs() - 1.0).abs() < tol, "|cos| = {}", d.abs());
    }

    #[test]
    fn recovers_planted_axes_small_dim() {
        let d = 6;
        let axes = basis(d, 3, 11);
        let centre: Vec<f64> = (0..d).map(|i| i as f64 * 0.3).collect();
        let spreads = [5.0, 2.0, 1.0];
        let m = star(&centre, &axes, &spreads);
        let p = Pca::fit(&m, 3).unwrap();
        let n = m.rows() as f64;
        for i in 0..3 {
            assert_parallel(&p.components[i], &axes[i], 1e-5);
            let want = 2.0 * spreads[i] * spreads[i] / (n - 1.0);
            assert!((p.variances[i] - want).abs() < 1e-4 * want, "{i}");
        }
        let ratio: f64 = p.explained_ratio().iter().sum();
        assert!(
            (ratio - 1.0).abs() < 1e-6,
            "three axes hold all the variance"
        );
        for (c, want) in p.mean.iter().zip(&centre) {
            assert!((f64::from(*c) - want).abs() < 1e-5);
        }
        // Projection of a star point: its spread on its own axis, 0 on the others.
        let t = p.transform(m.row(0));
        assert!((f64::from(t[0].abs()) - 5.0).abs() < 1e-4 && t[1].abs() < 1e-4);
    }

    #[test]
    fn subspace_path_agrees_with_jacobi() {
        let d = 200;
        assert!(d > JACOBI_MAX_DIM);
        let axes = basis(d, 4, 5);
        let spreads = [9.0, 6.0, 3.0, 1.0];
        let m = star(&vec![0.5; d], &axes, &spreads);
        let p = Pca::fit(&m, 2).unwrap();
        assert_parallel(&p.components[0], &axes[0], 1e-6);
        assert_parallel(&p.components[1], &axes[1], 1e-6);
        let n = m.rows() as f64;
        assert!((p.variances[0] - 2.0 * 81.0 / (n - 1.0)).abs() < 1e-6);
        // The same matrix through full Jacobi gives the same leading eigenvalues.
        let mean = column_mean(&m);
        let (vals, _) = jacobi_eigen(covariance(&m, &mean), d);
        let mut vals = vals;
        vals.sort_by(|a, b| b.total_cmp(a));
        assert!((vals[0] - p.variances[0]).abs() < 1e-6);
        assert!((vals[1] - p.variances[1]).abs() < 1e-6);
    }

    #[test]
    fn jacobi_gives_eigenpairs() {
        let mut r = SplitMix::new(9);
        let n = 7;
        let mut a = vec![0f64; n * n];
        for i in 0..n {
            for j in i..n {
                let x = f64::from(r.next_signed());
                a[i * n + j] = x;
                a[j * n + i] = x;
            }
        }
        let (vals, vecs) = jacobi_eigen(a.clone(), n);
        for (j, lambda) in vals.iter().enumerate() {
            let v: Vec<f64> = (0..n).map(|i| vecs[i * n + j]).collect();
            let av = mat_vec(&a, n, &v);
            for i in 0..n {
                assert!((av[i] - lambda * v[i]).abs() < 1e-9);
            }
            assert!((dot64(&v, &v) - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn rejects_bad_input_and_fixes_signs() {
        assert!(Pca::fit(&Matrix::new(3), 1).is_err());
        let m = Matrix::from_rows(&[[1.0f32, 0.0], [-1.0, 0.0]]).unwrap();
        assert!(Pca::fit(&m, 3).is_err());
        assert!(Pca::fit(&m, 0).is_err());
        let p = Pca::fit(&m, 2).unwrap();
        assert_eq!(p.components[0], vec![1.0, 0.0]);
        // A single row: zero variance, no panic, zero projections.
        let one = Matrix::from_rows(&[[1.0f32, 2.0]]).unwrap();
        let p = Pca::fit(&one, 2).unwrap();
        assert_eq!(p.transform(&[1.0, 2.0]), vec![0.0, 0.0]);
    }
}
