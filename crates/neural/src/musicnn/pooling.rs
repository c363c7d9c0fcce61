//! From raw model outputs to a song's analysis (all pure): which patches each network gets,
//! the means, the L2 steps and the tags.

use crate::rows::column_sums;

use super::model::{N_TAGS, PENULTIMATE_DIM};
use super::output::{ModelOutput, Net, NeuralAnalysis};
use super::tags::{MTT_TAGS, TAGS};

/// Which patches of `n` each network runs on: MSD the even-numbered, MTT the odd-numbered;
/// both the only patch when there is one (pure).
///
/// ```
/// use songrec_neural::musicnn::{split_patches, Net};
/// assert_eq!(split_patches(8, Net::Msd), vec![0, 2, 4, 6]);
/// assert_eq!(split_patches(8, Net::Mtt), vec![1, 3, 5, 7]);
/// assert_eq!(split_patches(3, Net::Mtt), vec![1]);
/// assert_eq!(split_patches(1, Net::Mtt), vec![0]);
/// ```
pub fn split_patches(n: usize, net: Net) -> Vec<usize> {
    if n <= 1 {
        return (0..n).collect();
    }
    let first = match net {
        Net::Msd => 0,
        Net::Mtt => 1,
    };
    (first..n).step_by(2).collect()
}

/// Mean `penultimate` over the patches of `out`, before any normalisation (pure; summed in
/// f64, rounded once to f32).
///
/// ```
/// use songrec_neural::musicnn::{pooled_penultimate, ModelOutput};
/// let out = ModelOutput { patches: 2, penultimate: [vec![3.0; 200], vec![1.0; 200]].concat(),
///     taggram: vec![0.5; 100] };
/// assert_eq!(pooled_penultimate(&out), vec![2.0f32; 200]);
/// ```
pub fn pooled_penultimate(out: &ModelOutput) -> Vec<f32> {
    let (sum, rows) = column_sums(&out.penultimate, PENULTIMATE_DIM);
    let n = rows.max(1) as f64;
    sum.iter().map(|s| (s / n) as f32).collect()
}

/// The L2-normalised f64 sum of one network's `penultimate` rows, scaled by `scale` (pure; the
/// uniform vector when the sum has no length).
fn unit_mean(out: &ModelOutput, scale: f64) -> Vec<f32> {
    let (sum, _) = column_sums(&out.penultimate, PENULTIMATE_DIM);
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 1e-12 && norm.is_finite() {
        sum.iter().map(|x| (x / norm * scale) as f32).collect()
    } else {
        vec![(scale / (PENULTIMATE_DIM as f64).sqrt()) as f32; PENULTIMATE_DIM]
    }
}

/// Mean tag probabilities over the rows of `out`, named by `names`, most probable first (pure).
fn mean_tags(out: &ModelOutput, names: &[&str; N_TAGS]) -> Vec<(String, f32)> {
    let n = out.patches.max(1);
    let (tag_mean, _) = column_sums(&out.taggram, N_TAGS);
    let mut tags: Vec<(String, f32)> = names
        .iter()
        .zip(&tag_mean)
        .map(|(t, m)| ((*t).to_string(), (m / n as f64) as f32))
        .collect();
    tags.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    tags
}

/// The song's analysis from the two networks' raw outputs (pure): the embedding is
/// `[mean_msd / |mean_msd|, mean_mtt / |mean_mtt|] / √2` (each mean an f64 sum of the rows,
/// rounded once to f32), `pooled` the two raw means ([`pooled_penultimate`]) one after the
/// other, the tags MSD's mean tag probabilities and the sound tags MTT's, most probable first,
/// and `patches` the model
/// runs of both (`analyze` reports the patches cut instead).
///
/// ```
/// use songrec_neural::musicnn::{pool_outputs, ModelOutput};
/// let msd = ModelOutput { patches: 2, penultimate: [vec![3.0; 200], vec![1.0; 200]].concat(),
///     taggram: vec![0.5; 100] };
/// let mtt = ModelOutput { patches: 1, penultimate: vec![-1.0; 200], taggram: vec![0.1; 50] };
/// let a = pool_outputs(&msd, &mtt, 6.0);
/// let norm: f32 = a.embedding.iter().map(|x| x * x).sum();
/// assert!((norm - 1.0).abs() < 1e-5);
/// assert_eq!(a.embedding.len(), 400);
/// assert!(a.embedding[..200].iter().all(|x| *x > 0.0) && a.embedding[200..].iter().all(|x| *x < 0.0));
/// assert_eq!(a.pooled[..200], vec![2.0; 200][..]);
/// assert_eq!(a.pooled[200..], vec![-1.0; 200][..]);
/// assert_eq!(a.tags.len(), 50);
/// assert_eq!(a.sound_tags.len(), 50);
/// ```
pub fn pool_outputs(msd: &ModelOutput, mtt: &ModelOutput, analysed_secs: f32) -> NeuralAnalysis {
    let half = std::f64::consts::FRAC_1_SQRT_2;
    let mut embedding = unit_mean(msd, half);
    embedding.extend(unit_mean(mtt, half));
    let mut pooled = pooled_penultimate(msd);
    pooled.extend(pooled_penultimate(mtt));
    NeuralAnalysis {
        embedding,
        pooled,
        tags: mean_tags(msd, &TAGS),
        sound_tags: mean_tags(mtt, &MTT_TAGS),
        patches: msd.patches + mtt.patches,
        analysed_secs,
    }
}
