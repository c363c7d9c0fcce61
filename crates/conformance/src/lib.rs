//! The backend-agnostic conformance suite, a dev-dependency of every crate with a backend or a
//! layer (it is test code: nothing the product ships links it).
//!
//! Every [`StorageBackend`] implementation (and every layer wrapping one) runs this from its
//! own tests, like `object_store`'s integration suite:
//!
//! ```text
//! #[tokio::test]
//! async fn conformance() {
//!     let backend = make_empty_backend().await;
//!     songrec_conformance::run_all(&backend).await;
//! }
//! ```
//!
//! [`MemoryBackend`] is the suite's exact in-memory backend: the oracle the layers' own tests
//! stack over.
//!
//! The backend must be empty at the start. Checks panic with a message naming the check.
//! Expected search results are computed here by brute force with [`songrec_storage::math`], so a
//! backend that pushes search into a remote service is checked against an independent answer.

mod audio;
mod feed;
mod fidelity;
pub mod floats;
mod memory;
mod metadata;
mod playlists;
mod search;

pub use audio::*;
pub use feed::*;
pub use fidelity::*;
pub use memory::MemoryBackend;
pub use metadata::*;
pub use playlists::*;
pub use search::*;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::error::StorageError;
use songrec_storage::filter::{Condition, Field, Filter, Value};
use songrec_storage::id::SongId;
use songrec_storage::math::{self, Metric, TopK};
use songrec_storage::metadata::SongMetadata;
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::query::{ListQuery, SearchQuery, SortKey};
use songrec_storage::rng::SplitMix;

const GENRES: [&str; 3] = ["Rock", "jazz", "Electronic"];

fn model_a() -> ModelInfo {
    ModelInfo::new("conformance-a", "1", 8)
}
fn model_b() -> ModelInfo {
    ModelInfo::new("conformance-b", "2", 5)
}

fn song(n: usize) -> SongMetadata {
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

async fn put_library(
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

async fn clear(b: &dyn StorageBackend, lib: &[(SongMetadata, Vec<f32>)]) {
    for (m, _) in lib {
        b.delete_song(&m.id).await.expect("delete_song");
    }
    assert_eq!(
        b.count(&Filter::default()).await.expect("count"),
        0,
        "library not empty after cleanup"
    );
}

fn brute_force(lib: &[(SongMetadata, Vec<f32>)], q: &SearchQuery) -> Vec<(SongId, f32)> {
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

async fn assert_search(
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

/// Runs every check in order. The backend must start empty and is left empty.
pub async fn run_all(b: &dyn StorageBackend) {
    empty_backend(b).await;
    metadata_roundtrip(b).await;
    compare_and_set_metadata(b).await;
    awkward_floats_roundtrip(b).await;
    non_finite_numbers_refused(b).await;
    songs_over_cloud_limits_refused(b).await;
    list_filter_and_paging(b).await;
    listing_natural_order(b).await;
    any_text_orders_alike(b).await;
    listing_cursor_survives_writers(b).await;
    times_at_the_edges_order_alike(b).await;
    embeddings_roundtrip_and_models(b).await;
    search_matches_brute_force(b).await;
    invalid_queries(b).await;
    audio_roundtrip(b).await;
    link_audio_leaves_the_file(b).await;
    link_audio_as_serves_this_file_or_refuses(b).await;
    delete_leaves_tombstone(b).await;
    change_feed(b).await;
    summary_adds_up(b).await;
    playlists_roundtrip(b).await;
    b.flush().await.expect("flush");
}

/// The listing checks alone (filters, paging by cursor, sorted listings and windows, natural
/// order), for running a backend again under other server settings: the Astra backend runs
/// them at server page sizes 1, 10 and 20, so that a listing ends on the service's own
/// signal, never on a page size it assumed. The backend must start empty and is left empty.
pub async fn run_listings(b: &dyn StorageBackend) {
    empty_backend(b).await;
    list_filter_and_paging(b).await;
    listing_natural_order(b).await;
    times_at_the_edges_order_alike(b).await;
}

/// An empty backend answers every read with nothing.
pub async fn empty_backend(b: &dyn StorageBackend) {
    assert_eq!(
        b.count(&Filter::default()).await.expect("count"),
        0,
        "backend must start empty"
    );
    let page = b.list(&ListQuery::default()).await.expect("list");
    assert!(page.items.is_empty() && page.next.is_none(), "empty list");
    let id = SongId::from_bytes(b"nothing");
    assert!(b.get_metadata(&id).await.expect("get_metadata").is_none());
    assert!(
        b.get_embedding(&id, &model_a())
            .await
            .expect("get_embedding")
            .is_none()
    );
    let q = SearchQuery::new(model_a(), vec![1.0; 8], 5);
    assert!(b.search(&q).await.expect("search on empty").is_empty());
    assert!(!b.has_audio(&id).await.expect("has_audio"));
    assert!(
        !b.delete_song(&id).await.expect("delete unknown"),
        "deleting an unknown song returns false"
    );
}
