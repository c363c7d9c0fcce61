//! The metadata journal (one JSON record a line, replayed over `metadata.json` when a library opens):
//! the fuzz input is the file of a scratch library, which is opened and listed.
#![no_main]

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::scratch().library("data/.songrec/journal.jsonl", data);
});
