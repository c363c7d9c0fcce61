//! `songrec playlist --mpd` and `songrec radio` against a real MPD (Debian's, started per test
//! by `songrec_testkit::mpd::MpdServer`: null output, a Unix socket in a temporary folder), its
//! queue checked with `mpc`. The library: real recordings (3 MP3 soundtrack pieces, 35 Ogg
//! sounds) ingested with the DSP embedder, plus one file MPD has and the library does not.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use songrec_testkit::cli::{expect_code, ok, text};
use songrec_testkit::fixtures::real_recordings;
use songrec_testkit::mpd::MpdServer;

use crate::bin;

/// The MPD-side file the library does not hold.
const UNKNOWN: &str = "extra/Bell-Hard.wav";
/// How long a running radio may take to say something.
const WAIT: Duration = Duration::from_secs(60);

struct Shared {
    music: PathBuf,
    lib: PathBuf,
}

/// The music folder and a library of it, made once for every test here.
fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        let root = tempfile::Builder::new()
            .prefix("mpd-radio-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let (music, lib) = (root.join("music"), root.join("lib"));
        let real = real_recordings();
        for sub in ["asc", "freedesktop"] {
            std::fs::create_dir_all(music.join(sub)).unwrap();
            for f in std::fs::read_dir(real.join(sub)).unwrap() {
                let f = f.unwrap().path();
                if f.extension().is_some_and(|e| e == "mp3" || e == "oga") {
                    std::fs::copy(&f, music.join(sub).join(f.file_name().unwrap())).unwrap();
                }
            }
        }
        ingest_music(&lib, &music);
        std::fs::create_dir_all(music.join("extra")).unwrap();
        std::fs::copy(real.join("gmrockkit/Bell-Hard.wav"), music.join(UNKNOWN)).unwrap();
        Shared { music, lib }
    })
}

/// A library of the music folder's real recordings (DSP vectors: quick).
fn ingest_music(lib: &Path, music: &Path) {
    ok(&run(
        lib,
        &[
            "ingest",
            music.join("asc").to_str().unwrap(),
            music.join("freedesktop").to_str().unwrap(),
            "--embedder",
            "dsp",
        ],
    ));
}

fn songrec(lib: &Path) -> Command {
    let mut c = bin().on_library(lib);
    c.env_remove("MPD_HOST").env_remove("MPD_PORT");
    c
}

fn run(lib: &Path, args: &[&str]) -> Output {
    songrec(lib).args(args).output().unwrap()
}

/// An MPD on the shared music, its queue `songs` with the first current and paused.
fn mpd_with(songs: &[&str], password: Option<&str>) -> MpdServer {
    let mpd = MpdServer::start(&shared().music, password);
    for s in songs {
        mpd.mpc(&["add", s]);
    }
    if !songs.is_empty() {
        mpd.mpc(&["play", "1"]);
        mpd.mpc(&["pause"]);
    }
    mpd
}

fn sock(mpd: &MpdServer) -> String {
    mpd.socket().to_string_lossy().into_owned()
}

fn radio_once(mpd: &MpdServer, extra: &[&str]) -> Output {
    let s = sock(mpd);
    let mut args = vec![
        "radio",
        "--mpd",
        &s,
        "--once",
        "--embedder",
        "dsp",
        "--private",
    ];
    args.extend_from_slice(extra);
    run(&shared().lib, &args)
}

/// The file names of a `playlist --json`'s songs, in order.
fn file_names(v: &serde_json::Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["song"]["file_name"].as_str().unwrap().to_owned())
        .collect()
}

/// The file name of an MPD URI.
fn file_of(uri: &str) -> String {
    uri.rsplit('/').next().unwrap_or(uri).to_owned()
}

fn assert_no_repeats(queue: &[String]) {
    let distinct: HashSet<&String> = queue.iter().collect();
    assert_eq!(
        distinct.len(),
        queue.len(),
        "a song queued twice: {queue:#?}"
    );
}

