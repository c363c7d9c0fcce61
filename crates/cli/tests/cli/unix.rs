//! `songrec` as a Unix citizen, on the real binary: a closed pipe, Ctrl-C, counts bounded before
//! anything is allocated, arguments that are not UTF-8, and what `show`, `doctor`, an
//! ambiguous name and a deleted id tell a new user.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use songrec_testkit::cli::{json, ok, streams, text};
use songrec_testkit::data::local_library;
use songrec_testkit::fixtures::real_recordings;

use crate::{bin, on_library};

/// A local library of `n` small songs (metadata, a tiny WAV and two vectors each, see
/// [`local_library`]) under `dir`.
fn library(dir: &Path, n: usize) -> PathBuf {
    let lib = dir.join("lib");
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(local_library(&lib, n));
    lib
}

/// The ids `songrec list --json` shows, in order.
fn ids(lib: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["list", "--json", "-n", "1000"];
    args.extend_from_slice(extra);
    let o = on_library(lib, &args);
    ok(&o);
    json(&o)["songs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

/// `songrec list --json | head -1`: the reader goes away after one line of ~200 KB; songrec
/// ends quietly with 141 (128 + SIGPIPE, what a shell reports for `cat` there).
#[test]
fn a_closed_pipe_ends_the_output_quietly_with_141() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 400);
    let mut child = bin()
        .on_library(&lib)
        .args(["list", "--json", "-n", "1000"])
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "{", "the JSON document starts");
    drop(out);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(141), "{:?}: {err}", o.status);
    assert_eq!(err, "", "nothing on stderr: no panic, no backtrace");
    // The output was big enough to block on the pipe: the same listing, read whole, is
    // more than a pipe buffer.
    let whole = on_library(&lib, &["list", "--json", "-n", "1000"]);
    assert!(whole.stdout.len() > 2 * 65_536, "{}", whole.stdout.len());
}

/// `songrec ARGS` writing to a pipe whose reader has already gone (`… | true`): every write
/// fails with EPIPE, whatever the size of the output.
fn into_a_closed_pipe(lib: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    bin()
        .on_library(lib)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

/// Every kind of output (rankings, a song, statistics, listings, as text and JSON) ends
/// quietly with 141 when its reader has gone before the first line, as `list --json` does
/// after a line.
#[test]
fn every_output_ends_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 30);
    let song = ids(&lib, &[]).remove(0);
    let song = song.as_str();
    for args in [
        &["similar", song, "-k", "20", "--model", "dsp@1"][..],
        &["similar", song, "-k", "20", "--json", "--model", "dsp@1"],
        &["similar", song, "--explain", "--model", "dsp@1"],
        &["show", song],
        &["show", song, "--json"],
        &["stats"],
        &["stats", "--json"],
        &["list"],
        &["list", "--json"],
        &["clusters", "-k", "3", "--model", "dsp@1"],
        &["outliers", "--model", "dsp@1", "--json"],
        &["map", "--json", "--model", "dsp@1"],
        &[
            "playlist",
            "--seed",
            song,
            "-n",
            "5",
            "--no-history",
            "--model",
            "dsp@1",
        ],
    ] {
        let o = into_a_closed_pipe(&lib, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            Some(141),
            "{args:?}: {:?}: {err}",
            o.status
        );
        assert_eq!(
            err, "",
            "{args:?}: nothing on stderr: no panic, no backtrace"
        );
    }
    // The same commands with a reader print their output (the 141 is the pipe's doing).
    let o = on_library(&lib, &["show", song]);
    assert!(o.status.success() && !o.stdout.is_empty(), "{}", text(&o));
}

