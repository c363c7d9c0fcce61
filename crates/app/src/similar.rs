//! Similarity queries: by a song in the library or by an outside audio file, on one model's
//! vectors or on a blend of several (e.g. 0.6 neural + 0.4 DSP).
//!
//! A single-model query is one [`StorageBackend::search`] (one request on a remote backend). A
//! blend asks each model for a candidate pool (`5 × (k + offset)`, at least 50), scores every
//! candidate on every model (fetching the few vectors a pool lacks), and ranks by the weighted
//! mix. Scores of different models live on different scales (DSP vectors are centred and spread
//! over −1..1; musicnn's post-ReLU vectors sit in 0.5..1), so each model's scores are
//! standardised over the candidate pool before mixing; the similarity shown is the mix mapped
//! back onto the cosine scale (see [`blend`]), so it reads like any other cosine and never
//! contradicts the order.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use songrec_audio::Embedder;
use songrec_discover::space::{self, Space, SpaceQuery};
use songrec_storage::{Filter, Match, Metric, ModelInfo, SongId, SongMetadata, StorageBackend};

/// The blended ranking and candidate pool size, shared with playlists (see
/// [`songrec_discover::space`]).
pub use songrec_discover::space::{blend, pool_size};

use songrec_config::EmbedderConfig;

use crate::{AppError, AppResult};

/// What to find neighbours of.
#[derive(Clone, Debug)]
pub enum Target {
    /// A song already in the library.
    Song(Box<SongMetadata>),
    /// An audio file (analysed now; need not be in the library).
    File(PathBuf),
}

/// One model's share of a query.
///
/// ```
/// let e = songrec_app::embedders::by_name("dsp").unwrap();
/// let part = songrec_app::similar::ModelPart::of(e, 1.0);
/// assert_eq!(part.model.name, "songrec-dsp");
/// ```
#[derive(Clone)]
pub struct ModelPart {
    /// Whose vectors are compared.
    pub model: ModelInfo,
    /// The embedder that made them (needed to analyse a [`Target::File`]).
    pub embedder: Option<Arc<dyn Embedder>>,
    /// Weight in a blend (normalised over the parts; ignored for a single model).
    pub weight: f32,
}

impl ModelPart {
    /// The part for an embedder's vectors.
    pub fn of(embedder: Arc<dyn Embedder>, weight: f32) -> Self {
        Self {
            model: crate::embedders::model_of(embedder.as_ref()),
            embedder: Some(embedder),
            weight,
        }
    }

    /// The part for stored vectors of a model no embedder here can compute (e.g. `legacy@0`).
    pub fn stored(model: ModelInfo) -> Self {
        Self {
            model,
            embedder: None,
            weight: 1.0,
        }
    }
}

impl std::fmt::Debug for ModelPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}", self.model.key(), self.weight)
    }
}

/// A similarity request.
#[derive(Clone, Debug)]
pub struct SimilarRequest {
    /// Query song or file.
    pub target: Target,
    /// One model, or several to blend.
    pub parts: Vec<ModelPart>,
    /// Number of results.
    pub k: usize,
    /// Comparison.
    pub metric: Metric,
    /// Minimum similarity.
    pub threshold: Option<f32>,
    /// Results to skip.
    pub offset: usize,
    /// Metadata conditions.
    pub filter: Filter,
    /// Rank exactly even where the backend keeps an approximate index
    /// ([`songrec_storage::SearchQuery::exact`]).
    pub exact: bool,
}

impl SimilarRequest {
    /// The 10 nearest by cosine to `target` in the space of `parts`: no threshold, offset,
    /// filter, and the approximate index where the backend has one. Other values by struct
    /// update: `SimilarRequest { k: 5, ..SimilarRequest::new(target, parts) }`.
    pub fn new(target: Target, parts: Vec<ModelPart>) -> Self {
        SimilarRequest {
            target,
            parts,
            k: 10,
            metric: Metric::Cosine,
            threshold: None,
            offset: 0,
            filter: Filter::default(),
            exact: false,
        }
    }
}

