//! One song per recording: [`distinct`] folds copies of one recording (other files of it) into
//! the best ranked, widening the candidate pool until enough recordings are found.

use serde::Serialize;
use songrec_rank::Question;
use songrec_storage::{Match, Ranking, SongMetadata, StorageBackend};

use super::query::reach;
use crate::AppResult;
use crate::probe::Probe;

/// What [`distinct`] found.
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

/// Candidates asked for at first by [`distinct`] for `want` (= offset + k) distinct
/// results; each further round asks for [`DISTINCT_WIDEN`] times more, up to the backend's
/// search limit `max` ([`StorageBackend::max_results`]).
pub fn distinct_pool(want: usize, max: usize) -> usize {
    want.saturating_mul(2).saturating_add(20).min(max)
}

/// How much a round of [`distinct`] widens the candidate pool.
pub const DISTINCT_WIDEN: usize = 4;

/// Rounds of widening at most (the pool reaches the search limit sooner for any `k`).
pub const DISTINCT_ROUNDS: usize = 4;

/// [`similar`](super::similar) with one song per recording ([`songrec_identity::recording`]):
/// only the best-ranked copy is kept, copies of the query are left out, and `offset` and `k`
/// count distinct results. The pool widens [`DISTINCT_WIDEN`] times per round (at most
/// [`DISTINCT_ROUNDS`], never over the search limit) while folding leaves too few.
pub(crate) async fn distinct(
    backend: &dyn StorageBackend,
    q: &Question,
    p: &Probe,
) -> AppResult<DistinctMatches> {
    let (max, want, r) = (
        backend.max_results(),
        reach(backend, &q.ranking)?,
        &q.ranking,
    );
    let anchors = [p.song.clone()];
    let mut pool = distinct_pool(want, max);
    let mut round = 1;
    loop {
        let sub = Question {
            ranking: Ranking {
                k: pool,
                offset: 0,
                ..r.clone()
            },
            space: q.space.clone(),
        };
        let found = songrec_rank::search(backend, &sub, &p.vectors, &p.exclude).await?;
        let metas: Vec<SongMetadata> = found.iter().map(|m| m.metadata.clone()).collect();
        let f = songrec_identity::recording::fold(&anchors, &metas);
        let exhausted = found.len() < pool;
        if f.kept.len() >= want || exhausted || pool >= max || round >= DISTINCT_ROUNDS {
            let mut found: Vec<Option<Match>> = found.into_iter().map(Some).collect();
            let (mut matches, mut copies_folded) = (Vec::new(), Vec::new());
            for (&i, &c) in f.kept.iter().zip(&f.copies).skip(r.offset).take(r.k) {
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
    #[test]
    fn doc_distinct_pool() {
        assert_eq!(crate::similar::distinct_pool(10, 1000), 40);
        assert_eq!(crate::similar::distinct_pool(1000, 1000), 1000);
        assert_eq!(crate::similar::distinct_pool(1000, usize::MAX), 2020);
    }

    use super::super::query::{Target, probe};
    use super::super::similar;
    use super::*;
    use songrec_rank::{Space, pool_size};
    use songrec_storage::prelude::*;
    use songrec_storage::{Filter, ModelInfo, SongId};

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

    fn request(model: &ModelInfo, query: &SongMetadata, k: usize, offset: usize) -> Asked {
        let ranking = Ranking {
            k,
            offset,
            ..Ranking::default()
        };
        let space = Space::from(model.clone());
        (
            Target::Song(Box::new(query.clone())),
            Question { space, ranking },
        )
    }

    type Asked = (Target, Question);

    async fn similar_distinct(
        b: &dyn StorageBackend,
        (t, q): &Asked,
    ) -> AppResult<DistinctMatches> {
        distinct(b, q, &probe(b, t, &q.space, &[]).await?).await
    }

    #[tokio::test]
    async fn distinct_widens_past_the_query_copies_and_folds_copies() {
        let dir = tempfile::tempdir().unwrap();
        // 60 copies of the query fill the first pool (2 × 3 + 20 = 26 candidates) and the
        // second (104): k distinct results need a third round.
        let (b, model, query) = library(dir.path(), 60, 5).await;
        let req = request(&model, &query, 3, 0);
        let pool = crate::embedders::Pool::new(Default::default());
        let plain = similar(&b, &req.0, &req.1, &pool).await.unwrap();
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
        assert_eq!(d.copies_folded.iter().sum::<usize>(), 3);
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
        let capped = songrec_conformance::MemoryBackend::with_max_results(
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
