//! Search: by words (the stored style tags), and `q=` searches paged by cursor within their
//! scan budget.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use songrec_storage::prelude::*;
use songrec_testkit::server::{PER_STYLE, serve, serve_library};

use super::{assert_error, get, result_ids};

/// Search by words: `GET /api/v1/similar?text=` ranks by the stored style tags; `text=` on a
/// song's neighbours moves them towards the words; words that name no tag are a 400 listing
/// the tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_rank_by_style_tags_and_steer_neighbours() {
    use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
    let dir = tempfile::tempdir().unwrap();
    let lib = songrec_local::LocalBackend::open(dir.path()).unwrap();
    let model = ModelInfo::new("musicnn", "1", 4);
    // Song 0 is the seed; 1 and 2 sound closest to it and are jazz; 3, 4, 5 are metal, less
    // close. The last song has no style tags (no neural analysis): never a word match.
    let jazz = [0.0, 0.9, 0.6, 0.0, 0.0, 0.0, 0.0];
    let metal = [0.0, 0.0, 0.0, 0.8, 0.5, 0.2, 0.0];
    let off = [0.0f32, 0.14, 0.2, 0.48, 0.51, 0.54, 0.3];
    let mut records = Vec::new();
    for i in 0..7 {
        let id = SongId::from_bytes(format!("song {i}").as_bytes());
        let mut m = SongMetadata::new(id, format!("Song {i}"));
        // The last song has no genre either: no word of its text is "metal".
        m.genre = (i < 6).then(|| if i < 3 { "Jazz" } else { "Metal" }.to_owned());
        if i < 6 {
            m.extra.insert(
                "style_tags".into(),
                serde_json::json!([["jazz", jazz[i]], ["metal", metal[i]], ["rock", 0.1]]),
            );
        }
        let v = vec![1.0, off[i], 0.0, 0.0];
        records.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding::new(model.clone(), v).unwrap()],
        });
    }
    assert!(lib.put_songs(&records).await.unwrap().is_complete());
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.metadata.id.as_str().to_owned())
        .collect();
    let srv = serve(Arc::new(lib), |_| {}).await;

    // Words alone: "jazzy" is read as the tag jazz; songs ranked by their jazz probability.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=something%20jazzy")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), [ids[1].clone(), ids[2].clone()], "{v}");
    assert_eq!(v["words"]["tags"][0]["tag"], "jazz", "{v}");
    assert_eq!(v["query"]["text"], "something jazzy", "{v}");
    assert_eq!(v["results"][0]["tag_score"], v["results"][0]["similarity"]);
    assert!((v["results"][0]["tag_score"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    // With a filter, and avoiding a tag: metal songs, least metal first.
    let (_, v) = get(&srv.url("/api/v1/similar?k=3&text=no%20metal&genre=metal")).await;
    assert_eq!(
        result_ids(&v),
        [ids[5].clone(), ids[4].clone(), ids[3].clone()],
        "{v}"
    );
    // Listener words map onto the tags ("swing" → jazz), and the answer says which words
    // were used and which ignored.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=the%20swing%20kazoo")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), [ids[1].clone(), ids[2].clone()], "{v}");
    assert_eq!(
        v["words"]["used_words"],
        serde_json::json!(["swing"]),
        "{v}"
    );
    assert_eq!(
        v["words"]["ignored_words"],
        serde_json::json!(["the", "kazoo"]),
        "{v}"
    );
    // Nothing matches (no tag, no title holds the words): 404, suggesting the nearest words
    // and the words that match songs here rather than listing every tag.
    let msg = assert_error(
        &get(&srv.url("/api/v1/similar?text=orchestrall%20kazoo")).await,
        StatusCode::NOT_FOUND,
        "no_match",
    );
    assert!(
        msg.contains("did you mean: orchestral")
            && msg.contains(
                "words that match songs here: rock (6 songs), metal (3 songs), jazz (2 songs)"
            )
            && !msg.contains("female vocalists"),
        "{msg}"
    );
    // Words that name no tag find titles.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=song%203")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["song"]["title"], "Song 3", "{v}");
    // No word at all: a 400.
    assert_error(
        &get(&srv.url("/api/v1/similar?text=the%20music")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        &get(&srv.url("/api/v1/similar?k=3")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    // A song's neighbours: by sound the jazz songs come first; "but more metal" lifts the most
    // metal song over them, and the audio similarity reported is unchanged.
    let seed = &ids[0];
    let (_, plain) = get(&srv.url(&format!("/api/v1/songs/{seed}/similar?k=3"))).await;
    assert_eq!(result_ids(&plain)[0], ids[1], "{plain}");
    let (s, v) = get(&srv.url(&format!(
        "/api/v1/songs/{seed}/similar?k=3&text=but%20more%20metal"
    )))
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v)[0], ids[3], "{v}");
    // Its tag (0.8) and its genre, "Metal", holding the word (1).
    assert!((v["results"][0]["tag_score"].as_f64().unwrap() - 1.8).abs() < 1e-6);
    let sim_of = |v: &Value, id: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["song"]["id"] == id)
            .map(|r| r["similarity"].as_f64().unwrap())
    };
    let (_, wide) = get(&srv.url(&format!("/api/v1/songs/{seed}/similar?k=6"))).await;
    assert_eq!(sim_of(&v, &ids[3]), sim_of(&wide, &ids[3]));
    assert_error(
        &get(&srv.url(&format!(
            "/api/v1/songs/{seed}/similar?text=metal&distinct=true"
        )))
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    srv.stop().await;
}

/// A `q=` search reads the listing only until its page is full (one match more shows there are
/// more): a bounded total and a cursor that continues the same search, each match once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_continue_with_a_cursor() {
    let srv = serve_library(|_| {}).await;
    let (s, v) = get(&srv.url("/api/v1/songs?q=warehouse")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["total"].as_u64(), v["total_exact"].as_bool()),
        (Some(PER_STYLE as u64), Some(true))
    );
    assert!(v["next_cursor"].is_null());

    let mut seen = Vec::new();
    let mut url = srv.url("/api/v1/songs?q=warehouse&limit=1&sort=title");
    for round in 0.. {
        let (s, v) = get(&url).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let items = v["items"].as_array().unwrap();
        seen.extend(
            items
                .iter()
                .map(|x| x["title"].as_str().unwrap().to_owned()),
        );
        if round == 0 {
            assert_eq!(items.len(), 1);
            assert_eq!(v["total_exact"], false, "stopped before the end: {v}");
            assert!(v["total"].as_u64().unwrap() >= 2);
        }
        match v["next_cursor"].as_str() {
            Some(c) => {
                url = srv.url(&format!(
                    "/api/v1/songs?q=warehouse&limit=1&sort=title&cursor={c}"
                ))
            }
            None => break,
        }
        assert!(round < 10, "the search does not end");
    }
    assert_eq!(seen.len(), PER_STYLE, "{seen:?}");
    assert!(seen.iter().all(|t| t.starts_with("Warehouse Pulse")));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in title order");
    let (s, v) = get(&srv.url("/api/v1/songs?q=warehouse&cursor=nonsense")).await;
    assert_error(&(s, v), StatusCode::BAD_REQUEST, "bad_request");
}