/// The query: its vectors (one per part), the ids to leave out of the results, and what is
/// known of it as a song (a file's tags and duration), for recognising its copies.
struct Query {
    vectors: Vec<Vec<f32>>,
    exclude: Vec<SongId>,
    song: SongMetadata,
}

async fn query_vectors(backend: &dyn StorageBackend, req: &SimilarRequest) -> AppResult<Query> {
    match &req.target {
        Target::Song(m) => {
            let mut out = Vec::with_capacity(req.parts.len());
            for p in &req.parts {
                let e = backend.get_embedding(&m.id, &p.model).await?.ok_or_else(|| {
                    AppError::Resolve(format!(
                        "{} ({}) has no {} vector; compute it with `songrec reembed --embedder {}`",
                        m.display_name(),
                        m.id.short(),
                        p.model.key(),
                        crate::embedders::short_name(&p.model.name),
                    ))
                })?;
                out.push(e.vector);
            }
            Ok(Query {
                vectors: out,
                exclude: vec![m.id.clone()],
                song: (**m).clone(),
            })
        }
        Target::File(path) => {
            let embedders = req
                .parts
                .iter()
                .map(|p| {
                    p.embedder.clone().ok_or_else(|| {
                        AppError::Invalid(format!(
                            "no embedder is available for model {}; cannot analyse a file for it",
                            p.model.key()
                        ))
                    })
                })
                .collect::<AppResult<Vec<_>>>()?;
            let p = path.clone();
            let fa = tokio::task::spawn_blocking(move || {
                let refs: Vec<&dyn Embedder> = embedders.iter().map(|e| e.as_ref()).collect();
                songrec_audio::analyze_file(&p, &refs)
            })
            .await
            .map_err(|e| AppError::Invalid(format!("analysis failed: {e}")))??;
            let (id, size) = SongId::from_file(path)?;
            // The library's own record of this file if it has one, else its tags as read now.
            let song = match backend.get_metadata(&id).await? {
                Some(m) => m,
                None => crate::ingest::metadata_from(&id, &fa, size),
            };
            let vectors = fa.analyses.into_iter().map(|a| a.analysis.vector).collect();
            Ok(Query {
                vectors,
                exclude: vec![id],
                song,
            })
        }
    }
}

/// Runs a similarity query; the query song itself is never among the results.
pub async fn similar(backend: &dyn StorageBackend, req: &SimilarRequest) -> AppResult<Vec<Match>> {
    if req.parts.is_empty() {
        return Err(AppError::Invalid("no model to compare".into()));
    }
    // The same limits for one model and for a blend (whose pools are capped, so an oversized
    // request would otherwise quietly return fewer results than asked for).
    let reach = req.k.checked_add(req.offset);
    let max = backend.max_results();
    if req.k == 0 || reach.is_none_or(|n| n > max) {
        return Err(AppError::Invalid(format!(
            "k must be 1 or more and offset + k at most {} on this backend, got k = {} and offset = {}",
            max, req.k, req.offset
        )));
    }
    let q = query_vectors(backend, req).await?;
    ranked(backend, req, q.vectors, q.exclude).await
}

/// The ranked results of a query whose vectors are known: one search in the request's
/// [`Space`] (the same search playlists use).
async fn ranked(
    backend: &dyn StorageBackend,
    req: &SimilarRequest,
    vectors: Vec<Vec<f32>>,
    exclude: Vec<SongId>,
) -> AppResult<Vec<Match>> {
    let q = SpaceQuery {
        vectors,
        k: req.k,
        offset: req.offset,
        metric: req.metric,
        threshold: req.threshold,
        exclude,
        filter: req.filter.clone(),
        exact: req.exact,
    };
    Ok(space::search(backend, &space_of(&req.parts), &q).await?)
}

/// The [`Space`] of model parts (their models and weights).
pub fn space_of(parts: &[ModelPart]) -> Space {
    Space::blend(parts.iter().map(|p| (p.model.clone(), p.weight)).collect())
}

