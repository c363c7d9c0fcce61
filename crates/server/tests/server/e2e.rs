//! The web page end to end in headless Chromium (Debian's `chromium`, driven by playwright-core
//! from scripts/e2e): load, map, search, open a song, see similar songs, play the audio through
//! the range endpoint, follow links, upload a file; screenshots go to target/e2e-artifacts/.
//! scripts/test-deps.sh installs node, chromium and the npm package; without them this test
//! fails and says so.

use std::path::{Path, PathBuf};
use std::time::Duration;

use songrec_storage::prelude::*;

use songrec_storage::Filter;
use songrec_testkit::server::{library, serve, serve_library};

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// The repository, node and chromium, checked: (repo, scripts/e2e, node, chromium).
fn browser() -> (PathBuf, PathBuf, PathBuf, PathBuf) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let e2e = repo.join("scripts/e2e");
    let fix = "run scripts/test-deps.sh, which installs node, chromium and the e2e npm packages";
    let node = on_path("node").unwrap_or_else(|| panic!("node is not installed; {fix}"));
    let chromium = std::env::var_os("SONGREC_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        chromium.is_file(),
        "chromium is not installed at {}; {fix} (or set SONGREC_CHROMIUM)",
        chromium.display()
    );
    assert!(
        e2e.join("node_modules/playwright-core/package.json")
            .is_file(),
        "playwright-core is not installed in {}; {fix} (it runs `npm ci` there)",
        e2e.display()
    );
    (repo, e2e, node, chromium)
}

/// Runs scripts/e2e/e2e.mjs on `base` with `env`, artefacts in target/`artefacts`; its report.
async fn run_e2e(
    base: &str,
    artefacts: &str,
    env: &[(&str, &std::ffi::OsStr)],
) -> serde_json::Value {
    let (repo, e2e, node, chromium) = browser();
    let out = repo.join("target").join(artefacts);
    let _ = std::fs::remove_file(out.join("report.json"));
    let run = tokio::process::Command::new(&node)
        .arg(e2e.join("e2e.mjs"))
        .arg(base)
        .arg(&out)
        .env("SONGREC_CHROMIUM", &chromium)
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output();
    let o = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the browser test did not finish within 120 s")
        .expect("running node");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "browser test failed (screenshot: {}):\n{stdout}\n{stderr}",
        out.join("failure.png").display()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_page_works_in_headless_chromium() {
    let srv = serve_library(|_| {}).await;
    let upload = library().music.join("ambient-2.wav");
    let report = run_e2e(
        &srv.base,
        "e2e-artifacts",
        &[("SONGREC_E2E_UPLOAD", upload.as_os_str())],
    )
    .await;
    let (repo, ..) = browser();
    let out = repo.join("target/e2e-artifacts");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 8, "{report}");
    let up = steps
        .iter()
        .find(|s| s["name"] == "songs like an uploaded file")
        .unwrap();
    // Five other songs (the uploaded file is in the library, so it is left out).
    assert_eq!(up["results"], 5, "{up}");
    let play = steps
        .iter()
        .find(|s| s["name"] == "play the audio")
        .unwrap();
    assert!(play["readyState"].as_u64().unwrap() >= 2, "{play}");
    assert!(play["currentTime"].as_f64().unwrap() > 0.3, "{play}");
    for shot in ["home.png", "song.png"] {
        let png = std::fs::read(out.join(shot)).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}");
    }
    // The server saw the browser's requests, the audio among them.
    let audio_requests: u64 = [200u16, 206]
        .iter()
        .map(|s| {
            srv.state
                .http
                .requests("GET", "/api/v1/songs/{id}/audio", *s)
        })
        .sum();
    assert!(audio_requests >= 1);
    srv.stop().await;
}

/// Copies a folder tree (the shared library, to change it for one test).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

/// The library most people have: most songs without a genre, some with long titles. The map is
/// coloured by cluster (numbered from 1, distinct colours, as `songrec map` draws it) rather
/// than nearly all grey, and in a narrow window the similar songs' scores stay in their own
/// column when long titles wrap. A tempo of 186.5 shows as 187 bpm, as on the command line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untagged_library_map_and_wrapping_titles_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("library");
    copy_tree(&library().root, &root);
    let backend = songrec_local::LocalBackend::open(&root).unwrap();
    for mut m in backend.list_all(&Filter::default()).await.unwrap() {
        // A tempo halfway between two whole ones: the page shows it as the command line does.
        m.bpm = Some(186.5);
        // The techno songs keep their genre (2 of 6): most songs have none.
        if m.genre.as_deref() != Some("techno") {
            m.genre = None;
            m.title = format!(
                "{} (the extended cinematic version with strings, a choir and a subtitle long enough to wrap)",
                m.title
            );
        }
        m.touch();
        backend.put_metadata(&m).await.unwrap();
    }
    backend.flush().await.unwrap();
    let srv = serve(std::sync::Arc::new(backend), |_| {}).await;
    let report = run_e2e(
        &srv.base,
        "e2e-artifacts-untagged",
        &[("SONGREC_E2E_MODE", std::ffi::OsStr::new("untagged"))],
    )
    .await;
    let steps = report["steps"].as_array().unwrap();
    let map = steps
        .iter()
        .find(|s| s["name"] == "map coloured by cluster")
        .unwrap();
    assert!(map["colours"].as_u64().unwrap() >= 2, "{map}");
    assert_eq!(map["grey"], 0, "{map}");
    let rows = steps
        .iter()
        .find(|s| s["name"] == "scores in their own column")
        .unwrap();
    assert!(rows["rows"].as_u64().unwrap() >= 3, "{rows}");
    assert!(rows["wrapped"].as_u64().unwrap() >= 1, "{rows}");
    assert_eq!(rows["tempo"], "187 bpm", "as `songrec show` says: {rows}");
    srv.stop().await;
}
