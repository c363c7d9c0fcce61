//! Metadata: round trips, listing with filters and paging, deletion tombstones.

use std::collections::{BTreeSet, HashSet};

use songrec_storage::backend::{SongRecord, StorageBackend};
use songrec_storage::filter::{Condition, Field, Filter, Value};
use songrec_storage::id::SongId;
use songrec_storage::metadata::SongMetadata;
use songrec_storage::model::Embedding;
use songrec_storage::query::{ListQuery, SearchQuery, SortKey};
use songrec_storage::rng::SplitMix;

use crate::fixtures::{clear, model_a, put_library, song};

/// `put_metadata_if` writes only over the version it was given: a change built on a version
/// that another writer replaced is refused with `Conflict` and nothing is written; the same
/// write sent again after it landed (a lost acknowledgement) answers `Ok`; and 20 concurrent
/// read-change-write loops (plays counted) all land, each once.
pub async fn compare_and_set_metadata(b: &dyn StorageBackend) {
    use songrec_storage::StorageError;
    let m = song(2100);
    let err = b.put_metadata_if(&m, 1).await.expect_err("not stored yet");
    assert!(matches!(err, StorageError::Conflict(_)), "{err}");
    assert_eq!(
        b.get_metadata(&m.id).await.expect("get"),
        None,
        "nothing written"
    );
    b.put_metadata(&m).await.expect("put");
    let mut stale = m.clone();
    stale.title = "Stale".into();
    stale.touch();
    let mut fresh = m.clone();
    fresh.genre = Some("edited".into());
    fresh.touch();
    b.put_metadata_if(&fresh, m.version)
        .await
        .expect("at its version");
    b.put_metadata_if(&fresh, m.version)
        .await
        .expect("the same write again, after it landed");
    let err = b
        .put_metadata_if(&stale, m.version)
        .await
        .expect_err("built on a replaced version");
    assert!(matches!(err, StorageError::Conflict(_)), "{err}");
    let got = b.get_metadata(&m.id).await.expect("get").expect("stored");
    assert_eq!(got, fresh, "the refused write changed nothing");

    // Concurrent counters: each task reads, adds one and writes at the version it read,
    // again on a conflict.
    let bump = || async {
        loop {
            let mut s = b.get_metadata(&m.id).await.expect("get").expect("stored");
            let n = s
                .extra
                .get("n")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            let was = s.version;
            s.extra.insert("n".into(), (n + 1).into());
            s.touch();
            match b.put_metadata_if(&s, was).await {
                Ok(()) => return,
                Err(StorageError::Conflict(_)) => continue,
                Err(e) => panic!("put_metadata_if: {e}"),
            }
        }
    };
    futures::future::join_all((0..20).map(|_| bump())).await;
    let got = b.get_metadata(&m.id).await.expect("get").expect("stored");
    assert_eq!(
        got.extra.get("n"),
        Some(&serde_json::json!(20)),
        "every change landed"
    );
    assert!(b.delete_song(&m.id).await.expect("delete"));
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
    // A short id finds the song, in either case; a prefix of nothing stored finds nothing.
    for prefix in [
        &m.id.as_str()[..12],
        &m.id.as_str()[..5].to_ascii_uppercase(),
    ] {
        let found = b
            .ids_with_prefix(prefix, 10)
            .await
            .expect("ids_with_prefix");
        assert!(found.contains(&m.id), "{prefix} finds {}", m.id);
        assert!(found.windows(2).all(|w| w[0] < w[1]), "in id order");
    }
    let never = SongId::from_bytes(b"never stored by the conformance suite");
    assert!(
        b.ids_with_prefix(&never.as_str()[..12], 10)
            .await
            .expect("ids_with_prefix")
            .is_empty()
    );
    // A prefix ending in the last digit of a range ('9', 'f') finds the song too; a limit holds.
    let digits = m.id.as_str();
    for end in ['9', 'f'] {
        if let Some(n) = digits.find(end) {
            let found = b
                .ids_with_prefix(&digits[..=n], 10)
                .await
                .expect("ids_with_prefix");
            assert!(found.contains(&m.id), "{} finds {}", &digits[..=n], m.id);
        }
    }
    let first = b
        .ids_with_prefix(&digits[..1], 1)
        .await
        .expect("ids_with_prefix");
    assert_eq!(
        first.len(),
        1,
        "one id of the songs starting with {}",
        &digits[..1]
    );
    assert!(b.delete_song(&m.id).await.expect("delete"));
    assert!(b.get_metadata(&m.id).await.expect("get").is_none());
    assert!(
        !b.ids_with_prefix(&m.id.as_str()[..12], 10)
            .await
            .expect("ids_with_prefix")
            .contains(&m.id),
        "a deleted song is not found by its short id"
    );
}

