//! The Subsonic API (`/rest/`) over a library of real recordings on a 127.0.0.1 socket: raw
//! requests for the envelopes (JSON, XML), forms, every way of signing in and every error code,
//! browsing, streams with ranges and re-encoded by ffmpeg, cover art, songrec's ears; and two
//! real client libraries from PyPI (py-sonic, py-opensonic) driven by
//! `scripts/subsonic/clients.py`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use songrec_server::ServerOptions;
use songrec_server::subsonic::Credentials;
use songrec_storage::Secret;
use songrec_testkit::fixtures::real_recording;
use songrec_testkit::server::{Running, serve};

mod access;
mod browse;
mod clients;
mod cloud;
mod cover;
mod ears;
mod hardening;
mod marks;
mod playlists;
mod transcode;

const USER: &str = "ann";
/// A space and `!`: forms and `enc:` must carry them.
const PASSWORD: &str = "open sesame!";
const API_KEY: &str = "key-2f9c-77";

/// Real recordings laid out as `Artist/Album/NN Title.ext` (songrec reads artist, album, track
/// and title from the path when the files carry no tags), plus one file at the top (no artist).
const LAYOUT: &[(&str, &str, &str)] = &[
    (
        "asc",
        "frontiers.mp3",
        "ASC Music/Soundtrack/01 Frontiers.mp3",
    ),
    (
        "asc",
        "machine_wars.mp3",
        "ASC Music/Soundtrack/02 Machine Wars.mp3",
    ),
    (
        "asc",
        "time_to_strike.mp3",
        "ASC Music/Soundtrack/03 Time To Strike.mp3",
    ),
    ("freedesktop", "bell.oga", "Freedesktop/Stereo/01 Bell.oga"),
    (
        "freedesktop",
        "complete.oga",
        "Freedesktop/Stereo/02 Complete.oga",
    ),
    (
        "freedesktop",
        "dialog-warning.oga",
        "Freedesktop/Stereo/03 Dialog Warning.oga",
    ),
    (
        "freedesktop",
        "dialog-information.oga",
        "Freedesktop/Stereo/04 Dialog Information.oga",
    ),
    (
        "freedesktop",
        "message.oga",
        "Freedesktop/Stereo/05 Message.oga",
    ),
    (
        "freedesktop",
        "phone-incoming-call.oga",
        "Freedesktop/Stereo/06 Phone Incoming Call.oga",
    ),
    (
        "freedesktop",
        "service-login.oga",
        "Freedesktop/Stereo/07 Service Login.oga",
    ),
    (
        "freedesktop",
        "screen-capture.oga",
        "Freedesktop/Stereo/08 Screen Capture.oga",
    ),
    (
        "gmrockkit",
        "Crash-Soft.wav",
        "GMRockKit/Hits/01 Crash Soft.wav",
    ),
    (
        "gmrockkit",
        "Kick-Med.wav",
        "GMRockKit/Hits/02 Kick Med.wav",
    ),
    (
        "gmrockkit",
        "Snare-Med.wav",
        "GMRockKit/Hits/03 Snare Med.wav",
    ),
    (
        "gmrockkit",
        "Ride-Med.wav",
        "GMRockKit/Hits/04 Ride Med.wav",
    ),
    (
        "freedesktop",
        "alarm-clock-elapsed.oga",
        "alarm clock elapsed.oga",
    ),
];

/// The library of [`LAYOUT`], built once per test process.
pub struct RealLibrary {
    pub root: PathBuf,
    pub music: PathBuf,
    pub _dir: tempfile::TempDir,
}

/// A new library of [`LAYOUT`] in a folder of its own (for tests that change it).
pub fn build() -> RealLibrary {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    for (sub, name, to) in LAYOUT {
        let dest = music.join(to);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(real_recording(sub, name), &dest).unwrap();
    }
    let root = dir.path().join("library");
    songrec_testkit::server::ingest_dsp(&music, &root, LAYOUT.len());
    RealLibrary {
        root,
        music,
        _dir: dir,
    }
}

