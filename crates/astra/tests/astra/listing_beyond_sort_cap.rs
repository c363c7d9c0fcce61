//! Listings of a cloud library larger than the Data API's in-memory sort cap: complete and in
//! the local backend's order (`compare_by`) for every sort key and direction, titles with
//! characters above U+FFFF and in U+E000–U+FFFF included (the service sorts those in UTF-16
//! order in memory but compares them in UTF-8 byte order in range filters), and no request
//! refused. The cap is lowered to keep CI fast; the client is told the same cap.

use chrono::{Duration, TimeZone as _, Utc};
use songrec_storage::prelude::*;
use songrec_storage::{
    Embedding, ListQuery, ModelInfo, SongId, SongMetadata, SongRecord, SortKey, compare_by,
};
use songrec_testkit::LocalCloud;

use crate::{api_config, s3_config};

const CAP: usize = 60;
const SONGS: usize = 400;

fn model() -> ModelInfo {
    ModelInfo::new("cap-test", "1", 4)
}

/// Titles that order differently in UTF-16 and UTF-8, plus ties (same title, artist, tempo).
fn song(n: usize) -> SongMetadata {
    const TITLES: [&str; 9] = [
        "\u{10000} astral",
        "\u{FFFD} replacement",
        "\u{E000} private",
        "\u{1F600} smile",
        "plain",
        "Plain",
        "\u{D7FF} last before surrogates",
        "Ünïcode",
        "Track",
    ];
    let t = TITLES[n % TITLES.len()];
    // Numbered titles without padding: natural order puts track 9 before track 10.
    let title = if t == "Track" {
        format!("{t}{n}")
    } else {
        format!("{t} {}", n % 7)
    };
    let mut m = SongMetadata::new(
        SongId::from_bytes(format!("cap song {n}").as_bytes()),
        title,
    );
    m.artist = (!n.is_multiple_of(5)).then(|| TITLES[(n / 3) % TITLES.len()].to_owned());
    m.bpm = (!n.is_multiple_of(4)).then_some(60.0 + (n % 13) as f32 * 7.5);
    m.duration_secs = (n % 17) as f64 * 11.25 - 3.0;
    let t0 = Utc
        .with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .expect("a time");
    m.created_at = t0 + Duration::seconds((n % 23) as i64);
    m.updated_at = t0 + Duration::seconds((n * 7919 % 101) as i64);
    m
}

/// Every page of a listing with page size `limit`, and the requests it took.
async fn list_all(
    b: &songrec_astra::AstraBackend,
    sort: SortKey,
    descending: bool,
    limit: usize,
) -> (Vec<SongId>, u64) {
    let before = b.requests_sent();
    let mut q = ListQuery {
        sort,
        descending,
        limit,
        ..ListQuery::default()
    };
    let mut ids = Vec::new();
    loop {
        let page = b
            .list(&q)
            .await
            .unwrap_or_else(|e| panic!("{sort:?} desc={descending} limit {limit}: {e}"));
        assert!(page.items.len() <= limit);
        ids.extend(page.items.into_iter().map(|m| m.id));
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
        assert!(ids.len() <= 20_000 + limit, "the listing does not end");
    }
    (ids, b.requests_sent() - before)
}

/// `songs` stored on a fresh local cloud with sort cap `server_cap`, listed by a client told
/// the cap is `client_cap`.
async fn library(
    server_cap: usize,
    client_cap: usize,
    songs: &[SongMetadata],
) -> (LocalCloud, songrec_astra::AstraBackend) {
    let cloud = LocalCloud::builder()
        .max_sort_count(server_cap)
        .start()
        .await;
    let b = cloud
        .astra_with(
            api_config(&cloud.api_url(), cloud.token()),
            s3_config(&cloud),
        )
        .with_sort_cap(client_cap);
    b.init_schema(&[]).await.expect("init");
    let records: Vec<SongRecord> = songs
        .iter()
        .map(|m| SongRecord {
            metadata: m.clone(),
            embeddings: Vec::new(),
        })
        .collect();
    for chunk in records.chunks(1000) {
        let report = b.put_songs(chunk).await.expect("put_songs");
        assert!(report.is_complete(), "{:?}", report.failed.first());
    }
    (cloud, b)
}

fn in_order(songs: &[SongMetadata], sort: SortKey, descending: bool) -> Vec<SongId> {
    let mut want = songs.to_vec();
    want.sort_by(|a, b| compare_by(sort, a, b));
    if descending {
        want.reverse();
    }
    want.into_iter().map(|m| m.id).collect()
}

