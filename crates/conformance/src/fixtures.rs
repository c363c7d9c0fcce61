//! The suite's shared fixtures: its two models, its numbered songs, putting a library of them
//! in and clearing it out again, and the brute-force search oracle with the check that holds a
//! backend's search against it.

use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::math::{self, Metric, TopK};
use songrec_storage::metadata::SongMetadata;
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::query::SearchQuery;
use songrec_storage::rng::SplitMix;

const GENRES: [&str; 3] = ["Rock", "jazz", "Electronic"];

pub(crate) fn model_a() -> ModelInfo {
    ModelInfo::new("conformance-a", "1", 8)
}
pub(crate) fn model_b() -> ModelInfo {
    ModelInfo::new("conformance-b", "2", 5)
}

pub(crate) fn song(n: usize) -> SongMetadata {
    let id = SongId::from_bytes(format!("conformance song {n}").as_bytes());
    let mut m = SongMetadata::new(id, format!("Song {n:03}"));
    m.artist = Some(format!("Artist {}", n % 4));
    m.album = Some(format!("Album {}", n % 2));
    m.genre = Some(GENRES[n % 3].to_owned());
    m.bpm = if n % 5 == 4 {
        None
    } else {
        Some(80.0 + n as f32 * 2.5)
    };
    m.key = Some(
        if n.is_multiple_of(2) {
            "A minor"
        } else {
            "C major"
        }
        .to_owned(),
    );
    m.tags = if n.is_multiple_of(4) {
        vec!["moody".into(), "night".into()]
    } else {
        vec!["bright".into()]
    };
    m.duration_secs = 60.0 + n as f64;
    m.sample_rate = 44_100;
    m.channels = 2;
    m.file_size = 1000 + n as u64;
    m.file_name = format!("song_{n}.flac");
    m.extra.insert(
        "label".into(),
        serde_json::json!(format!("Label {}", n % 2)),
    );
    m
}

pub(crate) async fn put_library(
    b: &dyn StorageBackend,
    n: usize,
    rng: &mut SplitMix,
) -> Vec<(SongMetadata, Vec<f32>)> {
    let mut out = Vec::new();
    let mut records = Vec::new();
    for i in 0..n {
        let m = song(i);
        let v = rng.vector(model_a().dim);
        records.push(SongRecord {
            metadata: m.clone(),
            embeddings: vec![Embedding::new(model_a(), v.clone()).expect("valid embedding")],
        });
        out.push((m, v));
    }
    let report = b.put_songs(&records).await.expect("put_songs");
    assert!(
        report.is_complete(),
        "put_songs failed for some songs: {:?}",
        report.failed
    );
    assert_eq!(report.stored.len(), n, "put_songs stored count");
    out
}

pub(crate) async fn clear(b: &dyn StorageBackend, lib: &[(SongMetadata, Vec<f32>)]) {
    for (m, _) in lib {
        b.delete_song(&m.id).await.expect("delete_song");
    }
    assert_eq!(
        b.count(&Filter::default()).await.expect("count"),
        0,
        "library not empty after cleanup"
    );
}

pub(crate) fn brute_force(lib: &[(SongMetadata, Vec<f32>)], q: &SearchQuery) -> Vec<(SongId, f32)> {
    let qn = math::norm(&q.vector);
    let mut top = TopK::new(q.ranking.offset + q.ranking.k);
    for (m, v) in lib {
        if q.exclude.contains(&m.id) || !q.ranking.filter.matches(m) {
            continue;
        }
        let (s, _) = math::score(q.ranking.metric, math::dot(&q.vector, v), qn, math::norm(v));
        if q.ranking.threshold.is_some_and(|t| s < t) {
            continue;
        }
        top.push(s, m.id.clone());
    }
    top.into_sorted()
        .into_iter()
        .skip(q.ranking.offset)
        .map(|s| (s.key, s.score))
        .collect()
}

pub(crate) async fn assert_search(
    b: &dyn StorageBackend,
    lib: &[(SongMetadata, Vec<f32>)],
    q: &SearchQuery,
    what: &str,
) {
    let got = b
        .search(q)
        .await
        .unwrap_or_else(|e| panic!("search ({what}) failed: {e}"));
    let want = brute_force(lib, q);
    let got_ids: Vec<_> = got.iter().map(|m| m.id.clone()).collect();
    let want_ids: Vec<_> = want.iter().map(|w| w.0.clone()).collect();
    assert_eq!(
        got_ids, want_ids,
        "search ({what}): ids/order differ from brute force"
    );
    for (g, w) in got.iter().zip(&want) {
        assert!(
            (g.similarity - w.1).abs() < 1e-4,
            "search ({what}): similarity {} vs expected {}",
            g.similarity,
            w.1
        );
        assert_eq!(
            g.metadata.id, g.id,
            "search ({what}): match carries another song's metadata"
        );
        if q.ranking.metric == Metric::L2 {
            let d = g
                .distance
                .unwrap_or_else(|| panic!("search ({what}): l2 match without distance"));
            assert!(
                (1.0 / (1.0 + d * d) - w.1).abs() < 1e-3,
                "search ({what}): distance inconsistent"
            );
        }
    }
}