#[test]
fn playlist_mpd_appends_the_mix_and_replace_clears_what_follows() {
    let mpd = mpd_with(&["asc/frontiers.mp3", "freedesktop/bell.oga"], None);
    let lib = &shared().lib;
    let seed = shared().music.join("asc/frontiers.mp3");
    let s = sock(&mpd);
    let args = |seed: &Path, n: &'static str| {
        vec![
            "playlist".to_owned(),
            "--seed".to_owned(),
            seed.to_string_lossy().into_owned(),
            "-n".to_owned(),
            n.to_owned(),
            "--no-history".to_owned(),
            "--embedder".to_owned(),
            "dsp".to_owned(),
            "--mpd".to_owned(),
            s.clone(),
        ]
    };
    let o = songrec(lib)
        .args(args(&seed, "4"))
        .arg("--json")
        .output()
        .unwrap();
    let v = songrec_testkit::cli::json(&o);
    assert_eq!(v["mpd"]["queued"].as_array().unwrap().len(), 4, "{v}");
    let q = mpd.queue();
    assert_eq!(q.len(), 6, "{q:#?}");
    assert_eq!(q[..2], ["asc/frontiers.mp3", "freedesktop/bell.oga"]);
    assert_no_repeats(&q);
    // The queued songs are the playlist's, in its order.
    let names = file_names(&v);
    let queued: Vec<String> = q[2..].iter().map(|u| file_of(u)).collect();
    assert_eq!(queued, names);

    // --replace: what follows the current song goes, then the new mix.
    let other = shared().music.join("asc/machine_wars.mp3");
    let o = songrec(lib)
        .args(args(&other, "3"))
        .arg("--replace")
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.contains(&format!(
            "queued 3 songs on MPD at {s} (deleted 5 songs after the current song first)"
        )),
        "{out}"
    );
    let q = mpd.queue();
    assert_eq!(q.len(), 4, "{q:#?}");
    assert_eq!(q[0], "asc/frontiers.mp3");
    assert_eq!(mpd.position(), Some(1));
    assert_no_repeats(&q);
}

#[test]
fn radio_once_fills_after_hand_queued_songs_without_repeats() {
    let hand = ["asc/frontiers.mp3", "freedesktop/bell.oga", UNKNOWN];
    let mpd = mpd_with(&hand, None);
    let o = radio_once(&mpd, &["--ahead", "5"]);
    let out = ok(&o);
    assert!(out.contains("queued 3 after frontiers"), "{out}");
    let path = shared().music.join(UNKNOWN);
    let named = format!(
        "not in the library: {UNKNOWN} (add it with: songrec ingest {})",
        path.display()
    );
    assert_eq!(out.matches(&named).count(), 1, "named once: {out}");
    let q = mpd.queue();
    assert_eq!(q.len(), 6, "{q:#?}");
    assert_eq!(q[..3], hand, "hand-queued songs stay where they were");
    assert_no_repeats(&q);

    // Full: nothing to do.
    let out = ok(&radio_once(&mpd, &["--ahead", "5"]));
    assert!(!out.contains("queued"), "{out}");
    assert_eq!(mpd.queue(), q);

    // More ahead: only songs not in the queue yet, appended after it.
    let out = ok(&radio_once(&mpd, &["--ahead", "9"]));
    assert!(out.contains("queued 4 after"), "{out}");
    let q2 = mpd.queue();
    assert_eq!(q2[..6], q[..]);
    assert_eq!(q2.len(), 10);
    assert_no_repeats(&q2);
}

/// A `songrec radio` running in the background, its stdout read line by line; killed when
/// dropped.
struct Radio {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Radio {
    /// A radio on the shared library, in a private session (its skips must not steer the
    /// other tests).
    fn start(mpd: &MpdServer, extra: &[&str]) -> Radio {
        let mut args = vec!["--private"];
        args.extend_from_slice(extra);
        Radio::start_on(&shared().lib, mpd, &args)
    }

