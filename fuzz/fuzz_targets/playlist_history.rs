//! The playlist-history file (`songrec_discover::history::History::load`); see
//! `harness::history`.
#![no_main]

use std::sync::OnceLock;

use songrec_discover::history::History;

#[path = "../harness/discover.rs"]
mod harness;

fn scratch() -> &'static tempfile::TempDir {
    static D: OnceLock<tempfile::TempDir> = OnceLock::new();
    D.get_or_init(|| tempfile::tempdir().expect("temp dir"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::history(&scratch().path().join("history.json"), data);
});
