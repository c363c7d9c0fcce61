//! `previews` against a local replay of the iTunes Search API on 127.0.0.1: JSON in the API's
//! shape, AAC m4a previews made with ffmpeg at test time, a corrupt preview and a missing one.
//! No network.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use songrec_app::previews::{PreviewError, PreviewOptions, PreviewOutcome, fetch_and_ingest};
use songrec_storage::prelude::*;
use songrec_storage::{Filter, StorageBackendExt};

fn ffmpeg_m4a(dir: &Path, name: &str, style: &str, seed: u64) -> Vec<u8> {
    let wav = dir.join(format!("{name}.wav"));
    let spec = songrec_audio::synth::SongSpec::for_style(style, seed, 5.0);
    songrec_audio::synth::write_wav(&wav, &songrec_audio::synth::render(&spec)).unwrap();
    let m4a = dir.join(format!("{name}.m4a"));
    songrec_testkit::audio::convert(&wav, &m4a, &["-c:a", "aac", "-b:a", "96k"]);
    std::fs::read(&m4a).unwrap()
}

#[derive(Clone)]
struct Replay {
    files: Arc<HashMap<String, Vec<u8>>>,
    base: String,
    queries: Arc<Mutex<Vec<HashMap<String, String>>>>,
}

fn track(base: &str, id: u64, name: &str, file: Option<&str>) -> serde_json::Value {
    let mut t = serde_json::json!({
        "wrapperType": "track", "kind": "song", "artistId": 1, "collectionId": 2, "trackId": id,
        "artistName": "The Replay Band", "collectionName": "Recorded Shapes", "trackName": name,
        "collectionCensoredName": "Recorded Shapes", "trackCensoredName": name,
        "artistViewUrl": "https://music.example/artist/1", "trackViewUrl": format!("https://music.example/track/{id}"),
        "artworkUrl100": "https://img.example/100x100bb.jpg", "collectionPrice": 9.99, "trackPrice": 1.29,
        "releaseDate": "2001-03-07T12:00:00Z", "collectionExplicitness": "notExplicit",
        "trackExplicitness": "notExplicit", "discCount": 1, "discNumber": 1, "trackCount": 12,
        "trackNumber": id % 12, "trackTimeMillis": 215000, "country": "USA", "currency": "USD",
        "primaryGenreName": "Electronic", "isStreamable": true
    });
    if let Some(f) = file {
        t["previewUrl"] = format!("{base}/previews/{f}").into();
    }
    t
}

