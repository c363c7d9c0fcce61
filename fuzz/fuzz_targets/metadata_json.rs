//! `metadata.json` (the library's song metadata, also written by the Python tool and by hand):
//! the fuzz input is the file of a scratch library, which is opened and listed.
#![no_main]

use std::sync::OnceLock;

use songrec_local::{AnnQuantization, LocalBackend, ann_check, npy, pack, rows, snapshot};

#[path = "../harness/local.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static S: OnceLock<harness::Scratch> = OnceLock::new();
    S.get_or_init(harness::Scratch::new).library("data/embeddings/metadata.json", data);
});
