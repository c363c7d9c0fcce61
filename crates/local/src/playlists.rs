//! Saved playlists on disk: one JSON file per playlist, `data/playlists/<id>.json`, written
//! atomically under the library's write lock. Ids are checked before they name a file, so a
//! playlist id can never reach outside the folder.

use std::fs;
use std::path::{Path, PathBuf};

use songrec_storage::playlist::{SavedPlaylist, is_playlist_id};
use songrec_storage::{StorageError, StorageResult};

use crate::layout::{read_opt, write_json};

/// The file of playlist `id` in `dir`, if `id` is a playlist id.
fn file(dir: &Path, id: &str) -> Option<PathBuf> {
    is_playlist_id(id).then(|| dir.join(format!("{id}.json")))
}

fn parse(path: &Path, bytes: &[u8]) -> StorageResult<SavedPlaylist> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::corrupt(path, e.to_string()))
}

/// Stores `p` (checked) in `dir`.
pub(crate) fn put(dir: &Path, p: &SavedPlaylist) -> StorageResult<()> {
    p.validate()?;
    let path = file(dir, &p.id).ok_or_else(|| StorageError::InvalidInput(p.id.clone()))?;
    fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    write_json(&path, p)
}

/// The playlist `id` in `dir` (an id that is not a playlist id names none).
pub(crate) fn get(dir: &Path, id: &str) -> StorageResult<Option<SavedPlaylist>> {
    let Some(path) = file(dir, id) else {
        return Ok(None);
    };
    read_opt(&path)?.map(|b| parse(&path, &b)).transpose()
}

/// Every playlist in `dir`, in id order. A file that does not parse is reported in the log
/// and left out (the others stay usable); other files in the folder are ignored.
pub(crate) fn list(dir: &Path) -> StorageResult<Vec<SavedPlaylist>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StorageError::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| StorageError::io(dir, e))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        match get(dir, id) {
            Ok(Some(p)) if p.id == id => out.push(p),
            Ok(Some(_)) => tracing::warn!(
                "{}: the playlist inside has another id; left out",
                entry.path().display()
            ),
            Ok(None) => {}
            Err(e @ StorageError::Corrupt { .. }) => {
                tracing::warn!("{e}; the playlist is left out");
            }
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}
