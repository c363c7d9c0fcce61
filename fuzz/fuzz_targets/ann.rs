//! The check of an approximate index file (`songrec_local::ann_check`), and usearch on every file it passes.
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
    harness::ann(scratch().path(), data);
});
