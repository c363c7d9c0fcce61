//! The one `similar` of every door (`songrec similar`, `GET /api/v1/songs/{id}/similar`,
//! `GET`/`POST /api/v1/similar`): a [`SimilarAsk`] names what to be like and how, [`answer`]
//! chooses the vectors and the search and says what the door prints ([`SimilarAnswer`]), in two
//! steps for a door with work in between (reading an upload, printing the notes): [`prepare`]
//! checks the ask and chooses the vectors, [`Prepared::run`] searches.

use songrec_storage::{Filter, Match, Metric, StorageBackend};

use super::{Choice, ModelPart, SimilarRequest, Target, choose_parts_in, space_of};
use crate::embedders::Pool;
use crate::explain::Explanation;
use crate::words::{STYLE_TAGS_MODEL, TagQuery};
use crate::{AppError, AppResult};

/// A similarity question, as any door asks it.
#[derive(Clone, Debug)]
pub struct SimilarAsk {
    /// The song or file to be like; `None`: the words alone.
    pub target: Option<Target>,
    /// Words for the style tags: alone, songs ranked by them; with a target, its neighbours
    /// moved towards them.
    pub words: Option<TagQuery>,
    /// One song per recording ([`super::similar_distinct`]).
    pub distinct: bool,
    /// Say for each match which aspects agree with the target song.
    pub explain: bool,
    /// Which vectors.
    pub choice: Choice,
    /// Results wanted.
    pub k: usize,
    /// Best results to skip.
    pub offset: usize,
    /// Comparison.
    pub metric: Metric,
    /// Minimum similarity.
    pub threshold: Option<f32>,
    /// Metadata conditions.
    pub filter: Filter,
    /// Rank exactly even where the backend keeps an approximate index.
    pub exact: bool,
    /// Gather [`SimilarAnswer::notes`] (one more look at the library's models).
    pub notes: bool,
}

/// How an ask is answered, with what it is answered about.
#[derive(Clone, Copy, Debug)]
pub enum Mode<'a> {
    /// Songs ranked by the words' style tags ([`crate::words::by_words`]).
    Words(&'a TagQuery),
    /// The target's nearest neighbours ([`super::similar`]).
    Plain(&'a Target),
    /// One song per recording ([`super::similar_distinct`]).
    Distinct(&'a Target),
    /// The target's neighbours moved towards the words ([`crate::words::steer`]).
    Steer(&'a Target, &'a TagQuery),
}

impl SimilarAsk {
    /// The mode the ask names, or why it names none.
    pub fn mode(&self) -> AppResult<Mode<'_>> {
        let invalid = |m: &str| Err(AppError::Invalid(m.into()));
        match (&self.target, &self.words) {
            (None, None) => invalid("give a song, --file or --text"),
            (None, Some(_)) if self.distinct || self.explain => {
                invalid("--distinct and --explain need a song or --file next to --text")
            }
            (None, Some(w)) => Ok(Mode::Words(w)),
            (Some(_), Some(_)) if self.distinct => {
                invalid("--distinct cannot be combined with --text")
            }
            (Some(Target::File(_)), _) if self.explain => invalid(
                "--explain needs a song from the library (a file's tags and tempo are not stored); ingest it first",
            ),
            (Some(t), Some(w)) => Ok(Mode::Steer(t, w)),
            (Some(t), None) if self.distinct => Ok(Mode::Distinct(t)),
            (Some(t), None) => Ok(Mode::Plain(t)),
        }
    }
}

/// What `distinct` folded.
#[derive(Clone, Debug, PartialEq)]
pub struct Folding {
    /// Per match: the copies of its recording folded into it.
    pub copies: Vec<usize>,
    /// Copies of the target left out.
    pub query_copies: usize,
}

/// What every door prints of a similarity question.
#[derive(Clone, Debug)]
pub struct SimilarAnswer {
    /// Best first; for the words alone `similarity` is the tag score.
    pub matches: Vec<Match>,
    /// The compared model (`name@version`, a blend's key, or [`STYLE_TAGS_MODEL`]).
    pub model: String,
    /// When words steered a target's neighbours: each match's tag score.
    pub tag_scores: Option<Vec<f32>>,
    /// With `distinct`: what was folded.
    pub folding: Option<Folding>,
    /// With `explain`: per match, which aspects agree.
    pub explanations: Option<Vec<Explanation>>,
    /// Advice on the library's vectors (outdated models, default vectors some songs lack),
    /// when the ask wanted notes.
    pub notes: Vec<String>,
    /// Words alone that matched nothing from the first result on: why, and which words
    /// would match (every door reports it as an error).
    pub nothing_matched: Option<String>,
}

/// An ask checked, its vectors chosen: ready to [`run`](Prepared::run).
pub struct Prepared<'a> {
    ask: &'a SimilarAsk,
    mode: Mode<'a>,
    parts: Vec<ModelPart>,
    /// The compared model, as [`SimilarAnswer::model`].
    pub model: String,
    /// As [`SimilarAnswer::notes`].
    pub notes: Vec<String>,
}

