//! Listings of a cloud library larger than the Data API's in-memory sort cap: complete and in
//! the local backend's order (`compare_by`) for every sort key and direction, titles with
//! characters above U+FFFF and in U+E000–U+FFFF included (the service sorts those in UTF-16
//! order in memory but compares them in UTF-8 byte order in range filters), and no request
//! refused. The cap is lowered to keep CI fast; the client is told the same cap.

use chrono::{Duration, TimeZone as _, Utc};
use songrec_storage::{
    Embedding, ListQuery, ModelInfo, SongId, SongMetadata, SongRecord, SortKey, StorageBackend,
    compare_by,
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
    const TITLES: [&str; 8] = [
        "\u{10000} astral",
        "\u{FFFD} replacement",
        "\u{E000} private",
        "\u{1F600} smile",
        "plain",
        "Plain",
        "\u{D7FF} last before surrogates",
        "Ünïcode",
    ];
    let mut m = SongMetadata::new(
        SongId::from_bytes(format!("cap song {n}").as_bytes()),
        format!("{} {}", TITLES[n % TITLES.len()], n % 7),
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
        assert!(ids.len() <= SONGS + limit, "the listing does not end");
    }
    (ids, b.requests_sent() - before)
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

    for sort in [
        SortKey::Id,
        SortKey::Title,
        SortKey::Artist,
        SortKey::Created,
        SortKey::Updated,
        SortKey::Bpm,
        SortKey::Duration,
    ] {
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
