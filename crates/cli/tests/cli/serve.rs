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
    // What is open, said at the start; without -v, no line per request.
    assert!(
        stderr.contains("open to this machine only (loopback)"),
        "{stderr}"
    );
    assert!(!stderr.contains("GET /healthz"), "{stderr}");
    // No Subsonic user in this environment: said once, at the start.
    assert_eq!(
        stderr
            .matches("the Subsonic API (/rest/) refuses every sign-in")
            .count(),
        1,
        "{stderr}"
    );
}

const USER: &str = "ann";
const PASSWORD: &str = "open sesame!";
const API_KEY: &str = "key-2f9c-77";

/// `songrec serve --bind 0.0.0.0:0` with `flags`, the test user's variables and `-v`; its
/// loopback URL (read from the first line, which names 0.0.0.0).
fn serve_public(lib: &Path, flags: &[&str]) -> (std::process::Child, String) {
    let mut child = songrec(lib)
        .args(["-v", "serve", "--bind", "0.0.0.0:0"])
        .args(flags)
        .env("SONGREC_SUBSONIC_USER", USER)
        .env("SONGREC_SUBSONIC_PASSWORD", PASSWORD)
        .env("SONGREC_SUBSONIC_API_KEY", API_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let port = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://0.0.0.0:"))
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    (child, format!("http://127.0.0.1:{port}"))
}

/// Stops a `songrec serve` child with SIGTERM; asserts a clean exit and returns its stderr.
pub(crate) fn stop(child: std::process::Child) -> String {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn public_serve_requires_sign_in_locks_out_per_user_and_logs_it() {
    let dir = tempfile::tempdir().unwrap();
    let lib = small_library(dir.path());

    // --public with no password or key to require: refused, naming the choice.
    let o = run(&lib, &["serve", "--bind", "0.0.0.0:0", "--public"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("--public-read"), "{}", text(&o));

    let (child, url) = serve_public(&lib, &["--public"]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = reqwest::Client::new();
        let songs = format!("{url}/api/v1/songs");
        let r = c.get(&songs).send().await.unwrap();
        assert_eq!(r.status(), 401);
        let r = c
            .get(&songs)
            .basic_auth(USER, Some(PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: serde_json::Value = r.json().await.unwrap();
        let id = v["items"][0]["id"].as_str().unwrap().to_owned();
        let audio = format!("{url}/api/v1/songs/{id}/audio");
        assert_eq!(c.get(&audio).send().await.unwrap().status(), 401);
        let r = c.get(&audio).bearer_auth(API_KEY).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            c.get(format!("{url}/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    });
    // Real clients: a stale player's wrong password locks out only its user at this address,
    // guessed names only up to the address's ceiling (the defaults: 10 and 50).
    let port = url.rsplit(':').next().unwrap();
    let o = Command::new(songrec_testkit::fixtures::test_python())
        .arg(songrec_testkit::fixtures::repo_root().join("scripts/subsonic/lockout.py"))
        .env("SUBSONIC_BASE", "http://127.0.0.1")
        .env("SUBSONIC_PORT", port)
        .env("SUBSONIC_USER", USER)
        .env("SUBSONIC_PASSWORD", PASSWORD)
        .env("SUBSONIC_API_KEY", API_KEY)
        .env("SUBSONIC_PER_USER", "10")
        .env("SUBSONIC_PER_ADDRESS", "50")
        .output()
        .expect("running the test Python (scripts/test-deps.sh makes it)");
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("all lockout checks passed"), "{out}");
    let stderr = stop(child);

    // Start-up: exactly what is open.
    assert!(
        stderr.contains("reachable from other machines: the web page, /api/v1 (songs, audio, uploads) and /metrics require the Subsonic user and password (HTTP Basic) or the API key (Authorization: Bearer)"),
        "{stderr}"
    );
    // One line per failed sign-in and per lockout, naming user, address and client, never a
    // secret.
    let failed = |who: &str, client: &str| {
        stderr
            .lines()
            .filter(|l| {
                l.contains(&format!(
                    "Subsonic: failed sign-in of {who} from 127.0.0.1 (client \"{client}\")"
                ))
            })
            .count()
    };
    assert_eq!(failed("user \"ann\"", "stale-phone"), 10, "{stderr}");
    assert_eq!(failed("user \"guess0\"", "guesser"), 9, "{stderr}");
    let locked = stderr
        .lines()
        .filter(|l| l.contains("Subsonic: user \"ann\" locked out at 127.0.0.1 for 60 s after 10 failed sign-ins (client \"stale-phone\")"))
        .count();
    assert_eq!(locked, 1, "{stderr}");
    let address = stderr
        .lines()
        .filter(|l| {
            l.contains("Subsonic: every sign-in from 127.0.0.1 refused for 60 s after 50 failed sign-ins from that address")
        })
        .count();
    assert_eq!(address, 1, "{stderr}");
    for secret in [PASSWORD, API_KEY, "open sesame", "-old", "nope"] {
        assert!(
            !stderr.contains(secret),
            "the log shows {secret:?}:\n{stderr}"
        );
    }
    // -v: one line per request (method, path, status, milliseconds), never the query.
    assert!(
        stderr
            .lines()
            .any(|l| l.contains("GET /api/v1/songs 401 ") && l.ends_with(" ms")),
        "{stderr}"
    );
    assert!(
        stderr.lines().any(|l| l.contains("GET /api/v1/songs 200 ")),
        "{stderr}"
    );
    assert!(stderr.contains("/rest/ping"), "{stderr}");

    // --public-read: open to anyone who can reach it, said so.
    let (child, url) = serve_public(&lib, &["--public-read"]);
    let status = rt.block_on(async {
        reqwest::get(format!("{url}/api/v1/songs"))
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    let stderr = stop(child);
    assert!(
        stderr.contains("OPEN TO ANYONE WHO CAN REACH IT (--public-read)"),
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

/// `ffmpeg ARGS` (quiet, overwriting), asserting it succeeded.
fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg (scripts/test-deps.sh installs it)");
    assert!(o.status.success(), "ffmpeg {args:?}: {}", text(&o));
}

/// A flat picture of `side` x `side` pixels at `to` (small on disk however many pixels it
/// declares).
fn flat_picture(to: &Path, side: u32) {
    let src = format!("color=c=0x3366aa:s={side}x{side}");
    let mut args = vec!["-f", "lavfi", "-i", &src, "-frames:v", "1"];
    if to.extension().is_some_and(|e| e == "jpg") {
        args.extend(["-pix_fmt", "yuvj420p"]);
    }
    args.push(to.to_str().unwrap());
    ffmpeg(&args);
}

/// Width and height of a picture's bytes, as ffprobe reads them.
fn picture_sides(bytes: &[u8]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("picture");
    std::fs::write(&f, bytes).unwrap();
    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-of",
            "json",
            "-show_entries",
            "stream=width,height",
        ])
        .arg(&f)
        .output()
        .expect("ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["streams"][0];
    (s["width"].as_u64().unwrap(), s["height"].as_u64().unwrap())
}

/// A process's peak resident memory (VmHWM), bytes.
fn peak_memory(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Covers that declare huge pictures (a 6,900 x 6,900 JPEG and PNG, a few hundred kB on disk,
/// and a 4,000 x 4,000 JPEG), each asked at 16 sizes at once (`getCoverArt&size=301..316`), as
/// players do: every answer is a picture (the huge ones as they are, the others at the size
/// asked), and the real `songrec serve` stays within 400 MB at its peak.
#[test]
fn cover_scaling_stays_within_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    let music = dir.path().join("music");
    bin().synth(&music.join("all"), 1, 2);
    let songs: Vec<_> = std::fs::read_dir(music.join("all"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let covers = [
        ("huge-jpeg", "cover.jpg", 6900),
        ("huge-png", "cover.png", 6900),
        ("large-jpeg", "cover.jpg", 4000),
    ];
    // Which song's file went to which folder (the served path names the file, not the folder).
    let mut file_of = std::collections::HashMap::new();
    for ((folder, name, side), song) in covers.iter().zip(&songs) {
        let to = music.join(folder);
        std::fs::create_dir_all(&to).unwrap();
        let file = song.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::rename(song, to.join(&file)).unwrap();
        flat_picture(&to.join(name), *side);
        file_of.insert(*folder, file);
    }
    std::fs::remove_dir_all(music.join("all")).unwrap();
    let o = run(&lib, &["ingest", music.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));

    let mut child = songrec(&lib)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("SONGREC_SUBSONIC_USER", "ann")
        .env("SONGREC_SUBSONIC_PASSWORD", "sesame")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = songrec_testkit::cli::served_url(&mut child);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let auth = "u=ann&p=sesame&f=json";
    let answers = rt.block_on(async {
        let c = reqwest::Client::new();
        let v: serde_json::Value = c
            .get(format!("{url}/rest/search3?{auth}&query=&songCount=100"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let songs = v["subsonic-response"]["searchResult3"]["song"]
            .as_array()
            .unwrap()
            .clone();
        let mut answers = Vec::new();
        for (folder, _, side) in covers {
            let song = songs
                .iter()
                .find(|s| s["path"].as_str().unwrap().ends_with(&file_of[folder]))
                .unwrap_or_else(|| panic!("no song in {folder}: {songs:?}"));
            let id = song["coverArt"].as_str().unwrap().to_owned();
            // All 16 at once.
            let asks: Vec<_> = (301..=316u32)
                .map(|size| {
                    let r = c
                        .get(format!("{url}/rest/getCoverArt?{auth}&id={id}&size={size}"))
                        .send();
                    tokio::spawn(async move {
                        let r = r.await.unwrap();
                        let status = r.status().as_u16();
                        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
                        (size, status, ct, r.bytes().await.unwrap().to_vec())
                    })
                })
                .collect();
            for a in asks {
                answers.push((folder, side, a.await.unwrap()));
            }
        }
        answers
    });
    let peak = peak_memory(child.id());
    child.kill().unwrap();
    child.wait().unwrap();
    for (folder, side, (size, status, ct, bytes)) in answers {
        assert_eq!(
            status,
            200,
            "{folder} {size}: {}",
            String::from_utf8_lossy(&bytes)
        );
        assert!(ct.starts_with("image/"), "{folder} {size}: {ct}");
        let want = if side > 4096 {
            (6900, 6900)
        } else {
            (u64::from(size), u64::from(size))
        };
        assert_eq!(picture_sides(&bytes), want, "{folder} {size}");
    }
    eprintln!("songrec serve's peak memory: {} MB", peak >> 20);
    assert!(
        peak < 400 << 20,
        "songrec serve peaked at {} MB",
        peak >> 20
    );
}
