//! Similarity queries: by a song in the library or by an outside audio file, on one model's
//! vectors or on a blend of several (ranked by [`songrec_rank::search`], whose blend
//! standardises each model's scores over the candidate pool).
//!
//! - [`answer`] (in `ask`): the one `similar` of every door, from a [`SimilarAsk`], to one
//!   [`SimilarAnswer`];
//! - [`similar`] here, `distinct`: the searches it runs, on one [`Question`];
//! - [`Choice`] and [`choose_parts`] (in `choice`): which vectors a query compares;
//! - [`Target`] (in `query`): what a query is about, and its vectors;
//! - [`artists`]: similar artists, from the neighbours of an artist's songs.

use songrec_rank::Question;
use songrec_storage::{Match, StorageBackend};

use crate::AppResult;
use crate::embedders::Pool;

pub mod artists;
mod ask;
mod choice;
mod distinct;
mod query;

pub use ask::{
    AskError, Mode, Prepared, QueryInfo, SimilarAnswer, SimilarAsk, SimilarItem, answer, prepare,
};
pub use choice::{
    AUTO_BLEND, AUTO_BLEND_SHORT, Choice, DEFAULT_BLEND, SHORT_CLIP_SECS, auto_weight,
    choose_parts, choose_space,
};
pub use distinct::{DISTINCT_ROUNDS, DISTINCT_WIDEN, DistinctMatches, distinct_pool};
pub use query::Target;
use query::{embedders_for, probe, reach};

/// Answers question `q` about `target` (embedders a file needs come from `pool`); the query
/// song itself is never among the results.
pub async fn similar(
    backend: &dyn StorageBackend,
    target: &Target,
    q: &Question,
    pool: &Pool,
) -> AppResult<Vec<Match>> {
    reach(backend, &q.ranking)?;
    let embedders = embedders_for(target, &q.space, pool)?;
    let p = probe(backend, target, &q.space, &embedders).await?;
    Ok(songrec_rank::search(backend, q, &p.vectors, &p.exclude).await?)
}

#[cfg(test)]
mod overflow_tests {
    use songrec_rank::Space;
    use songrec_storage::{ModelInfo, Ranking};

    use super::*;
    use crate::AppError;

    #[tokio::test]
    async fn extreme_offsets_are_a_clear_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let backend = songrec_local::LocalBackend::open(dir.path()).expect("library");
        let pool = Pool::new(Default::default());
        for (k, offset) in [(1, usize::MAX), (usize::MAX, 1), (usize::MAX, usize::MAX)] {
            let q = Question {
                space: Space::from(ModelInfo::new("m", "1", 2)),
                ranking: Ranking {
                    k,
                    offset,
                    ..Ranking::default()
                },
            };
            match similar(&backend, &Target::File("query.wav".into()), &q, &pool).await {
                Err(AppError::Invalid(m)) => {
                    assert!(m.contains("k + offset must be at most"), "{m}")
                }
                other => panic!("k {k}, offset {offset}: {other:?}"),
            }
        }
        assert_eq!(songrec_rank::pool_size(usize::MAX, usize::MAX, 1000), 1000);
    }
}