/// What [`similar_distinct`] found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DistinctMatches {
    /// One song per recording, best first.
    pub matches: Vec<Match>,
    /// For each match, the copies of its recording (other files of it) that ranked below it
    /// among the candidates examined and were folded into it.
    pub copies_folded: Vec<usize>,
    /// Copies of the query's own recording left out.
    pub query_copies: usize,
}

impl DistinctMatches {
    /// Copies folded into the shown results, in all.
    pub fn total_copies_folded(&self) -> usize {
        self.copies_folded.iter().sum()
    }
}

/// Candidates asked for at first by [`similar_distinct`] for `want` (= offset + k) distinct
/// results; each further round asks for [`DISTINCT_WIDEN`] times more, up to the backend's
/// search limit `max` ([`StorageBackend::max_results`]).
///
/// ```
/// assert_eq!(songrec_app::similar::distinct_pool(10, 1000), 40);
/// assert_eq!(songrec_app::similar::distinct_pool(1000, 1000), 1000);
/// assert_eq!(songrec_app::similar::distinct_pool(1000, usize::MAX), 2020);
/// ```
pub fn distinct_pool(want: usize, max: usize) -> usize {
    want.saturating_mul(2).saturating_add(20).min(max)
}

/// How much a round of [`similar_distinct`] widens the candidate pool.
pub const DISTINCT_WIDEN: usize = 4;

/// Rounds of widening at most (the pool reaches the search limit sooner for any `k`).
pub const DISTINCT_ROUNDS: usize = 4;

