//! Conformance-style checks of the approximate path (the shared suite compares with a brute-force
//! oracle and runs below the threshold): a library above a lowered threshold, answers compared
//! with a brute-force oracle computed here from the stored vectors: recall for plain queries,
//! the oracle's exact set for selective filters and thresholds that leave fewer than k songs.

use std::collections::HashSet;

use songrec_local::{LocalBackend, LocalOptions};
use songrec_storage::prelude::*;
use songrec_storage::rng::SplitMix;
use songrec_storage::{
    Condition, Embedding, Field, Filter, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord,
    Value, math,
};

const DIM: usize = 24;

fn model() -> ModelInfo {
    ModelInfo::new("conf", "1", DIM)
}

/// Brute force: ids of the best `k` songs passing `keep`, by cosine then id.
fn oracle(
    all: &[(SongMetadata, Vec<f32>)],
    q: &[f32],
    k: usize,
    threshold: Option<f32>,
    keep: impl Fn(&SongMetadata) -> bool,
) -> Vec<SongId> {
    let mut scored: Vec<(f32, &SongId)> = all
        .iter()
        .filter(|(m, _)| keep(m))
        .map(|(m, v)| (math::cosine(q, v), &m.id))
        .filter(|(s, _)| threshold.is_none_or(|t| *s >= t))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(k)
        .map(|(_, id)| id.clone())
        .collect()
}

#[tokio::test]
async fn the_approximate_path_meets_the_oracle() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::open_with(dir.path(), LocalOptions::with_ann_threshold(200)).unwrap();
    let mut rng = SplitMix::new(11);
    let centres: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..DIM).map(|_| rng.gauss()).collect())
        .collect();
    let draw = |rng: &mut SplitMix| -> Vec<f32> {
        let c = &centres[rng.below(centres.len())];
        c.iter().map(|x| x + 0.4 * rng.gauss()).collect()
    };
    let mut all = Vec::new();
    let mut recs = Vec::new();
    for i in 0..2000u32 {
        let mut m = SongMetadata::new(SongId::from_bytes(&i.to_le_bytes()), format!("C{i}"));
        m.genre = Some(
            if i.is_multiple_of(50) {
                "rare"
            } else {
                "common"
            }
            .into(),
        );
        let v = draw(&mut rng);
        recs.push(SongRecord {
            metadata: m.clone(),
            embeddings: vec![Embedding::new(model(), v.clone()).unwrap()],
        });
        all.push((m, v));
    }
    assert!(b.put_songs(&recs).await.unwrap().is_complete());
    let rare = Filter::default().and(Condition::Eq(Field::Genre, Value::Text("rare".into())));
    let (mut hits, mut total, mut approximate) = (0, 0, 0);
    for _ in 0..30 {
        let q = draw(&mut rng);
        // Plain: recall against the oracle.
        let got = b
            .search(&SearchQuery::new(model(), q.clone(), 10))
            .await
            .unwrap();
        approximate += usize::from(got.iter().all(|m| m.approximate));
        let want: HashSet<SongId> = oracle(&all, &q, 10, None, |_| true).into_iter().collect();
        hits += got.iter().filter(|m| want.contains(&m.id)).count();
        total += 10;
        // Forced exact: the oracle's list.
        let exact = b
            .search(&SearchQuery::new(model(), q.clone(), 10).with(|r| r.exact = true))
            .await
            .unwrap();
        let ids: Vec<SongId> = exact.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, oracle(&all, &q, 10, None, |_| true));
        // A selective filter: the oracle's list.
        let f = b
            .search(&SearchQuery::new(model(), q.clone(), 10).with(|r| r.filter = rare.clone()))
            .await
            .unwrap();
        let ids: Vec<SongId> = f.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, oracle(&all, &q, 10, None, |m| rare.matches(m)));
        // A threshold only three songs pass (half-way to the fourth): the oracle's list.
        let best = oracle(&all, &q, 4, None, |_| true);
        let cos = |id: &SongId| {
            all.iter()
                .find(|(m, _)| &m.id == id)
                .map(|(_, v)| math::cosine(&q, v))
                .unwrap()
        };
        let t = f32::midpoint(cos(&best[2]), cos(&best[3]));
        let th = b
            .search(&SearchQuery::new(model(), q.clone(), 10).with(|r| r.threshold = Some(t)))
            .await
            .unwrap();
        let ids: Vec<SongId> = th.iter().map(|m| m.id.clone()).collect();
        assert_eq!(ids, oracle(&all, &q, 10, Some(t), |_| true));
    }
    assert_eq!(
        approximate, 30,
        "every plain query took the approximate path"
    );
    let recall = hits as f64 / total as f64;
    assert!(recall >= 0.95, "recall@10 {recall}");
}
