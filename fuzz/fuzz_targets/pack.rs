//! The packed vector file reader (`songrec_local::pack::Pack`); see `harness::pack` for how
//! an input becomes a pack file.
#![no_main]

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::pack(&harness::scratch().root, data);
});