/// [`similar`] with one song per recording: of the songs that are copies of one another (see
/// [`songrec_discover::recording`]: the same fingerprint when stored, else the same artist,
/// title and duration) only the best-ranked is kept, and copies of the query itself are left
/// out. `offset` and `k` count distinct results. The backend is asked for more candidates than
/// `offset + k` and, when folding leaves too few, for [`DISTINCT_WIDEN`] times more (at most
/// [`DISTINCT_ROUNDS`] rounds, never over the search limit), so `k` results come back whenever
/// the library holds that many other recordings within reach. The query is analysed once.
pub async fn similar_distinct(
    backend: &dyn StorageBackend,
    req: &SimilarRequest,
) -> AppResult<DistinctMatches> {
    let max = backend.max_results();
    if req.parts.is_empty() {
        return Err(AppError::Invalid("no model to compare".into()));
    }
    let want = req
        .k
        .checked_add(req.offset)
        .filter(|w| req.k > 0 && *w <= max)
        .ok_or_else(|| {
            AppError::Invalid(format!(
                "k must be 1 or more and offset + k at most {max}, got k = {} and offset = {}",
                req.k, req.offset
            ))
        })?;
    let q = query_vectors(backend, req).await?;
    let anchors = [q.song];
    let mut pool = distinct_pool(want, max);
    let mut round = 1;
    loop {
        let sub = SimilarRequest {
            k: pool,
            offset: 0,
            ..req.clone()
        };
        let found = ranked(backend, &sub, q.vectors.clone(), q.exclude.clone()).await?;
        let metas: Vec<SongMetadata> = found.iter().map(|m| m.metadata.clone()).collect();
        let f = songrec_discover::recording::fold(&anchors, &metas);
        let exhausted = found.len() < pool;
        if f.kept.len() >= want || exhausted || pool >= max || round >= DISTINCT_ROUNDS {
            let mut found: Vec<Option<Match>> = found.into_iter().map(Some).collect();
            let (mut matches, mut copies_folded) = (Vec::new(), Vec::new());
            for (&i, &c) in f.kept.iter().zip(&f.copies).skip(req.offset).take(req.k) {
                if let Some(m) = found[i].take() {
                    matches.push(m);
                    copies_folded.push(c);
                }
            }
            return Ok(DistinctMatches {
                matches,
                copies_folded,
                query_copies: f.anchor_copies,
            });
        }
        pool = pool.saturating_mul(DISTINCT_WIDEN).min(max);
        round += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A local library with `copies` files of the query's recording right next to it and
    /// `others` other recordings (two files each) further away.
    async fn library(
        dir: &std::path::Path,
        copies: usize,
        others: usize,
    ) -> (songrec_local::LocalBackend, ModelInfo, SongMetadata) {
        let b = songrec_local::LocalBackend::open(dir).unwrap();
        let model = ModelInfo::new("test", "1", 2);
        let put = |name: String, artist: &str, title: &str, angle: f32| {
            let mut m = SongMetadata::new(SongId::from_bytes(name.as_bytes()), title);
            m.artist = Some(artist.into());
            m.duration_secs = 200.0;
            let e = songrec_storage::Embedding::new(model.clone(), vec![angle.cos(), angle.sin()])
                .unwrap();
            (m, e)
        };
        let mut all = vec![put("query".into(), "Band", "Hit", 0.0)];
        for i in 0..copies {
            all.push(put(
                format!("copy{i}"),
                "band",
                "HIT ",
                0.001 * (i + 1) as f32,
            ));
        }
        for j in 0..others {
            for f in 0..2 {
                let angle = 0.5 + 0.01 * j as f32 + 0.001 * f as f32;
                all.push(put(
                    format!("other{j}-{f}"),
                    "Other",
                    &format!("Song {j}"),
                    angle,
                ));
            }
        }
        for (m, e) in &all {
            b.put_metadata(m).await.unwrap();
            b.put_embedding(&m.id, e).await.unwrap();
        }
        b.flush().await.unwrap();
        (b, model, all[0].0.clone())
    }

    fn request(model: &ModelInfo, query: &SongMetadata, k: usize, offset: usize) -> SimilarRequest {
        SimilarRequest {
            k,
            offset,
            ..SimilarRequest::new(
                Target::Song(Box::new(query.clone())),
                vec![ModelPart::stored(model.clone())],
            )
        }
    }

    #[tokio::test]
    async fn distinct_widens_past_the_query_copies_and_folds_copies() {
        let dir = tempfile::tempdir().unwrap();
        // 60 copies of the query fill the first pool (2 × 3 + 20 = 26 candidates) and the
        // second (104): k distinct results need a third round.
        let (b, model, query) = library(dir.path(), 60, 5).await;
        let req = request(&model, &query, 3, 0);
        let plain = similar(&b, &req).await.unwrap();
        assert!(
            plain.iter().all(|m| m.metadata.title == "HIT "),
            "copies first"
        );
        let d = similar_distinct(&b, &req).await.unwrap();
        let titles: Vec<&str> = d
            .matches
            .iter()
            .map(|m| m.metadata.title.as_str())
            .collect();
        assert_eq!(titles, vec!["Song 0", "Song 1", "Song 2"]);
        assert_eq!(d.copies_folded, vec![1, 1, 1]);
        assert_eq!(d.total_copies_folded(), 3);
        assert_eq!(d.query_copies, 60);
        // The best-ranked file of each recording is the one kept.
        assert_eq!(d.matches[0].id, SongId::from_bytes(b"other0-0"));
        // Offset counts distinct songs.
        let d = similar_distinct(&b, &request(&model, &query, 2, 3))
            .await
            .unwrap();
        let titles: Vec<&str> = d
            .matches
            .iter()
            .map(|m| m.metadata.title.as_str())
            .collect();
        assert_eq!(titles, vec!["Song 3", "Song 4"]);
        // Fewer distinct songs than asked: all of them, after the library ran out.
        let d = similar_distinct(&b, &request(&model, &query, 50, 0))
            .await
            .unwrap();
        assert_eq!(d.matches.len(), 5);
        // Bad sizes are refused, without overflow (the local backend has no cap: 1001 is fine).
        assert!(
            similar_distinct(&b, &request(&model, &query, 1001, 0))
                .await
                .is_ok()
        );
        for (k, offset) in [(0, 0), (1, usize::MAX), (usize::MAX, 1)] {
            assert!(
                similar_distinct(&b, &request(&model, &query, k, offset))
                    .await
                    .is_err()
            );
        }
    }

    #[tokio::test]
    async fn distinct_widening_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        // More copies than the first pools hold: the rounds widen (up to DISTINCT_ROUNDS, here
        // 22, 88, 352 and 1408 candidates: the local backend has no search cap) until the
        // other song is within reach.
        let (b, model, query) = library(dir.path(), 1000, 0).await;
        // One other song, farther from the query than every copy (copies sit at 0.001..1.0 rad).
        let mut far = SongMetadata::new(SongId::from_bytes(b"far"), "Far Away");
        far.artist = Some("Other".into());
        far.duration_secs = 200.0;
        b.put_metadata(&far).await.unwrap();
        let e = songrec_storage::Embedding::new(model.clone(), vec![1.5f32.cos(), 1.5f32.sin()])
            .unwrap();
        b.put_embedding(&far.id, &e).await.unwrap();
        let d = similar_distinct(&b, &request(&model, &query, 1, 0))
            .await
            .unwrap();
        assert_eq!(d.matches.len(), 1, "{:?}", d.matches);
        assert_eq!(d.matches[0].id, far.id);
        assert_eq!(d.query_copies, 1000);
        // Behind a backend capped at the Data API's 1000, the rounds stop at the cap and return
        // what they found (nothing: 1000 copies fill the pool) rather than searching on.
        let capped = songrec_storage::layers::testing::MemoryBackend::with_max_results(
            songrec_storage::query::MAX_RESULTS,
        );
        for m in songrec_storage::StorageBackendExt::list_all(&b, &Filter::default())
            .await
            .unwrap()
        {
            capped.put_metadata(&m).await.unwrap();
            let e = b.get_embedding(&m.id, &model).await.unwrap().unwrap();
            capped.put_embedding(&m.id, &e).await.unwrap();
        }
        let d = similar_distinct(&capped, &request(&model, &query, 1, 0))
            .await
            .unwrap();
        assert!(d.matches.is_empty(), "{:?}", d.matches);
        assert_eq!(d.query_copies, songrec_storage::query::MAX_RESULTS);
    }

    #[test]
    fn pool_is_bounded() {
        assert_eq!(pool_size(10, 0, 1000), 50);
        assert_eq!(pool_size(100, 0, 1000), 500);
        assert_eq!(pool_size(900, 100, 1000), 1000);
        assert_eq!(pool_size(900, 100, usize::MAX), 5000);
    }
}

