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
    for (seed, bytes) in replay::inputs("playlist_history") {
        let loaded = harness::history(&path, &bytes);
        let valid = seed
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("valid"));
        assert!(
            loaded || !valid,
            "{}: a valid history was refused",
            seed.display()
        );
    }
}

/// A few thousand mutants of the seeds (fixed seed): none panics.
#[test]
fn fuzz_random_histories_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.json");
    let seeds = replay::inputs("playlist_history");
    for input in replay::mutants(&seeds, 2000, 0x4157) {
        harness::history(&path, &input);
    }
}
