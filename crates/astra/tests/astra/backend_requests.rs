//! Request counts (one request per similarity search, bounded batch inserts) and behaviour
//! above the Data API's caps (exact counts beyond 1000, listings across many pages).

use std::collections::HashSet;

use crate::Env;
use songrec_storage::prelude::*;
use songrec_storage::{
    Condition, Field, Filter, ListQuery, Metric, ModelInfo, SearchQuery, SortKey, Value,
};
use songrec_testkit::data::{record, vector};

fn model() -> ModelInfo {
    ModelInfo::new("req-test", "1", 16)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_is_one_request_and_inserts_are_bounded() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let records: Vec<_> = (0..1000).map(|n| record(n, &model())).collect();

    let before = b.requests_sent();
    let report = b.put_songs(&records).await.expect("put_songs");
    let used = b.requests_sent() - before;
    assert!(report.is_complete(), "{:?}", report.failed.first());
    assert_eq!(report.stored.len(), 1000);
    // Two collections × ⌈1000/100⌉ insertMany requests, the songs' change-feed stamps
    // (updateMany by id: one page of 50 per request), plus registering the new model
    // (registry read, createCollection, registry insert, registry re-read).
    let bound = 2 * 1000u64.div_ceil(100) + 1000u64.div_ceil(50) + 4;
    assert!(
        used <= bound,
        "{used} requests for 1000 songs (bound {bound})"
    );
    assert!(
        used >= 20,
        "at least one insertMany per chunk and collection: {used}"
    );

    let mut q = SearchQuery::new(model(), vector(7, 16), 10);
    q.ranking.filter = Filter::default()
        .and(Condition::Eq(Field::Genre, Value::Text("JAZZ".into())))
        .and(Condition::Range {
            field: Field::Bpm,
            min: Some(80.0),
            max: Some(140.0),
        });
    q.exclude = vec![records[1].metadata.id.clone()];
    let before = b.requests_sent();
    let hits = b.search(&q).await.expect("search");
    assert_eq!(
        b.requests_sent() - before,
        1,
        "a filtered cosine search is one request"
    );
    assert_eq!(hits.len(), 10);
    for h in &hits {
        assert!(
            q.ranking.filter.matches(&h.metadata),
            "hit violates the filter"
        );
        assert_eq!(h.metadata.id, h.id);
        assert_ne!(h.id, records[1].metadata.id, "excluded song returned");
    }
    assert!(hits.windows(2).all(|w| w[0].similarity >= w[1].similarity));

    // Other metrics are exact but page through the candidates: more requests, same answer
    // as a brute force over what was stored.
    q.ranking.metric = Metric::Dot;
    let before = b.requests_sent();
    let dot = b.search(&q).await.expect("dot search");
    let pages = b.requests_sent() - before;
    assert!(pages > 1, "dot streams the candidates ({pages} requests)");
    let mut want: Vec<(f32, String)> = records
        .iter()
        .filter(|r| {
            q.ranking.filter.matches(&r.metadata) && r.metadata.id != records[1].metadata.id
        })
        .map(|r| {
            let v = &r.embeddings[0].vector;
            (
                songrec_storage::math::dot(&q.vector, v),
                r.metadata.id.to_string(),
            )
        })
        .collect();
    want.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let got: Vec<String> = dot.iter().map(|m| m.id.to_string()).collect();
    let want_ids: Vec<String> = want.iter().take(10).map(|w| w.1.clone()).collect();
    assert_eq!(got, want_ids);

    // A short id is looked up in its range of ids: one request, where listing the library's
    // versions would read 20 pages of 50.
    let id = &records[3].metadata.id;
    let before = b.requests_sent();
    let found = b
        .ids_with_prefix(&id.as_str()[..6], 10)
        .await
        .expect("ids_with_prefix");
    assert_eq!(b.requests_sent() - before, 1, "a short id is one request");
    assert!(found.contains(id), "{} finds {id}", &id.as_str()[..6]);
    // A one-digit prefix holds about 1000/16 songs: every one of them, in id order.
    let digit = &id.as_str()[..1];
    let mut want: Vec<_> = records
        .iter()
        .map(|r| r.metadata.id.clone())
        .filter(|i| i.as_str().starts_with(digit))
        .collect();
    want.sort();
    let found = b
        .ids_with_prefix(digit, 1000)
        .await
        .expect("ids_with_prefix");
    assert_eq!(found, want, "the songs whose id starts with {digit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_and_listings_beyond_server_caps() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let records: Vec<_> = (0..1500).map(|n| record(n, &model())).collect();
    let report = b.put_songs(&records).await.expect("put_songs");
    assert!(report.is_complete());

    // countDocuments stops at 1000; the backend sums bucket groups to stay exact.
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 1500);
    let rock = Filter::default().and(Condition::Eq(Field::Genre, Value::Text("rock".into())));
    let want_rock = records.iter().filter(|r| rock.matches(&r.metadata)).count() as u64;
    assert_eq!(b.count(&rock).await.expect("count rock"), want_rock);
    let stats = b.models().await.expect("models");
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].count, 1500);

    // Sorted listing by bpm (missing last), pages of 200 across the whole library.
    let mut q = ListQuery {
        sort: SortKey::Bpm,
        limit: 200,
        ..ListQuery::default()
    };
    let mut all = Vec::new();
    for _ in 0..20 {
        let page = b.list(&q).await.expect("list");
        assert!(page.items.len() <= 200);
        all.extend(page.items);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    let mut want: Vec<_> = records.iter().map(|r| r.metadata.clone()).collect();
    want.sort_by(|x, y| songrec_storage::compare_by(SortKey::Bpm, x, y));
    let ids =
        |v: &[songrec_storage::SongMetadata]| v.iter().map(|m| m.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&all), ids(&want), "bpm order over all pages");

    // Storage-order listing (sort by id) covers everything exactly once.
    let mut q = ListQuery {
        limit: 333,
        ..ListQuery::default()
    };
    let mut seen = Vec::new();
    for _ in 0..20 {
        let page = b.list(&q).await.expect("list by id");
        seen.extend(page.items.into_iter().map(|m| m.id));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen.len(), 1500);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 1500);

    // list_versions pages through everything without per-song requests.
    let before = b.requests_sent();
    let versions = b.list_versions().await.expect("versions");
    let used = b.requests_sent() - before;
    assert_eq!(versions.len(), 1500);
    assert!(used <= 1500 / 20 + 1, "{used} requests for 1500 versions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extra_fields_filter_exactly() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let mut records: Vec<_> = (0..12).map(|n| record(n, &model())).collect();
    for (n, r) in records.iter_mut().enumerate() {
        let extra = &mut r.metadata.extra;
        match n % 4 {
            0 => extra.insert("year".into(), serde_json::json!(1990 + n)),
            1 => extra.insert("year".into(), serde_json::json!([1980, 2010])),
            2 => extra.insert("year".into(), serde_json::json!("1995")),
            _ => extra.insert("Odd.Name".into(), serde_json::json!(["A", true, 3])),
        };
    }
    let report = b.put_songs(&records).await.expect("put");
    assert!(report.is_complete());
    let filters = [
        Filter::default().and(Condition::Range {
            field: Field::Extra("year".into()),
            min: Some(1995.0),
            max: Some(2000.0),
        }),
        Filter::default().and(Condition::Eq(
            Field::Extra("year".into()),
            Value::Number(2010.0),
        )),
        Filter::default().and(Condition::Eq(
            Field::Extra("Odd.Name".into()),
            Value::Text("a".into()),
        )),
        Filter::default().and(Condition::Eq(
            Field::Extra("Odd.Name".into()),
            Value::Bool(true),
        )),
        Filter::default().and(Condition::Exists(Field::Extra("year".into()))),
        Filter::default().and(Condition::In(
            Field::Extra("year".into()),
            vec![Value::Text("1995".into()), Value::Number(1990.0)],
        )),
    ];
    for f in &filters {
        let want: HashSet<_> = records
            .iter()
            .filter(|r| f.matches(&r.metadata))
            .map(|r| r.metadata.id.clone())
            .collect();
        assert!(!want.is_empty(), "filter selects nothing: {f:?}");
        let got: HashSet<_> = b
            .list(&ListQuery {
                filter: f.clone(),
                limit: 100,
                ..ListQuery::default()
            })
            .await
            .expect("list")
            .items
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(got, want, "list {f:?}");
        assert_eq!(
            b.count(f).await.expect("count"),
            want.len() as u64,
            "count {f:?}"
        );
        let mut q = SearchQuery::new(model(), vector(3, 16), 50);
        q.ranking.filter = f.clone();
        let hits: HashSet<_> = b
            .search(&q)
            .await
            .expect("search")
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert_eq!(hits, want, "search {f:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reputs_replace_and_keep_copies_in_sync() {
    let env = Env::start(true).await;
    let b = &env.backend;
    let other = ModelInfo::new("req-other", "1", 4);
    let mut r = record(1, &model());
    r.embeddings
        .push(songrec_storage::Embedding::new(other.clone(), vec![1.0, 0.0, 0.0, 0.0]).expect("e"));
    b.put_songs(std::slice::from_ref(&r)).await.expect("put");
    // Re-put with a new title and only the first model's vector.
    let mut again = record(1, &model());
    again.metadata.title = "Renamed".into();
    again.metadata.touch();
    let report = b
        .put_songs(std::slice::from_ref(&again))
        .await
        .expect("re-put");
    assert!(report.is_complete(), "{:?}", report.failed);
    let got = b
        .get_metadata(&r.metadata.id)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(got, again.metadata);
    for (m, v) in [(model(), vector(2, 16)), (other, vec![1.0, 0.0, 0.0, 0.0])] {
        let hits = b.search(&SearchQuery::new(m, v, 5)).await.expect("search");
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].metadata, again.metadata, "copy refreshed");
    }
    assert_eq!(b.count(&Filter::default()).await.expect("count"), 1);
    let v = b.list_versions().await.expect("versions");
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].version, again.metadata.version);
}