/// Which vectors a query compares, as the user asked for them.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice {
    /// The default's vectors ([`crate::embedders::DEFAULT`]) when every song has them
    /// ([`crate::embedders::default_is_complete`]); else, as before the default existed,
    /// musicnn and DSP blended when the song has both (neural weight [`auto_weight`] of its
    /// duration), else the one it has.
    Auto,
    /// One embedder's vectors, by name (`dsp`, `musicnn`).
    Embedder(String),
    /// Stored vectors of a model by `NAME@VERSION` (e.g. `legacy@0`).
    Model(String),
    /// Neural weight `w` and DSP weight `1 - w`.
    Blend(f32),
}

/// The neural weight of `--blend` / `both` without a weight (the seed plan's 0.6 / 0.4).
pub const DEFAULT_BLEND: f32 = 0.6;

/// One embedder's part. The embedder itself (a model load for musicnn) is only taken from
/// the pool when a file has to be analysed; a library song's stored vector needs just the
/// model's name.
fn part(
    name: &str,
    weight: f32,
    target: &Target,
    pool: &crate::embedders::Pool,
) -> AppResult<ModelPart> {
    let model = crate::embedders::model_by_name(name)?;
    let embedder = match target {
        Target::File(_) => Some(pool.get(name)?),
        Target::Song(_) => None,
    };
    Ok(ModelPart {
        model,
        embedder,
        weight,
    })
}

/// The neural weight `auto` gives a song of this duration: [`AUTO_BLEND_SHORT`] for clips
/// shorter than [`SHORT_CLIP_SECS`] (one-shots, short loops: the DSP attack and envelope
/// features carry more there), else [`AUTO_BLEND`]. Unknown durations (0) count as songs.
///
/// ```
/// use songrec_app::similar::{auto_weight, AUTO_BLEND, AUTO_BLEND_SHORT};
/// assert_eq!(auto_weight(0.3), AUTO_BLEND_SHORT);
/// assert_eq!(auto_weight(200.0), AUTO_BLEND);
/// ```
pub fn auto_weight(duration_secs: f64) -> f32 {
    if duration_secs > 0.0 && duration_secs < SHORT_CLIP_SECS {
        AUTO_BLEND_SHORT
    } else {
        AUTO_BLEND
    }
}

