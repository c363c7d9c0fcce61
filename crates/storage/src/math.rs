//! Pure vector math: norms, dot products (AVX2+FMA when available), scores and top-k.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};

/// How vectors are compared. Every metric reports a *similarity* (higher is closer):
///
/// | metric | similarity | range |
/// |---|---|---|
/// | `cosine` | cos(q, v) | -1 ..= 1 |
/// | `dot` | q · v | any |
/// | `l2` | 1 / (1 + ‖q − v‖²), and the distance ‖q − v‖ is reported too | 0 ..= 1 |
///
/// ```
/// use songrec_storage::Metric;
/// assert_eq!("euclidean".parse::<Metric>().unwrap(), Metric::L2);
/// assert_eq!(Metric::Cosine.to_string(), "cosine");
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Metric {
    /// Cosine similarity.
    #[default]
    Cosine,
    /// Inner product.
    Dot,
    /// Euclidean distance, reported as similarity `1/(1+d²)`.
    L2,
}

impl FromStr for Metric {
    type Err = StorageError;
    fn from_str(s: &str) -> StorageResult<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" | "cos" => Ok(Self::Cosine),
            "dot" | "dot_product" | "ip" => Ok(Self::Dot),
            "l2" | "euclidean" => Ok(Self::L2),
            _ => Err(StorageError::InvalidInput(format!(
                "unknown metric {s:?}; use cosine, dot or l2"
            ))),
        }
    }
}

/// Euclidean norm.
///
/// ```
/// assert_eq!(songrec_storage::math::norm(&[3.0, 4.0]), 5.0);
/// ```
pub fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

/// The Euclidean norm if the vector can be searched: every value finite and the norm itself
/// finite (`[3e38, 3e38]` has finite values but its norm overflows `f32`). `None` otherwise.
///
/// ```
/// use songrec_storage::math::checked_norm;
/// assert_eq!(checked_norm(&[3.0, 4.0]), Some(5.0));
/// assert_eq!(checked_norm(&[3e38, 3e38]), None);
/// assert_eq!(checked_norm(&[f32::NAN, 1.0]), None);
/// ```
pub fn checked_norm(v: &[f32]) -> Option<f32> {
    Some(norm(v)).filter(|n| n.is_finite() && v.iter().all(|x| x.is_finite()))
}

/// Inner product of two equally long slices (extra elements of the longer one are ignored).
///
/// ```
/// assert_eq!(songrec_storage::math::dot(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]), 32.0);
/// ```
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { dot_avx2(a, b) };
        }
    }
    dot_portable(a, b)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: &[f32], b: &[f32]) -> f32 {
    dot_portable(a, b)
}

#[inline(always)]
fn dot_portable(a: &[f32], b: &[f32]) -> f32 {
    songrec_lanes::dot_fused::<32>(a, b)
}

/// Similarity of `v` to the query under `metric`, given the precomputed dot product and norms.
/// Returns `(similarity, distance)`; the distance is only reported for `l2`.
///
/// A non-finite input scores NaN, which [`TopK`] never keeps.
///
/// ```
/// use songrec_storage::{Metric, math::score};
/// let (s, d) = score(Metric::L2, 0.0, 1.0, 1.0); // orthogonal unit vectors: d² = 2
/// assert!((s - 1.0 / 3.0).abs() < 1e-6);
/// assert!((d.unwrap() - 2f32.sqrt()).abs() < 1e-6);
/// ```
#[inline]
pub fn score(metric: Metric, dot: f32, q_norm: f32, v_norm: f32) -> (f32, Option<f32>) {
    if !(dot.is_finite() && q_norm.is_finite() && v_norm.is_finite()) {
        return (f32::NAN, None);
    }
    match metric {
        Metric::Cosine => {
            let denom = q_norm * v_norm;
            let c = if denom.is_infinite() {
                // The product of two large norms overflows f32; the ratio does not.
                (f64::from(dot) / (f64::from(q_norm) * f64::from(v_norm))) as f32
            } else if denom > 0.0 {
                dot / denom
            } else {
                0.0
            };
            (c.clamp(-1.0, 1.0), None)
        }
        Metric::Dot => (dot, None),
        Metric::L2 => {
            let mut d2 = q_norm * q_norm + v_norm * v_norm - 2.0 * dot;
            if !d2.is_finite() {
                // Squares of large norms overflow f32 (and `inf - inf` is NaN, which `max`
                // would turn into a perfect match): redo the sum in f64.
                let (q, v, d) = (f64::from(q_norm), f64::from(v_norm), f64::from(dot));
                d2 = (q * q + v * v - 2.0 * d) as f32;
            }
            let d2 = d2.max(0.0);
            (1.0 / (1.0 + d2), Some(d2.sqrt()))
        }
    }
}

