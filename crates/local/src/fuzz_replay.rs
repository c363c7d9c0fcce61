//! Replays the fuzz targets' committed seeds and regression inputs (`fuzz/corpus`,
//! `fuzz/regressions`) through the same harness as the fuzz targets, and a few thousand
//! mutants of them, so CI keeps every input the fuzzer ever tripped on.

use crate::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../../../fuzz/harness/local.rs"]
mod harness;
#[path = "../../../fuzz/replay.rs"]
mod replay;

use replay::{replay_mutants as mutants, replay_target};

/// Every seed and regression input of the `npy`, `metadata_json`, `journal`, `pack`,
/// `snapshot`, `rows` and `ann` fuzz targets is handled without a panic; the valid seeds parse.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    let s = harness::Scratch::new();
    replay_target("npy", harness::npy);
    replay_target("metadata_json", |b| {
        s.library("data/embeddings/metadata.json", b)
    });
    replay_target("journal", |b| s.library("data/.songrec/journal.jsonl", b));
    replay_target("pack", |b| harness::pack(&s.root, b));
    replay_target("snapshot", harness::snapshot);
    replay_target("rows", harness::rows);
    replay_target("ann", |b| harness::ann(&s.root, b));
}

/// Bounded random exploration around the seeds of each target (fixed seeds, so a failure
/// reproduces): nothing panics.
#[test]
fn fuzz_random_inputs_never_panic() {
    let s = harness::Scratch::new();
    mutants("npy", 4000, 1, harness::npy);
    mutants("snapshot", 4000, 2, harness::snapshot);
    mutants("pack", 2000, 3, |b| harness::pack(&s.root, b));
    mutants("rows", 2000, 6, harness::rows);
    mutants("ann", 300, 7, |b| harness::ann(&s.root, b));
    mutants("metadata_json", 1000, 4, |b| {
        s.library("data/embeddings/metadata.json", b)
    });
    mutants("journal", 1000, 5, |b| {
        s.library("data/.songrec/journal.jsonl", b)
    });
}