/// Below this duration a song is a short clip for [`auto_weight`].
pub const SHORT_CLIP_SECS: f64 = 5.0;

/// `auto`'s neural weight for songs. Measured with `songrec eval` (p@5): on 165 real game
/// soundtrack tracks musicnn alone 0.525, DSP alone 0.390, blend 0.6 0.524, 0.7 0.545,
/// 0.8 0.536; on held-out synthetic styles 0.6 and 0.7 tie (0.844, 0.842). Rechecked out of
/// sample (`scripts/eval/neural_quality.py`, leave-one-set-out over 7 sets): tuning on the
/// other sets picks 0.7 in 6 of 7 folds; 0.6 (picked with real music held out) scores 0.524
/// there, so 0.7 stays.
pub const AUTO_BLEND: f32 = 0.7;

/// `auto`'s neural weight for short clips. Measured (p@5, blend 0.4 vs 0.6 vs DSP alone):
/// drum one-shots 0.754 / 0.751 / 0.697, sonic-pi samples 0.465 / 0.453 / 0.457, General MIDI
/// notes 0.231 / 0.221 / 0.229. Leave-one-set-out tuning picks 0.2 to 0.5 (mostly 0.3); none
/// beats 0.4 on its held-out set beyond the bootstrap noise, and 0.3 scores lower on the drum
/// one-shots (0.750), so 0.4 stays.
pub const AUTO_BLEND_SHORT: f32 = 0.4;

/// Turns a [`Choice`] into model parts for this library and target (embedders for a file
/// start with `cfg`).
pub async fn choose_parts(
    backend: &dyn StorageBackend,
    target: &Target,
    choice: &Choice,
    cfg: &EmbedderConfig,
) -> AppResult<Vec<ModelPart>> {
    let pool = crate::embedders::Pool::new(cfg.clone());
    choose_parts_in(backend, target, choice, &pool).await
}

/// [`choose_parts`] taking the embedders a file needs from a [`Pool`](crate::embedders::Pool)
/// of started ones (the web server's): the one code path of every door.
pub async fn choose_parts_in(
    backend: &dyn StorageBackend,
    target: &Target,
    choice: &Choice,
    pool: &crate::embedders::Pool,
) -> AppResult<Vec<ModelPart>> {
    match choice {
        Choice::Embedder(name) => Ok(vec![part(name, 1.0, target, pool)?]),
        Choice::Model(key) => {
            let models = backend.models().await?;
            let have: Vec<String> = models.iter().map(|s| s.model.key()).collect();
            let m = models
                .into_iter()
                .map(|s| s.model)
                .find(|m| m.key() == *key)
                .ok_or_else(|| {
                    AppError::UnknownModel(format!(
                        "the library has no vectors of model {key:?}; it has: {}",
                        if have.is_empty() {
                            "none".to_owned()
                        } else {
                            have.join(", ")
                        }
                    ))
                })?;
            // A live embedder that made these vectors can analyse a file for them.
            let short = crate::embedders::short_name(&m.name).to_owned();
            match crate::embedders::model_by_name(&short) {
                Ok(live) if live == m => Ok(vec![part(&short, 1.0, target, pool)?]),
                _ => Ok(vec![ModelPart::stored(m)]),
            }
        }
        Choice::Blend(w) => {
            if !(0.0..=1.0).contains(w) {
                return Err(AppError::Invalid(format!(
                    "--blend takes the neural weight between 0 and 1, not {w}"
                )));
            }
            Ok(vec![
                part("musicnn", *w, target, pool)?,
                part("dsp", 1.0 - *w, target, pool)?,
            ])
        }
        Choice::Auto => {
            let stats = backend.models().await?;
            if crate::embedders::default_is_complete(&stats) {
                let m = crate::embedders::model_by_name(crate::embedders::DEFAULT)?;
                let has = match target {
                    Target::Song(s) => backend.get_embedding(&s.id, &m).await?.is_some(),
                    Target::File(_) => true,
                };
                if has {
                    return Ok(vec![part(crate::embedders::DEFAULT, 1.0, target, pool)?]);
                }
            }
            let have: Vec<ModelInfo> = stats.into_iter().map(|s| s.model).collect();
            let w = match target {
                Target::Song(s) => auto_weight(s.duration_secs),
                Target::File(_) => AUTO_BLEND,
            };
            let mut parts = Vec::new();
            for (name, w) in [("musicnn", w), ("dsp", 1.0 - w)] {
                let m = crate::embedders::model_by_name(name)?;
                if !have.contains(&m) {
                    continue;
                }
                if let Target::Song(s) = target
                    && backend.get_embedding(&s.id, &m).await?.is_none()
                {
                    continue;
                }
                parts.push(part(name, w, target, pool)?);
            }
            if !parts.is_empty() {
                return Ok(parts);
            }
            // Neither live embedder's vectors: any stored model the song has (e.g. legacy@0).
            if let Target::Song(s) = target {
                for m in have {
                    if backend.get_embedding(&s.id, &m).await?.is_some() {
                        return Ok(vec![ModelPart::stored(m)]);
                    }
                }
            }
            match target {
                Target::Song(s) => Err(AppError::Resolve(format!(
                    "{} ({}) has no vectors; re-ingest it or run `songrec reembed`",
                    s.display_name(),
                    s.id.short()
                ))),
                Target::File(_) => Err(AppError::Invalid(
                    "the library has no vectors of an embedder this build can run; ingest some songs first".into(),
                )),
            }
        }
    }
}