/// Waits (at most 120 s) until `done` holds, checking every 10 ms; panics with `what`.
fn poll(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(120), "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ctrl-C during an ingest of real recordings, once the first song is stored: the file in hand
/// is finished and stored, the user is told how many songs were stored and how to go on, and
/// the status is 130. The rerun completes the library.
#[test]
fn ctrl_c_during_ingest_keeps_what_was_done_and_says_how_to_continue() {
    let audio = real_recordings();
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    // Three long recordings first (by name), then short distinct ones.
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    for (i, name) in ["frontiers.mp3", "machine_wars.mp3", "time_to_strike.mp3"]
        .iter()
        .enumerate()
    {
        files.push((audio.join("asc").join(name), format!("{i}-{name}")));
    }
    for name in [
        "bell.oga",
        "complete.oga",
        "message.oga",
        "camera-shutter.oga",
    ] {
        files.push((audio.join("freedesktop").join(name), format!("9-{name}")));
    }
    for (src, name) in &files {
        std::fs::copy(src, music.join(name)).unwrap();
    }
    let lib = dir.path().join("lib");
    let ingest = || {
        let mut c = bin().on_library(&lib);
        c.args(["ingest", "--embedder", "dsp", "--jobs", "1"])
            .arg(&music);
        c
    };
    let child = ingest()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let audio_dir = lib.join("data/audio");
    poll("the first song's audio is stored", || {
        std::fs::read_dir(&audio_dir).is_ok_and(|mut d| d.next().is_some())
    });
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let o = child.wait_with_output().unwrap();
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(130), "{:?}\n{out}\n{err}", o.status);
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("no interrupted line:\n{err}"));
    let stored: usize = line["interrupted: ".len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        stored >= 1 && stored < files.len(),
        "the songs in hand, not all: {line}"
    );
    assert!(
        line.contains("rerun `songrec ingest") && line.contains(music.to_str().unwrap()),
        "{line}"
    );
    assert!(!err.contains("panicked"), "{err}");
    // What was stored is listed; the rerun adds the rest and skips what is there.
    assert_eq!(ids(&lib, &[]).len(), stored);
    let o = ingest().output().unwrap();
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains(&format!(
            "ingested {} new, {stored} already",
            files.len() - stored
        )),
        "{out}"
    );
    assert_eq!(ids(&lib, &[]).len(), files.len());
}

/// One row of the bounds table: a command line before the option, the option, its smallest
/// accepted value, its limit, and whether accepted values are run (cheap on a small library)
/// or only the refusals are checked (commands that would reach a cloud or write many files).
struct Bound<'a> {
    args: &'a [&'a str],
    option: &'static str,
    min: u64,
    limit: u64,
    run_accepted: bool,
}

/// Every count the user gives at 0, 1, its limit, one above and `u64::MAX`: accepted values run
/// (no abort, no 4 TB preallocation), out-of-range ones are usage errors (exit 2) that give the
/// range, before anything is read or written.
#[test]
fn every_count_is_bounded_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 12);
    let first = ids(&lib, &[]).remove(0);
    let song = first.as_str();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let similar: &[&str] = &["similar", song, "--model", "dsp@1"];
    let playlist: &[&str] = &[
        "playlist",
        "--seed",
        song,
        "--no-history",
        "--model",
        "dsp@1",
    ];
    let outliers: &[&str] = &["outliers", "--model", "dsp@1"];
    let sync: &[&str] = &["sync", "--dry-run"];
    let migrate: &[&str] = &["migrate", "--from", "local", "--to", "astra"];
    let bench: &[&str] = &["bench", "search"];
    const M: u64 = 1_000_000;
    #[rustfmt::skip]
    let rows: [(&[&str], &str, u64, u64, bool); 24] = [
        (similar, "-k", 1, M, true),
        (similar, "--offset", 0, M, true),
        (&["similar", "--text", "rock", "--model", "dsp@1"], "-k", 1, M, false),
        (&["list"], "-n", 1, M, true),
        (&["list"], "--offset", 0, M, true),
        (playlist, "-n", 1, M, true),
        (playlist, "--exclude-recent", 0, M, true),
        (playlist, "--candidates", 1, M, false),
        (&["clusters", "--model", "dsp@1"], "-k", 1, 1000, true),
        (&["map", "--png", "map.png", "--model", "dsp@1"], "--clusters", 0, 1000, true),
        (outliers, "-n", 1, M, true),
        (outliers, "--neighbours", 1, M, true),
        (&["dupes", "--no-store"], "--jobs", 0, 1024, false),
        (&["ingest", "/nonexistent"], "--jobs", 0, 1024, false),
        (&["reembed", "--embedder", "dsp"], "--jobs", 0, 1024, false),
        (&["previews", "x"], "-n", 1, M, false),
        (sync, "--max-delete", 0, 100, false),
        (sync, "--concurrency", 1, 256, false),
        (migrate, "--concurrency", 1, 256, false),
        (migrate, "--batch-size", 1, 1000, false),
        (&["synth", "/nonexistent/x"], "--per-style", 1, 10_000, false),
        (bench, "--dim", 1, 8192, false),
        (bench, "--songs", 1, 10_000_000, false),
        (bench, "--ef-search", 1, 100_000, false),
    ];
    let table = rows.map(|(args, option, min, limit, run_accepted)| Bound {
        args,
        option,
        min,
        limit,
        run_accepted,
    });
    for b in &table {
        for value in [0, 1, b.limit, b.limit + 1, u64::MAX] {
            let v = value.to_string();
            let accepted = (b.min..=b.limit).contains(&value);
            if accepted && !b.run_accepted {
                continue;
            }
            let mut args: Vec<&str> = b.args.to_vec();
            args.extend([b.option, v.as_str()]);
            let o = bin()
                .on_library(&lib)
                .current_dir(&out)
                .args(&args)
                .output()
                .unwrap();
            let (stdout, stderr) = streams(&o);
            assert!(
                !stderr.contains("panicked") && o.status.signal().is_none(),
                "{args:?}: {:?}\n{stderr}",
                o.status
            );
            if accepted {
                // At its limit a count may still be too many for a 12-song library (`clusters
                // -k 1000`): then a plain error, never an abort.
                let fine = o.status.code() == Some(0)
                    || (value == b.limit
                        && o.status.code() == Some(1)
                        && stderr.starts_with("error: "));
                assert!(fine, "{args:?}: {:?}\n{stdout}\n{stderr}", o.status);
            } else {
                assert_eq!(o.status.code(), Some(2), "{args:?}\n{stdout}\n{stderr}");
                assert!(
                    stderr.contains(&format!("must be from {} to {}", b.min, b.limit)),
                    "{args:?}: the range is given\n{stderr}"
                );
            }
        }
    }
    // A setting no run can mean, in the config file: a usage error naming it, not a panic.
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, "[sync]\nlease_ttl_secs = 9223372036854775807\n").unwrap();
    let o = bin()
        .on_library(&lib)
        .arg("--config")
        .arg(&cfg)
        .args(["sync", "--dry-run"])
        .output()
        .unwrap();
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("lease_ttl_secs") && err.contains("3..=86400") && !err.contains("panicked"),
        "{err}"
    );
}

