//! Numbers carried bit for bit: awkward floats, non-finite numbers refused, fidelity of records written elsewhere.

use std::collections::BTreeSet;

use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::error::StorageError;
use songrec_storage::filter::{Condition, Field, Filter};
use songrec_storage::id::SongId;
use songrec_storage::metadata::SongMetadata;
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::query::{ListQuery, SearchQuery, SortKey};
use songrec_storage::rng::SplitMix;

use crate::fixtures::{model_a, song};
use crate::floats;

/// Every float of a song's metadata as `(path, bits)`: `duration_secs`, `bpm` and every
/// number inside `extra` (integers tagged apart from floats). Equal lists mean bit-for-bit
/// equal numbers, `-0.0` and `0.0` told apart (which `PartialEq` on `f64` does not).
pub fn float_bits(m: &SongMetadata) -> Vec<(String, String)> {
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
    let numbers =
        (m.extra.iter()).flat_map(|(k, v)| songrec_storage::metadata::numbers_in(v, k.clone()));
    out.extend(numbers.map(|(path, n)| {
        let tag = if let Some(u) = n.as_u64() {
            format!("u64 {u}")
        } else if let Some(i) = n.as_i64() {
            format!("i64 {i}")
        } else {
            format!("f64 {:#018x}", n.as_f64().map_or(0, f64::to_bits))
        };
        (path, tag)
    }));
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
                Embedding::new(model_a(), SplitMix::new(i as u64 + 3).vector(8)).expect("valid"),
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
        want.sort_by(|x, y| songrec_storage::query::compare_by(sort, x, y));
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

/// Songs over the cloud's document limits ([`SongMetadata::check_portable`]) are refused on
/// every backend, local ones included, with the typed [`StorageError::SongLimit`] naming the
/// field and the limit,
/// by `put_metadata` and per song by `put_songs`; songs exactly at the limits are stored.
pub async fn songs_over_cloud_limits_refused(b: &dyn StorageBackend) {
    use songrec_storage::metadata::{
        MAX_EXTRA_ARRAY, MAX_EXTRA_FIELDS, MAX_EXTRA_INDEXED, MAX_EXTRA_NAME_BYTES,
        MAX_METADATA_BYTES, MAX_TAGS,
    };
    let before = b.list_versions().await.expect("list_versions");
    let numbered = |n: usize, f: &dyn Fn(usize) -> serde_json::Value| {
        (0..n)
            .map(|i| (format!("f{i:04}"), f(i)))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let text = |i: usize| serde_json::Value::String(format!("v{i}"));
    let number = |i: usize| serde_json::json!(i);
    let mut cases: Vec<(&str, usize, SongMetadata, bool)> = Vec::new();
    let mut at = |i: usize, m: &dyn Fn(&mut SongMetadata), field, limit, over| {
        let mut s = song(1200 + i);
        m(&mut s);
        cases.push((field, limit, s, over));
    };
    at(
        0,
        &|m| m.tags = (0..MAX_TAGS + 1).map(|i| format!("t{i}")).collect(),
        "tags",
        MAX_TAGS,
        true,
    );
    at(
        1,
        &|m| m.tags = (0..MAX_TAGS).map(|i| format!("t{i}")).collect(),
        "tags",
        MAX_TAGS,
        false,
    );
    at(
        2,
        &|m| m.extra = numbered(MAX_EXTRA_FIELDS + 1, &text),
        "extra",
        MAX_EXTRA_FIELDS,
        true,
    );
    at(
        3,
        &|m| m.extra = numbered(MAX_EXTRA_FIELDS, &text),
        "extra",
        MAX_EXTRA_FIELDS,
        false,
    );
    at(
        4,
        &|m| m.extra = numbered(MAX_EXTRA_INDEXED / 2 + 1, &number),
        "extra",
        MAX_EXTRA_INDEXED,
        true,
    );
    at(
        5,
        &|m| m.extra = numbered(MAX_EXTRA_INDEXED / 2, &number),
        "extra",
        MAX_EXTRA_INDEXED,
        false,
    );
    at(
        6,
        &|m| {
            m.extra.insert(
                "peaks".into(),
                serde_json::json!(vec![0.5; MAX_EXTRA_ARRAY + 1]),
            );
        },
        "peaks",
        MAX_EXTRA_ARRAY,
        true,
    );
    at(
        7,
        &|m| {
            m.extra.insert(
                "peaks".into(),
                serde_json::json!(vec![0.5; MAX_EXTRA_ARRAY]),
            );
        },
        "peaks",
        MAX_EXTRA_ARRAY,
        false,
    );
    // Metadata of 1 MB: a long free-form text, one byte over and exactly at the limit.
    let sized = |m: &mut SongMetadata, bytes: usize| {
        m.extra.insert("notes".into(), serde_json::json!(""));
        let base = serde_json::to_string(&*m).map_or(0, |t| t.len());
        m.extra
            .insert("notes".into(), serde_json::json!("n".repeat(bytes - base)));
    };
    at(
        8,
        &|m| sized(m, MAX_METADATA_BYTES + 1),
        "metadata",
        MAX_METADATA_BYTES,
        true,
    );
    at(
        9,
        &|m| sized(m, MAX_METADATA_BYTES),
        "metadata",
        MAX_METADATA_BYTES,
        false,
    );
    // A free-form field name the cloud's 1,000-character paths hold only up to the limit
    // (non-ASCII names are indexed hex-encoded, twice as long), with a number (indexed twice).
    let long_name = |bytes: usize| "é".repeat(bytes / 2) + &"x".repeat(bytes % 2);
    at(
        10,
        &|m| {
            m.extra
                .insert(long_name(MAX_EXTRA_NAME_BYTES + 1), serde_json::json!(1.5));
        },
        "é",
        MAX_EXTRA_NAME_BYTES,
        true,
    );
    at(
        11,
        &|m| {
            m.extra
                .insert(long_name(MAX_EXTRA_NAME_BYTES), serde_json::json!(1.5));
        },
        "é",
        MAX_EXTRA_NAME_BYTES,
        false,
    );
    for (field, limit, m, over) in &cases {
        let got = b.put_metadata(m).await;
        if *over {
            let err = got.expect_err("a song over a cloud limit must be refused");
            assert!(
                matches!(&err, StorageError::SongLimit(e)
                    if e.field.starts_with(field) && e.limit == *limit && e.song == m.id.as_str()),
                "{field}: want SongLimit naming the field and the limit {limit}, got {err}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains(*field) && msg.contains(&limit.to_string()),
                "{field}: the message names the field and the limit: {msg}"
            );
            assert!(
                b.get_metadata(&m.id).await.expect("get").is_none(),
                "{field}: nothing written"
            );
        } else {
            got.unwrap_or_else(|e| panic!("{field} at the limit {limit} is stored: {e}"));
            let back = b.get_metadata(&m.id).await.expect("get");
            assert_eq!(back.as_ref(), Some(m), "{field} at the limit reads back");
            assert!(b.delete_song(&m.id).await.expect("delete"));
        }
    }
    // Fresh ids for the batch (the ones above are tombstones or were refused).
    for (i, case) in cases.iter_mut().enumerate() {
        let fresh = song(1220 + i);
        case.2.id = fresh.id;
        case.2.content_hash = fresh.content_hash;
    }
    let records: Vec<SongRecord> = cases
        .iter()
        .map(|(_, _, m, _)| SongRecord {
            metadata: m.clone(),
            embeddings: vec![Embedding::new(model_a(), vec![0.5; 8]).expect("valid")],
        })
        .collect();
    let report = b.put_songs(&records).await.expect("put_songs");
    let stored: BTreeSet<_> = report.stored.iter().cloned().collect();
    let failed: BTreeSet<_> = report.failed.iter().map(|(id, _)| id.clone()).collect();
    for (field, _, m, over) in &cases {
        assert_eq!(
            failed.contains(&m.id),
            *over,
            "{field}: put_songs reports it"
        );
        assert_eq!(
            stored.contains(&m.id),
            !*over,
            "{field}: put_songs stores it"
        );
        if !*over {
            assert!(b.delete_song(&m.id).await.expect("delete"));
        }
    }
    let after = b.list_versions().await.expect("list_versions");
    let refused: BTreeSet<_> = cases
        .iter()
        .filter(|c| c.3)
        .map(|c| c.2.id.clone())
        .collect();
    assert!(
        after.iter().all(|v| !refused.contains(&v.id)),
        "no refused song appears in list_versions"
    );
    // Each at-limit song left a tombstone twice over (put_metadata, then put_songs).
    assert_eq!(
        after.len(),
        before.len() + 2 * cases.iter().filter(|c| !c.3).count()
    );
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
