//! The guide's examples run as written: every shell block of `docs/*.md`, line by line, in a new
//! user's shell ([`UserShell`]) on a library of real files and a local cloud on 127.0.0.1, so an
//! example cannot rot. What the test changes, and why:
//!
//! - `~` is a fresh home; `~/Music` holds synthesised songs and the songs the examples name
//!   (Paranoid Android, Teardrop, Windowlicker: synthesised songs re-encoded as MP3 with those
//!   tags), `~/Downloads/clip.mp3` a clip not in the library;
//! - `songrec serve` binds 127.0.0.1 on a free port whatever address the line names, answers
//!   the page and the songs listing, and is stopped;
//! - `songrec previews` asks a replayed iTunes Search API on 127.0.0.1 (no network in tests);
//! - `songrec bench` runs at a smaller size (`--songs`, `--queries`, `--seconds`): the same
//!   command, not the hours the published figures took;
//! - a line the test cannot run (another program's build, the 1M-song library, nightly fuzzing)
//!   is listed in [`NOT_RUN`] with the reason; any other line that is not run fails the test.

use std::collections::BTreeSet;
use std::path::Path;

use super::*;

/// Lines of the guide the test does not run, each with the reason. The test fails when one of
/// them is no longer in the guide, so the list cannot outlive the examples.
const NOT_RUN: &[(&str, &str)] = &[
    (
        "(cd scripts/eval/bliss_harness && cargo build --release)",
        "builds bliss-audio outside the workspace (a cargo build inside cargo test)",
    ),
    (
        "taskset -c 1 target/release/songrec bench ingest --embedder dsp --files DIR",
        "needs the bliss harness built above and a folder of the user's files",
    ),
    (
        "SONGREC_KERNELS=avx2 taskset -c 1 target/release/songrec bench ingest --embedder mix",
        "needs the bliss harness, the speed132 soundtrack set and a CPU with AVX2",
    ),
    (
        "SONGREC_KERNELS=portable taskset -c 1 target/release/songrec bench ingest --embedder mix",
        "needs the bliss harness and the speed132 soundtrack set",
    ),
    (
        "SONGREC_TEST_PYTHON=target/test-venv/bin/python cargo run --release -p songrec-benches --example insert_bench",
        "a release build of an example (a cargo build inside cargo test)",
    ),
    (
        "cargo build --release -p songrec-cli",
        "the release build the benchmarks use; the test runs the binary under test",
    ),
    (
        "python3 -m venv target/ann-venv && target/ann-venv/bin/pip install faiss-cpu numpy",
        "installs FAISS from PyPI for the comparison, outside the test's dependencies",
    ),
    (
        "target/ann-venv/bin/python scripts/eval/faiss_search.py",
        "FAISS, installed by the line above",
    ),
    (
        "L=target/ann-bench/lib-1000000x512-mixture",
        "names the 1M-song library the bench builds in hours",
    ),
    (
        "/usr/bin/time -f \"%e s %M KB\" target/release/songrec --library $L",
        "queries the 1M-song library the bench builds in hours",
    ),
    (
        "cargo run --release -p songrec-benches --example listing_bench",
        "a release build of an example, and 100,000 songs through the cloud (about 20 minutes)",
    ),
    (
        "songrec playlist --seed \"Teardrop\" -n 20 --mpd",
        "needs an MPD to queue on; crates/cli/tests/cli/mpd.rs runs playlist --mpd against one",
    ),
    (
        "songrec radio",
        "needs an MPD playing; crates/cli/tests/cli/mpd.rs runs the radio against one",
    ),
    (
        "scripts/fuzz.sh",
        "cargo-fuzz on a nightly toolchain; the fuzz targets' corpora are replayed by songrec-local's tests",
    ),
];

/// `songrec bench` at a test's size: the same flags, smaller numbers.
fn smaller_bench(words: &[String]) -> Vec<String> {
    let mut out = words.to_vec();
    for i in 0..out.len().saturating_sub(1) {
        let smaller = match out[i].as_str() {
            "--songs" if out.iter().any(|w| w == "search") => Some("400"),
            "--songs" => Some("2"),
            "--queries" => Some("10"),
            "--seconds" => Some("5"),
            _ => None,
        };
        if let Some(v) = smaller {
            out[i + 1] = v.into();
        }
    }
    out
}