    fn start_on(lib: &Path, mpd: &MpdServer, extra: &[&str]) -> Radio {
        let mut child = songrec(lib)
            .args(["radio", "--mpd", &sock(mpd), "--embedder", "dsp"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Radio {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for a line containing `needle` (bounded); returns it.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(e) => {
                    let _ = self.child.kill();
                    let mut err = String::new();
                    if let Some(mut s) = self.child.stderr.take() {
                        let _ = s.read_to_string(&mut err);
                    }
                    panic!(
                        "no line with {needle:?} ({e}); the radio said:\n{}\n{err}",
                        self.seen.join("\n"),
                    );
                }
            }
        }
    }
}

impl Drop for Radio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Songs queued after the current one.
fn ahead_of_current(mpd: &MpdServer) -> usize {
    let pos = mpd.position().expect("a current song");
    mpd.queue().len() - pos
}

#[test]
fn radio_refills_after_a_skip_and_never_repeats() {
    let mpd = mpd_with(&["asc/frontiers.mp3"], None);
    let mut radio = Radio::start(&mpd, &["--ahead", "3"]);
    radio.expect("queued 3 after frontiers");
    assert_eq!(mpd.queue().len(), 4);
    // Left at once: a skip. (MPD plays on `next`; pause at once so the short sounds do not
    // run the queue down meanwhile.)
    mpd.mpc(&["next"]);
    mpd.mpc(&["pause"]);
    let l = radio.expect("skipped ");
    assert!(l.starts_with("skipped frontiers after 0:0"), "{l}");
    radio.expect("queued 1 after");
    assert!(ahead_of_current(&mpd) >= 3, "{:#?}", mpd.queue());
    let q = mpd.queue();
    assert_no_repeats(&q);
    assert_eq!(
        q.iter()
            .filter(|u| u.as_str() == "asc/frontiers.mp3")
            .count(),
        1
    );
}

#[test]
fn radio_survives_an_mpd_restart() {
    let mut mpd = mpd_with(&["asc/frontiers.mp3"], None);
    let mut radio = Radio::start(&mpd, &["--ahead", "2"]);
    radio.expect("queued 2 after frontiers");
    mpd.restart();
    radio.expect("lost MPD at");
    radio.expect("reconnected to MPD at");
    // MPD kept its queue across the restart (its state file); a song deleted from it is
    // made up for.
    if mpd.position().is_none() {
        mpd.mpc(&["play", "1"]);
        mpd.mpc(&["pause"]);
    }
    let before = mpd.queue();
    assert_eq!(before.len(), 3, "{before:#?}");
    mpd.mpc(&["del", "3"]);
    radio.expect("queued 1 after");
    let q = mpd.queue();
    assert_eq!(q.len(), 3, "{q:#?}");
    assert_eq!(q[..2], before[..2]);
    assert_no_repeats(&q);
}

#[test]
fn unreachable_mpd_and_a_wrong_password_are_named() {
    let lib = &shared().lib;
    let mpd = mpd_with(&[], Some("sesame"));
    let nowhere = mpd.nowhere().to_string_lossy().into_owned();
    let o = run(lib, &["radio", "--mpd", &nowhere, "--once"]);
    let t = expect_code(&o, 1);
    assert!(t.contains(&format!("cannot reach MPD at {nowhere}")), "{t}");
    let seed = shared().music.join("asc/frontiers.mp3");
    let o = run(
        lib,
        &[
            "playlist",
            "--seed",
            seed.to_str().unwrap(),
            "-n",
            "2",
            "--no-history",
            "--mpd",
            "127.0.0.1:1",
        ],
    );
    let t = expect_code(&o, 1);
    assert!(t.contains("cannot reach MPD at 127.0.0.1:1"), "{t}");
    // MPD_HOST is read as mpc reads it.
    let o = songrec(lib)
        .env("MPD_HOST", &nowhere)
        .args(["radio", "--once"])
        .output()
        .unwrap();
    assert!(expect_code(&o, 1).contains(&nowhere));

    let s = sock(&mpd);
    let o = run(lib, &["radio", "--mpd", &format!("wrong@{s}"), "--once"]);
    let t = expect_code(&o, 1);
    assert!(
        t.contains(&format!("MPD at {s} refused the password")),
        "{t}"
    );
    assert!(!t.contains("wrong@"), "the password is not shown: {t}");
    let o = run(lib, &["radio", "--mpd", &s, "--once"]);
    let t = expect_code(&o, 1);
    assert!(t.contains("without a password"), "{t}");
    // The right one works.
    mpd.mpc(&["add", "asc/frontiers.mp3"]);
    mpd.mpc(&["play", "1"]);
    mpd.mpc(&["pause"]);
    let o = run(
        lib,
        &[
            "radio",
            "--mpd",
            &format!("sesame@{s}"),
            "--once",
            "--ahead",
            "1",
            "--embedder",
            "dsp",
        ],
    );
    assert!(ok(&o).contains("queued 1 after frontiers"), "{}", text(&o));
    assert_eq!(mpd.queue().len(), 2);
}

/// MPD sees the music at another path (`[mpd] music_directory` tells songrec where it is
/// here), and its database lacks songs the library has: each is named, the rest queued.
#[test]
fn music_folder_seen_elsewhere_and_songs_mpd_lacks() {
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(shared().music.join("asc"), elsewhere.path().join("asc")).unwrap();
    let mpd = MpdServer::start(elsewhere.path(), None);
    for a in [
        &["add", "asc/frontiers.mp3"][..],
        &["play", "1"],
        &["pause"],
    ] {
        mpd.mpc(a);
    }
    let s = sock(&mpd);
    let args = [
        "radio",
        "--mpd",
        &s,
        "--once",
        "--ahead",
        "5",
        "--embedder",
        "dsp",
    ];
    // Without the setting, songrec takes MPD's own folder, where no library file lies.
    let out = ok(&run(&shared().lib, &args));
    assert!(out.contains("is not below MPD's music folder"), "{out}");
    assert_eq!(mpd.queue().len(), 1);
    let o = songrec(&shared().lib)
        .env("SONGREC_MPD_MUSIC_DIRECTORY", &shared().music)
        .args(args)
        .output()
        .unwrap();
    let out = ok(&o);
    assert!(
        out.contains("in its database (a vanished or new file"),
        "{out}"
    );
    assert!(out.contains("MPD has no freedesktop/"), "{out}");
    let q = mpd.queue();
    assert_eq!(q.len(), 3, "the two other MP3s: {q:#?}");
    assert!(q.iter().all(|u| u.starts_with("asc/")), "{q:#?}");
    assert_no_repeats(&q);
}

/// After a skip, the refill leaves out the songs nearest the skipped one (`--avoid-per-skip`),
/// where without that rule it takes one of them.
#[test]
fn a_skip_steers_the_refill_away_from_songs_like_it() {
    let seed = shared().music.join("asc/frontiers.mp3");
    let o = run(
        &shared().lib,
        &[
            "playlist",
            "--seed",
            seed.to_str().unwrap(),
            "-n",
            "3",
            "--no-history",
        ]
        .into_iter()
        .chain(["--embedder", "dsp", "--json"])
        .collect::<Vec<_>>(),
    );
    let near = file_names(&songrec_testkit::cli::json(&o));
    // The song queued after skipping frontiers, with and without the rule.
    let refill = |avoid: &str| {
        let mpd = mpd_with(&["asc/frontiers.mp3"], None);
        let mut radio = Radio::start(&mpd, &["--ahead", "1", "--avoid-per-skip", avoid]);
        radio.expect("queued 1 after frontiers");
        mpd.mpc(&["next"]);
        mpd.mpc(&["pause"]);
        radio.expect("skipped frontiers");
        radio.expect("queued 1 after");
        let q = mpd.queue();
        assert_eq!(q.len(), 3, "{q:#?}");
        file_of(&q[2])
    };
    let plain = refill("0");
    assert!(
        near.contains(&plain),
        "the control takes a neighbour: {plain} of {near:?}"
    );
    let steered = refill("3");
    assert!(!near.contains(&steered), "{steered} is one of {near:?}");
}

/// Plays and skips go into the library's listening history: a skipped song's count is kept
/// with it, and the next radio on that library starts by leaving it and songs like it out.
#[test]
fn skips_are_kept_in_the_library_and_steer_the_next_radio() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let music = &shared().music;
    ingest_music(&lib, music);
    let frontiers = || {
        let b = songrec_local::LocalBackend::open(&lib).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            use songrec_storage::StorageBackendExt as _;
            b.list_all(&Default::default())
                .await
                .unwrap()
                .into_iter()
                .find(|m| m.file_name == "frontiers.mp3")
                .unwrap()
        })
    };
    let before = frontiers().version;
    let mpd = mpd_with(&["asc/frontiers.mp3"], None);
    let mut radio = Radio::start_on(&lib, &mpd, &["--ahead", "1"]);
    radio.expect("queued 1 after frontiers");
    mpd.mpc(&["next"]);
    mpd.mpc(&["pause"]);
    radio.expect("skipped frontiers");
    radio.expect("queued 1 after");
    drop(radio);
    let m = frontiers();
    let heard = songrec_storage::listening::Listening::of(&m);
    assert_eq!((heard.plays, heard.skips), (0, 1), "{:?}", m.extra);
    assert!(heard.last_skipped.is_some() && heard.disliked());
    assert!(m.version > before, "a new version, for sync");

    // The next radio on this library remembers it: neither frontiers nor its nearest songs
    // are queued after its sibling.
    let near = file_names(&songrec_testkit::cli::json(&run(
        &shared().lib,
        &[
            "playlist",
            "--seed",
            music.join("asc/frontiers.mp3").to_str().unwrap(),
            "-n",
            "3",
            "--no-history",
            "--embedder",
            "dsp",
            "--json",
        ],
    )));
    let mpd = mpd_with(&["asc/machine_wars.mp3"], None);
    let s = sock(&mpd);
    let o = run(
        &lib,
        &[
            "radio",
            "--mpd",
            &s,
            "--once",
            "--embedder",
            "dsp",
            "--ahead",
            "3",
        ],
    );
    let out = ok(&o);
    assert!(
        out.contains("remembering 1 song skipped more than played before"),
        "{out}"
    );
    let queued: Vec<String> = mpd.queue().iter().skip(1).map(|u| file_of(u)).collect();
    assert_eq!(queued.len(), 3, "{out}");
    assert!(!queued.contains(&"frontiers.mp3".to_owned()), "{queued:?}");
    for q in &queued {
        assert!(
            !near.contains(q),
            "{q} is one of frontiers' nearest {near:?}"
        );
    }
}