/// A library path that is not UTF-8 (`--library=$'/tmp/lib\xff'`) is a path like any other:
/// the write lock records the command line without panicking.
#[test]
fn a_library_path_that_is_not_utf8_works() {
    let dir = tempfile::tempdir().unwrap();
    let music = bin().synth(&dir.path().join("music"), 1, 2);
    let mut raw = dir.path().as_os_str().as_bytes().to_vec();
    raw.extend_from_slice(b"/lib\xff");
    let lib = PathBuf::from(OsStr::from_bytes(&raw));
    let o = bin()
        .on_library(&lib)
        .args(["ingest", "--embedder", "dsp"])
        .arg(&music)
        .output()
        .unwrap();
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("5 new"), "{out}");
    assert!(lib.join("data").is_dir());
    let lock = std::fs::read(lib.join("data/.lock")).unwrap_or_default();
    assert!(
        lock.is_empty() || String::from_utf8_lossy(&lock).contains("ingest"),
        "{}",
        String::from_utf8_lossy(&lock)
    );
}

/// What a user set and what songrec predicted are both shown, and a free-form field is found
/// by its bare name; an ambiguous name lists what tells the songs apart; a deleted id says so;
/// doctor passes on a local-only setup and describes the library.
#[test]
fn show_ambiguity_deleted_ids_and_doctor_speak_to_a_new_user() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 6);
    let all = ids(&lib, &["--sort", "id"]);
    let (a, b, c, gone) = (&all[0], &all[1], &all[2], &all[3]);

    ok(&on_library(&lib, &["edit", a, "--set", "game=hedgewars"]));
    ok(&on_library(
        &lib,
        &[
            "edit",
            a,
            "--set",
            r#"style_tags=[["rock",0.71],["pop",0.2]]"#,
        ],
    ));
    ok(&on_library(
        &lib,
        &[
            "edit",
            a,
            "--set",
            r#"sound_tags=[["piano",0.83],["slow",0.4]]"#,
        ],
    ));
    let shown = ok(&on_library(&lib, &["show", a]));
    // The predicted tags on their own labelled lines.
    let line = |label: &str| {
        shown
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no {label} line in\n{shown}"))
            .to_owned()
    };
    assert!(line("style").contains("rock 71 %, pop 20 %"), "{shown}");
    assert!(line("sound").contains("piano 83 %, slow 40 %"), "{shown}");
    for want in ["game", "hedgewars", "dsp@1 (16-d)", "extra@2 (8-d)"] {
        assert!(shown.contains(want), "{want:?} in\n{shown}");
    }
    assert!(
        !shown.contains("style_tags") && !shown.contains("sound_tags"),
        "the tags are shown as tags, not as raw JSON:\n{shown}"
    );
    // `--where game=…` finds the free-form field like `--where extra.game=…`.
    assert_eq!(ids(&lib, &["--where", "game=hedgewars"]), vec![a.clone()]);
    assert_eq!(
        ids(&lib, &["--where", "extra.game=hedgewars"]),
        vec![a.clone()]
    );
    assert!(ids(&lib, &["--where", "game=doom"]).is_empty());

    // Three songs called "clip": each line tells them apart.
    for id in [a, b, c] {
        ok(&on_library(&lib, &["edit", id, "--title", "clip"]));
    }
    // One of them says which codec it was decoded with: the format shown is that codec.
    ok(&on_library(&lib, &["edit", c, "--set", "codec=flac"]));
    let o = on_library(&lib, &["show", "clip"]);
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("  ")).collect();
    assert_eq!(lines.len(), 3, "{err}");
    for (line, (id, format)) in lines.iter().zip([(a, "wav"), (b, "wav"), (c, "flac")]) {
        let v = json(&on_library(&lib, &["show", id, "--json"]));
        let file = v["song"]["file_name"].as_str().unwrap();
        let secs = v["song"]["duration_secs"].as_f64().unwrap().round() as u64;
        let format_and_duration = format!("({format}, {}:{:02})", secs / 60, secs % 60);
        assert!(
            line.contains(&id[..12]) && line.contains(file) && line.contains(&format_and_duration),
            "id, file name, {format_and_duration} in {line:?}"
        );
    }
    assert_eq!(
        lines.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "no two lines alike: {err}"
    );

    // A deleted song's id says it was deleted.
    ok(&on_library(&lib, &["delete", gone]));
    for reference in [gone.as_str(), &gone[..12]] {
        let o = on_library(&lib, &["show", reference]);
        let (_, err) = streams(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(err.contains("was deleted"), "{reference}: {err}");
    }

    // doctor on a local-only setup: passes, and says what the library holds.
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let o = bin()
        .at_home(&home)
        .env("SONGREC_LIBRARY", &lib)
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .arg("doctor")
        .output()
        .unwrap();
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("[ok] local library:") && out.contains("5 songs, 1 deleted"),
        "{out}"
    );
    assert!(out.contains("[ok] write lock"), "{out}");
    assert!(out.contains("dsp@1: 5 vectors"), "{out}");
    assert!(out.contains("not configured"), "{out}");
    assert!(!out.contains("[fail]"), "{out}");
    // With no library yet, doctor still passes and says how to make one.
    let o = bin()
        .at_home(&home)
        .env("SONGREC_LIBRARY", dir.path().join("none"))
        .env("SONGREC_NEURAL_RUNTIME", "tract")
        .arg("doctor")
        .output()
        .unwrap();
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("[warn] local library") && out.contains("songrec ingest"),
        "{out}"
    );
}