/// Listings by title and artist are in natural order (digit runs compare as numbers:
/// `track2` before `track10`), case-insensitive, and agree with [`songrec_storage::compare_by`] (the
/// brute-force oracle), characters at U+FFFF and above U+FFFF included (where UTF-16 and code
/// point order disagree), in both directions and across pages.
pub async fn listing_natural_order(b: &dyn StorageBackend) {
    const TAG: &str = "natural-order-case";
    let titles: [(&str, Option<&str>); 14] = [
        ("track10", Some("Band 10")),
        ("Track2", Some("band 9")),
        ("track1", Some("BAND 9")),
        ("TRACK02", Some("band09")),
        ("track 3", None),
        ("track", Some("band")),
        ("\u{FFFF} max bmp", Some("\u{10000}")),
        ("\u{10000} astral", Some("\u{FFFF}")),
        ("\u{FFFD} replacement", Some("\u{E000}")),
        ("\u{E000} private", None),
        ("a", Some("\u{1F600} 2")),
        ("A", Some("\u{1F600} 10")),
        ("disc 2 track 10", Some("band 9")),
        ("disc 2 track 9", Some("band 9")),
    ];
    let songs: Vec<SongMetadata> = titles
        .iter()
        .enumerate()
        .map(|(i, (t, a))| {
            let mut m = song(1300 + i);
            m.title = (*t).to_owned();
            m.artist = a.map(str::to_owned);
            m.tags = vec![TAG.into()];
            m
        })
        .collect();
    for m in &songs {
        b.put_metadata(m).await.expect("put_metadata");
    }
    listed_in_oracle_order(b, &songs, TAG, 3).await;
    // The natural order itself, not only agreement with the oracle.
    let by_title: Vec<String> = {
        let mut v = songs.clone();
        v.sort_by(|x, y| songrec_storage::compare_by(SortKey::Title, x, y));
        v.into_iter().map(|m| m.title).collect()
    };
    let at = |t: &str| by_title.iter().position(|x| x == t).expect("listed");
    assert!(at("track") < at("track 3") && at("track 3") < at("track1"));
    assert!(at("track1") < at("Track2") && at("Track2") < at("track10"));
    assert!(at("TRACK02") < at("track10") && at("disc 2 track 9") < at("disc 2 track 10"));
    assert!(at("\u{FFFD} replacement") < at("\u{FFFF} max bmp"));
    assert!(
        at("\u{FFFF} max bmp") < at("\u{10000} astral"),
        "code point order"
    );
    for m in &songs {
        assert!(b.delete_song(&m.id).await.expect("delete"));
    }
}

/// Any title or artist orders the same in every backend as in the oracle
/// ([`songrec_storage::compare_by`]): a property test over random texts built from the characters where
/// orders go wrong (U+0000–U+0002 below the sort keys' separator, digits, case, U+E000–U+FFFF
/// and above U+FFFF, combining marks), in both directions, across pages.
pub async fn any_text_orders_alike(b: &dyn StorageBackend) {
    const TAG: &str = "any-text-order-case";
    const ALPHABET: [&str; 16] = [
        "\u{0}",
        "\u{1}",
        "\u{2}",
        "\u{3}",
        "\t",
        " ",
        "a",
        "A",
        "b",
        "0",
        "7",
        "10",
        "\u{E000}",
        "\u{FFFF}",
        "\u{10000}",
        "e\u{301}",
    ];
    let mut rng = songrec_storage::rng::SplitMix::new(31);
    let text = |rng: &mut songrec_storage::rng::SplitMix| -> String {
        let len = 1 + rng.next_u64() % 5;
        (0..len)
            .map(|_| ALPHABET[(rng.next_u64() % ALPHABET.len() as u64) as usize])
            .collect()
    };
    let songs: Vec<SongMetadata> = (0..24)
        .map(|i| {
            let mut m = song(1400 + i);
            m.title = text(&mut rng);
            m.artist = (i % 3 != 0).then(|| text(&mut rng));
            m.tags = vec![TAG.into()];
            m
        })
        .collect();
    for m in &songs {
        b.put_metadata(m).await.expect("put_metadata");
    }
    listed_in_oracle_order(b, &songs, TAG, 5).await;
    for m in &songs {
        assert!(b.delete_song(&m.id).await.expect("delete"));
    }
}

