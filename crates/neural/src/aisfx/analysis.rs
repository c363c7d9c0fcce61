//! What aisfx says about a song ([`AisfxAnalysis`]), and the pure pooling of its blocks.

use super::model::TEXTURE_DIM;

/// What aisfx says about one song.
#[derive(Debug, Clone, PartialEq)]
pub struct AisfxAnalysis {
    /// The stored vector: [`pooled`](Self::pooled) L2-normalised (1024 values).
    pub embedding: Vec<f32>,
    /// Mean over the blocks (512) then max over the blocks (512), before normalisation.
    pub pooled: Vec<f32>,
    /// Blocks cut from the audio.
    pub blocks: usize,
}

/// A song's texture part from its blocks' textures (`rows`, [`TEXTURE_DIM`] columns, pure):
/// the mean over the blocks (summed in f64), then `ln(1 + x)` of each value (the statistics are
/// never negative; a negative or NaN value counts as 0). Zeros when there is no block.
///
/// ```
/// let rows = [vec![1.0f32; 1024], vec![3.0; 1024]].concat();
/// let t = songrec_neural::aisfx::pool_texture(&rows);
/// assert_eq!(t.len(), 1024);
/// assert!((t[0] - 3f32.ln()).abs() < 1e-6);
/// ```
pub fn pool_texture(rows: &[f32]) -> Vec<f32> {
    let (sum, n) = crate::rows::column_sums(rows, TEXTURE_DIM);
    sum.iter()
        .map(|s| {
            let m = s / n.max(1) as f64;
            (if m > 0.0 { m } else { 0.0 }).ln_1p() as f32
        })
        .collect()
}

/// Mean then max over the rows of `rows` (`width` columns), and that vector L2-normalised
/// (pure; the mean summed in f64). `(normalised, raw)`.
///
/// ```
/// let (unit, raw) = songrec_neural::aisfx::pool_blocks(&[1.0, 0.0, 3.0, 0.0], 2);
/// assert_eq!(raw, vec![2.0, 0.0, 3.0, 0.0]);
/// assert!((unit[0] - 2.0 / 13f32.sqrt()).abs() < 1e-6);
/// ```
pub fn pool_blocks(rows: &[f32], width: usize) -> (Vec<f32>, Vec<f32>) {
    let width = width.max(1);
    let (sum, n) = crate::rows::column_sums(rows, width);
    let mut max = vec![if n == 0 { 0.0 } else { f32::NEG_INFINITY }; width];
    for row in rows.chunks_exact(width) {
        max.iter_mut().zip(row).for_each(|(m, x)| *m = m.max(*x));
    }
    let raw: Vec<f32> = sum
        .iter()
        .map(|s| (s / n.max(1) as f64) as f32)
        .chain(max)
        .collect();
    let norm = raw
        .iter()
        .map(|x| f64::from(*x).powi(2))
        .sum::<f64>()
        .sqrt();
    let unit = raw
        .iter()
        .map(|x| {
            if norm > 0.0 {
                (f64::from(*x) / norm) as f32
            } else {
                0.0
            }
        })
        .collect();
    (unit, raw)
}
