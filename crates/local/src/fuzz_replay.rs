//! Replays the fuzz targets' committed seeds and regression inputs (`fuzz/corpus`,
//! `fuzz/regressions`) through the same harness as the fuzz targets, and a few thousand
//! mutants of them, so CI keeps every input the fuzzer ever tripped on.

use crate::{LocalBackend, npy, pack, snapshot};

#[path = "../../../fuzz/harness/local.rs"]
mod harness;
#[path = "../../../fuzz/replay.rs"]
mod replay;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

/// Runs `f` on every input of `target`; the `valid*` seeds must be accepted.
fn replay_target(target: &str, mut f: impl FnMut(&[u8]) -> bool) {
    for (path, bytes) in replay::inputs(target) {
        let accepted = f(&bytes);
        let valid = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("valid"));
        assert!(
            accepted || !valid,
            "{}: a valid seed was refused",
            path.display()
        );
    }
}

fn scratch_library() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("lib");
    harness::library_folders(&root);
    (dir, root)
}

/// Every seed and regression input of the `npy`, `metadata_json`, `journal`, `pack` and
/// `snapshot` fuzz targets is handled without a panic; the valid seeds parse.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    let rt = runtime();
    let (_dir, root) = scratch_library();
    replay_target("npy", harness::npy);
    replay_target("metadata_json", |b| {
        harness::library(&root, &rt, "data/embeddings/metadata.json", b)
    });
    replay_target("journal", |b| {
        harness::library(&root, &rt, "data/.songrec/journal.jsonl", b)
    });
    replay_target("pack", |b| harness::pack(&root, b));
    replay_target("snapshot", harness::snapshot);
}

fn mutants(target: &str, count: usize, seed: u64, mut f: impl FnMut(&[u8]) -> bool) {
    let seeds = replay::inputs(target);
    for input in replay::mutants(&seeds, count, seed) {
        f(&input);
    }
}

/// Bounded random exploration around the seeds of each target (fixed seeds, so a failure
/// reproduces): nothing panics.
#[test]
fn fuzz_random_inputs_never_panic() {
    let rt = runtime();
    let (_dir, root) = scratch_library();
    mutants("npy", 4000, 1, harness::npy);
    mutants("snapshot", 4000, 2, harness::snapshot);
    mutants("pack", 2000, 3, |b| harness::pack(&root, b));
    mutants("metadata_json", 1000, 4, |b| {
        harness::library(&root, &rt, "data/embeddings/metadata.json", b)
    });
    mutants("journal", 1000, 5, |b| {
        harness::library(&root, &rt, "data/.songrec/journal.jsonl", b)
    });
}
