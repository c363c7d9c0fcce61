//! The backend-agnostic conformance suite.
//!
//! Every [`StorageBackend`] implementation (and every layer wrapping one) runs this from its
//! own tests, like `object_store`'s integration suite:
//!
//! ```text
//! #[tokio::test]
//! async fn conformance() {
//!     let backend = make_empty_backend().await;
//!     songrec_storage::conformance::run_all(&backend).await;
//! }
//! ```
//!
//! The backend must be empty at the start. Checks panic with a message naming the check.
//! Expected search results are computed here by brute force with [`crate::math`], so a
//! backend that pushes search into a remote service is checked against an independent answer.

pub mod floats;

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::time::Duration;

use crate::backend::{SongRecord, StorageBackend};
use crate::error::StorageError;
use crate::filter::{Condition, Field, Filter, Value};
use crate::id::SongId;
use crate::math::{self, TopK};
use crate::metadata::SongMetadata;
use crate::model::{Embedding, ModelInfo};
use crate::query::{ListQuery, Metric, SearchQuery, SortKey};

/// Deterministic pseudo-random numbers (no dependency, same on every machine).
struct Lcg(u64);
impl Lcg {
    fn next_f32(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
    fn vector(&mut self, dim: usize) -> Vec<f32> {
        (0..dim).map(|_| self.next_f32()).collect()
    }
}

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
    rng: &mut Lcg,
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
    let mut top = TopK::new(q.offset + q.k);
    for (m, v) in lib {
        if q.exclude.contains(&m.id) || !q.filter.matches(m) {
            continue;
        }
        let (s, _) = math::score(q.metric, math::dot(&q.vector, v), qn, math::norm(v));
        if q.threshold.is_some_and(|t| s < t) {
            continue;
        }
        top.push(s, m.id.clone());
    }
    top.into_sorted()
        .into_iter()
        .skip(q.offset)
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
        if q.metric == Metric::L2 {
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
    awkward_floats_roundtrip(b).await;
    non_finite_numbers_refused(b).await;
    list_filter_and_paging(b).await;
    embeddings_roundtrip_and_models(b).await;
    search_matches_brute_force(b).await;
    invalid_queries(b).await;
    audio_roundtrip(b).await;
    delete_leaves_tombstone(b).await;
    b.flush().await.expect("flush");
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

/// Metadata is stored verbatim, including extra fields and versions; updates replace it.
pub async fn metadata_roundtrip(b: &dyn StorageBackend) {
    let mut m = song(900);
    m.extra.insert(
        "nested".into(),
        serde_json::json!({"a": [1, 2, 3], "b": "x"}),
    );
    m.tags = vec!["ünïcödé".into(), "two words".into()];
    b.put_metadata(&m).await.expect("put_metadata");
    let got = b
        .get_metadata(&m.id)
        .await
        .expect("get_metadata")
        .expect("metadata stored");
    assert_eq!(got, m, "metadata round trip");

    let mut m2 = m.clone();
    m2.title = "Renamed".into();
    m2.genre = None;
    m2.touch();
    b.put_metadata(&m2).await.expect("update");
    let got = b.get_metadata(&m.id).await.expect("get").expect("present");
    assert_eq!(got, m2, "update replaces metadata");
    assert_eq!(got.version, m.version + 1);
    let many = b
        .get_metadata_many(&[m.id.clone(), SongId::from_bytes(b"unknown")])
        .await
        .expect("many");
    assert_eq!(
        many,
        vec![m2.clone()],
        "get_metadata_many skips unknown ids"
    );
    let versions = b.list_versions().await.expect("list_versions");
    let v = versions
        .iter()
        .find(|v| v.id == m.id)
        .expect("version entry");
    assert_eq!(
        (v.version, v.deleted, v.content_hash.as_str()),
        (m2.version, false, m.content_hash.as_str())
    );
    assert!(b.delete_song(&m.id).await.expect("delete"));
    assert!(b.get_metadata(&m.id).await.expect("get").is_none());
}

/// Every float of a song's metadata as `(path, bits)`: `duration_secs`, `bpm` and every
/// number inside `extra` (integers tagged apart from floats). Equal lists mean bit-for-bit
/// equal numbers, `-0.0` and `0.0` told apart (which `PartialEq` on `f64` does not).
pub fn float_bits(m: &SongMetadata) -> Vec<(String, String)> {
    fn walk(v: &serde_json::Value, path: String, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Number(n) => {
                let tag = if let Some(u) = n.as_u64() {
                    format!("u64 {u}")
                } else if let Some(i) = n.as_i64() {
                    format!("i64 {i}")
                } else {
                    format!("f64 {:#018x}", n.as_f64().map_or(0, f64::to_bits))
                };
                out.push((path, tag));
            }
            serde_json::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(x, format!("{path}[{i}]"), out);
                }
            }
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    walk(x, format!("{path}.{k}"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = vec![
        (
            "duration_secs".to_owned(),
            format!("f64 {:#018x}", m.duration_secs.to_bits()),
        ),
        (
            "bpm".to_owned(),
            m.bpm
                .map_or("none".to_owned(), |b| format!("f32 {:#010x}", b.to_bits())),
        ),
    ];
    for (k, v) in &m.extra {
        walk(v, k.clone(), &mut out);
    }
    out
}

/// Songs whose numbers are hard to carry exactly: durations of real decoded files whose
/// shortest decimal form needs 17 digits, subnormals, the extremes, `-0.0`, tempos whose f32
/// shortest form is long, and floats and big integers inside `extra`.
fn awkward_songs() -> Vec<SongMetadata> {
    let durations = [
        12.023219954648527,
        0.15070294784580499,
        f64::from_bits(1),                     // smallest subnormal, 5e-324
        f64::from_bits(0x000f_ffff_ffff_ffff), // largest subnormal
        f64::MAX,
        -0.0,
        0.1 + 0.2,
        1.0 / 3.0,
        9007199254740993.0, // 2^53 + 1 rounds to 2^53: a value written as an integer
        2.2250738585072014e-308,
    ];
    let bpms = [
        Some(117.453_28_f32),
        Some(f32::from_bits(1)), // smallest f32 subnormal
        Some(f32::MAX),
        Some(1.0 / 3.0),
        Some(-0.0),
        Some(f32::from_bits(0x3f80_0001)), // 1.0000001
        None,
        Some(16_777_215.0),
        Some(f32::MIN_POSITIVE),
        Some(0.1),
    ];
    durations
        .iter()
        .zip(bpms)
        .enumerate()
        .map(|(i, (&d, bpm))| {
            let mut m = song(910 + i);
            m.duration_secs = d;
            m.bpm = bpm;
            m.extra.insert(
                "loudness".into(),
                serde_json::json!(-14.899999999999999 - i as f64 * 1e-15),
            );
            m.extra.insert(
                "peaks".into(),
                serde_json::json!([
                    f64::from_bits(1),
                    f64::MAX,
                    -0.0,
                    0.15070294784580499,
                    u64::MAX,
                    i64::MIN
                ]),
            );
            m.extra.insert(
                "stats".into(),
                serde_json::json!({"rms": 1.0 / (i as f64 + 7.0)}),
            );
            m
        })
        .collect()
}

fn assert_bits(got: &SongMetadata, want: &SongMetadata, what: &str) {
    assert_eq!(
        float_bits(got),
        float_bits(want),
        "{what}: the numbers of {} changed on the way",
        want.title
    );
    assert_eq!(got, want, "{what}: metadata of {}", want.title);
}

/// Awkward floats come back bit for bit from every read: get, get many, list, search, and a
/// range filter on the exact value selects exactly that song.
pub async fn awkward_floats_roundtrip(b: &dyn StorageBackend) {
    let songs = awkward_songs();
    let (first, rest) = songs.split_at(3);
    for m in first {
        b.put_metadata(m)
            .await
            .expect("put_metadata (awkward floats)");
    }
    let records: Vec<SongRecord> = rest
        .iter()
        .enumerate()
        .map(|(i, m)| SongRecord {
            metadata: m.clone(),
            embeddings: vec![
                Embedding::new(model_a(), Lcg(i as u64 + 3).vector(8)).expect("valid"),
            ],
        })
        .collect();
    let report = b
        .put_songs(&records)
        .await
        .expect("put_songs (awkward floats)");
    assert!(
        report.is_complete(),
        "awkward floats refused: {:?}",
        report.failed
    );

    for m in &songs {
        let got = b
            .get_metadata(&m.id)
            .await
            .expect("get_metadata")
            .expect("stored");
        assert_bits(&got, m, "get_metadata");
    }
    let ids: Vec<SongId> = songs.iter().map(|m| m.id.clone()).collect();
    let many = b.get_metadata_many(&ids).await.expect("get_metadata_many");
    assert_eq!(many.len(), songs.len(), "get_metadata_many");
    for m in &songs {
        let got = many
            .iter()
            .find(|g| g.id == m.id)
            .expect("in get_metadata_many");
        assert_bits(got, m, "get_metadata_many");
    }
    for sort in [SortKey::Duration, SortKey::Bpm] {
        let page = b
            .list(&ListQuery {
                sort,
                limit: 100,
                ..ListQuery::default()
            })
            .await
            .expect("list");
        assert_eq!(page.items.len(), songs.len(), "list");
        for got in &page.items {
            let m = songs.iter().find(|m| m.id == got.id).expect("listed song");
            assert_bits(got, m, "list");
        }
        let mut want = songs.clone();
        want.sort_by(|x, y| crate::query::compare_by(sort, x, y));
        let order: Vec<_> = page.items.iter().map(|m| &m.title).collect();
        let want: Vec<_> = want.iter().map(|m| &m.title).collect();
        assert_eq!(order, want, "list sorted by {sort:?}");
    }
    let hits = b
        .search(&SearchQuery::new(model_a(), vec![1.0; 8], 20))
        .await
        .expect("search");
    assert_eq!(hits.len(), rest.len(), "search");
    for h in &hits {
        let m = songs.iter().find(|m| m.id == h.id).expect("matched song");
        assert_bits(&h.metadata, m, "search");
    }
    // A range filter on an exact value selects exactly the songs with that value.
    for m in &songs[..2] {
        let exact = Filter::default().and(Condition::Range {
            field: Field::Duration,
            min: Some(m.duration_secs),
            max: Some(m.duration_secs),
        });
        let page = b
            .list(&ListQuery {
                filter: exact.clone(),
                limit: 100,
                ..ListQuery::default()
            })
            .await
            .expect("filtered list");
        let got: Vec<_> = page.items.iter().map(|g| g.id.clone()).collect();
        assert_eq!(got, vec![m.id.clone()], "duration == {}", m.duration_secs);
        let above = Filter::default().and(Condition::Range {
            field: Field::Duration,
            min: Some(m.duration_secs.next_up()),
            max: Some(m.duration_secs.next_up()),
        });
        assert_eq!(
            b.count(&above).await.expect("count"),
            0,
            "duration == next float above {}",
            m.duration_secs
        );
    }
    for m in &songs {
        b.delete_song(&m.id).await.expect("delete");
    }
}

/// NaN and infinities are refused with `InvalidInput` before anything is written: by
/// `put_metadata`, and per song by `put_songs` (the other songs of the batch are stored).
pub async fn non_finite_numbers_refused(b: &dyn StorageBackend) {
    let before = b.list_versions().await.expect("list_versions");
    let bad: Vec<(&str, SongMetadata)> = [
        ("duration_secs", f64::NAN, None),
        ("duration_secs", f64::INFINITY, None),
        ("duration_secs", f64::NEG_INFINITY, None),
        ("bpm", 60.0, Some(f32::NAN)),
        ("bpm", 60.0, Some(f32::INFINITY)),
        ("bpm", 60.0, Some(f32::NEG_INFINITY)),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (field, d, bpm))| {
        let mut m = song(930 + i);
        m.duration_secs = d;
        m.bpm = bpm;
        (field, m)
    })
    .collect();
    for (field, m) in &bad {
        let err = b
            .put_metadata(m)
            .await
            .expect_err("a non-finite number must be refused");
        assert!(
            matches!(&err, StorageError::InvalidInput(msg) if msg.contains(field)),
            "{field}: want InvalidInput naming the field, got {err}"
        );
    }
    let good = song(940);
    let mut records = vec![SongRecord {
        metadata: good.clone(),
        embeddings: vec![Embedding::new(model_a(), vec![0.25; 8]).expect("valid")],
    }];
    records.extend(bad.iter().map(|(_, m)| SongRecord {
        metadata: m.clone(),
        embeddings: vec![Embedding::new(model_a(), vec![0.5; 8]).expect("valid")],
    }));
    let report = b.put_songs(&records).await.expect("put_songs");
    assert_eq!(
        report.stored,
        vec![good.id.clone()],
        "only the finite song is stored"
    );
    let failed: BTreeSet<_> = report.failed.iter().map(|(id, _)| id.clone()).collect();
    let want: BTreeSet<_> = bad.iter().map(|(_, m)| m.id.clone()).collect();
    assert_eq!(failed, want, "every non-finite song is reported failed");
    for (field, m) in &bad {
        assert!(
            b.get_metadata(&m.id).await.expect("get").is_none(),
            "{field}: no metadata written"
        );
        assert!(
            b.get_embedding(&m.id, &model_a())
                .await
                .expect("get")
                .is_none(),
            "{field}: no vector written"
        );
    }
    let after = b.list_versions().await.expect("list_versions");
    assert_eq!(
        after.len(),
        before.len() + 1,
        "only the finite song appears in list_versions"
    );
    assert!(b.delete_song(&good.id).await.expect("delete"));
}

/// The model of [`float_fidelity_songs`]' vectors.
pub fn fidelity_model() -> ModelInfo {
    ModelInfo::new("fidelity", "1", 16)
}

/// `songs` songs carrying `songs * (per_song + 1)` pseudo-random f64 values (duration and an
/// `extra` array; see [`floats::f64_cases`]), `songs` f32 tempos and `songs * 16` f32 vector
/// components (random bit patterns, subnormals, moderate magnitudes so norms stay finite).
pub fn float_fidelity_songs(seed: u64, songs: usize, per_song: usize) -> Vec<SongRecord> {
    let f64s = floats::f64_cases(seed, songs * (per_song + 1));
    let bpms = floats::f32_cases(seed ^ 1, songs);
    let components: Vec<f32> = floats::f32_cases(seed ^ 2, songs * 64)
        .into_iter()
        .filter(|x| x.abs() < 1e15 && *x != 0.0)
        .collect();
    let dim = fidelity_model().dim;
    (0..songs)
        .map(|i| {
            let mut m = song(2000 + i);
            m.id = SongId::from_bytes(format!("float fidelity {seed} {i}").as_bytes());
            m.content_hash = m.id.as_str().to_owned();
            let own = &f64s[i * (per_song + 1)..(i + 1) * (per_song + 1)];
            m.duration_secs = own[0];
            m.bpm = Some(bpms[i % bpms.len()]);
            m.extra.insert("floats".into(), serde_json::json!(own[1..]));
            let vector = components
                .iter()
                .cycle()
                .skip(i * dim)
                .take(dim)
                .copied()
                .collect();
            SongRecord {
                metadata: m,
                embeddings: vec![Embedding::new(fidelity_model(), vector).expect("valid")],
            }
        })
        .collect()
}

/// Stores [`float_fidelity_songs`] through `put_songs` and checks them with
/// [`check_float_fidelity`]; returns the records (the songs are left in place).
pub async fn put_float_fidelity(
    b: &dyn StorageBackend,
    seed: u64,
    songs: usize,
    per_song: usize,
) -> Vec<SongRecord> {
    let records = float_fidelity_songs(seed, songs, per_song);
    for chunk in records.chunks(8) {
        let report = b.put_songs(chunk).await.expect("put_songs");
        assert!(report.is_complete(), "refused: {:?}", report.failed);
    }
    check_float_fidelity(b, &records).await;
    records
}

/// Every number of `records` reads back bit for bit: metadata (get, get many, list) and vectors.
pub async fn check_float_fidelity(b: &dyn StorageBackend, records: &[SongRecord]) {
    let ids: Vec<SongId> = records.iter().map(|r| r.metadata.id.clone()).collect();
    let many = b.get_metadata_many(&ids).await.expect("get_metadata_many");
    let listed = b
        .list(&ListQuery {
            limit: 1000,
            ..ListQuery::default()
        })
        .await
        .expect("list")
        .items;
    for r in records {
        let m = &r.metadata;
        let got = b.get_metadata(&m.id).await.expect("get").expect("stored");
        assert_bits(&got, m, "get_metadata");
        let got = many
            .iter()
            .find(|g| g.id == m.id)
            .expect("in get_metadata_many");
        assert_bits(got, m, "get_metadata_many");
        let got = listed.iter().find(|g| g.id == m.id).expect("listed");
        assert_bits(got, m, "list");
        for e in &r.embeddings {
            let got = b
                .get_embedding(&m.id, &e.model)
                .await
                .expect("get_embedding")
                .expect("vector stored");
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got.vector), bits(&e.vector), "vector of {}", m.title);
        }
    }
}

