//! Replays the `rest_query` and `range_header` fuzz targets' committed seeds and regression
//! inputs (`fuzz/corpus`, `fuzz/regressions`) through the same harness as the targets, and a
//! few thousand mutants of them.

use crate::{params, range};

#[path = "../../../fuzz/harness/range.rs"]
mod range_harness;
#[path = "../../../fuzz/replay.rs"]
mod replay;
#[path = "../../../fuzz/harness/rest_query.rs"]
mod rest_query_harness;

fn replay_target(target: &str, f: impl Fn(&[u8]) -> bool) {
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

/// Every seed and regression input is handled without a panic; the valid ones are accepted
/// (query strings) or answered with a partial range.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    replay_target("rest_query", rest_query_harness::query);
    replay_target("range_header", range_harness::range_header);
}

/// A few thousand mutants of the seeds of each target (fixed seeds): none panics, and every
/// partial range lies inside the body.
#[test]
fn fuzz_random_queries_and_ranges_never_panic() {
    for (target, seed) in [("rest_query", 11), ("range_header", 12)] {
        let seeds = replay::inputs(target);
        for input in replay::mutants(&seeds, 4000, seed) {
            if target == "rest_query" {
                rest_query_harness::query(&input);
            } else {
                range_harness::range_header(&input);
            }
        }
    }
}