/// The repository's own `config.toml` (the shipped example) in the working directory is not
/// mentioned on every command; with -v it is; an edited one is (see
/// `config_and_env_in_the_working_directory_are_not_trusted`).
#[test]
fn the_shipped_example_config_in_the_working_directory_is_not_mentioned() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 2);
    let repo = dir.path().join("checkout");
    std::fs::create_dir_all(&repo).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config.toml"),
        repo.join("config.toml"),
    )
    .unwrap();
    let run = |args: &[&str]| {
        bin()
            .on_library(&lib)
            .current_dir(&repo)
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["list"]);
    let (out, err) = streams(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(!err.contains("config.toml"), "{err}");
    let o = run(&["-v", "list"]);
    assert!(streams(&o).1.contains("./config.toml"), "{}", text(&o));
    std::fs::write(repo.join("config.toml"), "[sync]\nmax_delete = 10\n").unwrap();
    let o = run(&["list"]);
    assert!(
        streams(&o)
            .1
            .contains("info: ./config.toml in the working directory is not read"),
        "{}",
        text(&o)
    );
}

/// `similar` with nothing to be similar to names the three ways to ask.
#[test]
fn similar_without_a_query_names_song_file_and_text() {
    let dir = tempfile::tempdir().unwrap();
    let o = on_library(&dir.path().join("lib"), &["similar"]);
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("<SONG") && err.contains("--file") && err.contains("--text"),
        "{err}"
    );
}