/// Filters and paging agree with [`Filter::matches`] and never repeat or drop songs.
pub async fn list_filter_and_paging(b: &dyn StorageBackend) {
    let mut rng = Lcg(7);
    let lib = put_library(b, 25, &mut rng).await;
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 25);

    // Paging by id covers everything exactly once.
    let mut seen = Vec::new();
    let mut q = ListQuery {
        limit: 10,
        ..ListQuery::default()
    };
    let mut pages = 0;
    loop {
        let page = b.list(&q).await.expect("list page");
        pages += 1;
        assert!(page.items.len() <= 10, "page larger than limit");
        seen.extend(page.items.into_iter().map(|m| m.id));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not terminate");
    }
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(
        seen.len(),
        25,
        "paging returned {} songs for 25",
        seen.len()
    );
    assert_eq!(unique.len(), 25, "paging repeated songs");

    // Sorted listing.
    let q = ListQuery {
        sort: SortKey::Title,
        descending: true,
        limit: 5,
        ..ListQuery::default()
    };
    let titles: Vec<_> = b
        .list(&q)
        .await
        .expect("sorted")
        .items
        .into_iter()
        .map(|m| m.title)
        .collect();
    assert_eq!(
        titles,
        ["Song 024", "Song 023", "Song 022", "Song 021", "Song 020"],
        "title order"
    );
    let q = ListQuery {
        sort: SortKey::Bpm,
        limit: 1000,
        ..ListQuery::default()
    };
    let bpms: Vec<_> = b
        .list(&q)
        .await
        .expect("bpm sort")
        .items
        .into_iter()
        .map(|m| m.bpm)
        .collect();
    assert!(
        bpms.windows(2).all(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => a <= b,
            (Some(_), None) | (None, None) => true,
            (None, Some(_)) => false,
        }),
        "bpm order (missing last): {bpms:?}"
    );

    let filters = [
        Filter::default().and(Condition::Eq(Field::Genre, Value::Text("rock".into()))),
        Filter::default().and(Condition::Eq(Field::Tags, Value::Text("MOODY".into()))),
        Filter::default().and(Condition::Range {
            field: Field::Bpm,
            min: Some(100.0),
            max: Some(130.0),
        }),
        Filter::default()
            .and(Condition::Eq(Field::Key, Value::Text("a minor".into())))
            .and(Condition::In(
                Field::Artist,
                vec![
                    Value::Text("artist 0".into()),
                    Value::Text("Artist 2".into()),
                ],
            )),
        Filter::default().and(Condition::Exists(Field::Bpm)),
        Filter::default().and(Condition::Eq(
            Field::Extra("label".into()),
            Value::Text("Label 1".into()),
        )),
        Filter::default().and(Condition::Range {
            field: Field::Duration,
            min: None,
            max: Some(70.0),
        }),
    ];
    for f in &filters {
        let want: BTreeSet<_> = lib
            .iter()
            .filter(|(m, _)| f.matches(m))
            .map(|(m, _)| m.id.clone())
            .collect();
        assert!(!want.is_empty(), "test filter selects nothing: {f:?}");
        let q = ListQuery {
            filter: f.clone(),
            limit: 1000,
            ..ListQuery::default()
        };
        let got: BTreeSet<_> = b
            .list(&q)
            .await
            .expect("filtered list")
            .items
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(got, want, "filtered list differs for {f:?}");
        assert_eq!(
            b.count(f).await.expect("count"),
            want.len() as u64,
            "count for {f:?}"
        );
    }
    clear(b, &lib).await;
}