/// A `q=` search asked for an offset beyond what one request reads (10,000 songs) never points
/// at itself: on 12,000 songs, `offset=11000` is refused with a 400 that carries a
/// `next_cursor`, and following cursors from there reaches the songs at 11,000 and on, in
/// order; a page cut short by the budget continues where it stopped, by cursor or by offset
/// (issue 31).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_scan_budget_never_points_at_itself() {
    use songrec_storage::SongRecord;
    const N: usize = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let lib = songrec_local::LocalBackend::open(dir.path()).unwrap();
    let records: Vec<SongRecord> = (0..N)
        .map(|n| SongRecord {
            metadata: songrec_testkit::data::song(n),
            embeddings: Vec::new(),
        })
        .collect();
    assert!(lib.put_songs(&records).await.unwrap().is_complete());
    lib.flush().await.unwrap();
    let srv = serve(Arc::new(lib), |_| {}).await;
    let title = |n: usize| format!("Track {n:05}");
    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = "/api/v1/songs?q=track&sort=title&limit=3";

    // Far past the budget: a 400 that says to follow next_cursor, and carries one.
    let got = get(&srv.url(&format!("{base}&offset=11000"))).await;
    let msg = assert_error(&got, StatusCode::BAD_REQUEST, "search_offset_beyond_scan");
    assert!(msg.contains("next_cursor"), "{msg}");
    let mut cursor = got.1["error"]["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("no next_cursor in {}", got.1))
        .to_owned();
    // Following it reaches match 11,000 (pages on the way may be empty), then goes on.
    let mut seen = Vec::new();
    for round in 0.. {
        let (s, v) = get(&srv.url(&format!("{base}&cursor={cursor}"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["next_offset"].is_null(), "cursor mode: {v}");
        seen.extend(titles(&v));
        if seen.len() >= 6 {
            break;
        }
        cursor = v["next_cursor"].as_str().expect("more to come").to_owned();
        assert!(round < 5, "the cursor does not get there: {seen:?}");
    }
    assert_eq!(seen, (11_000..11_006).map(title).collect::<Vec<_>>());

    // A page the budget cuts short: the one match found, then the cursor and the offset both
    // continue right after it; neither points back at the request.
    let (s, v) = get(&srv.url(&format!("{base}&offset=9999"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(titles(&v), [title(9999)]);
    assert_eq!(v["next_offset"], 10_000, "{v}");
    let c = v["next_cursor"].as_str().expect("a cursor").to_owned();
    let (s, v) = get(&srv.url(&format!("{base}&cursor={c}"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(titles(&v), (10_000..10_003).map(title).collect::<Vec<_>>());
    // Exactly at the budget: nothing found yet, so no next_offset (it would be the same).
    let (s, v) = get(&srv.url(&format!("{base}&offset=10000"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_ne!(v["next_offset"], 10_000, "{v}");
    let c = v["next_cursor"].as_str().expect("a cursor").to_owned();
    let (_, v2) = get(&srv.url(&format!("{base}&cursor={c}"))).await;
    let mut got = titles(&v);
    got.extend(titles(&v2));
    assert_eq!(
        got[..3],
        (10_000..10_003).map(title).collect::<Vec<_>>()[..]
    );
}

/// Words queries are capped at every door. 16,000 distinct three-letter words took 9–30 s a
/// request (phrase look-ups per word, suggestions for every unknown word, words × each song's
/// text) on the async workers, and `q=` had the same shape: both are refused at once with the
/// limits named. A query at the cap is answered, and a word repeated is looked for once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_queries_over_the_cap_are_refused_naming_it() {
    use songrec_app::words::{MAX_QUERY_BYTES, MAX_QUERY_WORDS};
    use songrec_storage::{SongId, SongMetadata};
    let dir = tempfile::tempdir().unwrap();
    let lib = songrec_local::LocalBackend::open(dir.path()).unwrap();
    for i in 0..3 {
        let mut m = SongMetadata::new(SongId::from_bytes(&[i]), format!("Song {i}"));
        m.extra.insert(
            "style_tags".into(),
            serde_json::json!([["jazz", 0.5], ["rock", 0.1]]),
        );
        lib.put_metadata(&m).await.unwrap();
    }
    let srv = serve(Arc::new(lib), |_| {}).await;
    let word = |i: usize| -> String {
        [i / 676, (i / 26) % 26, i % 26]
            .iter()
            .map(|&d| char::from(b'a' + d as u8))
            .collect()
    };
    let many: Vec<String> = (0..16_000).map(word).collect();
    let limits = format!("at most {MAX_QUERY_BYTES} bytes and {MAX_QUERY_WORDS} words");
    let over_words: Vec<String> = (0..=MAX_QUERY_WORDS).map(word).collect();
    for text in [many.join("+"), over_words.join("+")] {
        for path in ["/api/v1/similar?text=", "/api/v1/songs?limit=1&q="] {
            let started = std::time::Instant::now();
            let got = get(&srv.url(&format!("{path}{text}"))).await;
            let msg = assert_error(&got, StatusCode::BAD_REQUEST, "bad_request");
            assert!(msg.contains(&limits), "{path}: {msg}");
            assert!(
                started.elapsed() < std::time::Duration::from_secs(2),
                "{path}: refused in {:?}",
                started.elapsed()
            );
        }
    }
    // At the cap, words repeated: answered, each word looked for once.
    let at_cap = vec!["jazz"; MAX_QUERY_WORDS].join("+");
    let (s, v) = get(&srv.url(&format!("/api/v1/similar?k=3&text={at_cap}"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["words"]["used_words"], serde_json::json!(["jazz"]), "{v}");
    let songs = vec!["song"; MAX_QUERY_WORDS].join("+");
    let (s, v) = get(&srv.url(&format!("/api/v1/songs?q={songs}"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["items"].as_array().unwrap().len(), 3, "{v}");
}