/// A replayed iTunes Search API on 127.0.0.1: every search answers one song per file of
/// `wavs`, its preview that file as AAC. Returns its base URL; serves until `rt` is dropped.
fn replayed_previews_api(rt: &tokio::runtime::Runtime, wavs: &[PathBuf], dir: &Path) -> String {
    let files: Vec<(String, Vec<u8>)> = wavs
        .iter()
        .enumerate()
        .map(|(i, wav)| {
            let name = format!("preview{i}.m4a");
            let m4a = dir.join(&name);
            songrec_testkit::audio::convert(wav, &m4a, &["-c:a", "aac"]);
            (name, std::fs::read(&m4a).unwrap())
        })
        .collect();
    let n = files.len();
    crate::replayed_itunes(
        rt,
        |addr| {
            let results: Vec<serde_json::Value> = (0..n)
                .map(|i| {
                    serde_json::json!({"wrapperType": "track", "kind": "song", "trackId": 100 + i,
                     "trackName": format!("Replayed Song {i}"), "artistName": "Replayed Artist",
                     "collectionName": "Replays", "primaryGenreName": "Electronic",
                     "previewUrl": format!("http://{addr}/files/preview{i}.m4a"),
                     "trackTimeMillis": 200000})
                })
                .collect();
            serde_json::json!({"resultCount": n, "results": results})
        },
        files,
    )
}

/// The runnable blocks of a guide page: (first line number, lines joined at `\`).
fn shell_blocks(page: &str) -> Vec<(usize, Vec<String>)> {
    let md = read(&root().join("docs").join(page));
    code_blocks(&md)
        .into_iter()
        .filter(|(info, _, _)| matches!(info.as_str(), "sh" | "bash" | "console" | "shell" | ""))
        .map(|(_, at, lines)| (at, joined_lines(&lines)))
        .collect()
}

/// Runs `lines` (from `page`) in `sh`, except those of [`NOT_RUN`] (recorded in `skipped`).
fn run_block(sh: &mut UserShell, page: &str, lines: &[String], skipped: &mut BTreeSet<&str>) {
    for line in lines {
        let words = shell_words(line);
        if words.is_empty() {
            continue;
        }
        if let Some((start, _)) = NOT_RUN
            .iter()
            .find(|(start, _)| line.trim_start().starts_with(start))
        {
            skipped.insert(start);
            continue;
        }
        let words = if words.iter().any(|w| w == "bench") {
            smaller_bench(&words)
        } else {
            words
        };
        let line = format!("{page}: {line}");
        for cmd in words.split(|w| w == "&&" || w == ";") {
            if !cmd.is_empty() {
                sh.run(cmd, &line);
            }
        }
    }
}

