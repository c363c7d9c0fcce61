//! Replays the `list_cursor` fuzz target's committed seeds and regression inputs
//! (`fuzz/corpus`, `fuzz/regressions`) through the same harness as the target, and a few
//! thousand mutants of them.

use super::list_cursor;

#[path = "../../../../fuzz/harness/list_cursor.rs"]
mod harness;
#[path = "../../../../fuzz/replay.rs"]
mod replay;

/// Every seed and regression input is handled without a panic; the valid ones are accepted.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    replay::replay_target("list_cursor", harness::list_cursor);
}

/// A few thousand mutants of the seeds (fixed seed): none panics, and every cursor accepted
/// passes its checks and reads back unchanged.
#[test]
fn fuzz_random_cursors_never_panic() {
    replay::replay_mutants("list_cursor", 4000, 13, harness::list_cursor);
}
