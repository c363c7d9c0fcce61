//! songrec's ranking core: one similarity question ([`Question`]: the vectors compared, one
//! model or a weighted blend of several such as 0.7 musicnn + 0.3 DSP, and what is asked of
//! the ranking), and the one search every ranking shares.
//!
//! `similar`, playlists, the map, clusters and outliers take the same [`Space`], so the same
//! question gets the same neighbours whichever command asks it. **The crate knows only the
//! storage contract**: no audio, fingerprints, drawing or playlists (answering "similar" needs
//! none of them, and `discover` ranks with it without a circle).
//!
//! - [`search`]: nearest songs to a query in a space. One model: one backend search. A blend:
//!   each model is asked for a candidate pool ([`pool_size`]), every candidate is scored on every
//!   model (the few vectors a pool lacks are fetched), and candidates are ranked by [`blend`].
//! - [`blend`]: the pure ranking of a blend. Scores of different models live on different scales
//!   (DSP cosines spread over −1..1, musicnn's sit in 0.5..1), so each model's scores are
//!   standardised over the candidates before mixing.
//! - [`combine`]: one vector per song for the whole-set algorithms (flow order, paths, PCA,
//!   k-means): each model's unit vector scaled by `√(wᵢ / sdᵢ)` (sdᵢ: the spread of that model's
//!   cosines over pairs of the songs), concatenated and normalised. A dot product of two combined
//!   vectors is then `Σ (wᵢ/sdᵢ)·cosᵢ / Σ (wᵢ/sdᵢ)`: for one query it ranks exactly like the
//!   standardised mix of [`blend`] (whose per-model means only shift every candidate alike).

use std::collections::HashMap;

use futures::StreamExt;
use serde::Serialize;
use songrec_storage::{
    Match, Metric, ModelInfo, Ranking, SearchQuery, SongId, SongMetadata, StorageBackend,
    StorageError, StorageResult, math,
};

/// One model's share of a space.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Part {
    /// Whose vectors.
    pub model: ModelInfo,
    /// Weight in a blend (normalised over the parts; ignored for a single model).
    pub weight: f32,
}

/// The vectors a ranking compares: one model, or a weighted blend.
///
/// ```
/// use songrec_rank::Space;
/// use songrec_storage::ModelInfo;
/// let one = Space::from(ModelInfo::new("songrec-dsp", "3", 4));
/// assert_eq!(one.key(), "songrec-dsp@3");
/// let two = Space::blend(vec![(ModelInfo::new("musicnn-msd", "2", 8), 0.7),
///                             (ModelInfo::new("songrec-dsp", "3", 4), 0.3)]);
/// assert_eq!(two.key(), "musicnn-msd@2 ×0.7 + songrec-dsp@3 ×0.3");
/// assert_eq!(two.dim(), 12);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Space {
    /// The models (at least one).
    pub parts: Vec<Part>,
}

impl From<ModelInfo> for Space {
    fn from(model: ModelInfo) -> Self {
        Space {
            parts: vec![Part { model, weight: 1.0 }],
        }
    }
}

impl Space {
    /// A blend of models with their weights.
    pub fn blend(parts: Vec<(ModelInfo, f32)>) -> Self {
        Space {
            parts: parts
                .into_iter()
                .map(|(model, weight)| Part { model, weight })
                .collect(),
        }
    }

    /// `NAME@VERSION` of a single model; `A@1 ×0.7 + B@2 ×0.3` for a blend.
    pub fn key(&self) -> String {
        match self.parts.as_slice() {
            [one] => one.model.key(),
            parts => parts
                .iter()
                .map(|p| format!("{} ×{}", p.model.key(), short_number(p.weight)))
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }

    /// Dimension of a combined vector (the sum of the models' dimensions).
    pub fn dim(&self) -> usize {
        self.parts.iter().map(|p| p.model.dim).sum()
    }

    /// The weights, normalised to sum to 1 (negative ones count as 0; all equal when none is
    /// positive).
    pub fn weights(&self) -> Vec<f32> {
        normalised(&self.parts.iter().map(|p| p.weight).collect::<Vec<_>>())
    }
}

/// A weight as people write it: at most 3 decimals, no trailing zeros (`1 - 0.8` shows 0.2).
fn short_number(x: f32) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".into()
    } else {
        s.to_owned()
    }
}