#[test]
fn the_guides_examples_run_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut sh = UserShell::new(dir.path());
    // ~/Music: three songs of each synthesised style (enough left after `dupes --delete` for
    // `clusters -k 8`), and the songs the examples name.
    let music = sh.home.join("Music");
    bin().synth(&music, 3, 8);
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(&music)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    wavs.sort();
    let named = [
        ("Radiohead", "Paranoid Android"),
        ("Massive Attack", "Teardrop"),
        ("Aphex Twin", "Windowlicker"),
    ];
    for (wav, (artist, title)) in wavs.iter().zip(named) {
        named_mp3(wav, &music, artist, title, Some("Rock"));
    }
    let downloads = sh.home.join("Downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let clip = dir.path().join("clip");
    bin().synth(&clip, 1, 6);
    songrec_testkit::audio::convert(&first_file(&clip), &downloads.join("clip.mp3"), &[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let previews = replayed_previews_api(&rt, &wavs[3..6], dir.path());
    sh.env.insert("SONGREC_PREVIEWS_BASE_URL".into(), previews);
    let cloud = songrec_testkit::LocalCloud::start_blocking();

    let mut skipped = BTreeSet::new();
    let mut visited = BTreeSet::new();
    // The cloud guide's set-up first (it fills in ~/.config/songrec/.env), then every page; the
    // local cloud's own block runs in a shell of its own (sourcing its env switches the shell
    // to the cloud for good, as the guide says).
    let cloud_page = shell_blocks("cloud-and-sync.md");
    let (setup_at, setup) = &cloud_page[0];
    assert!(setup[1].contains(".env.example"), "{setup:?}");
    for line in setup {
        run_block(
            &mut sh,
            "cloud-and-sync.md",
            std::slice::from_ref(line),
            &mut skipped,
        );
        if line.contains(".env.example") {
            sh.fill_env_file(&cloud);
        }
    }
    visited.insert(("cloud-and-sync.md", *setup_at));
    let (offline_at, offline) = &cloud_page[1];
    assert!(
        offline[0].starts_with("scripts/local-cloud.sh start"),
        "{offline:?}"
    );
    let mut own = UserShell::new(&dir.path().join("offline"));
    run_block(&mut own, "cloud-and-sync.md", offline, &mut skipped);
    assert!(
        own.output("similar \"Warehouse Pulse 1\"")
            .contains("Warehouse Pulse"),
        "{}",
        own.output("similar")
    );
    visited.insert(("cloud-and-sync.md", *offline_at));

    let pages = [
        "commands.md",
        "web-and-api.md",
        "cloud-and-sync.md",
        "benchmarks.md",
        "large-libraries.md",
        "testing.md",
    ];
    for page in pages {
        for (at, lines) in shell_blocks(page) {
            if visited.insert((page, at)) {
                run_block(&mut sh, page, &lines, &mut skipped);
            }
        }
    }

    // Every page's every runnable block ran.
    let mut all = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("docs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if let Some(page) = pages.iter().find(|p| **p == name) {
            for (at, _) in shell_blocks(page) {
                all.insert((*page, at));
            }
        } else if name.ends_with(".md") {
            assert!(
                shell_blocks(&name).is_empty(),
                "docs/{name} has shell blocks: add it to the pages this test runs"
            );
        }
    }
    assert_eq!(visited, all, "every shell block of the guide runs");
    let listed: BTreeSet<&str> = NOT_RUN.iter().map(|(l, _)| *l).collect();
    assert_eq!(
        skipped, listed,
        "each line the test does not run is still in the guide"
    );

    // What the examples say they do, they did.
    let similar = sh.output("similar \"Paranoid Android\" -k 10");
    assert!(similar.contains("Paranoid Android"), "{similar}");
    let rows = |out: &str| {
        out.lines()
            .filter(|l| l.trim_start().starts_with(|c: char| c.is_ascii_digit()))
            .count()
    };
    assert_eq!(rows(similar), 10, "{similar}");
    assert!(rows(sh.output("--file ~/Downloads/clip.mp3")) > 0);
    let show = sh.output("show \"Windowlicker\"");
    assert!(
        show.contains("Aphex Twin") && show.contains("Windowlicker"),
        "{show}"
    );
    let cloud_similar = sh.output("--storage-backend astra similar \"Paranoid Android\" -k 10");
    assert_eq!(rows(cloud_similar), 10, "{cloud_similar}");
    assert!(
        sh.output("previews \"Daft Punk\"")
            .contains("Replayed Song"),
        "{}",
        sh.output("previews \"Daft Punk\"")
    );
    // The cloud already held the songs of ~/Music (ingested there by the cloud guide's set-up):
    // migrate copies none of them, and its check names them with the remedy instead of
    // failing (each side ingested them at another time).
    let migrated = sh.output("move the library to the cloud");
    assert!(
        migrated.contains("0 songs to copy")
            && migrated.contains(
                "songs already on the target with other metadata (`songrec sync` merges them)"
            )
            && migrated.contains("verify: clean"),
        "{migrated}"
    );
    for file in ["trip.m3u8", "map.html", "map.png"] {
        assert!(sh.work.join(file).is_file(), "the examples wrote {file}");
    }
    let served = sh.output("--storage-backend astra serve");
    assert!(served.contains("\"total\""), "{served}");
    drop(cloud);
    drop(rt);
}