/// The change feed: a no-op read costs 3 requests (the clock, one empty page, a check that
/// songs exist), changes cost a
/// page per 50; edits and deletions show up, songs left `pending` by a killed batch show up,
/// songs written by an older version (no stamp) are stamped by the next full reconciliation's
/// head request, a recreated collection (new clock epoch) and a foreign cursor give `None`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_feed_costs_what_changed() {
    use serde_json::json;
    use songrec_storage::ChangeCursor;
    let env = Env::start(true).await;
    let b = crate::backend_at(&env.cloud, &env.base_url(), env.token())
        .with_feed_overlap(std::time::Duration::ZERO);
    let records: Vec<_> = (0..300).map(|n| record(n, &model())).collect();
    assert!(b.put_songs(&records).await.expect("put").is_complete());
    let cost = |before: u64| b.requests_sent() - before;

    let before = b.requests_sent();
    let head = b.changes_since(None).await.expect("head").expect("a feed");
    assert_eq!(cost(before), 2, "stamp older songs (none) + the clock");
    assert!(head.entries.is_empty());
    let before = b.requests_sent();
    let noop = b
        .changes_since(Some(&head.cursor))
        .await
        .expect("feed")
        .expect("known");
    assert_eq!((noop.entries.len(), cost(before)), (0, 3), "a no-op");

    let mut edited = records[0].metadata.clone();
    edited.version += 1;
    edited.title = "edited".into();
    b.put_metadata(&edited).await.expect("edit");
    assert!(
        b.delete_song(&records[1].metadata.id)
            .await
            .expect("delete")
    );
    let before = b.requests_sent();
    let ch = b
        .changes_since(Some(&noop.cursor))
        .await
        .expect("feed")
        .expect("known");
    assert_eq!(cost(before), 2);
    let mut got: Vec<_> = ch
        .entries
        .iter()
        .map(|e| (e.id.clone(), e.version, e.deleted))
        .collect();
    got.sort();
    let mut want = vec![
        (edited.id.clone(), edited.version, false),
        (
            records[1].metadata.id.clone(),
            records[1].metadata.version + 1,
            true,
        ),
    ];
    want.sort();
    assert_eq!(got, want);

    let more: Vec<_> = (300..420).map(|n| record(n, &model())).collect();
    assert!(b.put_songs(&more).await.expect("put").is_complete());
    let before = b.requests_sent();
    let ch2 = b
        .changes_since(Some(&ch.cursor))
        .await
        .expect("feed")
        .expect("known");
    assert_eq!(ch2.entries.len(), 120);
    assert_eq!(cost(before), 1 + 120u64.div_ceil(50), "the clock + pages");

    // Raw writes as a killed batch (pending, no stamp) and an older songrec (no stamp) leave.
    let songs = b.client().collection(b.songs_collection());
    let pending = record(500, &model()).metadata;
    let legacy = &records[2].metadata;
    songs
        .insert_many(vec![
            json!({"_id": pending.id.as_str(), "deleted": false, "version": 1, "pending": true}),
        ])
        .await
        .expect("raw insert");
    songs
        .update_one(
            json!({"_id": legacy.id.as_str()}),
            json!({"$set": {"version": 9}, "$unset": {"changed_at": ""}}),
            songrec_astra::dataapi::UpdateOptions::default(),
        )
        .await
        .expect("raw update");
    let ch3 = b
        .changes_since(Some(&ch2.cursor))
        .await
        .expect("feed")
        .expect("known");
    let ids: Vec<_> = ch3.entries.iter().map(|e| e.id.clone()).collect();
    assert_eq!(
        ids,
        vec![pending.id.clone()],
        "pending songs are in the feed"
    );
    // The older version's write is found once a full reconciliation asks for the head.
    b.changes_since(None).await.expect("head").expect("a feed");
    let ch4 = b
        .changes_since(Some(&ch2.cursor))
        .await
        .expect("feed")
        .expect("known");
    let found = ch4.entries.iter().find(|e| e.id == legacy.id);
    assert_eq!(found.map(|e| e.version), Some(9), "{:?}", ch4.entries);

    // With an overlap window, the window's writes are read again (never skipped): a head
    // cursor taken with an hour's overlap starts an hour back, so the legacy song stamped
    // above is in the next read, and in the read after that (the cursor never moves past
    // `now - overlap`). An hour, so the outcome does not depend on how long this test took.
    let overlapping = crate::backend_at(&env.cloud, &env.base_url(), env.token())
        .with_feed_overlap(std::time::Duration::from_secs(3600));
    let head = overlapping
        .changes_since(None)
        .await
        .expect("head")
        .expect("a feed");
    let again = overlapping
        .changes_since(Some(&head.cursor))
        .await
        .expect("feed")
        .expect("known");
    assert!(
        again.entries.iter().any(|e| e.id == legacy.id),
        "read within the overlap"
    );
    let again = overlapping
        .changes_since(Some(&again.cursor))
        .await
        .expect("feed")
        .expect("known");
    assert!(
        again.entries.iter().any(|e| e.id == legacy.id),
        "re-read within the overlap"
    );

    // Songs removed without tombstones (a wiped library): no feed answer.
    let wiped = crate::Env::start(true).await;
    let w = crate::backend_at(&wiped.cloud, &wiped.base_url(), wiped.token());
    assert!(w.put_songs(&records[..3]).await.expect("put").is_complete());
    let h = w.changes_since(None).await.expect("head").expect("a feed");
    assert!(
        w.changes_since(Some(&h.cursor))
            .await
            .expect("feed")
            .is_some()
    );
    w.client()
        .collection(w.songs_collection())
        .delete_many(json!({"deleted": {"$in": [true, false]}}))
        .await
        .expect("raw wipe");
    assert!(
        w.changes_since(Some(&h.cursor))
            .await
            .expect("feed")
            .is_none(),
        "an emptied library goes to the full listing"
    );

    assert!(
        b.changes_since(Some(&ChangeCursor::new("astra1.garbage")))
            .await
            .expect("a foreign cursor is no error")
            .is_none()
    );
    // A recreated collection: the clock (and its epoch) is gone.
    songs
        .delete_one(json!({"_id": "sync:clock"}))
        .await
        .expect("raw delete");
    assert!(
        b.changes_since(Some(&ch4.cursor))
            .await
            .expect("feed")
            .is_none(),
        "another epoch: list everything"
    );
}

