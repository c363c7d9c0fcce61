//! Finding the files: the folders walked, what counts as audio, and the per-machine state
//! file that remembers each path's size, time and song (so unchanged files are not read).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_fs::Stamp;
use songrec_storage::{SongId, SongMetadata};

use super::report::{FileReport, failed};

/// File extensions ingest looks at. Anything else in the folder (covers, playlists) is ignored
/// silently; a file with one of these names that is not decodable is reported.
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "mp3", "flac", "wav", "wave", "ogg", "oga", "m4a", "mp4", "aac", "alac", "aif", "aiff", "aifc",
    "caf", "mka", "webm", "opus", "wma", "ape", "wv", "tta", "mpc", "dsf", "dff",
];

/// Of [`AUDIO_EXTENSIONS`], the formats songrec cannot decode (WMA, Monkey's Audio, WavPack,
/// True Audio, Musepack, DSD: no decoder): they are looked at so that each file gets a clear
/// "not supported" line saying what to convert to, but they are not read.
pub const UNREADABLE_EXTENSIONS: &[&str] = &["wma", "ape", "wv", "tta", "mpc", "dsf", "dff"];

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
    /// Inode change time and number when the file was read (0: a state file of an earlier
    /// version, which did not record them). See [`songrec_fs::Stamp`].
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) ctime_ns: u128,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(super) ino: u64,
    pub(super) id: SongId,
    /// SHA-256 of the file's bytes (the song's audio key), when it differs from the song id
    /// or was recorded (state files of earlier versions have none: their ids are the hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<SongId>,
}

pub(crate) fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Writes `value` as JSON to `path` atomically, its folder made first.
pub(crate) fn save_json(path: &Path, value: &impl Serialize) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    songrec_fs::write_atomic(path, |w| {
        serde_json::to_writer(w, value).map_err(std::io::Error::other)
    })
}

impl Seen {
    /// What was read of a file with this stamp.
    pub(super) fn new(now: &Stamp, id: SongId, key: Option<SongId>) -> Seen {
        Seen {
            size: now.size,
            mtime_ns: now.mtime_ns,
            ctime_ns: now.ctime_ns,
            ino: now.ino,
            id,
            key,
        }
    }

    /// Whether the file, stamped `now`, is the one read: size, time, inode and change time.
    /// (A state of an earlier version recorded no inode: size and time decide, once.)
    pub(super) fn matches(&self, now: &Stamp) -> bool {
        now.unchanged_since(self.size, self.mtime_ns, self.ctime_ns, self.ino)
    }

    /// The SHA-256 of the file's bytes (the song id in records that have none).
    pub(super) fn audio_key(&self) -> SongId {
        self.key.clone().unwrap_or_else(|| self.id.clone())
    }
}

fn is_audio_name(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Lists candidate audio files under the given paths (files are taken as given), sorted,
/// skipping hidden folders and the folders in `exclude` (the library's own, the cache).
/// Unreadable folders, and folders whose files cannot be looked at, are reported as failures.
pub fn scan(roots: &[PathBuf], exclude: &[PathBuf]) -> (Vec<PathBuf>, Vec<FileReport>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for r in roots {
        if r.is_file() {
            files.push(r.clone());
        } else if r.is_dir() {
            stack.push(r.clone());
        } else {
            let reason = format!("{}: no such file or folder", r.display());
            errors.push(failed(r, "not_found", reason));
        }
    }
    let unreadable = |dir: &Path, err: std::io::Error| {
        let why = "nothing below it was looked at (or pruned)";
        failed(
            dir,
            "io",
            format!("{}: cannot read folder: {err}; {why}", dir.display()),
        )
    };
    while let Some(dir) = stack.pop() {
        if exclude.iter().any(|x| dir.starts_with(x)) {
            continue;
        }
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) => {
                errors.push(unreadable(&dir, err));
                continue;
            }
        };
        // A folder that can be listed but not entered (mode r--) names files that cannot be
        // read: the folder is unreadable, its files are not "gone".
        let mut blocked = None;
        for e in entries {
            let e = match e {
                Ok(e) => e,
                Err(err) => {
                    blocked = Some(err);
                    continue;
                }
            };
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) if is_audio_name(&p) => match std::fs::metadata(&p) {
                    Ok(m) if m.is_file() => files.push(p),
                    Ok(_) => {}
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => blocked = Some(err),
                },
                Ok(_) => {}
                Err(err) => blocked = Some(err),
            }
        }
        if let Some(err) = blocked {
            files.retain(|f| f.parent() != Some(dir.as_path()));
            errors.push(unreadable(&dir, err));
        }
    }
    files.sort();
    files.dedup();
    (files, errors)
}

/// Extensions (lower case, without the dot) of the files under `roots` that [`scan`] passes
/// over, with how many of each: what to tell a user whose folder held no audio songrec reads.
/// Hidden files and folders are skipped, as in [`scan`]; files without an extension count as "".
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
        Ok(b) => serde_json::from_slice(&b)
            .map(songrec_fs::keyed_by_path)
            .unwrap_or_else(|e| {
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
    if let Err(e) = save_json(path, &songrec_fs::keyed_by_string(state)) {
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
        if let Some(now) = songrec_fs::stamp(path) {
            state.insert(path.clone(), Seen::new(&now, id.clone(), Some(key.clone())));
        }
    }
    save_state(Some(state_file), &state);
}

/// Songs `--prune` removed, as they were, by id: kept beside the state file so that a song whose
/// file comes back (a disk mounted again) gets its hand edits back ([`crate::edit::carry_edits`]).
pub(super) fn pruned_file(state_file: &Path) -> PathBuf {
    state_file.with_extension("pruned.json")
}

pub(super) fn read_pruned(state_file: &Path) -> BTreeMap<SongId, SongMetadata> {
    std::fs::read(pruned_file(state_file))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

pub(super) fn save_pruned(state_file: &Path, pruned: &BTreeMap<SongId, SongMetadata>) {
    let path = pruned_file(state_file);
    if let Err(e) = save_json(&path, pruned) {
        tracing::warn!(
            "could not save {} (hand edits of pruned songs may not come back with them): {e}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_unsupported_extensions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.au"), b"x").unwrap();
        std::fs::write(dir.path().join("b.AU"), b"x").unwrap();
        std::fs::write(dir.path().join("c.mp3"), b"x").unwrap();
        let seen = crate::ingest::unsupported_extensions(&[dir.path().to_path_buf()]);
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            vec![("au".to_string(), 2)]
        );
    }
}