/// Vectors round-trip exactly, per model; dimensions are enforced; models never mix.
pub async fn embeddings_roundtrip_and_models(b: &dyn StorageBackend) {
    let m = song(901);
    let e = Embedding::new(
        model_a(),
        vec![0.5, -1.25, 3.0e-7, 1.0e6, -0.0, 2.0, -3.5, 0.125],
    )
    .expect("valid");
    b.put_embedding(&m.id, &e).await.expect("put_embedding");
    b.put_metadata(&m).await.expect("put_metadata");
    let got = b
        .get_embedding(&m.id, &model_a())
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(
        got.vector, e.vector,
        "vector round trip must be exact (f32)"
    );
    assert_eq!(got.model, model_a());
    assert!(
        b.get_embedding(&m.id, &model_b())
            .await
            .expect("get b")
            .is_none(),
        "no vector for model b yet"
    );

    // Same model, other dimension: refused, and the stored vector is untouched.
    let wrong = Embedding {
        model: ModelInfo::new("conformance-a", "1", 3),
        vector: vec![1.0, 2.0, 3.0],
    };
    let err = b
        .put_embedding(&m.id, &wrong)
        .await
        .expect_err("dimension mismatch must fail");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "want DimensionMismatch, got {err}"
    );
    let broken = Embedding {
        model: model_a(),
        vector: vec![1.0; 5],
    };
    assert!(
        b.put_embedding(&m.id, &broken).await.is_err(),
        "vector shorter than its model's dim"
    );
    assert_eq!(
        b.get_embedding(&m.id, &model_a())
            .await
            .expect("get")
            .expect("kept")
            .vector,
        e.vector
    );

    // A second model lives side by side.
    let eb = Embedding::new(model_b(), vec![1.0, 0.0, 0.0, 0.0, 0.0]).expect("valid");
    b.put_embedding(&m.id, &eb).await.expect("put b");
    let other = song(902);
    b.put_songs(&[SongRecord {
        metadata: other.clone(),
        embeddings: vec![Embedding::new(model_b(), vec![0.0, 1.0, 0.0, 0.0, 0.0]).expect("valid")],
    }])
    .await
    .expect("put other");
    let mut models = b.models().await.expect("models");
    models.sort_by(|x, y| x.model.cmp(&y.model));
    let summary: Vec<_> = models.iter().map(|s| (s.model.clone(), s.count)).collect();
    assert_eq!(
        summary,
        vec![(model_a(), 1), (model_b(), 2)],
        "models() summary"
    );
    // Searching model a never returns the song that only has a model-b vector.
    let hits = b
        .search(&SearchQuery::new(model_a(), vec![1.0; 8], 10))
        .await
        .expect("search a");
    assert_eq!(
        hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        vec![m.id.clone()]
    );
    // Replacing a vector changes search results.
    let e2 = Embedding::new(model_b(), vec![0.0, 1.0, 0.0, 0.0, 0.0]).expect("valid");
    b.put_embedding(&m.id, &e2).await.expect("replace");
    let hits = b
        .search(&SearchQuery::new(
            model_b(),
            vec![0.0, 1.0, 0.0, 0.0, 0.0],
            10,
        ))
        .await
        .expect("search b");
    assert_eq!(hits.len(), 2);
    assert!(
        hits.iter().all(|h| (h.similarity - 1.0).abs() < 1e-5),
        "both now identical to the query"
    );
    b.delete_song(&m.id).await.expect("delete");
    b.delete_song(&other.id).await.expect("delete");
    assert!(
        b.get_embedding(&m.id, &model_a())
            .await
            .expect("get")
            .is_none(),
        "delete removes vectors"
    );
    let left: u64 = b
        .models()
        .await
        .expect("models")
        .iter()
        .map(|s| s.count)
        .sum();
    assert_eq!(left, 0, "no vectors left after deletes");
}