/// The [`Space`] a whole-library ranking compares (playlists, map, clusters, outliers): the
/// same choice as [`choose_parts`] for `seed` when there is one (so a playlist and `similar`
/// of one song compare the same vectors with the same weights), else, for `auto`, musicnn and
/// DSP blended with [`AUTO_BLEND`] where the library holds both (the one it holds otherwise).
pub async fn choose_space(
    backend: &dyn StorageBackend,
    choice: &Choice,
    seed: Option<&SongMetadata>,
    cfg: &EmbedderConfig,
) -> AppResult<Space> {
    // A library song's parts start no embedder, so no pool is kept.
    let pool = crate::embedders::Pool::new(cfg.clone());
    if let Some(s) = seed {
        let target = Target::Song(Box::new(s.clone()));
        return Ok(space_of(
            &choose_parts_in(backend, &target, choice, &pool).await?,
        ));
    }
    if *choice != Choice::Auto {
        // Parts for a file need an embedder; for stored vectors a stand-in song is enough.
        let target = Target::Song(Box::new(SongMetadata::new(SongId::from_bytes(b""), "")));
        return Ok(space_of(
            &choose_parts_in(backend, &target, choice, &pool).await?,
        ));
    }
    let stats = backend.models().await?;
    if crate::embedders::default_is_complete(&stats) {
        return Ok(Space::from(crate::embedders::model_by_name(
            crate::embedders::DEFAULT,
        )?));
    }
    let have: Vec<ModelInfo> = stats
        .into_iter()
        .filter(|s| s.count > 0)
        .map(|s| s.model)
        .collect();
    let mut parts = Vec::new();
    for (name, w) in [("musicnn", AUTO_BLEND), ("dsp", 1.0 - AUTO_BLEND)] {
        let m = crate::embedders::model_by_name(name)?;
        if have.contains(&m) {
            parts.push((m, w));
        }
    }
    if parts.is_empty() {
        // Neither live embedder's vectors: the stored model with the most songs.
        let stats = backend.models().await?;
        let best = stats
            .into_iter()
            .filter(|s| s.count > 0)
            .max_by_key(|s| s.count);
        return best.map(|s| Space::from(s.model)).ok_or_else(|| {
            AppError::Invalid("the library holds no vectors yet; ingest some songs first".into())
        });
    }
    Ok(Space::blend(parts))
}