/// A scored candidate; `Ord` puts better candidates first (higher score, then lower key).
#[derive(Clone, Debug, PartialEq)]
pub struct Scored<K> {
    /// Similarity.
    pub score: f32,
    /// Tie-breaker and payload (e.g. an id or a row number).
    pub key: K,
}

impl<K: Ord> Eq for Scored<K> {}

impl<K: Ord> PartialOrd for Scored<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K: Ord> Ord for Scored<K> {
    /// `Less` means "better": sorting ascending yields the ranking.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .score
            .total_cmp(&self.score)
            .then_with(|| self.key.cmp(&other.key))
    }
}

/// Most candidates a [`TopK`] reserves room for before any is pushed.
const PREALLOCATED_MAX: usize = 4096;

/// Keeps the `n` best of a stream of candidates.
///
/// ```
/// use songrec_storage::math::TopK;
/// let mut t = TopK::new(2);
/// for (s, k) in [(0.1, "a"), (0.9, "b"), (0.5, "c"), (0.9, "a")] { t.push(s, k); }
/// let best: Vec<_> = t.into_sorted().into_iter().map(|x| x.key).collect();
/// assert_eq!(best, ["a", "b"]); // tie on 0.9 broken by key
/// ```
#[derive(Debug)]
pub struct TopK<K: Ord> {
    n: usize,
    // Max-heap on "worse": the root is the worst kept candidate.
    heap: BinaryHeap<Scored<K>>,
}

impl<K: Ord> TopK<K> {
    /// Keeps at most `n` (memory grows with what is kept, not with `n`).
    pub fn new(n: usize) -> Self {
        Self {
            n,
            heap: BinaryHeap::with_capacity(n.min(PREALLOCATED_MAX).saturating_add(1)),
        }
    }

    /// The score a new candidate must beat to enter (None while not full).
    #[inline]
    pub fn floor(&self) -> Option<f32> {
        let full = self.heap.len() >= self.n;
        self.heap.peek().filter(|_| full).map(|w| w.score)
    }

    /// Offers a candidate. A NaN score (see [`score`]) is never kept.
    #[inline]
    pub fn push(&mut self, score: f32, key: K) {
        if self.n == 0 || score.is_nan() {
            return;
        }
        let cand = Scored { score, key };
        if self.heap.len() < self.n {
            self.heap.push(cand);
        } else if let Some(worst) = self.heap.peek()
            && cand < *worst
        {
            self.heap.pop();
            self.heap.push(cand);
        }
    }

    /// Merges another selection (e.g. from another thread).
    pub fn merge(&mut self, other: TopK<K>) {
        for s in other.heap {
            self.push(s.score, s.key);
        }
    }

    /// Best first.
    pub fn into_sorted(self) -> Vec<Scored<K>> {
        self.heap.into_sorted_vec()
    }
}

