//! What the `playlist_history` fuzz target does with an input, shared with the crate's replay
//! test (included with `#[path]`; the including module brings songrec-discover's `History`
//! into scope).

#![allow(dead_code)]

use std::path::Path;

use super::History;

/// Writes `data` as the history file `path` and loads it; a history that loads is used the way
/// `playlist --exclude-recent` uses it, saved, and loads again. Returns whether it loaded.
pub fn history(path: &Path, data: &[u8]) -> bool {
    std::fs::write(path, data).expect("write the fuzz input");
    let Ok(mut h) = History::load(path) else {
        return false;
    };
    let _ = h.recent(3);
    h.record(Vec::new());
    h.save(path).expect("a loaded history saves");
    History::load(path).expect("a saved history loads");
    true
}
