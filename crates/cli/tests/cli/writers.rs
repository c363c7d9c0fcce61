//! Writers beside a running `songrec serve` (the real binary): it takes the library's write
//! lock only for the moment of each write, so `edit` and `ingest` run while it serves; a play
//! that arrives while another process holds the lock for long is answered at once and kept,
//! even across a restart of the server.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use songrec_testkit::cli::text;

use crate::bin;
use crate::serve::stop;

const USER: &str = "ann";
const PASSWORD: &str = "a long passphrase";

fn songrec(lib: &Path) -> Command {
    let mut c = bin().on_library(lib);
    c.current_dir(lib.parent().unwrap());
    c.env("SONGREC_SUBSONIC_USER", USER)
        .env("SONGREC_SUBSONIC_PASSWORD", PASSWORD)
        .env_remove("SONGREC_SUBSONIC_API_KEY");
    c
}

pub(crate) fn serve(lib: &Path) -> (Child, String) {
    let mut child = songrec(lib)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = songrec_testkit::cli::served_url(&mut child);
    (child, url)
}

/// GETs `url` with `query` and reads the answer as JSON.
fn get_json(url: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let full = format!("{url}?{}", q.join("&"));
    rt.block_on(async {
        let r = reqwest::Client::new().get(full).send().await;
        r.unwrap().json().await.unwrap()
    })
}

/// A Subsonic call (JSON), signed in with the password.
pub(crate) fn rest(url: &str, method: &str, query: &[(&str, &str)]) -> serde_json::Value {
    let mut q: Vec<(&str, &str)> = vec![
        ("u", USER),
        ("p", PASSWORD),
        ("v", "1.16.1"),
        ("c", "writers-test"),
        ("f", "json"),
    ];
    q.extend_from_slice(query);
    get_json(&format!("{url}/rest/{method}"), &q)["subsonic-response"].clone()
}

pub(crate) fn play_count(url: &str, id: &str) -> u64 {
    let r = rest(url, "getSong", &[("id", id)]);
    assert_eq!(r["status"], "ok", "{r}");
    r["song"]["playCount"].as_u64().unwrap_or(0)
}

/// Holds the library's write lock (as a long ingest or sync does) until dropped: `flock` on
/// the lock file, running `cat` until its input closes.
struct Holder(Child);

impl Holder {
    fn take(lib: &Path) -> Self {
        let lock = lib.join("data/.songrec/lock");
        let mut child = Command::new("flock")
            .arg(&lock)
            .args(["sh", "-c", "echo held; exec cat"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        assert_eq!(line.trim(), "held");
        Self(child)
    }

    fn release(mut self) {
        drop(self.0.stdin.take());
        self.0.wait().unwrap();
    }
}

/// Polls `f` until it holds, for at most 30 s.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < until, "never: {what}");
        std::thread::yield_now();
    }
}

#[test]
fn serve_lets_other_writers_in_and_keeps_plays_that_arrive_while_the_library_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let music = dir.path().join("music");
    bin().synth(&music, 1, 3);
    let o = songrec(&lib)
        .args(["ingest", music.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));

    let (server, url) = serve(&lib);
    let songs = get_json(&format!("{url}/api/v1/songs"), &[]);
    let id = songs["items"][0]["id"].as_str().unwrap().to_owned();

    // One play: the server wrote. Other writers still get in while it runs.
    assert_eq!(rest(&url, "scrobble", &[("id", &id)])["status"], "ok");
    assert_eq!(play_count(&url, &id), 1);
    let o = songrec(&lib)
        .args(["edit", &id, "--genre", "edited beside serve"])
        .output()
        .unwrap();
    assert!(o.status.success(), "edit beside serve: {}", text(&o));
    let more = dir.path().join("more");
    bin().synth(&more, 2, 1);
    let o = songrec(&lib)
        .args(["ingest", more.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "ingest beside serve: {}", text(&o));

    // Another process holds the library: plays are answered at once and kept.
    let held = Holder::take(&lib);
    for _ in 0..2 {
        let started = Instant::now();
        let r = rest(&url, "scrobble", &[("id", &id)]);
        assert_eq!(r["status"], "ok", "{r}");
        // Generous for a loaded CI machine; without the queue the answer is an error.
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    assert_eq!(play_count(&url, &id), 1, "not written while held");
    // The server stops before the lock frees: nothing is lost.
    let said = stop(server);
    assert!(!said.contains("panicked"), "{said}");
    held.release();
    let (server, url) = serve(&lib);
    eventually("the kept plays are written after a restart", || {
        play_count(&url, &id) == 3
    });
    // And again, with the server running when the lock frees.
    let held = Holder::take(&lib);
    assert_eq!(rest(&url, "scrobble", &[("id", &id)])["status"], "ok");
    held.release();
    eventually("a kept play is written once the lock frees", || {
        play_count(&url, &id) == 4
    });
    let song = rest(&url, "getSong", &[("id", &id)]);
    assert_eq!(
        song["song"]["genre"], "edited beside serve",
        "the edit made beside the server stands: {song}"
    );
    stop(server);
}
