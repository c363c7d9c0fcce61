//! Damaged library files never crash `songrec`: bytes are flipped at chosen offsets of every
//! kind of file a local library holds, one damaged copy at a time, and the real binary runs a
//! search on each copy as a child process (so a SIGSEGV shows up as a signal, not as the death of
//! the test).
//!
//! Derived files are damaged in place, as bit rot does: the same file (inode), the same
//! modification time, so nothing but their content checks can tell. The library's own data is
//! damaged as an editor would: a new file with the old times.
//!
//! Each run must end without a signal or a panic, and then:
//! - for derived files (snapshot, pack, row table, index manifest, approximate index), which
//!   songrec rebuilds from the `.npy` files and `metadata.json`: with the undamaged library's
//!   answer (ids and similarities, bit for bit), or with an error naming the file and
//!   `songrec reindex`. For the pack, the row table and the approximate index, every damaged
//!   byte a check covers must be caught (a warning naming the file and `songrec reindex`);
//! - for the library's own data (`metadata.json`, journal, registry, tombstones, `.npy`), whose
//!   damage changes what the right answer is: with an answer, or with an error naming the file.
//!
//! A copy of the whole library (`cp -a`: every file a new inode) answers the same without
//! rebuilding anything. One summary line per kind of file is printed (`--nocapture`).

use std::path::{Path, PathBuf};
use std::process::Output;

use songrec_local::LocalBackend;
use songrec_storage::prelude::*;
use songrec_storage::rng::SplitMix;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
use songrec_testkit::cli::text;
use songrec_testkit::damage::rot;

use crate::bin;

/// Songs in the library: more than the 4,096 records from which a reader writes the live-row
/// table, and above the approximate-index threshold the runs set.
const SONGS: usize = 4200;
const DIM: usize = 8;
const ANN_THRESHOLD: &str = "1000";

fn model() -> ModelInfo {
    ModelInfo::new("damage", "1", DIM)
}

/// `songrec` on `lib` with the approximate index used from [`ANN_THRESHOLD`] vectors.
fn run(lib: &Path, args: &[&str]) -> Output {
    bin()
        .on_library(lib)
        .env("SONGREC_ANN_THRESHOLD", ANN_THRESHOLD)
        .env("RUST_BACKTRACE", "0")
        .env_remove("SONGREC_LOG")
        .args(args)
        .output()
        .expect("run songrec")
}

/// A library of [`SONGS`] songs with random vectors; some deleted and some edited after the
/// last fold (so it has tombstones and a journal), indexed by `songrec reindex`.
fn build(lib: &Path) -> Vec<SongId> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rng = SplitMix::new(25);
    let ids: Vec<SongId> = (0..SONGS)
        .map(|i| SongId::from_bytes(format!("damage song {i}").as_bytes()))
        .collect();
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        for chunk in ids.chunks(1500) {
            let records: Vec<SongRecord> = chunk
                .iter()
                .map(|id| {
                    let mut m = SongMetadata::new(id.clone(), format!("Song {}", id.short()));
                    m.genre = Some("Noise".into());
                    let v: Vec<f32> = (0..DIM).map(|_| rng.next_signed()).collect();
                    SongRecord {
                        metadata: m,
                        embeddings: vec![Embedding::new(model(), v).unwrap()],
                    }
                })
                .collect();
            assert!(b.put_songs(&records).await.unwrap().is_complete());
        }
        b.flush().await.unwrap();
    });
    let o = run(lib, &["reindex"]);
    assert!(o.status.success(), "reindex: {}", text(&o));
    rt.block_on(async {
        let b = LocalBackend::open(lib).unwrap();
        for id in &ids[SONGS - 3..] {
            assert!(b.delete_song(id).await.unwrap());
        }
        for id in &ids[10..13] {
            let mut m = b.get_metadata(id).await.unwrap().unwrap();
            m.genre = Some("Edited".into());
            b.put_metadata(&m).await.unwrap();
        }
    });
    ids
}