/// Sync with the cloud down: one clean line saying which part is unreachable, not the S3
/// library's raw text (twice).
#[test]
fn sync_with_the_cloud_down_says_so_once_and_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 2);
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let home = dir.path().join("home");
    songrec_testkit::cli::write_request_timeouts(&home, 2);
    let o: Output = bin()
        .at_home(&home)
        .env("SONGREC_LIBRARY", &lib)
        .envs([
            ("ASTRA_DB_API_ENDPOINT", closed.as_str()),
            ("ASTRA_DB_API_PATH", "/v1"),
            ("ASTRA_DB_APPLICATION_TOKEN", "AstraCS:test-token"),
            ("SONGREC_S3_ENDPOINT", closed.as_str()),
            ("SONGREC_S3_BUCKET", "songrec-test"),
            ("SONGREC_S3_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", "test-key"),
            ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ])
        .arg("sync")
        .output()
        .unwrap();
    let (out, err) = streams(&o);
    assert_ne!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(err.contains("unreachable"), "{err}");
    assert!(
        !err.contains("Generic S3 error") && !err.contains("retries"),
        "no raw S3 text: {err}"
    );
    let addr = closed.trim_start_matches("http://");
    assert_eq!(
        err.matches(addr).count(),
        1,
        "the endpoint is named once: {err}"
    );
    assert!(!err.contains("test-secret") && !err.contains("test-token"));
}

/// `command` run on a terminal (util-linux `script` gives it a pseudo-terminal): what the
/// terminal showed, escape codes and all.
fn on_a_terminal(command: &[&std::ffi::OsStr], env: &[(String, String)]) -> (Output, String) {
    let line: Vec<String> = command
        .iter()
        .map(|w| {
            let w = w.to_string_lossy();
            format!("'{}'", w.replace('\'', r"'\''"))
        })
        .collect();
    let o = Command::new("script")
        .args(["-qefc", &line.join(" "), "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TERM", "xterm-256color")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("run util-linux script");
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    (o, shown)
}

/// On a terminal, `migrate` and `sync` draw their bars from the start with what they know:
/// "counting…" until the work is counted, then done/total (never `0/0`) and a rate with few
/// digits (never `47.3786/s`).
#[test]
fn on_a_terminal_bars_count_before_they_show_a_total() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 60);
    let cloud = songrec_testkit::LocalCloud::start_blocking();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    crate::init_astra(&cloud, &home);
    let mut env: Vec<(String, String)> = cloud.env().into_iter().collect();
    env.push(("HOME".into(), home.to_string_lossy().into_owned()));
    let songrec = OsStr::new(env!("CARGO_BIN_EXE_songrec"));
    let (o, shown) = on_a_terminal(
        &[
            songrec,
            OsStr::new("--library"),
            lib.as_os_str(),
            OsStr::new("migrate"),
            OsStr::new("--from"),
            OsStr::new("local"),
            OsStr::new("--to"),
            OsStr::new("astra"),
        ],
        &env,
    );
    assert!(o.status.success(), "{shown}");
    assert!(
        shown.contains("/60 songs"),
        "the bar was drawn with its total:\n{shown}"
    );
    assert!(!shown.contains(" 0/0 "), "{shown}");
    // Each frame of the bar: empty while counting, a rate with few digits.
    let frames: Vec<&str> = shown
        .split(['\r', '\n'])
        .flat_map(|l| l.split("\u{1b}[2K"))
        .filter(|f| f.contains(" songs, ") && f.contains(", eta "))
        .collect();
    assert!(frames.len() >= 2, "{frames:?}");
    for f in &frames {
        assert!(
            !(f.contains("counting…") && f.contains('█')),
            "a full bar before anything is counted: {f:?}"
        );
        let rate = f.split(" songs, ").nth(1).unwrap_or_default();
        let rate = rate.split("/s, eta").next().unwrap_or_default();
        assert!(
            rate == "…" || rate.split('.').nth(1).is_none_or(|d| d.len() <= 2),
            "{rate:?} in {f:?}"
        );
    }
    // Machine B downloads the 60 songs.
    let b = dir.path().join("b");
    let (o, shown) = on_a_terminal(
        &[
            songrec,
            OsStr::new("--library"),
            b.as_os_str(),
            OsStr::new("sync"),
        ],
        &env,
    );
    assert!(o.status.success(), "{shown}");
    assert!(shown.contains(" steps"), "the bar was drawn:\n{shown}");
    assert!(!shown.contains(" 0/0 "), "{shown}");
    assert_eq!(ids(&b, &[]).len(), 60);
}

