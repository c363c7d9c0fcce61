//! HTTP `Range` headers (`songrec_server::range::answer`); see `harness::range_header`.
//! `range.rs` depends on nothing, so it is compiled in here rather than through the server
//! crate and its dependencies.
#![no_main]

#[path = "../../crates/server/src/range.rs"]
#[allow(dead_code)]
mod range;

#[path = "../harness/range.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::range_header(data);
});