/// The similar songs of `query`: (id, similarity as printed: every digit of the f32), and the
/// run's stderr; or the failed run.
fn answer(
    lib: &Path,
    query: &SongId,
    exact: bool,
) -> Result<(Vec<(String, String)>, String), Output> {
    let q = query.to_string();
    let mut args = vec![
        "similar",
        q.as_str(),
        "--model",
        "damage@1",
        "-k",
        "5",
        "--json",
    ];
    if exact {
        args.push("--exact");
    }
    let o = run(lib, &args);
    if !o.status.success() {
        return Err(o);
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&o)));
    let matches = v["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no matches: {v}"))
        .iter()
        .map(|m| {
            (
                m["song"]["id"].as_str().unwrap().to_owned(),
                m["similarity"].to_string(),
            )
        })
        .collect();
    Ok((matches, String::from_utf8_lossy(&o.stderr).into_owned()))
}

/// Copies a library with `cp -al` (hard links) or `cp -a` (new files), times kept: a pack is
/// in step while its folder's time is. A reader writes files only by renaming new ones into
/// place, and [`flip`] does the same, so the original is never changed through a link; what
/// [`rot`] changes through a link it puts back ([`Rot::undo`]).
fn copy(from: &Path, to: &Path, links: bool) {
    let st = std::process::Command::new("cp")
        .arg(if links { "-al" } else { "-a" })
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success());
}

/// Flips every bit of the byte at `at` in a new copy of the file renamed over it, keeping the
/// modification times of the file and its folder (as bit rot does).
fn flip(path: &Path, at: usize) {
    let parent = path.parent().unwrap();
    let dir_mtime = std::fs::metadata(parent).unwrap().modified().unwrap();
    let mtime = std::fs::metadata(path).unwrap().modified().unwrap();
    let mut b = std::fs::read(path).unwrap();
    b[at] ^= 0xFF;
    let tmp = parent.join(".damage.tmp");
    std::fs::write(&tmp, &b).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&tmp)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
    std::fs::File::open(parent)
        .unwrap()
        .set_modified(dir_mtime)
        .unwrap();
}

/// Offsets to damage in a file of `len` bytes: its start and header fields, the middle, the
/// end, and a few seeded random ones; plus `extra` (inside a known structure).
fn offsets(len: usize, seed: u64, extra: &[usize]) -> Vec<usize> {
    let mut at = vec![0, 8, 16, 24, 40];
    at.extend([len / 2, len - 1]);
    let mut rng = SplitMix::new(seed);
    at.extend((0..2).map(|_| rng.below(len)));
    at.extend(extra);
    at.retain(|&a| a < len);
    at.sort_unstable();
    at.dedup();
    at
}

/// Offsets inside the neighbour lists of a usearch file of `n` vectors of `DIM` f16 values
/// (M 16): the high byte of a neighbour slot of the first, a middle and the last node at level
/// 0 (a flipped high byte names a node far past the end).
fn ann_graph_offsets(n: usize, len: usize) -> Vec<usize> {
    let graph = 8 + n * DIM * 2 + 64 + 40;
    let nodes = graph + 2 * n;
    // Level-0 node: key 8, level 2, count 4, 32 slots of 4; higher levels add 4 + 16 × 4 each,
    // so only the first node's offset is exact; the others land somewhere in a node.
    let first_slot_high = nodes + 8 + 2 + 4 + 3;
    vec![
        first_slot_high,
        first_slot_high + 4 * 5,
        nodes + (len - nodes) / 2,
        nodes + (len - nodes) * 3 / 4,
    ]
}

