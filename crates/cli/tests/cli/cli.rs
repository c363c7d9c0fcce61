//! End-to-end tests of the `songrec` binary on the local backend, with generated audio.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use songrec_testkit::audio::ffmpeg;
use songrec_testkit::cli::{stdout, streams};
use songrec_testkit::fixtures::real_recordings;

use crate::{bin, on_library};

/// Five synthesised songs (one per style) plus a folder of broken files.
fn make_music(root: &Path) -> PathBuf {
    bin().synth(&root.join("music"), 1, 4)
}

#[test]
fn ingest_skips_bad_files_with_one_clear_line_each_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let music = make_music(dir.path());
    let bad = music.join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let good_wav = std::fs::read_dir(&music)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "wav"))
        .unwrap();
    std::fs::write(bad.join("empty.mp3"), b"").unwrap();
    std::fs::write(bad.join("notes.mp3"), b"this is a text file, not audio\n").unwrap();
    std::fs::write(
        bad.join("noise.ogg"),
        (0..5000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 7) as u8)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let wav = std::fs::read(&good_wav).unwrap();
    std::fs::write(bad.join("truncated.wav"), &wav[..40]).unwrap();
    ffmpeg(&[
        "-i",
        good_wav.to_str().unwrap(),
        "-c:a",
        "wmav2",
        bad.join("voice.wma").to_str().unwrap(),
    ]);
    // A FLAC file with a misleading name is probed by content and ingested.
    ffmpeg(&[
        "-i",
        good_wav.to_str().unwrap(),
        "-f",
        "flac",
        music.join("really-flac.mp3").to_str().unwrap(),
    ]);
    // And a real mp3 with tags.
    ffmpeg(&[
        "-i",
        good_wav.to_str().unwrap(),
        "-metadata",
        "title=Tagged Title",
        "-metadata",
        "artist=Tag Artist",
        "-metadata",
        "genre=Synthwave",
        music.join("tagged.mp3").to_str().unwrap(),
    ]);

    let lib = dir.path().join("lib");
    let o = on_library(&lib, &["ingest", music.to_str().unwrap()]);
    let (out, err) = streams(&o);
    assert_eq!(
        o.status.code(),
        Some(3),
        "some files failed → exit 3\n{out}\n{err}"
    );
    for name in [
        "empty.mp3",
        "notes.mp3",
        "noise.ogg",
        "truncated.wav",
        "voice.wma",
    ] {
        let lines: Vec<_> = err.lines().filter(|l| l.contains(name)).collect();
        assert_eq!(lines.len(), 1, "exactly one line for {name}:\n{err}");
    }
    assert!(
        err.contains("wma (asf) is not supported; convert to flac/ogg/mp3"),
        "{err}"
    );
    assert!(
        out.contains("7 new"),
        "5 synthesised + misnamed flac + tagged mp3 (really-flac is a copy of one → 'already'?)\n{out}"
    );
    assert!(out.contains("5 failed"), "{out}");

    let o = on_library(&lib, &["list", "--json", "-n", "100"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["total"], 7);
    let tagged = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["title"] == "Tagged Title")
        .expect("tags read from the mp3");
    assert_eq!(tagged["artist"], "Tag Artist");
    assert_eq!(tagged["genre"], "Synthwave");

    // Nothing of the broken files reached the library.
    let audio: Vec<_> = std::fs::read_dir(lib.join("data/audio"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(audio.len(), 7);

    // A second run skips everything: unchanged files are not even re-read.
    let o = on_library(&lib, &["ingest", music.to_str().unwrap()]);
    let (out, _) = streams(&o);
    assert!(out.contains("0 new, 7 already"), "{out}");
    // Only the bad files fail again.
    assert_eq!(o.status.code(), Some(3));
    let o = on_library(
        &lib,
        &["ingest", music.join("tagged.mp3").to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "all ok → exit 0: {:?}",
        streams(&o)
    );
}

/// What a new user meets on a wrong path or a wrong word: a clear message and the documented
/// exit code (1 for a failed command, 2 for a usage error), never a quiet success.
#[test]
fn wrong_paths_and_usage_errors_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let code = |o: &Output| o.status.code().unwrap_or(-1);

    // A missing path is an error naming it, not "finished, rerun to finish".
    let o = on_library(&lib, &["ingest", "/nonexistent/songrec-music"]);
    let (_, err) = streams(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("/nonexistent/songrec-music"), "{err}");
    assert!(err.contains("no such file or folder"), "{err}");
    assert!(
        !err.contains("creating"),
        "nothing is created for a wrong path: {err}"
    );
    assert!(!lib.exists(), "no library was created at {}", lib.display());

    // A folder without audio says so and lists what it passed over.
    let empty = dir.path().join("not-music");
    std::fs::create_dir_all(empty.join("sub")).unwrap();
    std::fs::write(empty.join("sub/pluck.au"), b".snd").unwrap();
    std::fs::write(empty.join("cover.jpg"), b"jpg").unwrap();
    let o = on_library(&lib, &["ingest", empty.to_str().unwrap()]);
    let (_, err) = streams(&o);
    assert_eq!(code(&o), 1, "{err}");
    assert!(err.contains("no audio files found under"), "{err}");
    assert!(err.contains(".au (1)") && err.contains(".jpg (1)"), "{err}");
    // The extensions it reads: Opus among them, not WMA or WavPack, which it looks at only to
    // refuse.
    let reads = &err[err
        .find("songrec reads ")
        .expect("the list of what it reads")..];
    let reads = &reads[..reads.find(';').unwrap_or(reads.len())];
    for ext in [".mp3", ".flac", ".wav", ".ogg", ".opus", ".m4a"] {
        assert!(reads.contains(ext), "{ext} in {reads}");
    }
    for ext in [".wma", ".wv"] {
        assert!(!reads.contains(ext), "{ext} in {reads}");
    }

    // A reading command on a folder holding no library.
    let typo = dir.path().join("typo");
    for args in [&["list"][..], &["stats"], &["similar", "anything"]] {
        let o = on_library(&typo, args);
        let (out, err) = streams(&o);
        assert_eq!(code(&o), 1, "{args:?}: {out}{err}");
        assert!(err.contains("no songrec library at"), "{args:?}: {err}");
        assert!(
            !typo.exists(),
            "a reading command created {}",
            typo.display()
        );
    }

    // Usage errors exit 2, like clap's own.
    for args in [
        &["--storage-backend", "foo", "list"][..],
        &["similar", "x", "-k", "0"],
        &["migrate", "local-"],
        &["migrate", "nonsense"],
    ] {
        let o = on_library(&lib, args);
        let (_, err) = streams(&o);
        assert_eq!(code(&o), 2, "{args:?}: {err}");
    }
    // The shell ate `>astra`: say so, and how to type it.
    let o = on_library(&lib, &["migrate", "local-"]);
    let (_, err) = streams(&o);
    assert!(
        err.contains("redirect") && err.contains("--from local --to astra"),
        "{err}"
    );
    assert!(err.contains("'local->astra'"), "{err}");

    // A subcommand's help puts the global options under their own heading.
    let o = on_library(&lib, &["similar", "--help"]);
    let (out, _) = streams(&o);
    let global = out
        .find("Global options:")
        .expect("a Global options heading");
    let own = out.find("--threshold").expect("similar's own options");
    assert!(own < global, "own options first:\n{out}");
    assert!(
        out[global..].contains("--library") && out[global..].contains("--storage-backend"),
        "{out}"
    );
    assert!(!out[..global].contains("--storage-backend"), "{out}");
}

#[test]
fn similar_show_delete_stats() {
    let dir = tempfile::tempdir().unwrap();
    let music = bin().synth(&dir.path().join("music"), 3, 6);
    let lib = dir.path().join("lib");
    // musicnn and dsp apart: the test compares each embedder's answers.
    let o = on_library(
        &lib,
        &["ingest", "--embedder", "both", music.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", streams(&o));

    // By title; the song itself is never a result; results ordered by similarity.
    let o = on_library(&lib, &["similar", "Warehouse Pulse 1", "-k", "4", "--json"]);
    assert!(o.status.success(), "{:?}", streams(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let ms = v["results"].as_array().unwrap();
    assert_eq!(ms.len(), 4);
    let query_id = v["query"]["song"]["id"].as_str().unwrap().to_owned();
    assert!(ms.iter().all(|m| m["song"]["id"] != query_id.as_str()));
    let sims: Vec<f64> = ms
        .iter()
        .map(|m| m["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
    // A small library is always ranked exactly, and the JSON says so.
    assert_eq!(v["exact"], true, "{v}");
    // Above a lowered approximate-index threshold the default path is approximate, and
    // --exact forces the scan; both find the same nearest song here. The search that finds no
    // index builds it and answers exactly; the searches after it use it.
    let mut approx = Vec::new();
    for (exact, builds) in [(false, true), (false, false), (true, false)] {
        let mut args = vec![
            "similar",
            "Warehouse Pulse 1",
            "-k",
            "1",
            "--embedder",
            "dsp",
            "--json",
        ];
        if exact {
            args.push("--exact");
        }
        let o = bin()
            .on_library(&lib)
            .env("SONGREC_ANN_THRESHOLD", "2")
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{:?}", streams(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["exact"], exact || builds, "{v}");
        approx.push(v["results"][0]["song"]["id"].clone());
    }
    assert!(approx.iter().all(|id| *id == approx[0]), "{approx:?}");
    // The 1000-result cap is the Data API's, not a local library's: -k 1500 is answered
    // (with every other song, on one model and on the blend).
    for emb in ["dsp", "auto"] {
        let o = on_library(
            &lib,
            &[
                "similar",
                "Warehouse Pulse 1",
                "-k",
                "1500",
                "--offset",
                "1",
                "--embedder",
                emb,
                "--json",
            ],
        );
        assert!(o.status.success(), "{emb}: {:?}", streams(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let n = v["results"].as_array().unwrap().len();
        assert!(n >= 3, "{emb}: {n} matches");
    }
    // Its two style-mates are its nearest neighbours.
    let top2: Vec<&str> = ms[..2]
        .iter()
        .map(|m| m["song"]["title"].as_str().unwrap())
        .collect();
    assert!(
        top2.iter().all(|t| t.starts_with("Warehouse Pulse")),
        "{top2:?}"
    );

    // By id prefix, with a tempo filter that every result obeys.
    let prefix = &query_id[..8];
    let o = on_library(
        &lib,
        &["similar", prefix, "-k", "10", "--bpm", "100..200", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for m in v["results"].as_array().unwrap() {
        let b = m["song"]["bpm"]
            .as_f64()
            .expect("filtered results have a bpm");
        assert!((100.0..=200.0).contains(&b), "bpm {b}");
    }
    // Threshold: nothing below it.
    let o = on_library(
        &lib,
        &[
            "similar",
            prefix,
            "-k",
            "20",
            "--threshold",
            "0.9",
            "--json",
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["similarity"].as_f64().unwrap() >= 0.9)
    );

    // By words: songs ranked by the style tags musicnn stored with them; a song's score is
    // its stored probability of the wanted tag minus that of the one to avoid.
    let o = on_library(
        &lib,
        &["similar", "--text", "rock, not sad", "-k", "5", "--json"],
    );
    assert!(o.status.success(), "{:?}", streams(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["words"]["tags"][0]["tag"], "rock", "{v}");
    assert_eq!(v["words"]["tags"][1]["tag"], "sad", "{v}");
    assert_eq!(v["words"]["tags"][1]["weight"], -1.0, "{v}");
    let ms = v["results"].as_array().unwrap();
    let stored = |m: &serde_json::Value, tag: &str| {
        m["song"]["style_tags"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t[0] == tag)
            .map_or(0.0, |t| t[1].as_f64().unwrap() as f32)
    };
    // The song's own text (title, artist, album, genre, file name) holds the word "rock".
    let names = |m: &serde_json::Value, word: &str| {
        let md = &m["song"];
        let fields = ["title", "artist", "album", "genre", "file_name"];
        fields
            .map(|f| md[f].to_string())
            .join(" ")
            .to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .any(|w| w == word)
    };
    let named = |m: &serde_json::Value| names(m, "rock");
    // Only songs that carry the wanted tag or name it answer (none is listed at score 0).
    assert!(!ms.is_empty() && ms.len() <= 5, "{v}");
    assert!(
        ms.iter().all(|m| stored(m, "rock") > 0.0 || named(m)),
        "{v}"
    );
    let scores: Vec<f32> = ms
        .iter()
        .map(|m| m["similarity"].as_f64().unwrap() as f32)
        .collect();
    // Plus 1 when the song's own text holds "rock".
    for (m, s) in ms.iter().zip(&scores) {
        let want = stored(m, "rock") - stored(m, "sad") + if named(m) { 1.0 } else { 0.0 };
        assert!((*s - want).abs() < 1e-6, "{s} vs {want}: {m}");
    }
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // Moving a song's neighbours towards words keeps the audio similarity and adds the score.
    let o = on_library(
        &lib,
        &[
            "similar",
            "Warehouse Pulse 1",
            "--text",
            "ambient",
            "-k",
            "3",
            "--json",
        ],
    );
    assert!(o.status.success(), "{:?}", streams(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    for m in v["results"].as_array().unwrap() {
        assert_eq!(
            m["tag_score"].as_f64().unwrap() as f32,
            stored(m, "ambient") + if names(m, "ambient") { 1.0 } else { 0.0 },
            "{m}"
        );
    }
    // Words that match nothing: a clear error suggesting the nearest words and the few
    // words that match songs here (not every tag).
    let o = on_library(&lib, &["similar", "--text", "orchestrall kazoo"]);
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(err.contains("did you mean: orchestral"), "{err}");
    let here = err
        .split("words that match songs here: ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap_or_else(|| panic!("{err}"));
    assert!(here.split(", ").count() <= 8, "{err}");

    // By an outside file (a new rendering of a techno song): techno songs come first.
    let outside = bin().synth(&dir.path().join("outside"), 4, 6);
    let probe = outside.join("The Techno Ensemble - Warehouse Pulse 4.wav");
    let o = on_library(
        &lib,
        &[
            "similar",
            "--file",
            probe.to_str().unwrap(),
            "-k",
            "3",
            "--json",
        ],
    );
    assert!(o.status.success(), "{:?}", streams(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let top = v["results"][0]["song"]["title"].as_str().unwrap();
    assert!(top.starts_with("Warehouse Pulse"), "{top}");

    // Ambiguous and unknown references are explained.
    let o = on_library(&lib, &["similar", "Pulse"]);
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(err.contains("matches 3 songs"), "{err}");
    let o = on_library(&lib, &["show", "No Such Song"]);
    assert!(streams(&o).1.contains("no song matches"));

    // show, delete, stats.
    let o = on_library(&lib, &["show", prefix, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["song"]["id"], query_id.as_str());
    assert_eq!(v["audio_stored"], true);
    // Tags from the WAV's RIFF INFO chunk (written by `songrec synth`).
    assert_eq!(v["song"]["genre"], "techno");
    assert_eq!(v["song"]["artist"], "The Techno Ensemble");
    assert_eq!(v["embeddings"][0]["name"], "songrec-dsp");
    let o = on_library(&lib, &["delete", prefix]);
    assert!(o.status.success(), "{:?}", streams(&o));
    let o = on_library(&lib, &["stats", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["songs"], 14);
    assert_eq!(v["tombstones"], 1);
    assert_eq!(v["models"][0]["count"], 14);
    // A few minutes of music read as minutes, not "0.0 h".
    let o = on_library(&lib, &["stats"]);
    let line = stdout(&o)
        .lines()
        .find(|l| l.starts_with("songs "))
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        line.starts_with("songs       14 (") && (line.contains(" s, ") || line.contains(" min, ")),
        "{line}"
    );
    let o = on_library(
        &lib,
        &["similar", "Warehouse Pulse 2", "-k", "20", "--json"],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["results"].as_array().unwrap().len(), 13);
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["song"]["id"] != query_id.as_str()),
        "deleted song never returned"
    );
}

#[test]
fn corrupt_metadata_is_reported_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let music = make_music(dir.path());
    let lib = dir.path().join("lib");
    assert_eq!(
        on_library(&lib, &["ingest", music.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let meta = lib.join("data/embeddings/metadata.json");
    let garbage = b"{\"abc\": {\"title\": 12, broken";
    std::fs::write(&meta, garbage).unwrap();
    for args in [vec!["list"], vec!["ingest", music.to_str().unwrap()]] {
        let o = on_library(&lib, &args);
        let (_, err) = streams(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.contains("metadata.json") && err.contains("corrupt"),
            "{err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
    assert_eq!(
        std::fs::read(&meta).unwrap(),
        garbage,
        "the user's file is untouched"
    );

    // A corrupt .npy is named too.
    std::fs::remove_file(&meta).unwrap();
    let npy = std::fs::read_dir(lib.join("data/embeddings"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "npy"))
        .unwrap();
    std::fs::write(&npy, b"\x93NUMPY garbage").unwrap();
    let o = on_library(&lib, &["reindex"]);
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains(npy.file_name().unwrap().to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn a_second_writer_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let music = make_music(dir.path());
    let lib = dir.path().join("lib");
    // Hold the library's write lock from another process (a sleeping shell keeps the fd open).
    std::fs::create_dir_all(lib.join("data/.songrec")).unwrap();
    let lock = lib.join("data/.songrec/lock");
    let mut holder = Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .spawn()
        .expect("flock (util-linux) is needed for this test");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = on_library(&lib, &["ingest", music.to_str().unwrap()]);
    let (out, err) = streams(&o);
    let _ = holder.kill();
    let _ = holder.wait();
    assert_ne!(o.status.code(), Some(0));
    assert!(
        format!("{out}{err}").contains("locked by another songrec process"),
        "{out}\n{err}"
    );
    // Nothing was stored.
    assert!(!lib.join("data/embeddings/metadata.json").exists());
    // Readers are not blocked by a writer.
    let o = on_library(&lib, &["list"]);
    assert!(o.status.success());
}

/// The first file with extension `ext` in `dir`, by name.
fn first_file(dir: &Path, ext: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    files.sort();
    files
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no .{ext} file in {}", dir.display()))
}

#[test]
fn ingest_of_bad_real_files_prints_only_songrec_lines_and_no_colour() {
    let audio = real_recordings();
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    std::fs::create_dir_all(&music).unwrap();
    // A real mp3 cut to 50 KB (a broken download): the first seconds still decode.
    let mp3 = std::fs::read(first_file(&audio.join("asc"), "mp3")).unwrap();
    std::fs::write(music.join("cut.mp3"), &mp3[..50_000]).unwrap();
    // Not audio at all, under an audio name.
    let text_bytes: Vec<u8> = b"liner notes, not audio. "
        .iter()
        .copied()
        .cycle()
        .take(50_000)
        .collect();
    std::fs::write(music.join("notes.mp3"), text_bytes).unwrap();
    // A good real recording.
    let oga = first_file(&audio.join("freedesktop"), "oga");
    std::fs::copy(&oga, music.join("good.oga")).unwrap();

    let lib = dir.path().join("lib");
    // Output goes to pipes here, as to a file or `| less`.
    let o = on_library(
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    );
    let (out, err) = streams(&o);
    assert_eq!(
        o.status.code(),
        Some(3),
        "one file failed → 3\n{out}\n{err}"
    );
    assert!(
        !err.contains("symphonia") && !out.contains("symphonia"),
        "no decoder log lines without -v:\n{err}"
    );
    assert!(
        !o.stderr.contains(&0x1b) && !o.stdout.contains(&0x1b),
        "no ANSI escape into a pipe:\n{err:?}"
    );
    // The cut file keeps what decodes. (This file has no Xing header, so nothing states the
    // whole length; the decoder cannot tell it was cut and it is added without a warning.
    // A cut file whose header states its length is flagged: see the audio crate's
    // `truncated_stream_keeps_decoded_audio`.)
    assert!(
        !err.lines()
            .any(|l| l.contains("cut.mp3") && l.starts_with("skipped: ")),
        "{err}"
    );
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("notes.mp3")).collect();
    assert_eq!(notes.len(), 1, "one line for the text file:\n{err}");
    assert!(notes[0].starts_with("skipped: "), "{err}");
    assert!(out.contains("2 new") && out.contains("1 failed"), "{out}");
    // Only songrec's own lines: every stderr line is one of the report's.
    for l in err.lines() {
        assert!(
            l.starts_with("warning: ")
                || l.starts_with("skipped: ")
                || l.starts_with("a new library at ")
                || l.starts_with("musicnn runs on "),
            "unexpected line {l:?} in\n{err}"
        );
    }
    // The cut file is stored with the length that decoded (a few seconds of a 7-minute piece).
    let o = on_library(&lib, &["list", "--json", "-n", "10"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let stored = v["songs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["file_name"] == "cut.mp3")
        .unwrap_or_else(|| panic!("cut.mp3 stored: {v}"));
    let d = stored["duration_secs"].as_f64().unwrap();
    assert!(d > 1.0 && d < 30.0, "50 KB of 80 kb/s mp3: {d} s");

    // With -v the libraries may speak; the report and the exit code stay the same.
    let o = on_library(
        &dir.path().join("lib2"),
        &["-v", "ingest", "--embedder", "dsp", music.to_str().unwrap()],
    );
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(3), "{err}");
    assert!(err.contains("notes.mp3"), "{err}");
    assert!(!o.stderr.contains(&0x1b), "still no colour into a pipe");
}

#[test]
fn config_and_env_in_the_working_directory_are_not_trusted() {
    let audio = real_recordings();
    let dir = tempfile::tempdir().unwrap();
    let album = dir.path().join("album");
    std::fs::create_dir_all(&album).unwrap();
    std::fs::copy(
        first_file(&audio.join("freedesktop"), "oga"),
        album.join("01.oga"),
    )
    .unwrap();
    // What a downloaded folder could carry: a "library" to load (not a library at all, so a
    // load attempt fails loudly) and an endpoint to send the token to.
    let marker = album.join("marker-libonnxruntime.so");
    std::fs::write(&marker, b"not a shared library").unwrap();
    std::fs::write(
        album.join("config.toml"),
        format!(
            "[storage]\nbackend = \"astra\"\n[astra]\napi_endpoint = \"http://127.0.0.1:9\"\n[embedder]\nonnxruntime_library = \"{}\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::write(
        album.join(".env"),
        "SONGREC_STORAGE_BACKEND=astra\nASTRA_DB_API_ENDPOINT=http://127.0.0.1:9\nASTRA_DB_APPLICATION_TOKEN=AstraCS:from-the-folder\nSONGREC_ORT_LIBRARY=marker-libonnxruntime.so\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let lib = dir.path().join("lib");
    let run = |args: &[&str]| {
        bin()
            .at_home(&home)
            .current_dir(&album)
            .args(args)
            .env("SONGREC_LIBRARY", &lib)
            .env("SONGREC_CACHE_DIR", dir.path().join("cache"))
            .output()
            .expect("run songrec")
    };

    // `songrec ingest .` inside the folder: the local library, the built-in runtime.
    let o = run(&["ingest", "."]);
    let (out, err) = streams(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("1 new"), "{out}");
    assert!(
        out.contains(lib.to_str().unwrap()),
        "the local library: {out}"
    );
    assert!(
        !out.contains("marker") && !err.contains("marker"),
        "no load attempt of the folder's library:\n{out}\n{err}"
    );
    let info: Vec<&str> = err.lines().filter(|l| l.starts_with("info: ")).collect();
    assert_eq!(info.len(), 1, "one line about the unused files:\n{err}");
    for s in ["./config.toml", "./.env", "--config", "--env-file"] {
        assert!(info[0].contains(s), "{s} in {:?}", info[0]);
    }
    let o = run(&["stats", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", streams(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["songs"], 1, "{v}");
    let backend = v["backend"].as_str().unwrap_or_default();
    assert!(
        backend.starts_with("local library at") && backend.contains(lib.to_str().unwrap()),
        "{v}"
    );
    // doctor checks the Astra settings it was given: none from the folder.
    let (out, err) = streams(&run(&["doctor"]));
    assert!(
        !out.contains("127.0.0.1:9") && !err.contains("127.0.0.1:9"),
        "{out}\n{err}"
    );

    // Named explicitly, the same files are used: the folder's astra backend (incomplete here).
    let o = run(&["--config", "./config.toml", "stats"]);
    let (out, err) = streams(&o);
    assert_ne!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(err.contains("astra"), "{err}");
    assert!(
        !err.contains("./config.toml in the working directory"),
        "the local config is in use: {err}"
    );
    // A named env file is read too (its backend is astra, unreachable here); its token never
    // reaches the output.
    let o = run(&["--env-file", "./.env", "stats"]);
    let (out, err) = streams(&o);
    assert_ne!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(err.contains("astra"), "{err}");
    assert!(!out.contains("from-the-folder") && !err.contains("from-the-folder"));
}

/// `pip install onnxruntime` is all it takes: doctor finds the wheel's library under the user's
/// `~/.local`, starts it and says so with its speed; `runtime = "tract"` keeps the built-in
/// runtime (songrec's own kernels).
#[test]
fn doctor_finds_a_pip_installed_onnxruntime_and_reports_its_speed() {
    let home = tempfile::tempdir().unwrap();
    let capi = home
        .path()
        .join(".local/lib/python3.11/site-packages/onnxruntime/capi");
    std::fs::create_dir_all(&capi).unwrap();
    let lib = capi.join("libonnxruntime.so.1.31.1");
    std::os::unix::fs::symlink(songrec_testkit::fixtures::ort_library(), &lib).unwrap();
    let doctor = |runtime: &str| {
        bin()
            .at_home(home.path())
            .env("SONGREC_NEURAL_RUNTIME", runtime)
            .arg("doctor")
            .output()
            .unwrap()
    };
    let o = doctor("onnxruntime");
    let (out, err) = streams(&o);
    // The link is resolved once and the file checked is the file loaded and named.
    let line = format!(
        "[ok] neural runtime: musicnn runs on ONNX Runtime 1.31.1, found at {}",
        std::fs::canonicalize(&lib).unwrap().display()
    );
    assert!(out.contains(&line), "{out}\n{err}");
    assert!(
        out.contains("onnxruntime 1.31.1 analyses music at"),
        "{out}\n{err}"
    );
    // And which of songrec's kernel paths runs here, and on what.
    let best = songrec_neural::KernelPath::best();
    assert!(
        out.contains(&format!("songrec's kernels: {best}: int8 on "))
            && out.contains("float32 on "),
        "{out}\n{err}"
    );
    let o = doctor("tract");
    let (out, err) = streams(&o);
    assert!(
        out.contains("[ok] neural runtime: musicnn and aisfx run on songrec's own kernels")
            && out.contains("the built-in runtime, as configured"),
        "{out}\n{err}"
    );
    // A library that is not ONNX Runtime under that name: passed over, so "onnxruntime" has
    // nothing to run on and doctor says what to do.
    std::fs::remove_file(&lib).unwrap();
    std::fs::write(&lib, b"not a library").unwrap();
    let o = doctor("onnxruntime");
    let (out, err) = streams(&o);
    if !out.contains("found at") {
        assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
        assert!(
            out.contains("[fail] neural runtime") && out.contains("pip install onnxruntime"),
            "{out}\n{err}"
        );
    }
}

/// A tempo halfway between two whole ones shows as the web page shows it (186.5 → 187, halves
/// up), in `show` and in `list`, not rounded to even (186).
#[test]
fn a_half_tempo_rounds_up_as_on_the_web_page() {
    let dir = tempfile::tempdir().unwrap();
    let music = bin().synth(&dir.path().join("music"), 1, 3);
    let lib = dir.path().join("lib");
    let o = on_library(
        &lib,
        &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
    );
    assert!(o.status.success(), "{:?}", streams(&o));
    let o = on_library(&lib, &["edit", "Warehouse Pulse 1", "--set", "bpm=186.5"]);
    assert!(o.status.success(), "{:?}", streams(&o));
    let shown = stdout(&on_library(&lib, &["show", "Warehouse Pulse 1"]));
    let bpm = shown
        .lines()
        .find(|l| l.starts_with("bpm "))
        .unwrap_or_else(|| panic!("{shown}"));
    assert_eq!(bpm.split_whitespace().nth(1), Some("187"), "{shown}");
    let listed = stdout(&on_library(
        &lib,
        &["list", "--artist", "The Techno Ensemble"],
    ));
    let row = listed
        .lines()
        .find(|l| l.contains("Warehouse Pulse 1"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(
        row.split_whitespace().any(|w| w == "187") && !row.contains(" 186 "),
        "{listed}"
    );
}

/// An ingest that fails (an empty folder) says nothing of a new library, and leaves none; one
/// that stores songs says where the new library is, once, and a second ingest does not.
#[test]
fn a_new_library_is_announced_only_once_made() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = on_library(&lib, &["ingest", empty.to_str().unwrap()]);
    let (_, err) = streams(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: no audio files found"), "{err}");
    assert!(!err.contains("a new library"), "{err}");
    assert!(!lib.join("data").exists(), "no library is left behind");
    let music = bin().synth(&dir.path().join("music"), 1, 3);
    let ingest = || {
        on_library(
            &lib,
            &["ingest", "--embedder", "dsp", music.to_str().unwrap()],
        )
    };
    let (out, err) = streams(&ingest());
    assert!(out.starts_with("ingested 5 new"), "{out}");
    let said = format!("a new library at {}", lib.display());
    assert_eq!(err.lines().filter(|l| *l == said).count(), 1, "{err}");
    let (_, err) = streams(&ingest());
    assert!(!err.contains("a new library"), "{err}");
}
