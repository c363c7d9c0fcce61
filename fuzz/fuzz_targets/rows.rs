//! The live-row table reader (`songrec_local::rows::decode`).
#![no_main]

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::rows(data);
});
