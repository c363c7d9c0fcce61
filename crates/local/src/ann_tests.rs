//! Tests of the approximate index: recall on a clustered set, filters and thresholds that must
//! equal the exact answer, damaged and stale indexes, deletes, folds and interrupted saves.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;

use songrec_storage::prelude::*;

use songrec_storage::rng::Mixture;
use songrec_storage::{
    Condition, Embedding, Field, Filter, Match, ModelInfo, SearchQuery, SongId, SongMetadata,
    SongRecord, Value,
};

use crate::{LocalBackend, LocalOptions, npy};

const DIM: usize = 16;
const CLUSTERS: usize = 30;

fn model() -> ModelInfo {
    ModelInfo::new("m", "1", DIM)
}

fn opts(min_vectors: usize) -> LocalOptions {
    LocalOptions::with_ann_threshold(min_vectors)
}

fn song(i: usize) -> SongMetadata {
    let mut m = SongMetadata::new(
        SongId::from_bytes(&(i as u64).to_le_bytes()),
        format!("S{i}"),
    );
    m.genre = Some(
        if i.is_multiple_of(100) {
            "rare"
        } else if i.is_multiple_of(2) {
            "even"
        } else {
            "odd"
        }
        .into(),
    );
    m
}

fn records(range: std::ops::Range<usize>, mix: &mut Mixture) -> Vec<SongRecord> {
    range
        .map(|i| SongRecord {
            metadata: song(i),
            embeddings: vec![Embedding::new(model(), mix.draw()).unwrap()],
        })
        .collect()
}

async fn library(dir: &Path, n: usize, min_vectors: usize) -> (LocalBackend, Mixture) {
    let b = LocalBackend::open_with(dir, opts(min_vectors)).unwrap();
    let mut mix = Mixture::new(7, CLUSTERS, DIM, 0.35);
    let r = b.put_songs(&records(0..n, &mut mix)).await.unwrap();
    assert_eq!(r.stored.len(), n);
    (b, mix)
}

fn ann_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir.join("data/.songrec/index"))
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n.ends_with(".usearch"))
        .collect();
    v.sort();
    v
}

async fn search(b: &LocalBackend, q: SearchQuery) -> Vec<Match> {
    b.search(&q).await.unwrap()
}

fn ids(ms: &[Match]) -> Vec<SongId> {
    ms.iter().map(|m| m.id.clone()).collect()
}

fn id_set(ms: &[Match]) -> HashSet<SongId> {
    ms.iter().map(|m| m.id.clone()).collect()
}

/// Mean recall@k of the default path against the exact one over `queries`.
async fn recall(b: &LocalBackend, queries: &[Vec<f32>], k: usize, filter: &Filter) -> f64 {
    let mut hits = 0usize;
    let mut total = 0usize;
    for v in queries {
        let q = SearchQuery::new(model(), v.clone(), k).with(|r| r.filter = filter.clone());
        let approx = search(b, q.clone()).await;
        let exact = search(b, q.with(|r| r.exact = true)).await;
        assert!(exact.iter().all(|m| !m.approximate));
        assert_eq!(approx.len(), exact.len());
        assert!(approx.iter().all(|m| filter.matches(&m.metadata)));
        let want = id_set(&exact);
        hits += approx.iter().filter(|m| want.contains(&m.id)).count();
        total += exact.len();
    }
    hits as f64 / total.max(1) as f64
}

#[tokio::test]
async fn recall_on_a_clustered_set_and_exact_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    assert_eq!(ann_files(dir.path()).len(), 1, "the writer built the index");
    let queries: Vec<Vec<f32>> = (0..40).map(|_| mix.draw()).collect();
    let first = search(&b, SearchQuery::new(model(), queries[0].clone(), 10)).await;
    assert!(
        first.iter().all(|m| m.approximate),
        "above the threshold: ANN"
    );
    let r = recall(&b, &queries, 10, &Filter::default()).await;
    assert!(r >= 0.95, "recall@10 {r}");
    // Paging goes through the index too and agrees with the first page's order.
    let page2 = search(
        &b,
        SearchQuery::new(model(), queries[0].clone(), 10).with(|r| r.offset = 10),
    )
    .await;
    assert_eq!(page2.len(), 10);
    assert!(page2.iter().all(|m| m.approximate));
    assert!(page2[0].similarity <= first[9].similarity);
    // L2 and a library below the threshold stay exact.
    let l2 = search(
        &b,
        SearchQuery::new(model(), queries[0].clone(), 10)
            .with(|r| r.metric = songrec_storage::Metric::L2),
    )
    .await;
    assert!(l2.iter().all(|m| !m.approximate));
    let small = tempfile::tempdir().unwrap();
    let (s, _) = library(small.path(), 500, 1000).await;
    assert!(ann_files(small.path()).is_empty());
    let ms = search(&s, SearchQuery::new(model(), queries[0].clone(), 10)).await;
    assert!(ms.iter().all(|m| !m.approximate));
}