impl Choice {
    /// The choice of the options every door offers (`--embedder`/`--blend`/`--model` of the
    /// CLI, `embedder`/`blend`/`model` of the REST API): `model` wins over `embedder`, `blend`
    /// over `embedder`; no option at all is `auto`.
    ///
    /// ```
    /// use songrec_app::similar::Choice;
    /// assert_eq!(Choice::from_options(None, None, None).unwrap(), Choice::Auto);
    /// assert_eq!(Choice::from_options(Some("both"), None, None).unwrap(), Choice::Blend(0.6));
    /// assert_eq!(Choice::from_options(Some("dsp"), Some(0.3), None).unwrap(), Choice::Blend(0.3));
    /// assert!(Choice::from_options(None, Some(0.3), Some("legacy@0")).is_err());
    /// ```
    pub fn from_options(
        embedder: Option<&str>,
        blend: Option<f32>,
        model: Option<&str>,
    ) -> AppResult<Self> {
        match (model, blend) {
            (Some(_), Some(_)) => Err(AppError::Invalid(
                "give either a model (NAME@VERSION of stored vectors) or a blend weight, not both"
                    .into(),
            )),
            (Some(m), None) => Ok(Choice::Model(m.trim().to_owned())),
            (None, Some(w)) if !(0.0..=1.0).contains(&w) => Err(AppError::Invalid(format!(
                "the blend takes the neural weight between 0 and 1, not {w}"
            ))),
            (None, Some(w)) => Ok(Choice::Blend(w)),
            (None, None) => embedder.unwrap_or("auto").parse(),
        }
    }
}

impl std::str::FromStr for Choice {
    type Err = AppError;
    /// `auto`, `dsp`, `musicnn`, or `blend` / `blend:0.7`.
    fn from_str(s: &str) -> AppResult<Self> {
        let t = s.trim().to_ascii_lowercase();
        if t == "auto" || t.is_empty() {
            return Ok(Choice::Auto);
        }
        if t == "blend" || t == "both" {
            return Ok(Choice::Blend(DEFAULT_BLEND));
        }
        if let Some(w) = t.strip_prefix("blend:") {
            return w
                .parse::<f32>()
                .map(Choice::Blend)
                .map_err(|_| AppError::Invalid(format!("bad blend weight {w:?}")));
        }
        if t.contains('@') {
            return Ok(Choice::Model(s.trim().to_owned()));
        }
        Ok(Choice::Embedder(t))
    }
}

#[cfg(test)]
mod choice_tests {
    use super::*;

    #[test]
    fn parses_choices() {
        assert_eq!("auto".parse::<Choice>().unwrap(), Choice::Auto);
        assert_eq!(
            "DSP".parse::<Choice>().unwrap(),
            Choice::Embedder("dsp".into())
        );
        assert_eq!(
            "both".parse::<Choice>().unwrap(),
            Choice::Blend(DEFAULT_BLEND)
        );
        assert_eq!("blend:0.3".parse::<Choice>().unwrap(), Choice::Blend(0.3));
        assert_eq!(
            "legacy@0".parse::<Choice>().unwrap(),
            Choice::Model("legacy@0".into())
        );
        assert!("blend:x".parse::<Choice>().is_err());
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[tokio::test]
    async fn extreme_offsets_are_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = songrec_local::LocalBackend::open(dir.path()).expect("library");
        for (k, offset) in [(1, usize::MAX), (usize::MAX, 1), (usize::MAX, usize::MAX)] {
            let req = SimilarRequest {
                k,
                offset,
                ..SimilarRequest::new(
                    Target::File("query.wav".into()),
                    vec![ModelPart::stored(ModelInfo::new("m", "1", 2))],
                )
            };
            match similar(&backend, &req).await {
                Err(AppError::Invalid(m)) => assert!(m.contains("offset + k"), "{m}"),
                other => panic!("k {k}, offset {offset}: {other:?}"),
            }
        }
        assert_eq!(pool_size(usize::MAX, usize::MAX, 1000), 1000);
    }
}
