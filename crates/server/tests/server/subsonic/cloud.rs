//! A machine that holds none of the music: the library on the cloud backend (the local Data API
//! server and S3), a stream is a redirect to a presigned S3 URL that serves the song's bytes,
//! and browsing and songrec's ears answer as over local files.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_cloud_streams_redirect_to_s3_and_the_rest_answers_alike() {
    let cloud = songrec_testkit::LocalCloud::start().await;
    let embedders = songrec_app::embedders::parse_list("dsp").unwrap();
    let model = songrec_app::embedders::model_of(embedders[0].as_ref());
    songrec_astra::AstraBackend::init(&cloud.options(), &[model])
        .await
        .unwrap();
    let backend = songrec_factory::build(&cloud.cfg()).unwrap();
    // Three albums' worth of the real recordings.
    let dir = tempfile::tempdir().unwrap();
    for (sub, name, to) in [LAYOUT[0], LAYOUT[1], LAYOUT[3], LAYOUT[4], LAYOUT[11]] {
        let dest = dir.path().join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(real_recording(sub, name), &dest).unwrap();
    }
    let s = songrec_testkit::server::ingest_dsp_into(backend.as_ref(), dir.path()).await;
    assert_eq!(s.added(), 5, "{s:?}");
    let srv = serve(backend, |o| o.subsonic.credentials = credentials()).await;

    let songs = all_songs(&srv).await;
    assert_eq!(songs.len(), 5);
    let to = LAYOUT[0].2;
    let id = song_from(&songs, to)["id"].as_str().unwrap().to_owned();
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirects
        .get(srv.url(&format!("/rest/stream?{}&id={id}", signed())))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&cloud.s3_url()), "{location}");
    // A player follows it to the file's bytes.
    let bytes = std::fs::read(dir.path().join(to)).unwrap();
    let r = reqwest::get(srv.url(&format!("/rest/download?{}&id={id}", signed())))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap() == bytes.as_slice());

    let artists = call(&srv, "getArtists", "").await;
    assert_eq!(artists["artists"]["index"].as_array().unwrap().len(), 3);
    let similar = call(&srv, "getSonicSimilarTracks", &format!("id={id}&count=3")).await;
    assert_eq!(
        similar["sonicMatch"].as_array().unwrap().len(),
        3,
        "{similar}"
    );
    // The cloud's token never shows.
    let (xml, _) = raw(&srv, "getArtists", &signed()).await;
    assert!(!xml.contains(cloud.token()));
    srv.stop().await;
}
