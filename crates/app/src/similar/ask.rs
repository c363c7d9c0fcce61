//! The one `similar` of every door (CLI and REST API): a [`SimilarAsk`] judged by
//! [`SimilarAsk::mode`], one [`Question`], one [`SimilarAnswer`]; in two steps ([`prepare`],
//! [`Prepared::run`]) for a door with work in between.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use songrec_audio::Embedder;
use songrec_rank::{Question, Space};
use songrec_storage::{Match, Metric, Ranking, SongMetadata, StorageBackend};

use super::choice::{Choice, choose_parts};
use super::query::{Target, embedders_for, probe, reach};
use crate::AppResult;
use crate::embedders::Pool;
pub use crate::error::AskError;
use crate::explain::Explanation;
use crate::words::{STYLE_TAGS_MODEL, TagQuery};

/// A similarity question, as any door asks it (by default: none, `auto` vectors, no options).
#[derive(Clone, Debug, Default)]
pub struct SimilarAsk {
    /// The song or file to be like; `None`: the words alone.
    pub target: Option<Target>,
    /// Words for the style tags: alone, songs ranked by them; with a target, its neighbours
    /// moved towards them.
    pub words: Option<TagQuery>,
    /// One song per recording (`distinct`).
    pub distinct: bool,
    /// Say for each match which aspects agree with the target song.
    pub explain: bool,
    /// Which vectors (`auto` when the door was given no choice).
    pub choice: Choice,
    /// What is asked of the ranking: k, offset, metric, threshold, filter, exact.
    pub ranking: Ranking,
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
    /// One song per recording (`distinct`).
    Distinct(&'a Target),
    /// The target's neighbours moved towards the words (`words::steer`).
    Steer(&'a Target, &'a TagQuery),
}

impl SimilarAsk {
    /// The mode the ask names, or why it names none: the one judge of every door's ask.
    pub fn mode(&self) -> Result<Mode<'_>, AskError> {
        let song = matches!(self.target, Some(Target::Song(_)));
        let vectors = self.choice != Choice::Auto || self.ranking.threshold.is_some();
        match (&self.target, &self.words) {
            (None, None) => Err(AskError::Nothing),
            (_, Some(_)) if self.distinct => Err(AskError::DistinctWithWords),
            _ if self.explain && !song => Err(AskError::ExplainNeedsSong),
            (None, Some(_)) if vectors => Err(AskError::VectorsWithWordsAlone),
            (None, Some(w)) => Ok(Mode::Words(w)),
            (Some(t), Some(w)) => Ok(Mode::Steer(t, w)),
            (Some(t), None) if self.distinct => Ok(Mode::Distinct(t)),
            (Some(t), None) => Ok(Mode::Plain(t)),
        }
    }
}

/// What a similarity answer is about.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryInfo {
    /// A song of the library.
    Song(Box<SongMetadata>),
    /// An audio file (`songrec similar --file`).
    File(PathBuf),
    /// An uploaded file (`POST /api/v1/similar`; the door says what arrived).
    Upload {
        /// File name the client gave (informational).
        file_name: Option<String>,
        bytes: u64,
        /// Media type recognised from the content.
        content_type: String,
    },
    /// Words alone.
    Text(String),
}

/// One result of a [`SimilarAnswer`].
#[derive(Clone, Debug, Serialize)]
pub struct SimilarItem {
    /// Similarity under the metric (higher is closer); for words alone, the tag score.
    pub similarity: f32,
    /// Euclidean distance, for `l2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
    pub song: SongMetadata,
    /// With `distinct`: other copies of this recording folded into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies_folded: Option<usize>,
    /// With words: the song's score for their style tags.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_score: Option<f32>,
    /// With `explain`: which aspects agree with the target song.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// The answer to a similarity question: what every door prints, and what `songrec similar
/// --json` and the REST API serialise (the same fields at the top and per result).
#[derive(Clone, Debug, Serialize)]
pub struct SimilarAnswer {
    /// What the question was about.
    pub query: QueryInfo,
    /// With words: how they were read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub words: Option<TagQuery>,
    /// The compared model (`name@version`, a blend's key, or [`STYLE_TAGS_MODEL`]).
    pub model: String,
    pub metric: Metric,
    /// Results asked for.
    pub k: usize,
    /// Results skipped.
    pub offset: usize,
    /// Whether every result list behind the results was ranked exactly (no approximate index).
    pub exact: bool,
    /// With `distinct`: copies folded into the results, in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies_folded: Option<usize>,
    /// With `distinct`: copies of the query left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_copies_excluded: Option<usize>,
    /// Best first.
    pub results: Vec<SimilarItem>,
    /// Advice on the library's vectors (outdated models, default vectors some songs lack),
    /// when the ask wanted notes.
    #[serde(skip)]
    pub notes: Vec<String>,
    /// Words alone that matched nothing from the first result on: why, and which words
    /// would match (every door reports it as an error).
    #[serde(skip)]
    pub nothing_matched: Option<String>,
}

/// An ask checked, its question built: ready to [`run`](Prepared::run).
pub struct Prepared<'a> {
    ask: &'a SimilarAsk,
    mode: Mode<'a>,
    question: Question,
    /// The embedders analysing a file (none for a song or words).
    embedders: Vec<Arc<dyn Embedder>>,
    /// The compared model, as [`SimilarAnswer::model`].
    pub model: String,
    /// As [`SimilarAnswer::notes`].
    pub notes: Vec<String>,
}