/// When most songs have no genre, the map (page and PNG) is coloured by cluster and the user is
/// told why; with genres, nothing is said.
#[test]
fn the_map_colours_by_cluster_when_most_songs_have_no_genre() {
    let dir = tempfile::tempdir().unwrap();
    let lib = library(dir.path(), 9);
    let run = |lib: &Path| {
        let o = bin()
            .on_library(lib)
            .current_dir(dir.path())
            .args([
                "map", "--png", "m.png", "--size", "200x150", "--model", "dsp@1",
            ])
            .output()
            .unwrap();
        let (out, err) = streams(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert_eq!(
            &std::fs::read(dir.path().join("m.png")).unwrap()[..4],
            b"\x89PNG"
        );
        err
    };
    let err = run(&lib);
    assert!(!err.contains("coloured by cluster"), "{err}");
    for id in &ids(&lib, &["--sort", "id"])[..6] {
        ok(&on_library(&lib, &["edit", id, "--genre", ""]));
    }
    let err = run(&lib);
    assert!(
        err.contains("note: 3 of 9 songs have a genre; points are coloured by cluster"),
        "{err}"
    );
    // The web page's map (`map --json` is `GET /api/v1/map`) follows the same rule, in the
    // PNG's palette, numbering clusters from 1 as the PNG's legend and `clusters` do.
    let v = json(&on_library(&lib, &["map", "--json", "--model", "dsp@1"]));
    assert_eq!(v["color"], "cluster", "{v}");
    let legend = v["legend"].as_array().unwrap();
    let labels: Vec<&str> = legend
        .iter()
        .map(|r| r["label"].as_str().unwrap())
        .collect();
    assert!(
        labels.iter().all(|l| l.starts_with("cluster ")),
        "{labels:?}"
    );
    assert_eq!(labels.first(), Some(&"cluster 1"), "{labels:?}");
    let colours: std::collections::BTreeSet<&str> = legend
        .iter()
        .map(|r| r["colour"].as_str().unwrap())
        .collect();
    assert_eq!(colours.len(), legend.len(), "{legend:?}");
    let palette = songrec_discover::map::PALETTE;
    for p in v["points"].as_array().unwrap() {
        let (c, colour) = (
            p["cluster"].as_u64().unwrap(),
            p["colour"].as_str().unwrap(),
        );
        assert!(c >= 1, "{p}");
        assert_eq!(colour, palette[c as usize - 1], "{p}");
    }
    let c = json(&on_library(
        &lib,
        &["clusters", "--json", "--model", "dsp@1", "-k", "3"],
    ));
    let ids: Vec<u64> = c["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3], "{c}");
    let text = ok(&on_library(
        &lib,
        &["clusters", "--model", "dsp@1", "-k", "3"],
    ));
    assert!(
        text.contains("\ncluster  1:") && !text.contains("cluster  0:"),
        "{text}"
    );
}

/// Ingest counts what it stored in hours of music for people (`2.1 h of music`), even though a
/// long file is analysed in excerpts; not seconds of audio analysed.
#[test]
fn ingest_says_how_much_music_in_hours() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    // A 2 h 10 min tone, small and quick to decode (8 kHz mono, 8 kbit/s MP3).
    songrec_testkit::audio::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=8000:duration=7800",
        "-ac",
        "1",
        "-b:a",
        "8k",
        music.join("long.mp3").to_str().unwrap(),
    ]);
    let lib = dir.path().join("lib");
    let o = on_library(
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    );
    let (out, err) = streams(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let summary = out
        .lines()
        .find(|l| l.starts_with("ingested "))
        .unwrap_or_else(|| panic!("a summary:\n{out}"));
    assert!(summary.contains("; 2.2 h of music)"), "{summary}");
    assert!(
        !summary.contains("7800") && !summary.contains("analysed"),
        "{summary}"
    );
}
