//! REST API query strings (`songrec_server::params::Params` and the filters built from
//! them); see `harness::query`.
#![no_main]

use songrec_server::params;

#[path = "../harness/rest_query.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::query(data);
});