/// The shared library of real recordings.
pub fn real_library() -> &'static RealLibrary {
    static LIB: OnceLock<RealLibrary> = OnceLock::new();
    // Built on a plain thread: callers are inside async runtimes.
    LIB.get_or_init(|| {
        std::thread::spawn(build)
            .join()
            .expect("building the library")
    })
}

pub fn credentials() -> Credentials {
    Credentials {
        user: USER.into(),
        password: Secret::new(PASSWORD),
        api_key: Secret::new(API_KEY),
    }
}

/// A server over the shared real library with the test user (`tweak` changes any option).
pub async fn serve_real(tweak: impl FnOnce(&mut ServerOptions)) -> Running {
    serve_on(real_library(), tweak).await
}

/// A server over `lib` with the test user.
pub async fn serve_on(lib: &RealLibrary, tweak: impl FnOnce(&mut ServerOptions)) -> Running {
    let backend = songrec_local::LocalBackend::open(&lib.root).unwrap();
    serve(Arc::new(backend), |o| {
        o.subsonic.credentials = credentials();
        tweak(o);
    })
    .await
}

/// `u` and `p` of the test user, encoded for a query.
pub fn signed() -> String {
    format!("u={USER}&p={}", enc(PASSWORD))
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `POST url` with a form (`application/x-www-form-urlencoded`) of `pairs`.
pub async fn post_form(url: &str, pairs: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// `GET /rest/<endpoint>?<query>` as it is: the body's text and its content type.
pub async fn raw(srv: &Running, endpoint: &str, query: &str) -> (String, String) {
    let r = reqwest::get(srv.url(&format!("/rest/{endpoint}?{query}")))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{endpoint}?{query}");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    (r.text().await.unwrap(), ct)
}

/// The `subsonic-response` of `GET /rest/<endpoint>?f=json&<query>` (no credentials added).
pub async fn answer(srv: &Running, endpoint: &str, query: &str) -> Value {
    let (body, ct) = raw(srv, endpoint, &format!("f=json&{query}")).await;
    assert!(ct.starts_with("application/json"), "{ct}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["subsonic-response"].clone()
}

/// A signed-in call that must succeed: its `subsonic-response`.
pub async fn call(srv: &Running, endpoint: &str, query: &str) -> Value {
    let v = answer(srv, endpoint, &format!("{}&{query}", signed())).await;
    assert_eq!(v["status"], "ok", "{endpoint}?{query}: {v}");
    v
}

/// A call that must fail: its error code and message (which never shows a secret or a path).
pub async fn fails(srv: &Running, endpoint: &str, query: &str) -> (u64, String) {
    let v = answer(srv, endpoint, query).await;
    assert_eq!(v["status"], "failed", "{endpoint}?{query}: {v}");
    let msg = v["error"]["message"].as_str().unwrap().to_owned();
    for secret in [PASSWORD, API_KEY, "/tmp", "songrec_", "::"] {
        assert!(!msg.contains(secret), "{msg:?} shows {secret:?}");
    }
    (v["error"]["code"].as_u64().unwrap(), msg)
}

/// The `id`s of an array of entries.
pub fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Every song (`search3` with an empty query), as `Child` values.
pub async fn all_songs(srv: &Running) -> Vec<Value> {
    let v = call(
        srv,
        "search3",
        "query=&songCount=1000&artistCount=0&albumCount=0",
    )
    .await;
    v["searchResult3"]["song"].as_array().unwrap().clone()
}

/// The song ingested from `LAYOUT`'s `to`.
pub fn song_from<'a>(songs: &'a [Value], to: &str) -> &'a Value {
    let name = Path::new(to).file_name().unwrap().to_str().unwrap();
    songs
        .iter()
        .find(|s| s["path"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no song from {to}"))
}
