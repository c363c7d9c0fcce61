//! The check of an approximate index file (`songrec_local::ann_check`), and usearch on every file it passes.
#![no_main]

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::ann(&harness::scratch().root, data);
});