/// Offsets in the pack record of the best match `id` (hex): its norm's high byte and a vector
/// value's high byte, so a damage left unchecked changes the answer's scores.
fn top_match_offsets(pack: &Path, id: &str) -> Vec<usize> {
    let raw = SongId::parse(id).unwrap().to_bytes();
    let bytes = std::fs::read(pack).unwrap();
    let record = 40 + 4 * DIM;
    let at = (64..bytes.len())
        .step_by(record)
        .rfind(|&off| bytes[off..off + 32] == raw)
        .expect("the best match's record");
    vec![at + 35, at + 40 + 4 * (DIM / 2) + 3]
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    /// Rebuilt from the library's data, damaged in place: the answer must not change.
    Derived,
    /// Like [`Kind::Derived`], and every damaged byte must be caught (a warning), except the
    /// first `n` bytes (a magic number: not this kind of file at all, ignored silently).
    Checked(usize),
    /// The library's data: an answer or an error naming the file.
    Primary,
}

/// What one damaged copy did.
#[derive(Default)]
struct Outcomes {
    /// The undamaged answer, nothing said.
    correct: usize,
    /// The undamaged answer, with a warning: for a derived file, naming it and `songrec
    /// reindex` (the file was ignored and rebuilt, or read around).
    rebuilt: usize,
    /// Another answer (the library's own data changed).
    changed: usize,
    /// A clear error naming the file.
    error: usize,
}

/// The index manifest's entry of the model's pack.
fn pack_entry(lib: &Path) -> serde_json::Value {
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(lib.join("data/.songrec/index/manifest.json")).unwrap(),
    )
    .unwrap();
    m["packs"]["damage-1"].clone()
}

/// A copy of the whole library (`cp -a`: new inodes, same bytes and times) answers the same,
/// saying nothing, and rebuilds nothing: the same pack build and approximate index.
fn copied_library_is_used_as_it_is(
    dir: &Path,
    lib: &Path,
    query: &SongId,
    good: &[(String, String)],
) {
    let copied = dir.join("copied");
    copy(lib, &copied, false);
    let (ans, said) = answer(&copied, query, false).unwrap_or_else(|o| panic!("{}", text(&o)));
    assert_eq!(ans, good, "a copied library answers otherwise");
    assert!(!said.contains("WARN"), "{said}");
    let (was, now) = (pack_entry(lib), pack_entry(&copied));
    for field in ["build", "committed", "crc32c", "ann"] {
        assert_eq!(
            now[field], was[field],
            "copied library: {field} changed (rebuilt)"
        );
    }
    assert_ne!(
        now["file"], was["file"],
        "the manifest names the copy's own file"
    );
    std::fs::remove_dir_all(&copied).unwrap();
    eprintln!("damage: a copied library (cp -a) answered the same, nothing rebuilt");
}

