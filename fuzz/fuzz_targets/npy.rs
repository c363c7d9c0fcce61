//! The `.npy` vector reader (`songrec_local::npy::decode`), fed any bytes.
#![no_main]

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::npy(data);
});