/// Answers `ask`: [`prepare`], then [`Prepared::run`] (a file's embedders from `embedders`).
pub async fn answer(
    backend: &dyn StorageBackend,
    ask: &SimilarAsk,
    embedders: &Pool,
) -> AppResult<SimilarAnswer> {
    prepare(backend, ask, embedders).await?.run(backend).await
}

/// Checks `ask`, chooses the vectors it compares and starts the embedders a file needs (the
/// file's audio need not be there yet).
pub async fn prepare<'a>(
    backend: &dyn StorageBackend,
    ask: &'a SimilarAsk,
    embedders: &Pool,
) -> AppResult<Prepared<'a>> {
    let mode = ask.mode()?;
    let question = |space| Question {
        space,
        ranking: ask.ranking.clone(),
    };
    let (Mode::Plain(target) | Mode::Distinct(target) | Mode::Steer(target, _)) = mode else {
        return Ok(Prepared {
            ask,
            mode,
            question: question(Space { parts: Vec::new() }),
            embedders: Vec::new(),
            model: STYLE_TAGS_MODEL.to_owned(),
            notes: Vec::new(),
        });
    };
    reach(backend, &ask.ranking)?;
    // Read once for the notes and the choice both.
    let stats = if ask.notes {
        Some(backend.models().await?)
    } else {
        None
    };
    let space = choose_parts(backend, target, &ask.choice, stats.as_deref()).await?;
    if space.parts.len() > 1 && ask.ranking.metric == Metric::L2 {
        return Err(AskError::BlendNeedsCosine.into());
    }
    tracing::info!("comparing {}", space.key());
    let mut notes = Vec::new();
    if let Some(stats) = stats {
        let outdated = crate::embedders::outdated_models(&stats);
        notes.extend(outdated.iter().map(|o| o.advice()));
        if ask.choice == Choice::Auto {
            notes.extend(crate::embedders::upgrade_advice(&stats));
        }
    }
    Ok(Prepared {
        ask,
        mode,
        embedders: embedders_for(target, &space, embedders)?,
        model: space.key(),
        question: question(space),
        notes,
    })
}

impl Prepared<'_> {
    pub async fn run(self, backend: &dyn StorageBackend) -> AppResult<SimilarAnswer> {
        let (ask, q, r) = (self.ask, &self.question, &self.question.ranking);
        let e = &self.embedders;
        let (mut copies, mut tag_scores, mut nothing_matched, mut folded) =
            (None, None, None, None);
        let matches: Vec<Match> = match self.mode {
            Mode::Words(words) => {
                let ms = crate::words::by_words(backend, words, r).await?;
                if ms.is_empty() && r.offset == 0 {
                    let why = crate::words::nothing_matched(backend, words, &r.filter).await?;
                    nothing_matched = Some(why);
                }
                // Words alone rank by the tag score.
                tag_scores = Some(ms.iter().map(|m| m.similarity).collect());
                ms
            }
            Mode::Steer(target, words) => {
                let p = probe(backend, target, &q.space, e).await?;
                let steered = crate::words::steer(backend, q, &p, words).await?;
                tag_scores = Some(steered.iter().map(|s| s.tag_score).collect());
                steered.into_iter().map(|s| s.matched).collect()
            }
            Mode::Distinct(target) => {
                let p = probe(backend, target, &q.space, e).await?;
                let d = super::distinct::distinct(backend, q, &p).await?;
                folded = Some((d.copies_folded.iter().sum(), d.query_copies));
                copies = Some(d.copies_folded);
                d.matches
            }
            Mode::Plain(target) => {
                let p = probe(backend, target, &q.space, e).await?;
                songrec_rank::search(backend, q, &p.vectors, &p.exclude).await?
            }
        };
        // `mode` refuses `explain` without a song of the library.
        let explain = |m: &SongMetadata| match (&ask.target, ask.explain) {
            (Some(Target::Song(s)), true) => Some(crate::explain::explain(s, m)),
            _ => None,
        };
        Ok(SimilarAnswer {
            query: match (&ask.target, &ask.words) {
                (Some(Target::Song(m)), _) => QueryInfo::Song(m.clone()),
                (Some(Target::File(p)), _) => QueryInfo::File(p.clone()),
                (None, w) => {
                    QueryInfo::Text(w.as_ref().map(|w| w.text.clone()).unwrap_or_default())
                }
            },
            words: ask.words.clone(),
            model: self.model,
            metric: r.metric,
            k: r.k,
            offset: r.offset,
            exact: !matches.iter().any(|m| m.approximate),
            copies_folded: folded.map(|f| f.0),
            query_copies_excluded: folded.map(|f| f.1),
            results: matches
                .into_iter()
                .enumerate()
                .map(|(i, m)| SimilarItem {
                    similarity: m.similarity,
                    distance: m.distance,
                    copies_folded: copies.as_ref().and_then(|c: &Vec<_>| c.get(i).copied()),
                    tag_score: tag_scores.as_ref().and_then(|t: &Vec<_>| t.get(i).copied()),
                    explanation: explain(&m.metadata),
                    song: m.metadata,
                })
                .collect(),
            notes: self.notes,
            nothing_matched,
        })
    }
}
