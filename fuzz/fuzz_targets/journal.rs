//! The metadata journal (one JSON record a line, replayed over `metadata.json` when a library opens):
//! the fuzz input is the file of a scratch library, which is opened and listed.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use songrec_local::{LocalBackend, npy, pack, snapshot};

#[path = "../harness/local.rs"]
mod harness;

struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
    rt: tokio::runtime::Runtime,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("lib");
        harness::library_folders(&root);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Scratch {
            _dir: dir,
            root,
            rt,
        }
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let s = scratch();
    harness::library(&s.root, &s.rt, "data/.songrec/journal.jsonl", data);
});
