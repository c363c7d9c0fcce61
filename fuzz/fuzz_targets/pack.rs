//! The packed vector file reader (`songrec_local::pack::Pack`); see `harness::pack` for how
//! an input becomes a pack file.
#![no_main]

use std::sync::OnceLock;

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

fn scratch() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::pack(scratch().path(), data);
});