/// Exact search equals brute force for every metric, with filters, thresholds, offset and exclusions.
pub async fn search_matches_brute_force(b: &dyn StorageBackend) {
    let mut rng = Lcg(42);
    let lib = put_library(b, 40, &mut rng).await;
    let qv = rng.vector(model_a().dim);
    for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
        let mut q = SearchQuery::new(model_a(), qv.clone(), 7);
        q.metric = metric;
        assert_search(b, &lib, &q, &format!("{metric} plain")).await;
        q.filter = Filter::default().and(Condition::Eq(Field::Genre, Value::Text("JAZZ".into())));
        assert_search(b, &lib, &q, &format!("{metric} filtered")).await;
    }
    // Up to the backend's own cap (1000 on the Data API; a local library has none, so 2000
    // must work there): a query reaching it is answered in full.
    let reach = b.max_results().min(2000);
    let mut q = SearchQuery::new(model_a(), qv.clone(), reach - 1);
    q.offset = 1;
    assert_search(b, &lib, &q, &format!("k {} after offset 1", reach - 1)).await;
    // A filter that keeps songs far down the unfiltered ranking still returns them (exactness).
    let mut q = SearchQuery::new(model_a(), qv.clone(), 40);
    let ranked = brute_force(&lib, &q);
    let worst = ranked.last().expect("results").0.clone();
    let worst_song = lib
        .iter()
        .find(|(m, _)| m.id == worst)
        .expect("song")
        .0
        .clone();
    q.k = 1;
    q.filter = Filter::default().and(Condition::Eq(
        Field::Title,
        Value::Text(worst_song.title.to_uppercase()),
    ));
    let hits = b.search(&q).await.expect("needle search");
    assert_eq!(
        hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        vec![worst],
        "filter-then-rank"
    );

    let mut q = SearchQuery::new(model_a(), qv.clone(), 5);
    q.offset = 3;
    q.exclude = vec![ranked[0].0.clone(), ranked[4].0.clone()];
    assert_search(b, &lib, &q, "offset + exclude").await;
    let mut q = SearchQuery::new(model_a(), qv.clone(), 40);
    q.threshold = Some(0.2);
    assert_search(b, &lib, &q, "threshold").await;
    q.filter = Filter::default()
        .and(Condition::Range {
            field: Field::Bpm,
            min: Some(110.0),
            max: Some(150.0),
        })
        .and(Condition::Eq(Field::Tags, Value::Text("bright".into())));
    assert_search(b, &lib, &q, "threshold + range + tag").await;
    // A stored song's own vector finds itself first with similarity 1.
    let (m0, v0) = &lib[11];
    let hits = b
        .search(&SearchQuery::new(model_a(), v0.clone(), 1))
        .await
        .expect("self search");
    assert_eq!(hits[0].id, m0.id);
    assert!((hits[0].similarity - 1.0).abs() < 1e-5);
    assert_eq!(hits[0].metadata, *m0, "match carries full metadata");
    clear(b, &lib).await;
}