/// Cosine similarity, clamped to −1..1; 0 when either vector is all zeros or the lengths differ.
/// The one cosine of the workspace (search scores go through [`score`]).
///
/// ```
/// use songrec_storage::math::cosine;
/// assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.70710677).abs() < 1e-6);
/// assert_eq!(cosine(&[0.0, 0.0], &[1.0, 1.0]), 0.0);
/// assert_eq!(cosine(&[1.0], &[1.0, 1.0]), 0.0);
/// ```
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let d = norm(a) * norm(b);
    if a.len() == b.len() && d > 0.0 {
        (dot(a, b) / d).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// L2-normalises a vector in place (zero vectors stay zero).
pub fn normalize(v: &mut [f32]) {
    let n = norm(v);
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_for_all_lengths() {
        for n in [0usize, 1, 7, 31, 32, 33, 64, 100, 512, 513] {
            let a: Vec<f32> = (0..n).map(|i| ((i * 7919) % 13) as f32 - 6.0).collect();
            let b: Vec<f32> = (0..n)
                .map(|i| ((i * 104_729) % 11) as f32 * 0.5 - 2.0)
                .collect();
            let naive: f64 = a
                .iter()
                .zip(&b)
                .map(|(x, y)| f64::from(*x) * f64::from(*y))
                .sum();
            assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-3, "n={n}");
        }
    }

    #[test]
    fn scores_follow_the_definitions() {
        // q = (1,0), v = (0.6, 0.8): cos 0.6, dot 0.6, d² = 0.16 + 0.64 = 0.8
        let (c, d) = score(Metric::Cosine, 0.6, 1.0, 1.0);
        assert!((c - 0.6).abs() < 1e-6 && d.is_none());
        let (c, _) = score(Metric::Cosine, 1.2, 1.0, 2.0);
        assert!((c - 0.6).abs() < 1e-6);
        assert_eq!(score(Metric::Dot, 0.6, 1.0, 1.0).0, 0.6);
        let (s, d) = score(Metric::L2, 0.6, 1.0, 1.0);
        assert!((s - 1.0 / 1.8).abs() < 1e-6);
        assert!((d.unwrap() - 0.8f32.sqrt()).abs() < 1e-6);
        assert_eq!(score(Metric::Cosine, 0.0, 0.0, 1.0).0, 0.0);
    }

    #[test]
    fn topk_of_a_users_huge_count_reserves_nothing_up_front() {
        // `similar -k 100000000000` once reserved 4 TB here (and `usize::MAX` overflowed).
        for n in [100_000_000_000, usize::MAX] {
            let mut t = TopK::new(n);
            t.push(0.5, 1u32);
            t.push(0.9, 2u32);
            let got: Vec<u32> = t.into_sorted().into_iter().map(|x| x.key).collect();
            assert_eq!(got, [2, 1]);
        }
    }

    #[test]
    fn topk_keeps_best_with_deterministic_ties() {
        let mut t = TopK::new(3);
        let items = [(0.5, 4), (0.9, 2), (0.1, 9), (0.9, 1), (0.7, 3), (0.5, 0)];
        for (s, k) in items {
            t.push(s, k);
        }
        let got: Vec<_> = t
            .into_sorted()
            .into_iter()
            .map(|s| (s.score, s.key))
            .collect();
        assert_eq!(got, vec![(0.9, 1), (0.9, 2), (0.7, 3)]);

        let mut a = TopK::new(2);
        a.push(0.3, 1);
        a.push(0.2, 2);
        let mut b = TopK::new(2);
        b.push(0.8, 3);
        a.merge(b);
        let got: Vec<_> = a.into_sorted().into_iter().map(|s| s.key).collect();
        assert_eq!(got, vec![3, 1]);
        assert_eq!(TopK::<u8>::new(0).into_sorted().len(), 0);
    }

    #[test]
    fn non_finite_and_overflowing_inputs_never_score() {
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            for (d, q, v) in [
                (f32::NAN, 1.0, 1.0),
                (0.5, 1.0, f32::NAN),
                (-f32::NAN, 1.0, 1.0),
                (f32::INFINITY, 1.0, 1.0),
                (0.5, 1.0, f32::INFINITY),
                (0.5, f32::NEG_INFINITY, 1.0),
            ] {
                let (s, dist) = score(metric, d, q, v);
                assert!(s.is_nan() && dist.is_none(), "{metric:?} {d} {q} {v}: {s}");
            }
        }
        // A NaN score is never kept, whatever its sign (total_cmp would rank +NaN best).
        let mut t = TopK::new(3);
        t.push(f32::NAN, 1);
        t.push(0.5, 2);
        t.push(-f32::NAN, 3);
        let got: Vec<_> = t.into_sorted().into_iter().map(|s| s.key).collect();
        assert_eq!(got, vec![2]);
        // Norms that overflow f32.
        assert_eq!(norm(&[3e38, 3e38]), f32::INFINITY);
        assert_eq!(checked_norm(&[3e38, 3e38]), None);
        assert_eq!(checked_norm(&[f32::INFINITY]), None);
        assert_eq!(checked_norm(&[1e19, 1e19]).map(f32::is_finite), Some(true));
        // Finite but large norms: squares overflow f32, yet two far-apart vectors must not
        // look identical (inf - inf = NaN, which `max(0.0)` turned into distance 0).
        let big = 2e19f32;
        let (s, d) = score(Metric::L2, big * (big / 2.0), big, big);
        assert!(s < 1e-30 && d.unwrap() > 1e19, "{s} {d:?}");
        let (c, _) = score(Metric::Cosine, big, big, big);
        assert!(c > 0.0 && c < 1e-18, "{c}");
    }

    #[test]
    fn normalize_unit_length() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert!((norm(&v) - 1.0).abs() < 1e-6);
        let mut z = vec![0.0; 3];
        normalize(&mut z);
        assert_eq!(z, vec![0.0; 3]);
    }
}
