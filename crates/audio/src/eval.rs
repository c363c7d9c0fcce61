//! Retrieval evaluation (pure).

use crate::embed::cosine_similarity;

/// Leave-one-out same-label precision@k with cosine similarity.
///
/// For every item, the `k` most similar *other* items are retrieved (ties broken by index) and
/// the fraction sharing its label is averaged over all items. `k` is capped at `n - 1`.
/// Returns 0 for fewer than two items or `k == 0`.
///
/// ```
/// use songrec_audio::precision_at_k;
/// let labels = ["a", "a", "b", "b"];
/// let v = vec![vec![1.0, 0.0], vec![0.9, 0.1], vec![0.0, 1.0], vec![0.1, 0.9]];
/// assert_eq!(precision_at_k(&labels, &v, 1), 1.0);
/// assert_eq!(precision_at_k(&labels, &v, 3), 1.0 / 3.0);
/// ```
pub fn precision_at_k<L: PartialEq, V: AsRef<[f32]>>(labels: &[L], vectors: &[V], k: usize) -> f64 {
    let n = labels.len().min(vectors.len());
    if n < 2 || k == 0 {
        return 0.0;
    }
    let k = k.min(n - 1);
    let mut total = 0.0;
    for i in 0..n {
        let mut sims: Vec<(f32, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| {
                (
                    cosine_similarity(vectors[i].as_ref(), vectors[j].as_ref()),
                    j,
                )
            })
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits = sims[..k]
            .iter()
            .filter(|(_, j)| labels[*j] == labels[i])
            .count();
        total += hits as f64 / k as f64;
    }
    total / n as f64
}

/// Expected precision@k of a random ranking (leave-one-out): mean over items of
/// `(count(label) - 1) / (n - 1)`.
///
/// ```
/// let c = songrec_audio::eval::chance_precision(&["a", "a", "b", "b"]);
/// assert!((c - 1.0 / 3.0).abs() < 1e-12);
/// ```
pub fn chance_precision<L: PartialEq>(labels: &[L]) -> f64 {
    let n = labels.len();
    if n < 2 {
        return 0.0;
    }
    labels
        .iter()
        .map(|l| (labels.iter().filter(|m| *m == l).count() - 1) as f64 / (n - 1) as f64)
        .sum::<f64>()
        / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_random_and_inverted_rankings() {
        // Two tight clusters far apart.
        let labels = [0, 0, 0, 1, 1, 1];
        let v: Vec<Vec<f32>> = vec![
            vec![1.0, 0.0],
            vec![0.95, 0.05],
            vec![0.9, 0.1],
            vec![0.0, 1.0],
            vec![0.05, 0.95],
            vec![0.1, 0.9],
        ];
        assert_eq!(precision_at_k(&labels, &v, 1), 1.0);
        assert_eq!(precision_at_k(&labels, &v, 2), 1.0);
        // k=5 = all others: 2 of 5 share the label.
        assert!((precision_at_k(&labels, &v, 5) - 0.4).abs() < 1e-12);
        assert!((precision_at_k(&labels, &v, 50) - 0.4).abs() < 1e-12);
        // Labels that disagree with geometry.
        let wrong = [0, 1, 0, 1, 0, 1];
        assert!(precision_at_k(&wrong, &v, 1) < 0.5);
        assert_eq!(precision_at_k(&labels[..1], &v[..1], 1), 0.0);
        assert!((chance_precision(&labels) - 0.4).abs() < 1e-12);
    }

    #[test]
    fn self_is_excluded() {
        // Identical vectors but different labels: self-match would give 1.0.
        let labels = ["x", "y"];
        let v = vec![vec![1.0f32, 0.0], vec![1.0, 0.0]];
        assert_eq!(precision_at_k(&labels, &v, 1), 0.0);
    }
}