/// Bad queries are refused with `InvalidInput` / `DimensionMismatch`, identically everywhere.
pub async fn invalid_queries(b: &dyn StorageBackend) {
    let ok = SearchQuery::new(model_a(), vec![1.0; 8], 5);
    let max = b.max_results();
    let mut cases: Vec<(&str, SearchQuery)> = vec![
        ("k = 0", SearchQuery { k: 0, ..ok.clone() }),
        (
            "offset + k overflowing",
            SearchQuery {
                k: usize::MAX,
                offset: 1,
                ..ok.clone()
            },
        ),
        (
            "zero vector with cosine",
            SearchQuery {
                vector: vec![0.0; 8],
                ..ok.clone()
            },
        ),
        (
            "NaN in query",
            SearchQuery {
                vector: vec![f32::NAN; 8],
                ..ok.clone()
            },
        ),
    ];
    // The backend's own search cap, when it has one (the Data API's 1000).
    if max < usize::MAX {
        cases.push((
            "k over the cap",
            SearchQuery {
                k: max + 1,
                ..ok.clone()
            },
        ));
        cases.push((
            "offset + k over the cap",
            SearchQuery {
                k: 10,
                offset: max - 5,
                ..ok.clone()
            },
        ));
    }
    for (what, q) in cases {
        let err = b.search(&q).await.expect_err(what);
        assert!(
            matches!(err, StorageError::InvalidInput(_)),
            "{what}: want InvalidInput, got {err}"
        );
    }
    let err = b
        .search(&SearchQuery {
            vector: vec![1.0; 3],
            ..ok.clone()
        })
        .await
        .expect_err("dim");
    assert!(
        matches!(err, StorageError::DimensionMismatch { .. }),
        "query dim: got {err}"
    );
    let err = b
        .list(&ListQuery {
            limit: 0,
            ..ListQuery::default()
        })
        .await
        .expect_err("limit 0");
    assert!(
        matches!(err, StorageError::InvalidInput(_)),
        "list limit 0: got {err}"
    );
}

