//! k-means clustering with k-means++ seeding (Lloyd's iterations, several restarts, best
//! inertia kept). Squared Euclidean distance; on unit vectors that ranks like cosine.
//!
//! Written here rather than taken from `linfa-clustering`, which brings about forty more crates
//! into the build; measured against it (`scripts/eval/crate_compare/REPORT.md` §4): the same
//! inertia within 0.5 %, 1.2–1.8× faster.

use rayon::prelude::*;
use serde::Serialize;
use songrec_storage::math;

use crate::error::{DiscoverError, DiscoverResult};
use crate::linalg::Matrix;
use songrec_storage::rng::SplitMix;

/// Settings.
///
/// ```
/// let o = songrec_discover::kmeans::KMeansOptions::default();
/// assert_eq!(o.restarts, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, smart_default::SmartDefault)]
pub struct KMeansOptions {
    /// Seed of the k-means++ draws (same seed, same clusters).
    #[default = 42]
    pub seed: u64,
    /// Independent runs; the one with the lowest inertia wins.
    #[default = 4]
    pub restarts: usize,
    /// Lloyd iterations per run at most.
    #[default = 100]
    pub max_iter: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KMeans {
    /// Cluster of each row.
    pub labels: Vec<usize>,
    pub centroids: Vec<Vec<f32>>,
    /// Sum of squared distances of rows to their centre.
    pub inertia: f64,
    /// Lloyd iterations of the winning run.
    pub iterations: usize,
}

/// Clusters the rows of `m` into `k` groups.
///
/// ```
/// use songrec_discover::{Matrix, kmeans::{kmeans, KMeansOptions}};
/// let m = Matrix::from_rows(&[[0.0f32, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]]).unwrap();
/// let c = kmeans(&m, 2, &KMeansOptions::default()).unwrap();
/// assert_eq!(c.labels[0], c.labels[1]);
/// assert_ne!(c.labels[0], c.labels[2]);
/// ```
pub fn kmeans(m: &Matrix, k: usize, opts: &KMeansOptions) -> DiscoverResult<KMeans> {
    let n = m.rows();
    if k == 0 {
        return Err(DiscoverError::Invalid("k must be at least 1".into()));
    }
    if k > n {
        return Err(DiscoverError::Invalid(format!(
            "cannot make {k} clusters of {}; use a k of at most {n}",
            songrec_storage::plural::count(n, "song")
        )));
    }
    let mut rng = SplitMix::new(opts.seed);
    let mut best: Option<KMeans> = None;
    for _ in 0..opts.restarts.max(1) {
        let run = lloyd(m, plus_plus(m, k, &mut rng), opts.max_iter.max(1));
        if best.as_ref().is_none_or(|b| run.inertia < b.inertia) {
            best = Some(run);
        }
    }
    best.ok_or_else(|| DiscoverError::Invalid("no k-means run".into()))
}

fn dist2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// k-means++: the first centre uniformly, each next one with probability ∝ squared distance
/// to the nearest centre chosen so far.
fn plus_plus(m: &Matrix, k: usize, rng: &mut SplitMix) -> Vec<Vec<f32>> {
    let n = m.rows();
    let mut centres = vec![m.row(rng.below(n)).to_vec()];
    let mut d2: Vec<f32> = (0..n).map(|i| dist2(m.row(i), &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = d2.iter().map(|&x| f64::from(x)).sum();
        let pick = if total <= 0.0 {
            // Every row coincides with a centre: take any row not yet used, in order.
            rng.below(n)
        } else {
            let mut target = rng.next_f64() * total;
            let mut pick = n - 1;
            for (i, &x) in d2.iter().enumerate() {
                target -= f64::from(x);
                if target < 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        let c = m.row(pick).to_vec();
        d2.par_iter_mut()
            .enumerate()
            .for_each(|(i, x)| *x = x.min(dist2(m.row(i), &c)));
        centres.push(c);
    }
    centres
}

fn nearest(row: &[f32], centres: &[Vec<f32>]) -> (usize, f32) {
    let mut best = (0, f32::INFINITY);
    for (j, c) in centres.iter().enumerate() {
        let d = dist2(row, c);
        if d < best.1 {
            best = (j, d);
        }
    }
    best
}

fn lloyd(m: &Matrix, mut centres: Vec<Vec<f32>>, max_iter: usize) -> KMeans {
    let (n, d, k) = (m.rows(), m.dim(), centres.len());
    let mut labels = vec![usize::MAX; n];
    let mut iterations = 0;
    loop {
        iterations += 1;
        let assigned: Vec<(usize, f32)> = (0..n)
            .into_par_iter()
            .map(|i| nearest(m.row(i), &centres))
            .collect();
        let changed = assigned
            .iter()
            .zip(&labels)
            .filter(|((a, _), l)| a != *l)
            .count();
        for (l, (a, _)) in labels.iter_mut().zip(&assigned) {
            *l = *a;
        }
        // New centres: means of their rows; an empty cluster takes the row farthest from its centre.
        let mut sums = vec![vec![0f64; d]; k];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            for (s, x) in sums[l].iter_mut().zip(m.row(i)) {
                *s += f64::from(*x);
            }
        }
        let mut far: Vec<(f32, usize)> = assigned
            .iter()
            .enumerate()
            .map(|(i, (_, d))| (*d, i))
            .collect();
        far.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut far = far.into_iter();
        let mut reseeded = false;
        for j in 0..k {
            if counts[j] == 0 {
                if let Some((_, i)) = far.next() {
                    centres[j] = m.row(i).to_vec();
                    reseeded = true;
                }
            } else {
                centres[j] = sums[j]
                    .iter()
                    .map(|s| (s / counts[j] as f64) as f32)
                    .collect();
            }
        }
        if (changed == 0 && !reseeded) || iterations >= max_iter {
            break;
        }
    }
    let inertia = (0..n)
        .into_par_iter()
        .map(|i| f64::from(dist2(m.row(i), &centres[labels[i]])))
        .sum();
    KMeans {
        labels,
        centroids: centres,
        inertia,
        iterations,
    }
}

/// Purity of a clustering against reference labels: the share of items whose cluster's most
/// common reference label is their own. 1.0 is perfect; labelling everything one cluster
/// scores the share of the most common label.
///
/// ```
/// use songrec_discover::kmeans::purity;
/// assert_eq!(purity(&[0, 0, 1, 1], &["a", "a", "b", "b"]), 1.0);
/// assert_eq!(purity(&[0, 0, 0, 0], &["a", "a", "a", "b"]), 0.75);
/// ```
pub fn purity<L: Ord + Clone>(clusters: &[usize], labels: &[L]) -> f64 {
    use std::collections::BTreeMap;
    if clusters.is_empty() {
        return 0.0;
    }
    let mut counts: BTreeMap<usize, BTreeMap<L, usize>> = BTreeMap::new();
    for (c, l) in clusters.iter().zip(labels) {
        *counts.entry(*c).or_default().entry(l.clone()).or_default() += 1;
    }
    let hits: usize = counts
        .values()
        .map(|m| m.values().copied().max().unwrap_or(0))
        .sum();
    hits as f64 / clusters.len() as f64
}

/// Cosine similarity of a unit row to a centroid (centroids of unit rows are shorter than 1).
pub fn similarity_to_centroid(row: &[f32], centroid: &[f32]) -> f32 {
    let n = math::norm(centroid);
    if n > 0.0 {
        math::dot(row, centroid) / n
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blobs(centres: &[[f32; 3]], per: usize, spread: f32, seed: u64) -> (Matrix, Vec<usize>) {
        let mut r = SplitMix::new(seed);
        let mut rows = Vec::new();
        let mut truth = Vec::new();
        for _ in 0..per {
            for (c, centre) in centres.iter().enumerate() {
                rows.push(centre.map(|x| x + spread * r.gauss()));
                truth.push(c);
            }
        }
        (Matrix::from_rows(&rows).unwrap(), truth)
    }

    #[test]
    fn separates_blobs_perfectly() {
        let centres = [
            [0.0, 0.0, 0.0],
            [10.0, 0.0, 0.0],
            [0.0, 10.0, 0.0],
            [0.0, 0.0, 10.0],
        ];
        let (m, truth) = blobs(&centres, 30, 0.5, 1);
        let c = kmeans(&m, 4, &KMeansOptions::default()).unwrap();
        assert_eq!(purity(&c.labels, &truth), 1.0);
        assert_eq!(purity(&truth, &c.labels), 1.0, "and no blob is split");
        // The inertia is what the labels and centroids say it is.
        let recomputed: f64 = (0..m.rows())
            .map(|i| f64::from(dist2(m.row(i), &c.centroids[c.labels[i]])))
            .sum();
        assert!((recomputed - c.inertia).abs() < 1e-3 * recomputed.max(1.0));
    }

    #[test]
    fn deterministic_and_restarts_never_worse() {
        let centres = [[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 3.0, 0.0]];
        let (m, _) = blobs(&centres, 40, 1.2, 2);
        let o = KMeansOptions {
            restarts: 1,
            ..KMeansOptions::default()
        };
        let a = kmeans(&m, 5, &o).unwrap();
        assert_eq!(a, kmeans(&m, 5, &o).unwrap());
        let many = kmeans(
            &m,
            5,
            &KMeansOptions {
                restarts: 8,
                ..KMeansOptions::default()
            },
        )
        .unwrap();
        assert!(many.inertia <= a.inertia + 1e-9);
    }

    #[test]
    fn edge_cases() {
        let m = Matrix::from_rows(&[[1.0f32, 0.0], [1.0, 0.0], [1.0, 0.0]]).unwrap();
        assert!(kmeans(&m, 0, &KMeansOptions::default()).is_err());
        assert!(kmeans(&m, 4, &KMeansOptions::default()).is_err());
        // Identical rows: k = n still works, every cluster is used or the inertia is 0.
        let c = kmeans(&m, 3, &KMeansOptions::default()).unwrap();
        assert_eq!(c.inertia, 0.0);
        let one = kmeans(&m, 1, &KMeansOptions::default()).unwrap();
        assert_eq!(one.labels, vec![0, 0, 0]);
        assert!((similarity_to_centroid(&[1.0, 0.0], &one.centroids[0]) - 1.0).abs() < 1e-6);
    }
}