#[tokio::test]
async fn filters_and_thresholds_never_lose_matches() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    let queries: Vec<Vec<f32>> = (0..20).map(|_| mix.draw()).collect();
    let genre = |g: &str| Filter::default().and(Condition::Eq(Field::Genre, Value::Text(g.into())));
    // A broad filter (half the songs) runs inside the graph search.
    let even = genre("even");
    let r = recall(&b, &queries, 10, &even).await;
    assert!(r >= 0.95, "filtered recall@10 {r}");
    let ms = search(
        &b,
        SearchQuery::new(model(), queries[0].clone(), 10).with(|r| r.filter = even.clone()),
    )
    .await;
    assert!(ms.iter().all(|m| m.approximate));
    // A selective filter (1%) is estimated as such and answered exactly: the oracle's set.
    for v in &queries {
        let q = SearchQuery::new(model(), v.clone(), 10).with(|r| r.filter = genre("rare"));
        let got = search(&b, q.clone()).await;
        let want = search(&b, q.with(|r| r.exact = true)).await;
        assert_eq!(ids(&got), ids(&want));
        assert!(got.iter().all(|m| !m.approximate));
    }
    // A threshold that only a few songs pass: fewer than k results, so the exact scan answers
    // and returns exactly the songs above it.
    for v in &queries {
        let exact_all = search(
            &b,
            SearchQuery::new(model(), v.clone(), 3000).with(|r| r.exact = true),
        )
        .await;
        let t = exact_all[4].similarity;
        let q = SearchQuery::new(model(), v.clone(), 10).with(|r| r.threshold = Some(t));
        let got = search(&b, q.clone()).await;
        let want: Vec<SongId> = exact_all
            .iter()
            .filter(|m| m.similarity >= t)
            .take(10)
            .map(|m| m.id.clone())
            .collect();
        assert_eq!(ids(&got), want);
    }
    // Exclusions hold on the approximate path.
    let top = search(&b, SearchQuery::new(model(), queries[1].clone(), 5)).await;
    let excluded: Vec<SongId> = ids(&top);
    let rest = search(
        &b,
        SearchQuery {
            exclude: excluded.clone(),
            ..SearchQuery::new(model(), queries[1].clone(), 5)
        },
    )
    .await;
    assert_eq!(rest.len(), 5);
    assert!(rest.iter().all(|m| !excluded.contains(&m.id)));
}

#[tokio::test]
async fn a_damaged_index_is_ignored_and_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    drop(b);
    assert_eq!(ann_files(dir.path()).len(), 1);
    let queries: Vec<Vec<f32>> = (0..10).map(|_| mix.draw()).collect();
    for damage in ["truncate", "flip"] {
        let damaged = ann_files(dir.path());
        let mut bytes = fs::read(path_of(dir.path())).unwrap();
        match damage {
            "truncate" => bytes.truncate(bytes.len() / 2),
            _ => {
                let n = bytes.len();
                bytes[n - 10] ^= 0xFF;
                bytes[100] ^= 0xFF;
            }
        }
        fs::write(path_of(dir.path()), &bytes).unwrap();
        let b = LocalBackend::open_with(dir.path(), opts(1000)).unwrap();
        let ms = search(&b, SearchQuery::new(model(), queries[0].clone(), 10)).await;
        let exact = search(
            &b,
            SearchQuery::new(model(), queries[0].clone(), 10).with(|r| r.exact = true),
        )
        .await;
        assert_eq!(ms.len(), 10);
        assert!(recall(&b, &queries, 10, &Filter::default()).await >= 0.95);
        assert!(id_set(&ms).intersection(&id_set(&exact)).count() >= 9);
        // The reader took the free lock and rebuilt it under a new name.
        let now = ann_files(dir.path());
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now, damaged, "{damage}: not rebuilt");
        drop(b);
    }
}

fn path_of(dir: &Path) -> std::path::PathBuf {
    dir.join("data/.songrec/index").join(&ann_files(dir)[0])
}