/// Audio round-trips byte for byte, content-addressed, verified, idempotent.
pub async fn audio_roundtrip(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = dir.path().join("track.flac");
    std::fs::write(&src, &bytes).expect("write source");
    let id = SongId::from_bytes(&bytes);

    let out = b.put_audio(&id, &src).await.expect("put_audio");
    assert_eq!(
        (out.bytes, out.already_present),
        (bytes.len() as u64, false)
    );
    let again = b.put_audio(&id, &src).await.expect("put_audio again");
    assert!(again.already_present, "re-upload must be a no-op");
    assert!(b.has_audio(&id).await.expect("has_audio"));

    let dest = dir.path().join("out").join("copy.flac");
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let n = b.get_audio(&id, &dest).await.expect("get_audio");
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(
        std::fs::read(&dest).expect("read back"),
        bytes,
        "audio round trip"
    );
    let url = b
        .audio_url(&id, Duration::from_secs(600))
        .await
        .expect("audio_url");
    assert!(url.contains(id.as_str()), "URL names the content: {url}");

    // Bytes that do not hash to the id are refused and nothing is stored.
    let wrong = SongId::from_bytes(b"some other song");
    let err = b.put_audio(&wrong, &src).await.expect_err("hash mismatch");
    assert!(
        matches!(err, StorageError::HashMismatch { .. }),
        "want HashMismatch, got {err}"
    );
    assert!(!b.has_audio(&wrong).await.expect("has_audio"));
    // Missing blob: NotFound, and an existing destination is untouched.
    let keep = dir.path().join("keep.bin");
    std::fs::write(&keep, b"precious").expect("write");
    let err = b.get_audio(&wrong, &keep).await.expect_err("missing audio");
    assert!(
        matches!(err, StorageError::NotFound(_)),
        "want NotFound, got {err}"
    );
    assert_eq!(std::fs::read(&keep).expect("read"), b"precious");

    assert!(b.delete_audio(&id).await.expect("delete_audio"));
    assert!(!b.delete_audio(&id).await.expect("delete again"));
    assert!(!b.has_audio(&id).await.expect("has_audio"));
    check_no_temp_files(dir.path());
}

