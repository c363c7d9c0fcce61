//! Audio from the REST API: byte ranges from a local library, and on the cloud backend a
//! redirect to a presigned S3 URL.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use songrec_testkit::server::{library, serve, serve_library};

use super::{client, get};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_streams_with_ranges() {
    let srv = serve_library(|_| {}).await;
    let wav = library().music.join("rock-2.wav");
    let bytes = std::fs::read(&wav).unwrap();
    let len = bytes.len();
    // The song a file holds is named by its audio identity.
    let id =
        songrec_storage::SongId::from_raw(&songrec_audio::identity::identify(&wav).unwrap().audio);
    let url = srv.url(&format!("/api/v1/songs/{id}/audio"));
    let c = client();

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{id}\""));
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let range = |h: &'static str| c.get(&url).header("range", h).send();
    let r = range("bytes=0-99").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{len}").as_str()
    );
    assert_eq!(r.headers()["content-length"], "100");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..100]);

    let r = range("bytes=-10").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[len - 10..]);

    let r = c
        .get(&url)
        .header("range", format!("bytes={}-", len - 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[len - 5..]);

    for bad in [
        format!("bytes={len}-"),
        "bytes=50-10".into(),
        "bytes=x-y".into(),
    ] {
        let r = c
            .get(&url)
            .header("range", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes */{len}").as_str()
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "range_not_satisfiable");
    }

    // Conditional requests: the id is the ETag.
    let r = c
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = c
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "stale If-Range gets the whole file"
    );
    // HEAD: headers only.
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], len.to_string().as_str());
    assert!(r.bytes().await.unwrap().is_empty());
    srv.stop().await;
}

/// On the cloud backend (the local Data API server and s3s-fs), audio is a redirect to a
/// presigned S3 URL that serves the song's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn astra_audio_is_a_redirect_to_a_presigned_url() {
    let cloud = songrec_testkit::LocalCloud::start().await;
    let cfg = cloud.cfg();
    let embedders = songrec_app::embedders::parse_list("dsp").unwrap();
    let model = songrec_app::embedders::model_of(embedders[0].as_ref());
    songrec_astra::AstraBackend::init(&cloud.options(), &[model])
        .await
        .unwrap();
    let backend = songrec_factory::build(&cfg).unwrap();
    let wav = library().music.join("ambient-1.wav");
    let opts = songrec_app::ingest::IngestOptions {
        jobs: 1,
        embedders,
        batch_size: 8,
        state_file: None,
        prune: false,
        copy_audio: false,
        exclude: Vec::new(),
        readd: false,
    };
    let s = songrec_app::ingest::ingest(
        backend.as_ref(),
        std::slice::from_ref(&wav),
        &opts,
        Arc::new(songrec_app::ingest::NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(s.added(), 1);
    let bytes = std::fs::read(&wav).unwrap();
    // The song a file holds is named by its audio identity.
    let id =
        songrec_storage::SongId::from_raw(&songrec_audio::identity::identify(&wav).unwrap().audio);

    let srv = serve(backend, |_| {}).await;
    let r = client()
        .get(srv.url(&format!("/api/v1/songs/{id}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&cloud.s3_url()), "{location}");
    let fetched = client().get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Everything else works the same on this backend.
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{}", &id.as_str()[..8]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = get(&srv.url("/api/v1/songs?genre=ambient")).await;
    assert_eq!((s, v["total"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, body) = get(&srv.url("/api/v1/stats")).await;
    assert!(!body.to_string().contains(cloud.token()));
    srv.stop().await;
}
