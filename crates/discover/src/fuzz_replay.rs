//! Replays the `playlist_history` fuzz target's committed seeds and regression inputs
//! (`fuzz/corpus`, `fuzz/regressions`) through the same harness as the target, and a few
//! thousand mutants of them.

use crate::history::History;

#[path = "../../../fuzz/harness/discover.rs"]
mod harness;
#[path = "../../../fuzz/replay.rs"]
mod replay;

/// Every seed and regression input is handled without a panic; the valid ones load.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    replay::replay_target("playlist_history", |b| harness::history(&path, b));
}

/// A few thousand mutants of the seeds (fixed seed): none panics.
#[test]
fn fuzz_random_histories_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    replay::replay_mutants("playlist_history", 2000, 0x4157, |b| {
        harness::history(&path, b)
    });
}