fn normalised(weights: &[f32]) -> Vec<f32> {
    let m = weights.len();
    let sum: f32 = weights.iter().map(|w| w.max(0.0)).sum();
    if sum > 0.0 {
        weights.iter().map(|x| x.max(0.0) / sum).collect()
    } else {
        vec![1.0 / m.max(1) as f32; m]
    }
}

/// Candidate pool per model for a blend of `k` results after `offset`, on a backend whose
/// searches reach at most `max` ([`StorageBackend::max_results`]).
pub fn pool_size(k: usize, offset: usize, max: usize) -> usize {
    k.saturating_add(offset).saturating_mul(5).max(50).min(max)
}

/// A similarity question: the vectors compared and what is asked of the ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Question {
    /// One model, or several to blend.
    pub space: Space,
    /// Results wanted, metric (a blend takes cosine or dot, both compared as cosine),
    /// threshold on the shown similarity, filter, exactness.
    pub ranking: Ranking,
}

/// The nearest songs to a query in the question's space, best first: `vectors` holds the
/// query's vector for each part (in the space's order); `exclude`, songs never returned (e.g.
/// the query itself).
pub async fn search(
    backend: &dyn StorageBackend,
    q: &Question,
    vectors: &[Vec<f32>],
    exclude: &[SongId],
) -> StorageResult<Vec<Match>> {
    let (space, r) = (&q.space, &q.ranking);
    let invalid = |m: String| Err(StorageError::InvalidInput(m));
    if space.parts.is_empty() || vectors.len() != space.parts.len() {
        let (v, m) = (vectors.len(), space.parts.len());
        return invalid(format!("{v} query vectors for {m} models"));
    }
    let query = |part: &Part, v: &Vec<f32>, ranking| SearchQuery {
        model: part.model.clone(),
        vector: v.clone(),
        exclude: exclude.to_vec(),
        ranking,
    };
    if let ([part], [v]) = (space.parts.as_slice(), vectors) {
        return backend.search(&query(part, v, r.clone())).await;
    }
    if r.metric == Metric::L2 {
        return invalid("a blend mixes cosine similarities; it cannot rank by l2".into());
    }
    let n = space.parts.len();
    let pool = Ranking {
        k: pool_size(r.k, r.offset, backend.max_results()),
        offset: 0,
        metric: Metric::Cosine,
        threshold: None,
        ..r.clone()
    };
    // id -> (metadata, score per part)
    let mut cands: HashMap<SongId, (SongMetadata, Vec<Option<f32>>)> = HashMap::new();
    let mut pool_min = vec![0f32; n];
    let mut approximate = false;
    for (i, (part, v)) in space.parts.iter().zip(vectors).enumerate() {
        let ms = backend.search(&query(part, v, pool.clone())).await?;
        approximate |= ms.iter().any(|m| m.approximate);
        pool_min[i] = ms.last().map_or(0.0, |m| m.similarity);
        for m in ms {
            let e = cands
                .entry(m.id.clone())
                .or_insert_with(|| (m.metadata, vec![None; n]));
            e.1[i] = Some(m.similarity);
        }
    }
    // Score each candidate on the models whose pool missed it.
    let missing: Vec<(SongId, usize)> = cands
        .iter()
        .flat_map(|(id, (_, s))| {
            s.iter()
                .enumerate()
                .filter(|(_, x)| x.is_none())
                .map(move |(i, _)| (id.clone(), i))
        })
        .collect();
    let fetched: Vec<StorageResult<(SongId, usize, Option<f32>)>> =
        futures::stream::iter(missing.into_iter().map(|(id, i)| {
            let model = &space.parts[i].model;
            let qv = &vectors[i];
            async move {
                let e = backend.get_embedding(&id, model).await?;
                let s = e.map(|e| math::cosine(qv, &e.vector));
                Ok((id, i, s))
            }
        }))
        .buffer_unordered(16)
        .collect()
        .await;
    for r in fetched {
        let (id, i, s) = r?;
        if let (Some(c), Some(s)) = (cands.get_mut(&id), s) {
            c.1[i] = Some(s);
        }
    }
    // A song without a vector of some model is scored there as the pool's weakest member.
    let (ids, rows): (Vec<SongId>, Vec<Vec<f32>>) = cands
        .iter()
        .map(|(id, (_, s))| {
            let row = s.iter().enumerate().map(|(i, x)| x.unwrap_or(pool_min[i]));
            (id.clone(), row.collect())
        })
        .unzip();
    let ranked = blend(&rows, &space.weights());
    Ok(ranked
        .into_iter()
        .filter(|&(_, shown)| r.threshold.is_none_or(|t| shown >= t))
        .skip(r.offset)
        .take(r.k)
        .filter_map(|(idx, shown)| {
            let id = ids[idx].clone();
            let (metadata, _) = cands.remove(&id)?;
            Some(Match {
                id,
                similarity: shown,
                distance: None,
                metadata,
                approximate,
            })
        })
        .collect())
}