/// The recordings of `music` under `names` (folders made), each a copy of a GMRockKit drum.
fn drums(music: &Path, names: &[(&str, &str)]) {
    let kit = real_recordings().join("gmrockkit");
    for (from, to) in names {
        let to = music.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(kit.join(from), to).unwrap();
    }
}

/// File names MPD reads only quoted (`'`, `"`, `\`) are queued; a name with a line break, which
/// no MPD command can carry, and a song whose file MPD's database lacks are each named once
/// and stepped over, and do not count against the songs queued.
#[test]
fn odd_file_names_are_queued_and_the_rest_named_and_stepped_over() {
    let dir = tempfile::Builder::new()
        .prefix("mpd-odd-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let (music, lib) = (dir.path().join("music"), dir.path().join("lib"));
    let odd = ["odd/Don't.wav", "odd/say \"hi\".wav", r"odd/back\slash.wav"];
    drums(
        &music,
        &[
            ("Cowbell-Med.wav", "plain/Cowbell.wav"),
            ("Bell-Soft.wav", odd[0]),
            ("Bell-Med.wav", odd[1]),
            ("Bell-Hardest.wav", odd[2]),
            ("Bell-Softest.wav", "odd/line\nbreak.wav"),
        ],
    );
    // MPD reads the folder before this one is there: its database lacks it.
    let mpd = MpdServer::start(&music, None);
    drums(&music, &[("Crash-Soft.wav", "odd/Missing.wav")]);
    ok(&run(
        &lib,
        &["ingest", music.to_str().unwrap(), "--embedder", "dsp"],
    ));
    mpd.mpc(&["add", "plain/Cowbell.wav"]);
    mpd.mpc(&["play", "1"]);
    mpd.mpc(&["pause"]);
    let s = sock(&mpd);
    let radio = |ahead: &str| {
        let args = [
            "radio",
            "--mpd",
            &s,
            "--once",
            "--ahead",
            ahead,
            "--embedder",
            "dsp",
            "--private",
        ];
        run(&lib, &args)
    };
    // Three songs can be queued: all three are, whichever the mix brings first.
    let o = radio("3");
    let out = ok(&o);
    let mut q = mpd.queue();
    assert_eq!(q.remove(0), "plain/Cowbell.wav");
    q.sort();
    let mut want = odd.map(str::to_owned).to_vec();
    want.sort();
    assert_eq!(q, want, "{out}");
    assert!(out.contains("queued 3 after "), "{out}");
    // Asked for two more, the radio tries the other two and names each, on one line.
    let o = radio("5");
    let out = ok(&o);
    let line_break = r#"its file name "odd/line\nbreak.wav" holds a line break, which MPD's protocol cannot carry: not queued"#;
    assert_eq!(out.matches(line_break).count(), 1, "{out}");
    let missing = "MPD has no odd/Missing.wav in its database";
    assert_eq!(out.matches(missing).count(), 1, "{out}");
    assert!(out.contains("queued 0 of 2"), "{out}");
    for l in out.lines() {
        assert!(
            l.starts_with("cannot queue") || l.starts_with("queued 0 of 2"),
            "one line each: {l:?} in {out}"
        );
    }
    assert_eq!(mpd.queue().len(), 4);
}

/// MPD's database lacks the songs nearest the one playing: the radio names each once and
/// queues the next songs instead (it said "queued 0 of 1" with songs left).
#[test]
fn songs_mpd_lacks_are_stepped_over_and_do_not_count() {
    let elsewhere = tempfile::tempdir().unwrap();
    let music = &shared().music;
    std::fs::create_dir(elsewhere.path().join("asc")).unwrap();
    std::os::unix::fs::symlink(
        music.join("asc/frontiers.mp3"),
        elsewhere.path().join("asc/frontiers.mp3"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        music.join("freedesktop"),
        elsewhere.path().join("freedesktop"),
    )
    .unwrap();
    let mpd = MpdServer::start(elsewhere.path(), None);
    mpd.mpc(&["add", "asc/frontiers.mp3"]);
    mpd.mpc(&["play", "1"]);
    mpd.mpc(&["pause"]);
    let s = sock(&mpd);
    let o = songrec(&shared().lib)
        .env("SONGREC_MPD_MUSIC_DIRECTORY", music)
        .args([
            "radio",
            "--mpd",
            &s,
            "--once",
            "--ahead",
            "3",
            "--embedder",
            "dsp",
            "--private",
        ])
        .output()
        .unwrap();
    let out = ok(&o);
    // frontiers' two nearest songs are the other soundtrack pieces, which MPD lacks.
    for lacking in ["asc/time_to_strike.mp3", "asc/machine_wars.mp3"] {
        let named = format!("MPD has no {lacking} in its database");
        assert_eq!(out.matches(&named).count(), 1, "{out}");
    }
    assert!(out.contains("queued 3 after frontiers"), "{out}");
    assert!(!out.contains("no more songs fit"), "{out}");
    let q = mpd.queue();
    assert_eq!(q.len(), 4, "{q:#?}");
    assert!(
        q[1..].iter().all(|u| u.starts_with("freedesktop/")),
        "{q:#?}"
    );
    assert_no_repeats(&q);
}

/// The song playing is not in the library (nothing seeds from it) and nothing was played in
/// the session: the radio seeds from the queue's library songs, the last first, instead of
/// leaving the queue to run dry.
#[test]
fn a_song_that_cannot_seed_plays_and_the_queue_still_fills() {
    let mpd = mpd_with(&[UNKNOWN, "asc/frontiers.mp3"], None);
    assert_eq!(
        mpd.position(),
        Some(1),
        "mpc counts from 1: the unknown song plays"
    );
    let out = ok(&radio_once(&mpd, &["--ahead", "3"]));
    assert!(out.contains("queued 2 after frontiers"), "{out}");
    assert!(!out.contains("nothing to seed"), "{out}");
    let q = mpd.queue();
    assert_eq!(q.len(), 4, "{q:#?}");
    assert_no_repeats(&q);
}

/// A fake MPD on TCP that greets as MPD 0.23 does and then answers the first command with
/// `chunk` over and over; serves every client (the radio would reconnect) until the test ends.
fn hostile_mpd(head: &'static [u8], chunk: Vec<u8>) -> u16 {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap().port()).unwrap();
            while let Ok((mut conn, _)) = listener.accept().await {
                let chunk = chunk.clone();
                tokio::spawn(async move {
                    conn.write_all(b"OK MPD 0.23.0\n").await?;
                    let mut first = [0u8; 64];
                    let _ = conn.read(&mut first).await?;
                    conn.write_all(head).await?;
                    loop {
                        conn.write_all(&chunk).await?;
                    }
                    #[allow(unreachable_code)]
                    Ok::<_, std::io::Error>(())
                });
            }
        });
    });
    rx.recv_timeout(WAIT).expect("the fake MPD's port")
}

