//! songrec_discover's PCA and k-means (by path) vs linfa-reduction / linfa-clustering 0.8 and a
//! nalgebra covariance + symmetric eigendecomposition, on Gaussian-mixture data. Prints a table.
use std::time::Instant;

use linfa::prelude::*;
use linfa::DatasetBase;
use rand::SeedableRng;
use ndarray::Array2;
use songrec_discover::Matrix;
use songrec_discover::kmeans::{KMeansOptions, kmeans};
use songrec_discover::pca::Pca;

struct Rng(u64);
impl Rng {
    fn u(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn n(&mut self) -> f64 {
        let (a, b) = (self.u().max(1e-300), self.u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

/// n points, 12 centres (N(0, 3²) per coordinate), unit noise whose scale decays with the
/// coordinate index (so there is a clear ordering of directions for PCA).
fn mixture(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let scale: f64 = std::env::var("CENTRE_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let mut r = Rng(seed);
    let centres: Vec<Vec<f64>> = (0..12).map(|_| (0..d).map(|_| scale * r.n()).collect()).collect();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let c = &centres[(r.u() * 12.0) as usize % 12];
        for j in 0..d {
            out.push((c[j] + r.n() * (1.0 + 2.0 / (1.0 + j as f64))) as f32);
        }
    }
    out
}

/// Share of the total variance captured by the given (unit) components, computed the same way
/// for every method: variance of the projections, in f64.
fn explained(x: &[f32], n: usize, d: usize, comps: &[Vec<f64>]) -> f64 {
    let mut mean = vec![0f64; d];
    for i in 0..n { for j in 0..d { mean[j] += x[i * d + j] as f64; } }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut total = 0.0;
    let mut along = vec![0.0; comps.len()];
    for i in 0..n {
        let row = &x[i * d..(i + 1) * d];
        for j in 0..d { let c = row[j] as f64 - mean[j]; total += c * c; }
        for (k, v) in comps.iter().enumerate() {
            let p: f64 = (0..d).map(|j| (row[j] as f64 - mean[j]) * v[j]).sum();
            along[k] += p * p;
        }
    }
    along.iter().sum::<f64>() / total
}

fn inertia(x: &[f32], n: usize, d: usize, labels: &[usize], centroids: &[Vec<f64>]) -> f64 {
    (0..n).map(|i| (0..d).map(|j| (x[i * d + j] as f64 - centroids[labels[i]][j]).powi(2)).sum::<f64>()).sum()
}

fn secs<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed().as_secs_f64())
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "all".into());
    let k_pca = 3;
    if what == "linfa-probe" {
        // Does linfa's PCA work at all here, and from which size does it fail?
        for (n, d, k) in [(1000usize, 16usize, 2usize), (1000, 64, 3), (5000, 128, 3), (10_000, 512, 2), (100_000, 64, 2)] {
            let x = mixture(n, d, 7);
            let a64 = Array2::from_shape_vec((n, d), x.iter().map(|&v| v as f64).collect()).unwrap();
            let r = std::panic::catch_unwind(|| linfa_reduction::Pca::params(k).fit(&DatasetBase::from(a64.clone())).map(|f| f.explained_variance_ratio().to_vec()));
            println!("linfa Pca {n}x{d} k={k}: {}", match r { Ok(Ok(v)) => format!("ok, ratios {v:?}"), Ok(Err(e)) => format!("error {e}"), Err(_) => "panic".into() });
        }
        return;
    }
    println!("| data | task | implementation | time s | quality |");
    println!("|---|---|---|---:|---|");
    for (n, d) in [(10_000usize, 512usize), (100_000, 64)] {
        let x = mixture(n, d, 7);
        let tag = format!("{n}×{d}");
        let rows: Vec<&[f32]> = x.chunks(d).collect();
        let m = Matrix::from_rows(&rows).unwrap();
        let a32 = Array2::from_shape_vec((n, d), x.clone()).unwrap();
        if what == "all" || what == "pca" {
            let (p, t) = secs(|| Pca::fit(&m, k_pca).unwrap());
            let comps: Vec<Vec<f64>> = p.components.iter().map(|c| c.iter().map(|&v| v as f64).collect()).collect();
            println!("| {tag} | PCA top {k_pca} | songrec_discover::pca::Pca::fit | {t:.3} | explained {:.5} |", explained(&x, n, d, &comps));
            let (fit, t) = secs(|| std::panic::catch_unwind(|| {
                let a64 = a32.mapv(|v| v as f64);
                let ds = DatasetBase::from(a64);
                linfa_reduction::Pca::params(k_pca).whiten(false).fit(&ds)
            }));
            match fit {
                Ok(Ok(fit)) => {
                    let comps: Vec<Vec<f64>> = fit.components().rows().into_iter().map(|r| r.to_vec()).collect();
                    println!("| {tag} | PCA top {k_pca} | linfa_reduction::Pca (f64, LOBPCG truncated SVD) | {t:.3} | explained {:.5} |", explained(&x, n, d, &comps));
                }
                Ok(Err(e)) => println!("| {tag} | PCA top {k_pca} | linfa_reduction::Pca (f64, LOBPCG truncated SVD) | {t:.3} | error: {e} |"),
                Err(_) => println!("| {tag} | PCA top {k_pca} | linfa_reduction::Pca (f64, LOBPCG truncated SVD) | {t:.3} | **panicked** (NaN values in array, linfa-linalg eigh.rs) |"),
            }
            let (comps, t) = secs(|| {
                let xm = nalgebra::DMatrix::<f64>::from_fn(n, d, |i, j| x[i * d + j] as f64);
                let mean = xm.row_mean();
                let mut c = xm;
                for mut r in c.row_iter_mut() { r -= &mean; }
                let cov = c.tr_mul(&c) / (n as f64 - 1.0);
                let e = nalgebra::SymmetricEigen::new(cov);
                let mut idx: Vec<usize> = (0..d).collect();
                idx.sort_by(|&a, &b| e.eigenvalues[b].partial_cmp(&e.eigenvalues[a]).unwrap());
                idx[..k_pca].iter().map(|&i| e.eigenvectors.column(i).iter().copied().collect::<Vec<f64>>()).collect::<Vec<_>>()
            });
            println!("| {tag} | PCA top {k_pca} | nalgebra covariance + SymmetricEigen (f64) | {t:.3} | explained {:.5} |", explained(&x, n, d, &comps));
        }
        if what == "all" || what == "kmeans" {
            let opts = KMeansOptions { seed: 42, restarts: 4, max_iter: 100 };
            let (c, t) = secs(|| kmeans(&m, 12, &opts).unwrap());
            let cents: Vec<Vec<f64>> = c.centroids.iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
            println!("| {tag} | k-means k=12, 4 runs, ≤100 iter | songrec_discover::kmeans::kmeans | {t:.3} | inertia {:.6e} ({} iter) |", inertia(&x, n, d, &c.labels, &cents), c.iterations);
            let (res, t) = secs(|| {
                let ds = DatasetBase::from(a32.clone());
                let rng = rand_xoshiro::Xoshiro256Plus::seed_from_u64(42);
                let model = linfa_clustering::KMeans::params_with_rng(12, rng)
                    .n_runs(4).max_n_iterations(100).tolerance(1e-4).fit(&ds).unwrap();
                let labels = model.predict(&a32);
                (model, labels)
            });
            let cents: Vec<Vec<f64>> = res.0.centroids().rows().into_iter().map(|r| r.iter().map(|&v| v as f64).collect()).collect();
            let labels: Vec<usize> = res.1.to_vec();
            println!("| {tag} | k-means k=12, 4 runs, ≤100 iter | linfa_clustering::KMeans (k-means++, tol 1e-4) | {t:.3} | inertia {:.6e} |", inertia(&x, n, d, &labels, &cents));
        }
    }
}