/// Lists `songs` (the only ones tagged `tag`) by title and by artist, in both directions,
/// `page` songs a page, and checks the order against the oracle ([`songrec_storage::compare_by`]).
async fn listed_in_oracle_order(
    b: &dyn StorageBackend,
    songs: &[SongMetadata],
    tag: &str,
    page: usize,
) {
    let only = Filter::default().and(Condition::Eq(Field::Tags, Value::Text(tag.into())));
    for sort in [SortKey::Title, SortKey::Artist] {
        for descending in [false, true] {
            let mut want = songs.to_vec();
            want.sort_by(|x, y| songrec_storage::compare_by(sort, x, y));
            if descending {
                want.reverse();
            }
            let want: Vec<SongId> = want.into_iter().map(|m| m.id).collect();
            let q = ListQuery {
                filter: only.clone(),
                sort,
                descending,
                limit: page,
                ..ListQuery::default()
            };
            let got = walk(b, q, songs.len()).await;
            assert_eq!(
                got,
                want,
                "{sort:?} descending={descending}: texts {:?}",
                songs
                    .iter()
                    .map(|m| (&m.title, &m.artist))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// The ids of every page of `q`, following the cursors; at most `most` songs.
async fn walk(b: &dyn StorageBackend, mut q: ListQuery, most: usize) -> Vec<SongId> {
    let mut got = Vec::new();
    loop {
        let page = b.list(&q).await.expect("list");
        got.extend(page.items.into_iter().map(|m| m.id));
        assert!(got.len() <= most, "paging does not end");
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return got,
        }
    }
}

/// A listing's cursor survives other writers (keyset paging): while a client pages through,
/// songs before its cursor are deleted and added, and songs after it too; every song present
/// throughout is listed exactly once, and no song twice, in every order and direction.
pub async fn listing_cursor_survives_writers(b: &dyn StorageBackend) {
    const TAG: &str = "cursor-writers-case";
    let only = Filter::default().and(Condition::Eq(Field::Tags, Value::Text(TAG.into())));
    let tagged = |n: usize| {
        let mut m = song(n);
        m.tags = vec![TAG.into()];
        m.duration_secs = n as f64;
        m
    };
    for (round, sort) in [
        SortKey::Title,
        SortKey::Id,
        SortKey::Artist,
        SortKey::Duration,
    ]
    .into_iter()
    .enumerate()
    {
        for descending in [false, true] {
            let base = 1500 + round * 100 + usize::from(descending) * 50;
            let songs: Vec<SongMetadata> = (base..base + 20).map(tagged).collect();
            for m in &songs {
                b.put_metadata(m).await.expect("put_metadata");
            }
            let mut q = ListQuery {
                filter: only.clone(),
                sort,
                descending,
                limit: 4,
                ..ListQuery::default()
            };
            let first = b.list(&q).await.expect("list");
            let mut seen: Vec<SongId> = first.items.iter().map(|m| m.id.clone()).collect();
            q.cursor = first.next.clone();
            assert!(q.cursor.is_some(), "{sort:?}: more pages");
            // Another writer: one song of the first page and one not yet listed go; a song
            // that sorts before everything and one that sorts after come.
            let gone_seen = seen[1].clone();
            let mut want: Vec<SongMetadata> = songs.clone();
            want.sort_by(|x, y| songrec_storage::compare_by(sort, x, y));
            if descending {
                want.reverse();
            }
            let gone_later = want[12].id.clone();
            for id in [&gone_seen, &gone_later] {
                assert!(b.delete_song(id).await.expect("delete"));
            }
            let mut early = tagged(base + 30);
            let mut late = tagged(base + 31);
            let (lo, hi) = if descending {
                ("~~~", " ")
            } else {
                (" ", "~~~")
            };
            early.title = lo.into();
            late.title = hi.into();
            // No artist sorts first.
            early.artist = descending.then(|| "~~~".into());
            late.artist = (!descending).then(|| "~~~".into());
            early.duration_secs = if descending { 1e9 } else { -1.0 };
            late.duration_secs = if descending { -1.0 } else { 1e9 };
            for m in [&early, &late] {
                b.put_metadata(m).await.expect("put_metadata");
            }
            seen.extend(walk(b, q, 40).await);
            let mut dup = seen.clone();
            dup.sort();
            dup.dedup();
            assert_eq!(
                dup.len(),
                seen.len(),
                "{sort:?} desc={descending}: a song twice"
            );
            for m in &songs {
                let listed = seen.contains(&m.id);
                if m.id != gone_seen && m.id != gone_later {
                    assert!(
                        listed,
                        "{sort:?} desc={descending}: {} present throughout was skipped",
                        m.title
                    );
                }
            }
            assert!(
                !seen.contains(&gone_later),
                "{sort:?}: a deleted song listed"
            );
            for m in songs.iter().chain([&early, &late]) {
                b.delete_song(&m.id).await.expect("delete");
            }
        }
    }
}

/// Filters and paging agree with [`Filter::matches`] and never repeat or drop songs.
pub async fn list_filter_and_paging(b: &dyn StorageBackend) {
    use songrec_storage::StorageBackendExt;
    let mut rng = SplitMix::new(7);
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

    // A window (offset, limit) of a sorted, filtered listing is that slice of the oracle's
    // order, and its total is the number of matches.
    for f in [Filter::default(), filters[0].clone()] {
        let mut want: Vec<&SongMetadata> = lib
            .iter()
            .map(|(m, _)| m)
            .filter(|m| f.matches(m))
            .collect();
        want.sort_by(|x, y| songrec_storage::compare_by(SortKey::Title, x, y).reverse());
        let n = want.len();
        for (offset, limit) in [
            (0, 1),
            (0, n + 1),
            (1, 2),
            (n - 1, 7),
            (n, 3),
            (n + 4, 2),
            (3, 7),
        ] {
            let (got, total) = b
                .list_window(&f, SortKey::Title, true, offset, limit)
                .await
                .expect("list_window");
            let slice: Vec<&SongId> = want
                .iter()
                .skip(offset)
                .take(limit)
                .map(|m| &m.id)
                .collect();
            let got: Vec<&SongId> = got.iter().map(|m| &m.id).collect();
            assert_eq!(got, slice, "window {offset}+{limit} of {f:?}");
            assert_eq!(total.value(), n as u64, "window total of {f:?}");
        }
    }
    clear(b, &lib).await;
}

/// Deleting a song removes every piece and leaves a tombstone with a higher version.
pub async fn delete_leaves_tombstone(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = b"a short song".repeat(100);
    let src = dir.path().join("s.wav");
    std::fs::write(&src, &bytes).expect("write");
    // A song identified by its audio, whose file (the audio's key) hashes to something else.
    let mut m = song(903);
    m.id = SongId::from_bytes(b"the audio stream of song 903");
    m.content_hash = SongId::from_bytes(&bytes).as_str().to_owned();
    m.version = 4;
    b.put_audio(&m.audio_key(), &src).await.expect("put_audio");
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
        !b.has_audio(&m.audio_key()).await.expect("has_audio"),
        "delete_song removes the audio stored under the file's content hash"
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

/// `summary` adds up what the listing holds: song count, summed sizes, genres and tombstones
/// exactly, the summed duration to 1e-9 relative (a float sum, in whatever order the backend
/// adds). Checked against the songs written here and against [`summarize_by_walking`].
pub async fn summary_adds_up(b: &dyn StorageBackend) {
    let before = b.summary().await.expect("summary");
    let walked = songrec_storage::summarize_by_walking(b)
        .await
        .expect("walk");
    assert_summaries_agree(&before, &walked, "before");
    let mut written = Vec::new();
    for n in 0..7 {
        let mut m = song(950 + n);
        m.duration_secs = [0.1, 187.123_456_789, 1e-3, 3600.5, 0.0, 59.999, 7.25][n];
        m.file_size = 1_000_003 * (n as u64 + 1);
        m.genre = match n {
            0 | 1 => Some("jazz".into()),
            2 => Some("Jazz".into()),
            3 => None,
            4 => Some("   ".into()),
            _ => Some("ambient drone".into()),
        };
        written.push(m);
    }
    for m in &written {
        b.put_metadata(m).await.expect("put");
    }
    assert!(b.delete_song(&written[6].id).await.expect("delete"));
    let after = b.summary().await.expect("summary");
    assert_summaries_agree(
        &after,
        &songrec_storage::summarize_by_walking(b)
            .await
            .expect("walk"),
        "after",
    );
    assert_eq!(after.songs, before.songs + 6, "six live songs more");
    assert_eq!(
        after.tombstones,
        before.tombstones + 1,
        "one tombstone more"
    );
    assert_eq!(
        after.total_bytes,
        before.total_bytes + 1_000_003 * (1 + 2 + 3 + 4 + 5 + 6)
    );
    let genre =
        |s: &songrec_storage::LibrarySummary, g: &str| s.genres.get(g).copied().unwrap_or(0);
    assert_eq!(genre(&after, "jazz"), genre(&before, "jazz") + 2);
    assert_eq!(
        genre(&after, "Jazz"),
        genre(&before, "Jazz") + 1,
        "genres as stored"
    );
    assert_eq!(genre(&after, "   "), genre(&before, "   ") + 1);
    assert_eq!(
        genre(&after, "ambient drone"),
        genre(&before, "ambient drone") + 1
    );
    let secs: f64 = written[..6].iter().map(|m| m.duration_secs).sum();
    assert!(
        ((after.total_secs - before.total_secs) - secs).abs() <= 1e-9 * after.total_secs.max(1.0),
        "summed duration {} - {} != {secs}",
        after.total_secs,
        before.total_secs
    );
    for m in &written[..6] {
        b.delete_song(&m.id).await.expect("delete");
    }
}

fn assert_summaries_agree(
    got: &songrec_storage::LibrarySummary,
    walked: &songrec_storage::LibrarySummary,
    at: &str,
) {
    assert_eq!(
        (got.songs, got.total_bytes, &got.genres, got.tombstones),
        (
            walked.songs,
            walked.total_bytes,
            &walked.genres,
            walked.tombstones
        ),
        "summary {at} disagrees with the listing"
    );
    assert!(
        (got.total_secs - walked.total_secs).abs() <= 1e-9 * walked.total_secs.abs().max(1.0),
        "summary {at}: {} s, the listing adds up to {} s",
        got.total_secs,
        walked.total_secs
    );
}

/// Times at the edges of what the metadata holds (chrono's first and last instants, the years
/// −1, 0, 9999 and 10000, a nanosecond either side of a year's turn) are stored as they are
/// and listed by `created` and `updated` in time order ([`songrec_storage::compare_by`]), both
/// directions, across pages: each page's cursor is the last song's sort position, which must
/// order like the times themselves (`+10000` and `-0001` written as text did not, and a
/// listing repeated songs and skipped others).
pub async fn times_at_the_edges_order_alike(b: &dyn StorageBackend) {
    use chrono::{DateTime, TimeZone, Timelike, Utc};
    const TAG: &str = "edge-times-case";
    let ymd = |y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, ns: u32| -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .and_then(|t| t.with_nanosecond(ns))
            .expect("a valid time")
    };
    let times = [
        DateTime::<Utc>::MIN_UTC,
        ymd(-1, 12, 31, 23, 59, 59, 999_999_999),
        ymd(0, 1, 1, 0, 0, 0, 0),
        ymd(1969, 12, 31, 23, 59, 59, 999_999_999),
        ymd(1970, 1, 1, 0, 0, 0, 0),
        ymd(9999, 12, 31, 23, 59, 59, 999_999_999),
        ymd(10_000, 1, 1, 0, 0, 0, 0),
        ymd(10_000, 1, 1, 0, 0, 0, 1),
        ymd(99_999, 6, 1, 12, 0, 0, 0),
        DateTime::<Utc>::MAX_UTC,
    ];
    let songs: Vec<SongMetadata> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = song(1500 + i);
            // Created and updated in opposite orders, so neither listing follows the other.
            m.created_at = *t;
            m.updated_at = times[times.len() - 1 - i];
            m.tags = vec![TAG.into()];
            m
        })
        .collect();
    for m in &songs {
        b.put_metadata(m)
            .await
            .expect("put_metadata of an edge time");
    }
    for m in &songs {
        let got = b.get_metadata(&m.id).await.expect("get").expect("stored");
        assert_eq!(
            (got.created_at, got.updated_at),
            (m.created_at, m.updated_at),
            "edge times are stored as they are"
        );
    }
    let only = Filter::default().and(Condition::Eq(Field::Tags, Value::Text(TAG.into())));
    for sort in [SortKey::Created, SortKey::Updated] {
        for descending in [false, true] {
            let mut want = songs.clone();
            want.sort_by(|x, y| songrec_storage::compare_by(sort, x, y));
            if descending {
                want.reverse();
            }
            let want: Vec<SongId> = want.into_iter().map(|m| m.id).collect();
            let q = ListQuery {
                filter: only.clone(),
                sort,
                descending,
                limit: 3,
                ..ListQuery::default()
            };
            let got = walk(b, q, songs.len()).await;
            assert_eq!(got, want, "{sort:?} descending={descending}: edge times");
        }
    }
    for m in &songs {
        assert!(b.delete_song(&m.id).await.expect("delete"));
    }
}