/// Waits (bounded by [`WAIT`]) for `child` to end; returns its exit code and its peak resident
/// memory in kB, both from `wait4` (the kernel's own count for that child).
fn wait_with_peak(child: &mut Child) -> Option<(i32, i64)> {
    let pid = child.id() as libc::pid_t;
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let mut status = 0;
        // SAFETY: `rusage` is plain data that wait4 fills; the pid is our own child's.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            return Some((code, usage.ru_maxrss));
        }
        // A short pause between looks, within the deadline.
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A hostile server in MPD's place (an endless line, a huge binary answer, garbage) ends the
/// radio with a clear error, in bounded memory, where it used to grow to 136 MB and then
/// reconnect for ever.
#[test]
fn a_hostile_server_ends_the_radio_with_a_clear_error() {
    let cases: [(&str, &'static [u8], Vec<u8>); 3] = [
        ("an endless line", b"", vec![b'x'; 64 * 1024]),
        (
            "a huge binary answer",
            b"binary: 4294967296\n",
            (0..=255u8).cycle().take(64 * 1024).collect(),
        ),
        ("garbage", b"", b"k: v\nno colon\n".repeat(4096)),
    ];
    for (what, head, chunk) in cases {
        let port = hostile_mpd(head, chunk);
        let mut child = songrec(&shared().lib)
            .args(["radio", "--mpd", &format!("127.0.0.1:{port}"), "--private"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let ended = wait_with_peak(&mut child);
        let Some((code, peak_kb)) = ended else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: the radio still runs after {WAIT:?}");
        };
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        assert_eq!(code, 1, "{what}: {err}");
        assert!(
            err.contains(&format!("MPD at 127.0.0.1:{port} broke MPD's protocol")),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert!(peak_kb < 200 * 1024, "{what}: peak {peak_kb} kB");
    }
}
