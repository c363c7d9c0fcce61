//! songrec's benchmark and evaluation programs, as examples of this crate
//! (`cargo run --release -p songrec-benches --example NAME`): the crate stands above every
//! other and the test kit, so the programs that need fixtures and servers never make a crate
//! below depend on them. `songrec bench` (in the binary) is the benchmark users run; these are
//! the ones behind `docs/benchmarks.md`, `docs/quality.md` and `scripts/eval/`.