/// A client that believes the cap is far larger than the server's (an estimate gone stale,
/// another service configuration) is refused with the sort-limit error, narrows its windows
/// and retries: the listing still comes out complete and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_window_is_narrowed_and_retried() {
    let songs: Vec<SongMetadata> = (0..SONGS).map(song).collect();
    let (_cloud, b) = library(CAP, 50 * CAP, &songs).await;
    for sort in [SortKey::Title, SortKey::Artist, SortKey::Bpm] {
        for descending in [false, true] {
            let (got, _) = list_all(&b, sort, descending, 1000).await;
            let want = in_order(&songs, sort, descending);
            assert!(
                got == want,
                "{sort:?} desc={descending}: first difference at {:?} of {}",
                got.iter().zip(&want).position(|(g, w)| g != w),
                got.len()
            );
        }
    }
}

/// Documents whose sort keys an earlier songrec wrote (no `s.v`, plain lowercase titles, so
/// `track10` before `track2`): a listing by title is in natural order all the same, in pages
/// whose cursors carry on, and writes nothing (the old keys are all still there); `init-astra`
/// (the schema upgrade) rewrites them, after which the service sorts and the order is the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_sort_keys_are_listed_in_order_without_a_write_and_upgraded_by_init() {
    let songs: Vec<SongMetadata> = [1, 2, 10, 11, 20, 3]
        .iter()
        .map(|n| {
            let mut m = song(*n);
            m.title = format!("track{n}");
            m
        })
        .collect();
    let (cloud, b) = library(CAP, CAP, &songs).await;
    let coll = b.client().collection(b.songs_collection());
    for m in &songs {
        let old_title = format!("{}\u{1}{}", m.title.to_lowercase(), m.id);
        coll.update_one(
            serde_json::json!({"_id": m.id.as_str()}),
            serde_json::json!({"$unset": {"s.v": ""}, "$set": {"s.title": old_title}}),
            Default::default(),
        )
        .await
        .expect("write an old-form key");
    }
    // An earlier songrec recorded no schema version.
    assert_eq!(coll.delete_one(schema_doc()).await.expect("delete"), 1);
    let stale = || async {
        coll.count_documents(serde_json::json!({"deleted": false, "s.v": {"$ne": 2}}))
            .await
            .expect("count")
    };
    // A new process (the check runs once per process).
    let fresh = || {
        cloud
            .astra_with(
                api_config(&cloud.api_url(), cloud.token()),
                s3_config(&cloud),
            )
            .with_sort_cap(CAP)
    };
    let natural = [
        "track1", "track2", "track3", "track10", "track11", "track20",
    ];
    let titles_in_pages = |b: songrec_astra::AstraBackend, limit: usize| async move {
        let mut titles = Vec::new();
        let mut cursor = None;
        loop {
            let page = b
                .list(&ListQuery {
                    sort: SortKey::Title,
                    limit,
                    cursor: cursor.take(),
                    ..ListQuery::default()
                })
                .await
                .expect("list");
            titles.extend(page.items.iter().map(|m| m.title.clone()));
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        titles
    };
    assert_eq!(titles_in_pages(fresh(), 100).await, natural);
    assert_eq!(titles_in_pages(fresh(), 4).await, natural, "in pages of 4");
    assert_eq!(
        stale().await,
        songrec_astra::dataapi::DocumentCount::Exact(6),
        "a listing writes nothing"
    );
    let report = fresh().init_schema(&[]).await.expect("init");
    assert_eq!(report.upgraded_sort_keys, 6, "{report}");
    assert!(
        report
            .to_string()
            .contains("upgraded the sort keys of 6 songs")
    );
    // The upgrades are recorded in the collection: versions 2 and 3, applied once.
    assert_eq!(report.schema, (1, 3), "{report}");
    assert!(report.to_string().contains("schema  version 3 (was 1)"));
    let recorded = || async {
        let doc = coll.find_one(schema_doc(), Default::default()).await;
        doc.expect("read").expect("a schema document")
    };
    assert_eq!(recorded().await["version"], 3);
    assert_eq!(recorded().await["upgrades"][0]["version"], 2);
    assert_eq!(recorded().await["upgrades"][1]["version"], 3);
    let again = fresh().init_schema(&[]).await.expect("init again");
    assert_eq!((again.schema, again.upgraded_sort_keys), ((3, 3), 0));
    let upgrades = recorded().await["upgrades"].as_array().map(Vec::len);
    assert_eq!(upgrades, Some(2), "nothing more to apply");
    assert_eq!(
        stale().await,
        songrec_astra::dataapi::DocumentCount::Exact(0),
        "upgraded"
    );
    assert_eq!(
        titles_in_pages(fresh(), 4).await,
        natural,
        "after the upgrade"
    );
}

