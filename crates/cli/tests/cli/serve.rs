//! `songrec serve` and `songrec previews` as a user runs them (the real binary).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use songrec_testkit::cli::text;

use crate::bin;

fn songrec(lib: &Path) -> Command {
    let mut c = bin().on_library(lib);
    c.current_dir(lib.parent().unwrap());
    for v in [
        "SONGREC_SUBSONIC_USER",
        "SONGREC_SUBSONIC_PASSWORD",
        "SONGREC_SUBSONIC_API_KEY",
    ] {
        c.env_remove(v);
    }
    c
}

fn run(lib: &Path, args: &[&str]) -> Output {
    songrec(lib).args(args).output().unwrap()
}

fn small_library(dir: &Path) -> std::path::PathBuf {
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let music = dir.join("music");
    bin().synth(&music, 1, 3);
    let o = run(&lib, &["ingest", music.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    lib
}

#[test]
fn serve_listens_on_loopback_answers_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let lib = small_library(dir.path());

    // Reachable from other machines: refused without --public.
    let o = run(&lib, &["serve", "--bind", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--public"), "{}", text(&o));

    let mut child = songrec(&lib)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = songrec_testkit::cli::served_url(&mut child);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (health, songs, page) = rt.block_on(async {
        let c = reqwest::Client::new();
        let get = |path: &str| c.get(format!("{url}{path}")).send();
        let h: serde_json::Value = get("/healthz").await.unwrap().json().await.unwrap();
        let s: serde_json::Value = get("/api/v1/songs?genre=jazz")
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let p = get("/").await.unwrap().text().await.unwrap();
        (h, s, p)
    });
    assert_eq!(health["songs"], 5, "{health}");
    assert_eq!(songs["total"], 1, "{songs}");
    assert!(page.contains("<title>songrec</title>"));

    // SIGTERM: a clean stop with exit code 0 (the child is this test's own process).
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopping"), "{stderr}");
    // No Subsonic user in this environment: said once, at the start.
    assert_eq!(
        stderr
            .matches("the Subsonic API (/rest/) refuses every sign-in")
            .count(),
        1,
        "{stderr}"
    );
}

#[test]
fn previews_command_ingests_from_a_replayed_api() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    // One synthesised song as an AAC m4a preview.
    let music = dir.path().join("music");
    bin().synth(&music, 1, 4);
    let wav = std::fs::read_dir(&music)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("Warehouse"))
        .unwrap();
    let m4a = dir.path().join("p.m4a");
    songrec_testkit::audio::convert(&wav, &m4a, &["-c:a", "aac"]);
    let bytes = std::fs::read(&m4a).unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let api = crate::replayed_itunes(
        &rt,
        |addr| {
            serde_json::json!({"resultCount": 2, "results": [
                {"wrapperType": "track", "kind": "song", "trackId": 5, "trackName": "Night Drive",
                 "artistName": "Replay Artist", "collectionName": "Replays", "primaryGenreName": "Dance",
                 "previewUrl": format!("http://{addr}/files/p.m4a"), "trackTimeMillis": 200000},
                {"wrapperType": "track", "kind": "song", "trackId": 6, "trackName": "Lost Track",
                 "artistName": "Replay Artist", "previewUrl": format!("http://{addr}/files/gone.m4a")}
            ]})
        },
        vec![("p.m4a".into(), bytes)],
    );
    let o = songrec(&lib)
        .args(["previews", "replay artist", "-n", "2"])
        .env("SONGREC_PREVIEWS_BASE_URL", api)
        .output()
        .unwrap();
    // One added, one HTTP failure: partial.
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("added"), "{}", text(&o));
    assert!(
        text(&o).contains("Lost Track") && text(&o).contains("404"),
        "{}",
        text(&o)
    );
    let o = run(&lib, &["list", "--json"]);
    let listing = text(&o);
    assert!(
        listing.contains("Night Drive") && listing.contains("Dance"),
        "{listing}"
    );
    // A count of 0 is a usage error (exit 2), refused before any request.
    let o = run(&lib, &["previews", "x", "-n", "0"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("must be from 1 to"), "{}", text(&o));
    drop(rt);
}
