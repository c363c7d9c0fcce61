//! Finding the files: the folders walked, what counts as audio, and the per-machine state
//! file that remembers each path's size, time and song (so unchanged files are not read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_storage::SongId;

use super::{FileReport, Outcome};

/// File extensions ingest looks at. Anything else in the folder (covers, playlists) is ignored
/// silently; a file with one of these names that is not decodable is reported.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "wav", "wave", "ogg", "oga", "m4a", "mp4", "aac", "alac", "aif", "aiff", "aifc",
    "caf", "mka", "webm", "opus", "wma",
];

/// Of [`AUDIO_EXTENSIONS`], the ones songrec cannot decode (no decoder in symphonia): they are
/// looked at so that each file gets a clear "not supported" line, but they are not read.
pub const UNREADABLE_EXTENSIONS: &[&str] = &["opus", "wma"];

/// The extensions songrec reads: [`AUDIO_EXTENSIONS`] less [`UNREADABLE_EXTENSIONS`].
pub fn readable_extensions() -> impl Iterator<Item = &'static str> {
    AUDIO_EXTENSIONS
        .iter()
        .copied()
        .filter(|e| !UNREADABLE_EXTENSIONS.contains(e))
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(super) struct Seen {
    pub(super) size: u64,
    pub(super) mtime_ns: u128,
    pub(super) id: SongId,
    /// SHA-256 of the file's bytes (the song's audio key), when it differs from the song id
    /// or was recorded (state files of earlier versions have none: their ids are the hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<SongId>,
}

fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Lists candidate audio files under the given paths (files are taken as given), sorted,
/// skipping hidden folders. Unreadable folders are reported as failures.
pub fn scan(roots: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileReport>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for r in roots {
        if r.is_file() {
            files.push(r.clone());
        } else if r.is_dir() {
            stack.push(r.clone());
        } else {
            errors.push(FileReport {
                path: r.clone(),
                outcome: Outcome::Failed {
                    kind: "not_found".into(),
                    reason: format!("{}: no such file or folder", r.display()),
                },
            });
        }
    }
    while let Some(dir) = stack.pop() {
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let p = e.path();
                    let hidden = e.file_name().to_string_lossy().starts_with('.');
                    match e.file_type() {
                        Ok(t) if t.is_dir() && !hidden => stack.push(p),
                        Ok(_) if p.is_file() && !hidden && is_audio_name(&p) => files.push(p),
                        _ => {}
                    }
                }
            }
            Err(err) => errors.push(FileReport {
                path: dir.clone(),
                outcome: Outcome::Failed {
                    kind: "io".into(),
                    reason: format!("{}: cannot read folder: {err}", dir.display()),
                },
            }),
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// Extensions (lower case, without the dot) of the files under `roots` that [`scan`] passes
/// over, with how many of each: what to tell a user whose folder held no audio songrec reads.
/// Hidden files and folders are skipped, as in [`scan`]; files without an extension count as "".
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("a.au"), b"x").unwrap();
/// std::fs::write(dir.path().join("b.AU"), b"x").unwrap();
/// std::fs::write(dir.path().join("c.mp3"), b"x").unwrap();
/// let seen = songrec_app::ingest::unsupported_extensions(&[dir.path().to_path_buf()]);
/// assert_eq!(seen.into_iter().collect::<Vec<_>>(), vec![("au".to_string(), 2)]);
/// ```
pub fn unsupported_extensions(roots: &[PathBuf]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    let mut count = |p: &Path| {
        if !is_audio_name(p) {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            *seen.entry(ext).or_insert(0) += 1;
        }
    };
    for r in roots {
        if r.is_dir() {
            stack.push(r.clone());
        } else if r.is_file() {
            count(r);
        }
    }
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) if e.path().is_file() => count(&e.path()),
                _ => {}
            }
        }
    }
    seen
}

pub(super) fn stat(p: &Path) -> Option<(u64, u128)> {
    songrec_fs::size_and_mtime(p)
}

/// `path` below the folder given to `ingest` that holds it (the nearest, when folders nest),
/// or its name alone for a file given by itself: what [`songrec_audio::Tags::with_path_fallback`]
/// reads artist and album folders from, so the ingested folder itself is never an artist.
pub(super) fn below_root<'a>(path: &'a Path, folders: &[PathBuf]) -> &'a Path {
    folders
        .iter()
        .filter_map(|r| path.strip_prefix(r).ok())
        .min_by_key(|p| p.components().count())
        .unwrap_or_else(|| Path::new(path.file_name().unwrap_or_default()))
}

pub(super) fn read_state(p: &Path) -> BTreeMap<PathBuf, Seen> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
            tracing::warn!("ignoring unreadable ingest state {}: {e}", p.display());
            BTreeMap::new()
        }),
        Err(_) => BTreeMap::new(),
    }
}

/// The song id of each path an ingest with this state file has seen.
pub fn load_state(path: &Path) -> BTreeMap<PathBuf, SongId> {
    read_state(path)
        .into_iter()
        .map(|(p, s)| (p, s.id))
        .collect()
}

pub(super) fn save_state(path: Option<&Path>, state: &BTreeMap<PathBuf, Seen>) {
    let Some(path) = path else { return };
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    let result = songrec_fs::write_atomic(path, |w| {
        serde_json::to_writer(&mut *w, state).map_err(std::io::Error::other)
    });
    if let Err(e) = result {
        tracing::warn!(
            "could not save ingest state (unchanged files will be re-hashed next time): {e}"
        );
    }
}

/// Records in the ingest state file that these files (path, song, audio key) hold those songs
/// as they are now (size and time), so the next ingest does not read them again.
pub fn remember(state_file: &Path, files: &[(PathBuf, SongId, SongId)]) {
    let mut state = read_state(state_file);
    for (path, id, key) in files {
        if let Some((size, mtime_ns)) = stat(path) {
            state.insert(
                path.clone(),
                Seen {
                    size,
                    mtime_ns,
                    id: id.clone(),
                    key: Some(key.clone()),
                },
            );
        }
    }
    save_state(Some(state_file), &state);
}