/// Once, at the real service's cap (10,000 matches): a library just over it lists its first
/// page in a few requests with a bounded total, and completely and in order by title.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_at_the_real_sort_cap() {
    const REAL_CAP: usize = 10_000;
    let n = REAL_CAP + 50;
    let songs: Vec<SongMetadata> = (0..n).map(song).collect();
    let (_cloud, b) = library(REAL_CAP, REAL_CAP, &songs).await;
    let before = b.requests_sent();
    let q = ListQuery {
        sort: SortKey::Artist,
        limit: 20,
        ..ListQuery::default()
    };
    let page = b.list(&q).await.expect("list -n 20");
    let total = b.quick_count(&q.filter).await.expect("count");
    let used = b.requests_sent() - before;
    assert_eq!(page.items.len(), 20);
    assert_eq!(total, songrec_storage::SongCount::AtLeast(1000));
    assert!(used <= 20, "list -n 20 and its total took {used} requests");
    let (got, requests) = list_all(&b, SortKey::Title, false, 1000).await;
    assert!(
        got == in_order(&songs, SortKey::Title, false),
        "title order at the real cap"
    );
    let bound = (n / 50 + 50) as u64;
    assert!(requests <= bound, "{requests} requests (bound {bound})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listings_beyond_the_sort_cap_are_complete_and_in_order() {
    let cloud = LocalCloud::builder().max_sort_count(CAP).start().await;
    let b = cloud
        .astra_with(
            api_config(&cloud.api_url(), cloud.token()),
            s3_config(&cloud),
        )
        .with_sort_cap(CAP);
    b.init_schema(&[]).await.expect("init");
    let songs: Vec<SongMetadata> = (0..SONGS).map(song).collect();
    let records: Vec<SongRecord> = songs
        .iter()
        .map(|m| SongRecord {
            metadata: m.clone(),
            embeddings: vec![Embedding::new(model(), vec![0.5, 0.25, 0.125, 1.0]).expect("ok")],
        })
        .collect();
    let report = b.put_songs(&records).await.expect("put_songs");
    assert!(report.is_complete(), "{:?}", report.failed.first());
    // A plain sorted find over every song is refused by this server: the listing must narrow.
    let refused = b
        .client()
        .collection(b.songs_collection())
        .find(
            serde_json::json!({}),
            songrec_astra::dataapi::FindOptions::default().sort(
                songrec_astra::dataapi::Sort::Fields(vec![(
                    "s.title".into(),
                    songrec_astra::dataapi::SortOrder::Ascending,
                )]),
            ),
        )
        .collect_all()
        .await;
    assert!(refused.is_err(), "the lowered cap is in force");

    for &sort in SortKey::ALL {
        for descending in [false, true] {
            let mut want = songs.clone();
            want.sort_by(|a, b| compare_by(sort, a, b));
            if descending {
                want.reverse();
            }
            let want: Vec<SongId> = want.into_iter().map(|m| m.id).collect();
            for limit in [20, 1000] {
                let (got, requests) = list_all(&b, sort, descending, limit).await;
                assert_eq!(got.len(), SONGS, "{sort:?} desc={descending} limit {limit}");
                assert!(
                    got == want,
                    "{sort:?} desc={descending} limit {limit}: first difference at {:?}",
                    got.iter().zip(&want).position(|(g, w)| g != w)
                );
                if limit == 1000 {
                    // Requests span windows of about a fifth of the (lowered) cap, so
                    // here about 12 songs each: the bound scales with windows, not pages.
                    let bound = 2 * (SONGS as u64).div_ceil(CAP as u64 / 5) + 20;
                    assert!(
                        requests <= bound,
                        "{sort:?} desc={descending}: {requests} requests for a full listing (bound {bound})"
                    );
                }
            }
        }
    }
    // A first page is a handful of requests.
    let before = b.requests_sent();
    let page = b
        .list(&ListQuery {
            sort: SortKey::Artist,
            limit: 20,
            ..ListQuery::default()
        })
        .await
        .expect("list");
    assert_eq!(page.items.len(), 20);
    let used = b.requests_sent() - before;
    assert!(used <= 6, "list -n 20 took {used} requests");
}

/// The filter of the document recording the schema version.
fn schema_doc() -> serde_json::Value {
    serde_json::json!({"_id": "schema"})
}