/// Ranks candidates by a weighted blend of per-model scores (pure): `rows[c][m]` is candidate
/// `c`'s cosine on model `m`, each model's scores are standardised over the candidates, ties
/// keep input order. Returns `(candidate index, shown similarity)` best first; the shown
/// similarity is the blended z-score mapped back onto the cosine scale
/// (`Σ wᵢ·meanᵢ + z·Σ wᵢ·sdᵢ`), so it never contradicts the order.
///
/// ```
/// // Model 0 spreads widely, model 1 narrowly; with weights 0.5/0.5 the narrow model's
/// // preference still counts as much as the wide one's.
/// let rows = vec![vec![0.9, 0.60], vec![0.1, 0.70], vec![0.6, 0.68]];
/// let r = songrec_rank::blend(&rows, &[0.5, 0.5]);
/// assert_eq!(r.len(), 3);
/// assert_eq!(r[0].0, 2); // good on both beats extreme on one
/// assert!(r.windows(2).all(|p| p[0].1 >= p[1].1)); // shown in ranking order
/// assert!((r[0].1 - 0.659).abs() < 1e-3);
/// ```
pub fn blend(rows: &[Vec<f32>], weights: &[f32]) -> Vec<(usize, f32)> {
    let m = weights.len();
    let w = normalised(weights);
    let n = rows.len();
    let mut mean = vec![0f64; m];
    let mut sd = vec![0f64; m];
    for j in 0..m {
        let col = rows
            .iter()
            .map(|r| f64::from(r.get(j).copied().unwrap_or(0.0)));
        let mu = col.clone().sum::<f64>() / n.max(1) as f64;
        let var = col.map(|x| (x - mu) * (x - mu)).sum::<f64>() / n.max(1) as f64;
        mean[j] = mu;
        sd[j] = var.sqrt();
    }
    // Back onto the cosine scale: the weighted mean of the pool means plus the blended
    // z-score times the weighted spread (a constant column adds its value, no spread).
    let base: f64 = (0..m).map(|j| f64::from(w[j]) * mean[j]).sum();
    let spread: f64 = (0..m)
        .filter(|&j| sd[j] > 1e-9)
        .map(|j| f64::from(w[j]) * sd[j])
        .sum();
    let mut scored: Vec<(usize, f64)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut z = 0f64;
            for j in 0..m {
                let x = r.get(j).copied().unwrap_or(0.0);
                if sd[j] > 1e-9 {
                    z += f64::from(w[j]) * (f64::from(x) - mean[j]) / sd[j];
                }
            }
            (i, z)
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored
        .into_iter()
        .map(|(i, z)| (i, (base + z * spread).clamp(-1.0, 1.0) as f32))
        .collect()
}

/// Pairs of songs looked at to measure a model's spread in [`combine`] (at most).
pub const SPREAD_PAIRS: usize = 20_000;

/// One unit vector per song in a blended space (pure; see the module doc).
///
/// `vectors[j][s]` is song `s`'s vector of part `j` (`None` when it has none: that block stays
/// zero, so the song is neutral on that model). A single part gives the songs' unit vectors.
pub fn combine(
    vectors: &[Vec<Option<Vec<f32>>>],
    dims: &[usize],
    weights: &[f32],
) -> Vec<Vec<f32>> {
    let n = vectors.first().map_or(0, Vec::len);
    let w = normalised(weights);
    let units: Vec<Vec<Option<Vec<f32>>>> = vectors
        .iter()
        .map(|part| {
            part.iter()
                .map(|v| {
                    v.as_ref().filter(|v| math::norm(v) > 0.0).map(|v| {
                        let mut u = v.clone();
                        math::normalize(&mut u);
                        u
                    })
                })
                .collect()
        })
        .collect();
    let scales: Vec<f32> = if units.len() == 1 {
        vec![1.0]
    } else {
        units
            .iter()
            .zip(&w)
            .map(|(part, &wj)| {
                let sd = spread(part);
                if sd > 1e-6 { (wj / sd).sqrt() } else { 0.0 }
            })
            .collect()
    };
    (0..n)
        .map(|s| {
            let mut row = Vec::with_capacity(dims.iter().sum());
            for (j, part) in units.iter().enumerate() {
                match &part[s] {
                    Some(u) if u.len() == dims[j] => row.extend(u.iter().map(|x| x * scales[j])),
                    _ => row.extend(std::iter::repeat_n(0.0, dims[j])),
                }
            }
            math::normalize(&mut row);
            row
        })
        .collect()
}