/// A hand-made listing cursor with 2,000 window bounds (songrec writes at most 8), each just
/// past the last key so every window is empty and costs one sorted `find`, made one listing
/// page cost 2,003 Data API requests. It is refused before any request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_cursor_is_refused_before_it_costs_requests() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let env = Env::start(true).await;
    let b = &env.backend;
    let records: Vec<_> = (0..30).map(|n| record(n, &model())).collect();
    assert!(
        b.put_songs(&records)
            .await
            .expect("put_songs")
            .is_complete()
    );
    let mut q = ListQuery {
        sort: SortKey::Title,
        limit: 1,
        ..ListQuery::default()
    };
    let first = b.list(&q).await.expect("first page");
    let cursor = first.next.expect("a cursor");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&cursor).expect("base64")).expect("json");
    let k = doc["k"].as_str().expect("its key").to_owned();
    // Each bound just past the last key (before the next song's), with an estimate that lets
    // one sorted request reach only one bound.
    let bounds: Vec<serde_json::Value> = (0..2000)
        .map(|i| serde_json::json!([format!("{k}{i:05}"), 3000.0]))
        .collect();
    doc["b"] = serde_json::Value::Array(bounds);
    q.cursor = Some(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&doc).expect("json")));
    let before = b.requests_sent();
    let e = b.list(&q).await.expect_err("refused");
    let used = b.requests_sent() - before;
    assert!(used <= 3, "{used} Data API requests for a refused cursor");
    assert!(
        matches!(&e, songrec_storage::StorageError::InvalidInput(m) if m.contains("2000 window bounds")),
        "{e}"
    );
    // The cursor songrec wrote still works.
    q.cursor = Some(cursor);
    let second = b.list(&q).await.expect("second page");
    assert_eq!(second.items.len(), 1);
    assert_ne!(second.items[0].id, first.items[0].id);
}