fn check_no_temp_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                assert!(
                    !name.contains(".tmp"),
                    "temporary file left behind: {}",
                    p.display()
                );
            }
        }
    }
}

/// Deleting a song removes every piece and leaves a tombstone with a higher version.
pub async fn delete_leaves_tombstone(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = b"a short song".repeat(100);
    let src = dir.path().join("s.wav");
    std::fs::write(&src, &bytes).expect("write");
    let mut m = song(903);
    m.id = SongId::from_bytes(&bytes);
    m.content_hash = m.id.as_str().to_owned();
    m.version = 4;
    b.put_audio(&m.id, &src).await.expect("put_audio");
    b.put_songs(&[SongRecord {
        metadata: m.clone(),
        embeddings: vec![Embedding::new(model_a(), vec![0.3; 8]).expect("valid")],
    }])
    .await
    .expect("put");
    assert!(b.delete_song(&m.id).await.expect("delete"));
    assert!(b.get_metadata(&m.id).await.expect("get").is_none());
    assert!(
        b.get_embedding(&m.id, &model_a())
            .await
            .expect("get emb")
            .is_none()
    );
    assert!(
        !b.has_audio(&m.id).await.expect("has_audio"),
        "delete_song removes audio"
    );
    assert!(
        b.search(&SearchQuery::new(model_a(), vec![0.3; 8], 5))
            .await
            .expect("search")
            .is_empty()
    );
    let v = b.list_versions().await.expect("versions");
    let t = v.iter().find(|e| e.id == m.id).expect("tombstone listed");
    assert!(t.deleted, "entry is a tombstone");
    assert!(
        t.version > m.version,
        "tombstone version {} must exceed {}",
        t.version,
        m.version
    );
    assert!(
        !b.delete_song(&m.id).await.expect("delete again"),
        "second delete returns false"
    );
}