#[test]
fn damaged_library_files_never_crash_a_search() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("lib");
    let ids = build(&lib);
    let query = ids[10].clone();
    // The first search writes the live-row table; the approximate answer is the exact one.
    let (good, said) = answer(&lib, &query, false).unwrap_or_else(|o| panic!("{}", text(&o)));
    assert_eq!(good.len(), 5);
    assert!(!said.contains("WARN"), "{said}");
    assert_eq!(
        answer(&lib, &query, true).map_err(|o| text(&o)).unwrap().0,
        good
    );
    copied_library_is_used_as_it_is(dir.path(), &lib, &query, &good);
    let index = lib.join("data/.songrec/index");
    let usearch: Vec<PathBuf> = std::fs::read_dir(&index)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "usearch"))
        .collect();
    assert_eq!(usearch.len(), 1, "one approximate index: {usearch:?}");
    let npy = lib.join(format!("data/embeddings/{query}.npy"));
    let files: Vec<(&str, PathBuf, Kind)> = vec![
        ("snapshot", index.join("metadata.bin"), Kind::Derived),
        ("pack", index.join("damage-1.pack"), Kind::Checked(0)),
        ("rows", index.join("damage-1.rows"), Kind::Checked(8)),
        ("manifest", index.join("manifest.json"), Kind::Derived),
        ("ann", usearch[0].clone(), Kind::Checked(0)),
        (
            "journal",
            lib.join("data/.songrec/journal.jsonl"),
            Kind::Primary,
        ),
        (
            "registry",
            lib.join("data/.songrec/library.json"),
            Kind::Primary,
        ),
        (
            "tombstones",
            lib.join("data/.songrec/tombstones.json"),
            Kind::Primary,
        ),
        (
            "metadata.json",
            lib.join("data/embeddings/metadata.json"),
            Kind::Primary,
        ),
        ("npy", npy, Kind::Primary),
    ];
    let mut failures = Vec::new();
    let mut covered = Vec::new();
    let mut summary = Vec::new();
    let mut total = 0;
    for (seed, (name, path, kind)) in files.iter().enumerate() {
        let len = std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("{name} {}: {e}", path.display()))
            .len() as usize;
        assert!(len > 0, "{name} is empty");
        let extra = match *name {
            "ann" => ann_graph_offsets(SONGS, len),
            "pack" => top_match_offsets(path, &good[0].0),
            _ => Vec::new(),
        };
        let at = offsets(len, seed as u64 + 1, &extra);
        covered.push(format!("{name} ({len} B): {at:?}"));
        let rel = path.strip_prefix(&lib).unwrap();
        let file_name = path.file_name().unwrap().to_str().unwrap();
        let mut out = Outcomes::default();
        for &a in &at {
            let started = std::time::Instant::now();
            let case = dir.path().join("case");
            copy(&lib, &case, true);
            let undo = match kind {
                Kind::Primary => {
                    flip(&case.join(rel), a);
                    None
                }
                _ => Some(rot(&case.join(rel), a as u64)),
            };
            let got = answer(&case, &query, false);
            if let Some(undo) = undo {
                undo.undo();
            }
            let what = format!("{name} byte {a}");
            let named = |err: &str| err.contains(file_name) && err.contains("songrec reindex");
            match got {
                Ok((ans, err)) if ans == good && !err.contains("WARN") => {
                    out.correct += 1;
                    if let Kind::Checked(magic) = kind
                        && a >= *magic
                    {
                        failures.push(format!("{what}: not caught (no warning)"));
                    }
                }
                Ok((ans, err)) if ans == good => {
                    out.rebuilt += 1;
                    if *kind != Kind::Primary && !named(&err) {
                        failures.push(format!("{what}: the warning does not name the file and `songrec reindex`: {err}"));
                    }
                }
                Ok((_, _)) if *kind == Kind::Primary => out.changed += 1,
                Ok((ans, _)) => {
                    failures.push(format!("{what}: wrong answer {ans:?}, not {good:?}"))
                }
                Err(o) => {
                    out.error += 1;
                    let err = String::from_utf8_lossy(&o.stderr).into_owned();
                    if o.status.code().is_none() {
                        failures.push(format!("{what}: killed by a signal ({:?})", o.status));
                    } else if err.contains("panicked") {
                        failures.push(format!("{what}: panicked: {err}"));
                    } else if !err.contains(file_name) {
                        failures.push(format!("{what}: the error does not name the file: {err}"));
                    } else if *kind != Kind::Primary && !err.contains("songrec reindex") {
                        failures.push(format!("{what}: no repair command: {err}"));
                    }
                }
            }
            std::fs::remove_dir_all(&case).unwrap();
            eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
        }
        total += at.len();
        let (how, warned) = match kind {
            Kind::Primary => ("replaced", "warned"),
            _ => ("in place", "rebuilt"),
        };
        let other = if *kind == Kind::Primary {
            format!(", {:>2} other answer", out.changed)
        } else {
            String::new()
        };
        summary.push(format!(
            "damage: {name:<13} {how:<8} {:>2} offsets: {:>2} correct, {:>2} {warned}, {:>2} error{other}",
            at.len(),
            out.correct,
            out.rebuilt,
            out.error,
        ));
    }
    // The master library is as it was: every in-place damage was put back.
    assert_eq!(
        answer(&lib, &query, false).map_err(|o| text(&o)).unwrap(),
        (good.clone(), String::new()),
        "the original library changed"
    );
    eprintln!("damaged offsets:\n{}", covered.join("\n"));
    eprintln!(
        "{}\ndamage: {total} offsets in {} kinds of file",
        summary.join("\n"),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
