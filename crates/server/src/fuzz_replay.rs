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

/// Every seed and regression input is handled without a panic; the valid ones are accepted
/// (query strings) or answered with a partial range.
#[test]
fn fuzz_corpus_and_regressions_replay() {
    replay::replay_target("rest_query", rest_query_harness::query);
    replay::replay_target("range_header", range_harness::range_header);
}

/// A few thousand mutants of the seeds of each target (fixed seeds): none panics, and every
/// partial range lies inside the body.
#[test]
fn fuzz_random_queries_and_ranges_never_panic() {
    replay::replay_mutants("rest_query", 4000, 11, rest_query_harness::query);
    replay::replay_mutants("range_header", 4000, 12, range_harness::range_header);
}
