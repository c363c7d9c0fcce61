//! HTTP `Range` headers (`songrec_server::range::answer`); see `harness::range_header`.
#![no_main]

use songrec_server::{params, range};

#[path = "../harness/server.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::range_header(data);
});