#[tokio::test]
async fn vectors_added_behind_its_back_make_the_index_stale() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    let before = ann_files(dir.path());
    drop(b);
    // Another tool writes a song's .npy file and metadata by hand.
    let b = LocalBackend::open_with(dir.path(), opts(1000)).unwrap();
    let extra = song(9999);
    b.put_metadata(&extra).await.unwrap();
    drop(b);
    let v: Vec<f32> = mix.draw().iter().map(|x| x + 5.0).collect();
    let model_dir = dir.path().join("data/embeddings");
    fs::write(model_dir.join(format!("{}.npy", extra.id)), npy::encode(&v)).unwrap();
    let b = LocalBackend::open_with(dir.path(), opts(1000)).unwrap();
    let ms = search(&b, SearchQuery::new(model(), v.clone(), 1)).await;
    assert_eq!(ms[0].id, extra.id);
    assert!(
        !ms[0].approximate,
        "the search that rebuilt the index is exact"
    );
    assert_ne!(ann_files(dir.path()), before, "the stale index was rebuilt");
    let ms = search(&b, SearchQuery::new(model(), v.clone(), 1)).await;
    assert_eq!(ms[0].id, extra.id);
    assert!(
        ms[0].approximate,
        "the rebuilt index answers the next search"
    );
}

#[tokio::test]
async fn deleted_and_reembedded_songs_never_come_back_and_the_tail_is_folded_in() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    // Delete songs that are in the graph; their own vectors must not find them.
    let mut gone = Vec::new();
    for i in (0..3000).step_by(97) {
        let id = song(i).id;
        let v = b
            .get_embedding(&id, &model())
            .await
            .unwrap()
            .unwrap()
            .vector;
        assert!(b.delete_song(&id).await.unwrap());
        gone.push((id, v));
    }
    for (id, v) in &gone {
        let ms = search(&b, SearchQuery::new(model(), v.clone(), 10)).await;
        assert!(ms.iter().all(|m| m.approximate));
        assert!(!ids(&ms).contains(id), "a deleted song came back");
    }
    // A re-embedded song is found by its new vector, scored against it.
    let id = song(5).id;
    let new_v: Vec<f32> = (0..DIM).map(|i| if i == 0 { 40.0 } else { 0.0 }).collect();
    b.put_embedding(&id, &Embedding::new(model(), new_v.clone()).unwrap())
        .await
        .unwrap();
    let ms = search(&b, SearchQuery::new(model(), new_v.clone(), 1)).await;
    assert_eq!(ms[0].id, id);
    assert!((ms[0].similarity - 1.0).abs() < 1e-5);
    // Enough new songs to pass a tenth of the graph: the writer folds them in.
    let before = ann_files(dir.path());
    b.put_songs(&records(3000..4200, &mut mix)).await.unwrap();
    let after = ann_files(dir.path());
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "the tail was folded into a new index file");
    drop(b);
    let b = LocalBackend::open_with(dir.path(), opts(1000)).unwrap();
    for (id, v) in &gone {
        let ms = search(&b, SearchQuery::new(model(), v.clone(), 10)).await;
        assert!(
            !ids(&ms).contains(id),
            "a deleted song came back after the fold"
        );
    }
    let ms = search(&b, SearchQuery::new(model(), new_v, 1)).await;
    assert_eq!(ms[0].id, id);
    let queries: Vec<Vec<f32>> = (0..20).map(|_| mix.draw()).collect();
    assert!(recall(&b, &queries, 10, &Filter::default()).await >= 0.95);
}

#[tokio::test]
async fn an_interrupted_save_leaves_the_old_index_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let (b, mut mix) = library(dir.path(), 3000, 1000).await;
    let before = ann_files(dir.path());
    b.inner.faults.ann_save_fails.store(true, Ordering::Relaxed);
    // The fold fails half-way through the save; the songs are stored all the same.
    let r = b.put_songs(&records(3000..4200, &mut mix)).await.unwrap();
    assert_eq!(r.stored.len(), 1200);
    b.inner
        .faults
        .ann_save_fails
        .store(false, Ordering::Relaxed);
    drop(b);
    assert_eq!(
        ann_files(dir.path()).len(),
        2,
        "the partial file is left behind"
    );
    let b = LocalBackend::open_with(dir.path(), opts(1000)).unwrap();
    let queries: Vec<Vec<f32>> = (0..20).map(|_| mix.draw()).collect();
    // The manifest still names the old, complete index; the new songs are scanned exactly.
    assert!(recall(&b, &queries, 10, &Filter::default()).await >= 0.95);
    let last = song(4199).id;
    let v = b
        .get_embedding(&last, &model())
        .await
        .unwrap()
        .unwrap()
        .vector;
    let ms = search(&b, SearchQuery::new(model(), v, 1)).await;
    assert_eq!(ms[0].id, last);
    assert!(ms[0].approximate);
    // The next successful save removes the partial file.
    b.put_songs(&records(4200..4300, &mut mix)).await.unwrap();
    b.reindex().await.unwrap();
    let now = ann_files(dir.path());
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, before);
}