/// Answers `ask`: [`prepare`], then [`Prepared::run`]. Embedders a file needs come from
/// `embedders` (started once by a long-running server, fresh for one CLI command).
pub async fn answer(
    backend: &dyn StorageBackend,
    ask: &SimilarAsk,
    embedders: &Pool,
) -> AppResult<SimilarAnswer> {
    prepare(backend, ask, embedders).await?.run(backend).await
}

/// Checks `ask` and chooses the vectors it compares (for a file, only its being a file
/// matters: the path need not hold the audio yet).
pub async fn prepare<'a>(
    backend: &dyn StorageBackend,
    ask: &'a SimilarAsk,
    embedders: &Pool,
) -> AppResult<Prepared<'a>> {
    let mode = ask.mode()?;
    let target = match mode {
        Mode::Words(_) => None,
        Mode::Plain(t) | Mode::Distinct(t) | Mode::Steer(t, _) => Some(t),
    };
    let Some(target) = target else {
        return Ok(Prepared {
            ask,
            mode,
            parts: Vec::new(),
            model: STYLE_TAGS_MODEL.to_owned(),
            notes: Vec::new(),
        });
    };
    // Read once for the notes and the choice both.
    let stats = if ask.notes {
        Some(backend.models().await?)
    } else {
        None
    };
    let parts = choose_parts_in(backend, target, &ask.choice, embedders, stats.as_deref()).await?;
    tracing::info!("comparing {parts:?}");
    let model = space_of(&parts).key();
    let mut notes = Vec::new();
    if let Some(stats) = stats {
        notes.extend(
            crate::embedders::outdated_models(&stats)
                .iter()
                .map(|o| o.advice()),
        );
        if ask.choice == Choice::Auto {
            notes.extend(crate::embedders::upgrade_advice(&stats));
        }
    }
    Ok(Prepared {
        ask,
        mode,
        parts,
        model,
        notes,
    })
}

impl Prepared<'_> {
    /// Searches.
    pub async fn run(self, backend: &dyn StorageBackend) -> AppResult<SimilarAnswer> {
        let ask = self.ask;
        let mut answer = SimilarAnswer {
            matches: Vec::new(),
            model: self.model,
            tag_scores: None,
            folding: None,
            explanations: None,
            notes: self.notes,
            nothing_matched: None,
        };
        let req = |target: &Target| SimilarRequest {
            target: target.clone(),
            parts: self.parts,
            k: ask.k,
            metric: ask.metric,
            threshold: ask.threshold,
            offset: ask.offset,
            filter: ask.filter.clone(),
            exact: ask.exact,
        };
        match self.mode {
            Mode::Words(words) => {
                let (k, offset, filter) = (ask.k, ask.offset, &ask.filter);
                answer.matches =
                    crate::words::by_words(backend, words, k, offset, filter, &[]).await?;
                if answer.matches.is_empty() && offset == 0 {
                    let why = crate::words::nothing_matched(backend, words, filter).await?;
                    answer.nothing_matched = Some(why);
                }
            }
            Mode::Steer(target, words) => {
                let steered = crate::words::steer(backend, &req(target), words).await?;
                answer.tag_scores = Some(steered.iter().map(|s| s.tag_score).collect());
                answer.matches = steered.into_iter().map(|s| s.matched).collect();
            }
            Mode::Distinct(target) => {
                let d = super::similar_distinct(backend, &req(target)).await?;
                answer.matches = d.matches;
                answer.folding = Some(Folding {
                    copies: d.copies_folded,
                    query_copies: d.query_copies,
                });
            }
            Mode::Plain(target) => answer.matches = super::similar(backend, &req(target)).await?,
        }
        // `mode` refuses --explain without a song of the library.
        if let (Some(Target::Song(q)), true) = (&ask.target, ask.explain) {
            let explain = |m: &Match| crate::explain::explain(q, &m.metadata);
            answer.explanations = Some(answer.matches.iter().map(explain).collect());
        }
        Ok(answer)
    }
}