async fn search(State(r): State<Replay>, Query(q): Query<HashMap<String, String>>) -> Response {
    r.queries.lock().unwrap().push(q.clone());
    let term = q.get("term").cloned().unwrap_or_default();
    if term == "server trouble" {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    if term == "nothing at all" {
        return axum::Json(serde_json::json!({"resultCount": 0, "results": []})).into_response();
    }
    let b = &r.base;
    let results = vec![
        track(b, 101, "Pulse One", Some("good1.m4a")),
        track(b, 102, "Drift Two", Some("good2.m4a")),
        track(b, 103, "Broken Three", Some("corrupt.m4a")),
        track(b, 104, "Gone Four", Some("missing.m4a")),
        track(b, 105, "Silent Five", None),
        // Not a song: the API mixes in other wrapper types for some queries.
        serde_json::json!({"wrapperType": "collection", "collectionId": 9, "collectionName": "Box set"}),
    ];
    axum::Json(serde_json::json!({"resultCount": results.len(), "results": results}))
        .into_response()
}

async fn preview(State(r): State<Replay>, UrlPath(name): UrlPath<String>) -> Response {
    match r.files.get(&name) {
        Some(b) => ([("content-type", "audio/x-m4a")], b.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, "no such preview").into_response(),
    }
}

async fn start_replay(dir: &Path) -> (Replay, SocketAddr) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut corrupt = b"\0\0\0\x20ftypM4A \0\0\0\0M4A mp42isom\0\0\0\x08free".to_vec();
    corrupt.extend((0..4000u32).map(|i| (i * 7 % 251) as u8));
    let files: HashMap<String, Vec<u8>> = [
        (
            "good1.m4a".to_owned(),
            ffmpeg_m4a(dir, "good1", "techno", 1),
        ),
        (
            "good2.m4a".to_owned(),
            ffmpeg_m4a(dir, "good2", "ambient", 2),
        ),
        ("corrupt.m4a".to_owned(), corrupt),
    ]
    .into_iter()
    .collect();
    let replay = Replay {
        files: Arc::new(files),
        base: format!("http://{addr}"),
        queries: Arc::new(Mutex::new(Vec::new())),
    };
    let app = axum::Router::new()
        .route("/search", axum::routing::get(search))
        .route("/previews/{name}", axum::routing::get(preview))
        .with_state(replay.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (replay, addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previews_are_downloaded_ingested_and_labelled_and_failures_reported() {
    let dir = tempfile::tempdir().unwrap();
    let (replay, addr) = start_replay(dir.path()).await;
    let backend = songrec_local::LocalBackend::open(dir.path().join("lib")).unwrap();
    let staging = dir.path().join("staging");
    let mut opts = PreviewOptions::new(&format!("http://{addr}/"), staging.clone());
    opts.limit = 7;
    opts.country = Some("US".into());
    opts.jobs = 2;

    let reports = fetch_and_ingest(&backend, "replay band", &opts)
        .await
        .unwrap();
    let q = replay.queries.lock().unwrap()[0].clone();
    assert_eq!(q["term"], "replay band");
    assert_eq!(
        (q["media"].as_str(), q["entity"].as_str()),
        ("music", "song")
    );
    assert_eq!((q["limit"].as_str(), q["country"].as_str()), ("7", "US"));

    let by_title: HashMap<&str, &PreviewOutcome> = reports
        .iter()
        .map(|r| (r.track.title.as_str(), &r.outcome))
        .collect();
    assert_eq!(by_title.len(), 5, "{reports:?}");
    assert!(matches!(
        by_title["Pulse One"],
        PreviewOutcome::Added { .. }
    ));
    assert!(matches!(
        by_title["Drift Two"],
        PreviewOutcome::Added { .. }
    ));
    assert_eq!(*by_title["Silent Five"], PreviewOutcome::NoPreview);
    match by_title["Gone Four"] {
        PreviewOutcome::Failed { kind, reason } => {
            assert_eq!(kind, "http");
            assert!(reason.contains("404"), "{reason}");
        }
        o => panic!("{o:?}"),
    }
    match by_title["Broken Three"] {
        PreviewOutcome::Failed { reason, .. } => {
            assert!(reason.contains("Broken Three"), "names the track: {reason}");
            assert!(!reason.contains(staging.to_str().unwrap()), "{reason}");
        }
        o => panic!("{o:?}"),
    }

    // Stored with the API's metadata.
    assert_eq!(backend.count(&Filter::default()).await.unwrap(), 2);
    let PreviewOutcome::Added { id } = by_title["Pulse One"] else {
        unreachable!()
    };
    let m = backend.get_metadata(id).await.unwrap().unwrap();
    assert_eq!(m.title, "Pulse One");
    assert_eq!(m.artist.as_deref(), Some("The Replay Band"));
    assert_eq!(m.album.as_deref(), Some("Recorded Shapes"));
    assert_eq!(m.genre.as_deref(), Some("Electronic"));
    assert_eq!(
        m.extra["source_url"],
        format!("http://{addr}/previews/good1.m4a").as_str()
    );
    assert_eq!(m.extra["itunes_track_id"], 101);
    assert_eq!(m.extra["full_duration_secs"], 215.0);
    assert!((m.duration_secs - 5.0).abs() < 0.2, "{}", m.duration_secs);
    assert!(m.bpm.is_some(), "analysed like any ingested song");
    // The downloads are gone.
    assert_eq!(std::fs::read_dir(&staging).unwrap().count(), 0);

    // Again: nothing new, nothing rewritten.
    let again = fetch_and_ingest(&backend, "replay band", &opts)
        .await
        .unwrap();
    let present = again
        .iter()
        .filter(|r| {
            matches!(
                r.outcome,
                PreviewOutcome::AlreadyInLibrary { updated: false, .. }
            )
        })
        .count();
    assert_eq!(present, 2, "{again:?}");
    assert_eq!(backend.count(&Filter::default()).await.unwrap(), 2);

    // Whole-command failures.
    let e = fetch_and_ingest(&backend, "nothing at all", &opts)
        .await
        .unwrap_err();
    assert!(matches!(e, PreviewError::NoResults(_)), "{e}");
    let e = fetch_and_ingest(&backend, "server trouble", &opts)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("503") && e.contains("try later"), "{e}");
    let mut bad = opts.clone();
    bad.base_url = "http://127.0.0.1:1".into();
    let e = fetch_and_ingest(&backend, "x", &bad)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("127.0.0.1:1"), "{e}");
    bad.limit = 0;
    assert!(matches!(
        fetch_and_ingest(&backend, "x", &bad).await.unwrap_err(),
        PreviewError::Invalid(_)
    ));
}

/// A search answer that never ends (`songrec_testkit::flood::Flood` on 127.0.0.1) stops at
/// [`MAX_SEARCH_BYTES`](songrec_app::previews::MAX_SEARCH_BYTES) with an error naming the API,
/// at once, and the server manages to send little more than that (issue 31).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_search_answer_stops_at_the_cap() {
    use songrec_app::previews::{MAX_SEARCH_BYTES, search};
    let flood = songrec_testkit::flood::Flood::start(
        "application/json",
        b"{\"resultCount\":1,\"results\":[",
        b"{\"wrapperType\":\"track\",\"kind\":\"song\",\"trackId\":1,\"trackName\":\"x\"},",
        96 << 20,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let opts = PreviewOptions::new(&flood.url(), dir.path().join("staging"));
    let started = std::time::Instant::now();
    let err = search(&reqwest::Client::new(), &opts, "anything")
        .await
        .expect_err("an endless answer fails");
    match &err {
        PreviewError::AnswerTooLarge { url, limit } => {
            assert!(url.starts_with(&flood.url()), "{url}");
            assert_eq!(*limit, MAX_SEARCH_BYTES);
        }
        other => panic!("not AnswerTooLarge: {other:?}"),
    }
    assert!(err.to_string().contains(&flood.url()), "{err}");
    assert!(
        flood.sent() < MAX_SEARCH_BYTES + (24 << 20),
        "the server sent {} bytes: reading did not stop",
        flood.sent()
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// A preview whose audio the library already has from the user's file under other tags: the
/// song takes the preview's tags and keeps its audio as a copy, never as a reference to the
/// download, which is deleted once ingested.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_of_a_song_under_other_tags_is_kept_as_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (replay, addr) = start_replay(dir.path()).await;
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    let src = dir.path().join("good1-as-served.m4a");
    std::fs::write(&src, &replay.files["good1.m4a"]).unwrap();
    let mine = music.join("mine.m4a");
    songrec_testkit::audio::retagged_copy(&src, &mine, "Mine");
    let backend = songrec_local::LocalBackend::open(dir.path().join("lib")).unwrap();
    let ingest_opts = songrec_app::ingest::IngestOptions {
        jobs: 2,
        embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
        batch_size: 8,
        state_file: Some(dir.path().join("state.json")),
        prune: false,
        copy_audio: false,
        exclude: Vec::new(),
        readd: false,
    };
    let s = songrec_app::ingest::ingest(
        &backend,
        std::slice::from_ref(&music),
        &ingest_opts,
        Arc::new(songrec_app::ingest::NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(s.added(), 1, "{:?}", s.files);

    let mut opts = PreviewOptions::new(&format!("http://{addr}/"), dir.path().join("staging"));
    opts.jobs = 2;
    let reports = fetch_and_ingest(&backend, "replay band", &opts)
        .await
        .unwrap();
    assert!(
        reports
            .iter()
            .any(|r| matches!(r.outcome, PreviewOutcome::AlreadyInLibrary { .. })),
        "the preview is the user's song under other tags"
    );
    let songs = backend.list_all(&Filter::default()).await.unwrap();
    for m in &songs {
        let dest = dir.path().join(format!("{}.out", m.id));
        backend
            .get_audio(&m.audio_key(), &dest)
            .await
            .unwrap_or_else(|e| panic!("{}: audio lost: {e}", m.title));
    }
    // The user's file is untouched.
    assert!(mine.exists());
}