/// Standard deviation of the cosines between pairs of unit vectors: every pair of a small set,
/// else [`SPREAD_PAIRS`] pairs at fixed offsets (deterministic).
fn spread(units: &[Option<Vec<f32>>]) -> f32 {
    let present: Vec<&Vec<f32>> = units.iter().flatten().collect();
    let n = present.len();
    if n < 2 {
        return 0.0;
    }
    let per = (SPREAD_PAIRS / n).clamp(1, n - 1);
    let (mut sum, mut sq, mut count) = (0f64, 0f64, 0f64);
    for i in 0..n {
        for off in 1..=per {
            let j = (i + off) % n;
            if n <= 2 * per + 1 && j < i {
                continue; // every pair once in a small set
            }
            let c = f64::from(math::dot(present[i], present[j]));
            sum += c;
            sq += c * c;
            count += 1.0;
        }
    }
    let mean = sum / count;
    ((sq / count - mean * mean).max(0.0)).sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_read_as_written() {
        assert_eq!(short_number(1.0 - 0.8), "0.2");
        assert_eq!(short_number(0.35), "0.35");
        assert_eq!(short_number(1.0), "1");
        assert_eq!(short_number(0.0), "0");
    }

    #[test]
    fn blend_follows_weights() {
        let rows = vec![vec![1.0, 0.0], vec![0.0, 1.0]];
        assert_eq!(blend(&rows, &[0.9, 0.1])[0].0, 0);
        assert_eq!(blend(&rows, &[0.1, 0.9])[0].0, 1);
        // Equal weights: a tie keeps input order.
        assert_eq!(blend(&rows, &[0.5, 0.5])[0].0, 0);
    }

    #[test]
    fn blend_single_model_is_plain_ranking() {
        let rows = vec![vec![0.2], vec![0.9], vec![0.5]];
        let r = blend(&rows, &[1.0]);
        assert_eq!(r.iter().map(|x| x.0).collect::<Vec<_>>(), vec![1, 2, 0]);
        assert!((r[0].1 - 0.9).abs() < 1e-6);
    }

    #[test]
    fn blend_ignores_negative_weights_and_empty_input() {
        assert!(blend(&[], &[0.5, 0.5]).is_empty());
        let rows = vec![vec![0.1, 0.9], vec![0.9, 0.1]];
        assert_eq!(blend(&rows, &[-1.0, 1.0])[0].0, 0);
    }

    fn lcg(seed: u64) -> impl FnMut() -> f32 {
        let mut x = seed;
        move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        }
    }

    #[test]
    fn shown_similarity_follows_the_ranking() {
        let mut next = lcg(1);
        // A wide model and a narrow one, as DSP and musicnn are.
        let rows: Vec<Vec<f32>> = (0..200)
            .map(|_| vec![next(), 0.75 + 0.25 * next()])
            .collect();
        let r = blend(&rows, &[0.3, 0.7]);
        assert_eq!(r.len(), 200);
        assert!(
            r.windows(2).all(|p| p[0].1 >= p[1].1),
            "shown in rank order"
        );
        assert!(r.iter().all(|p| (-1.0..=1.0).contains(&p.1)));
        // The narrow model's favourite is near the top although its wide score is average.
        let best_narrow = (0..200)
            .max_by(|&a, &b| rows[a][1].total_cmp(&rows[b][1]))
            .unwrap();
        assert!(r.iter().position(|p| p.0 == best_narrow).unwrap() < 40);
    }

    /// Random vectors of a wide model (centred) and a narrow one (all near one direction).
    type Vectors = Vec<Option<Vec<f32>>>;

    fn two_models(n: usize, seed: u64) -> (Vectors, Vectors) {
        let mut next = lcg(seed);
        let wide = (0..n)
            .map(|_| Some((0..6).map(|_| next()).collect()))
            .collect();
        let narrow = (0..n)
            .map(|_| {
                let mut v = vec![3.0f32; 5];
                for x in &mut v {
                    *x += 0.5 * next();
                }
                Some(v)
            })
            .collect();
        (wide, narrow)
    }

    #[test]
    fn combined_vectors_rank_like_the_standardised_blend() {
        // For one query, ranking the others by the dot product of combined vectors equals
        // ranking them by Σ (wᵢ/sdᵢ)·cosᵢ with the spreads combine measured.
        let (wide, narrow) = two_models(60, 7);
        let w = [0.3f32, 0.7];
        let rows = combine(&[wide.clone(), narrow.clone()], &[6, 5], &w);
        let unit = |v: &Option<Vec<f32>>| {
            let mut u = v.clone().unwrap();
            math::normalize(&mut u);
            u
        };
        let (uw, un): (Vec<Vec<f32>>, Vec<Vec<f32>>) = (
            wide.iter().map(unit).collect(),
            narrow.iter().map(unit).collect(),
        );
        let sd = [
            spread(&wide.iter().map(|v| Some(unit(v))).collect::<Vec<_>>()),
            spread(&narrow.iter().map(|v| Some(unit(v))).collect::<Vec<_>>()),
        ];
        assert!(sd[1] < sd[0] / 3.0, "the narrow model is narrow: {sd:?}");
        let by_dot: Vec<usize> = {
            let mut o: Vec<usize> = (1..60).collect();
            o.sort_by(|&a, &b| {
                math::dot(&rows[0], &rows[b]).total_cmp(&math::dot(&rows[0], &rows[a]))
            });
            o
        };
        let mix = |s: usize| {
            f64::from(w[0] / sd[0]) * f64::from(math::dot(&uw[0], &uw[s]))
                + f64::from(w[1] / sd[1]) * f64::from(math::dot(&un[0], &un[s]))
        };
        let by_mix: Vec<usize> = {
            let mut o: Vec<usize> = (1..60).collect();
            o.sort_by(|&a, &b| mix(b).total_cmp(&mix(a)));
            o
        };
        assert_eq!(by_dot[..10], by_mix[..10]);
        // Plain concatenation (no standardisation) would let the wide model decide alone.
        let plain = |s: usize| math::dot(&uw[0], &uw[s]) * 0.3 + math::dot(&un[0], &un[s]) * 0.7;
        let mut by_plain: Vec<usize> = (1..60).collect();
        by_plain.sort_by(|&a, &b| plain(b).total_cmp(&plain(a)));
        assert_ne!(by_plain[..10], by_mix[..10]);
    }

    #[test]
    fn combine_one_part_is_unit_vectors_and_missing_blocks_are_neutral() {
        let one = combine(&[vec![Some(vec![3.0, 4.0]), None]], &[2], &[1.0]);
        assert_eq!(one[0], vec![0.6, 0.8]);
        assert_eq!(one[1], vec![0.0, 0.0]);
        let (wide, mut narrow) = two_models(10, 3);
        narrow[4] = None;
        let rows = combine(&[wide, narrow], &[6, 5], &[0.5, 0.5]);
        assert!(rows[4][6..].iter().all(|&x| x == 0.0));
        assert!((math::norm(&rows[4]) - 1.0).abs() < 1e-5);
    }

    #[test]
    fn spread_of_small_and_large_sets() {
        assert_eq!(spread(&[]), 0.0);
        assert_eq!(spread(&[Some(vec![1.0, 0.0])]), 0.0);
        // Two orthogonal and one equal pair: cosines 0, 1, 0 (every pair once).
        let s = spread(&[
            Some(vec![1.0, 0.0]),
            Some(vec![0.0, 1.0]),
            Some(vec![1.0, 0.0]),
        ]);
        assert!((s - (2.0f32 / 9.0).sqrt()).abs() < 1e-6, "{s}");
        let (wide, _) = two_models(5000, 11);
        let units: Vec<Option<Vec<f32>>> = wide
            .into_iter()
            .map(|v| {
                let mut u = v.unwrap();
                math::normalize(&mut u);
                Some(u)
            })
            .collect();
        let s = spread(&units);
        assert!(s > 0.2 && s < 0.6, "{s}");
    }
}
