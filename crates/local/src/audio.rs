//! The audio folder (`data/audio/`): each song's audio, named by the SHA-256 of its file's
//! bytes, kept one of two ways:
//!
//! - `<hash>.<ext>`: the library's own copy (or copy-on-write clone), verified against the hash;
//! - `<hash>.ref.json`: a reference to the user's file where it lies ([`Pointer`]: its path,
//!   relative to the music folder when it lies below it, and the size and modification time
//!   it had when it was hashed). The user's file is only ever read.
//!
//! A reference is checked on every read: a file that is gone, or whose size changed, is
//! [`StorageError::Stale`]; one whose size is the same but whose time moved is hashed again
//! and served only if its bytes still hash to the key. So a file retagged, replaced or moved
//! since it was analysed never yields other audio under the song's name.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_storage::{AudioMode, PutOutcome, SongId, StorageError, StorageResult};

use crate::fsutil::{self, sync_dir};
use crate::layout::{dir_stamp, mkdirs, read_json, write_json};
use crate::state::{Inner, State};

/// Name suffix of a reference in the audio folder.
const POINTER: &str = ".ref.json";

/// A reference to a user's audio file (`data/audio/<hash>.ref.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pointer {
    /// Path below the library's music folder (`/`-separated), when the file lies there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    music: Option<String>,
    /// Absolute path, when it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// Size in bytes when it was hashed.
    size: u64,
    /// Modification time (ns since the epoch) when it was hashed.
    mtime_ns: u128,
}

/// The music folder the library's references are relative to (`data/.songrec/music.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct MusicRecord {
    root: Option<PathBuf>,
}

pub(crate) fn is_pointer(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(POINTER))
}

impl Inner {
    /// Each stored song's audio file or reference, by key. A copy wins over a reference to
    /// the same audio (a conversion interrupted between writing one and removing the other).
    pub(crate) fn audio_index<'a>(
        &self,
        st: &'a mut State,
    ) -> StorageResult<&'a mut HashMap<SongId, PathBuf>> {
        let stamp = dir_stamp(&self.paths.audio);
        if st.audio.is_none() || (st.lock.is_none() && stamp != st.audio_stamp) {
            st.audio_stamp = stamp;
            let mut map: HashMap<SongId, PathBuf> = HashMap::new();
            if let Ok(entries) = fs::read_dir(&self.paths.audio) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with('.') {
                        continue;
                    }
                    let stem = name.split('.').next().unwrap_or_default();
                    if let Ok(id) = SongId::parse(stem)
                        && map.get(&id).is_none_or(|held| is_pointer(held))
                    {
                        map.insert(id, e.path());
                    }
                }
            }
            st.audio = Some(map);
        }
        st.audio
            .as_mut()
            .ok_or_else(|| StorageError::NotFound("audio index".into()))
    }

    fn held(&self, st: &mut State, id: &SongId) -> StorageResult<Option<PathBuf>> {
        Ok(self.audio_index(st)?.get(id).cloned())
    }

    /// The music folder references are relative to: the configured one (`[library] music`),
    /// else the one recorded by the last process that had one configured.
    fn music_root(&self) -> Option<PathBuf> {
        self.opts.music.clone().or_else(|| {
            read_json::<MusicRecord>(&self.paths.internal.join("music.json"))
                .ok()
                .and_then(|r| r.root)
        })
    }

    fn resolve(&self, ptr: &Pointer) -> StorageResult<PathBuf> {
        match (&ptr.music, &ptr.path) {
            (_, Some(p)) => Ok(PathBuf::from(p)),
            (Some(rel), None) => match self.music_root() {
                Some(root) => Ok(root.join(rel)),
                None => Err(StorageError::InvalidInput(format!(
                    "the library refers to {rel} inside a music folder it does not know: set [library] music to it"
                ))),
            },
            (None, None) => Err(StorageError::NotFound("reference without a path".into())),
        }
    }

    fn read_pointer(path: &Path) -> StorageResult<Pointer> {
        let bytes = fs::read(path).map_err(|e| StorageError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| StorageError::corrupt(path, e.to_string()))
    }

    /// The file holding `id`'s audio, checked: a copy as it is, a reference only while it is
    /// still the file that was hashed (size and time, else its bytes hashed again).
    pub(crate) fn audio_source(&self, st: &mut State, id: &SongId) -> StorageResult<PathBuf> {
        let held = self
            .held(st, id)?
            .ok_or_else(|| StorageError::NotFound(format!("audio of song {}", id.short())))?;
        if !is_pointer(&held) {
            return Ok(held);
        }
        let ptr = Self::read_pointer(&held)?;
        let file = self.resolve(&ptr)?;
        check_reference(&ptr, &file, id)?;
        Ok(file)
    }

    /// Whether `id`'s audio is held: a copy that exists, or a reference whose file exists with
    /// the size it was hashed at (no hashing: `has_audio` is asked per song in listings).
    pub(crate) fn holds_audio(&self, st: &mut State, id: &SongId) -> StorageResult<bool> {
        let Some(held) = self.held(st, id)? else {
            return Ok(false);
        };
        if !is_pointer(&held) {
            return Ok(held.exists());
        }
        let ptr = Self::read_pointer(&held)?;
        Ok(self
            .resolve(&ptr)
            .ok()
            .and_then(|f| fs::metadata(f).ok())
            .is_some_and(|m| m.len() == ptr.size))
    }

    /// Forgets `id`'s audio: deletes the library's copy, or the reference (never the file it
    /// refers to). `false` if none was held.
    pub(crate) fn drop_audio(&self, st: &mut State, id: &SongId) -> StorageResult<bool> {
        let Some(p) = self.audio_index(st)?.remove(id) else {
            return Ok(false);
        };
        let mut removed = remove_if_present(&p)?;
        // A copy and a reference of the same audio (an interrupted conversion): both go.
        if !is_pointer(&p) {
            removed |= remove_if_present(&self.pointer_path(id))?;
        }
        sync_dir(&self.paths.audio)?;
        Ok(removed)
    }

    fn pointer_path(&self, id: &SongId) -> PathBuf {
        self.paths.audio.join(format!("{id}{POINTER}"))
    }

    /// Stores a copy of `src` (a file songrec may not keep a reference to: a download in
    /// transit) as `id`'s audio, unless it is held already (a working reference counts).
    pub(crate) fn store_copy(
        &self,
        st: &mut State,
        id: &SongId,
        src: &Path,
    ) -> StorageResult<PutOutcome> {
        if let Some(p) = self.held(st, id)? {
            if !is_pointer(&p) {
                if let Ok(meta) = fs::metadata(&p) {
                    return Ok(PutOutcome::copy(meta.len(), true));
                }
            } else if let Ok(file) = self.audio_source(st, id) {
                let bytes = fs::metadata(file).map(|m| m.len()).unwrap_or_default();
                return Ok(outcome(bytes, true, AudioMode::Reference));
            }
        }
        self.write_copy(st, id, src, AudioMode::Copy)
    }

    /// Keeps the user's file `src` as `id`'s audio the way the library is set to
    /// (`LocalOptions::audio`), replacing a copy or reference held before once the new one is
    /// in place.
    pub(crate) fn link(
        &self,
        st: &mut State,
        id: &SongId,
        src: &Path,
    ) -> StorageResult<PutOutcome> {
        let held = self.held(st, id)?;
        match self.opts.audio {
            AudioMode::Reference => {
                // A reference that still holds (to this file, or to another copy of the same
                // bytes elsewhere in the collection) stays as it is.
                if let Some(p) = held.as_deref().filter(|p| is_pointer(p)) {
                    let ptr = Self::read_pointer(p)?;
                    if self.resolve(&ptr).is_ok_and(|f| stamp_matches(&ptr, &f)) {
                        return Ok(outcome(ptr.size, true, AudioMode::Reference));
                    }
                }
                let Some(text) = src.to_str() else {
                    // A name that is not UTF-8 cannot be written into the reference: copy.
                    return self.write_copy(st, id, src, AudioMode::Copy);
                };
                let abs = if src.is_absolute() {
                    PathBuf::from(text)
                } else {
                    std::env::current_dir()
                        .map_err(|e| StorageError::io(src, e))?
                        .join(text)
                };
                let (actual, bytes) = SongId::from_file(&abs)?;
                if actual != *id {
                    return Err(StorageError::HashMismatch {
                        id: id.to_string(),
                        actual: actual.to_string(),
                    });
                }
                let (size, mtime_ns) = songrec_fs::size_and_mtime(&abs)
                    .ok_or_else(|| StorageError::NotFound(abs.display().to_string()))?;
                if size != bytes {
                    return Err(StorageError::Stale {
                        path: abs,
                        detail: "changed while it was being read".into(),
                    });
                }
                let root = self.music_root();
                let below = root.as_ref().and_then(|r| abs.strip_prefix(r).ok());
                let ptr = Pointer {
                    music: below.and_then(|p| p.to_str()).map(str::to_owned),
                    path: below.is_none().then(|| abs.to_string_lossy().into_owned()),
                    size,
                    mtime_ns,
                };
                if below.is_some() {
                    self.record_music_root()?;
                }
                mkdirs(&self.paths.audio)?;
                let dest = self.pointer_path(id);
                write_json(&dest, &ptr)?;
                if let Some(old) = held.filter(|p| !is_pointer(p)) {
                    remove_if_present(&old)?;
                    sync_dir(&self.paths.audio)?;
                }
                self.audio_index(st)?.insert(id.clone(), dest);
                Ok(outcome(bytes, false, AudioMode::Reference))
            }
            mode => {
                if let Some(p) = held.as_deref().filter(|p| !is_pointer(p))
                    && let Ok(meta) = fs::metadata(p)
                {
                    return Ok(outcome(meta.len(), true, mode));
                }
                let out = self.write_copy(st, id, src, mode)?;
                let ptr = self.pointer_path(id);
                if remove_if_present(&ptr)? {
                    sync_dir(&self.paths.audio)?;
                }
                Ok(out)
            }
        }
    }

    /// Records the configured music folder for processes started without it.
    fn record_music_root(&self) -> StorageResult<()> {
        let Some(root) = &self.opts.music else {
            return Ok(());
        };
        let path = self.paths.internal.join("music.json");
        let recorded: MusicRecord = read_json(&path)?;
        if recorded.root.as_ref() != Some(root) {
            mkdirs(&self.paths.internal)?;
            write_json(
                &path,
                &MusicRecord {
                    root: Some(root.clone()),
                },
            )?;
        }
        Ok(())
    }

    /// A copy (`Copy`) or clone (`Reflink`, a copy where the file system cannot clone) of
    /// `src` into the audio folder, verified against `id`.
    fn write_copy(
        &self,
        st: &mut State,
        id: &SongId,
        src: &Path,
        mode: AudioMode,
    ) -> StorageResult<PutOutcome> {
        mkdirs(&self.paths.audio)?;
        let ext = src
            .extension()
            .and_then(|e| e.to_str())
            .filter(|e| {
                !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric())
            })
            .map_or_else(|| "bin".to_owned(), str::to_ascii_lowercase);
        let dest = self.paths.audio.join(format!("{id}.{ext}"));
        let (bytes, kept) = match mode {
            AudioMode::Reflink => match clone_verified(id, src, &dest)? {
                Some(n) => (n, AudioMode::Reflink),
                None => (copy_verified(id, src, &dest)?, AudioMode::Copy),
            },
            _ => (copy_verified(id, src, &dest)?, AudioMode::Copy),
        };
        self.audio_index(st)?.insert(id.clone(), dest);
        Ok(outcome(bytes, false, kept))
    }
}

fn outcome(bytes: u64, already_present: bool, kept: AudioMode) -> PutOutcome {
    PutOutcome {
        bytes,
        already_present,
        kept,
    }
}

/// Whether the file still has the size and time it was hashed at.
fn stamp_matches(ptr: &Pointer, file: &Path) -> bool {
    songrec_fs::size_and_mtime(file) == Some((ptr.size, ptr.mtime_ns))
}

/// Checks that the referenced `file` is still the one hashed as `id` (see the module docs).
fn check_reference(ptr: &Pointer, file: &Path, id: &SongId) -> StorageResult<()> {
    let stale = |detail: String| StorageError::Stale {
        path: file.to_path_buf(),
        detail,
    };
    let Some((size, _)) = songrec_fs::size_and_mtime(file) else {
        return Err(stale(
            "the file songrec analysed is gone (moved, renamed or deleted)".into(),
        ));
    };
    if stamp_matches(ptr, file) {
        return Ok(());
    }
    if size != ptr.size {
        return Err(stale(format!(
            "the file changed since songrec analysed it ({} bytes then, {size} now: retagged or replaced)",
            ptr.size
        )));
    }
    // Same size, another time: only its bytes tell.
    let (actual, _) = SongId::from_file(file)?;
    if actual != *id {
        return Err(stale(
            "the file's bytes changed since songrec analysed it (retagged or replaced)".into(),
        ));
    }
    Ok(())
}

fn remove_if_present(p: &Path) -> StorageResult<bool> {
    match fs::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StorageError::io(p, e)),
    }
}

fn copy_hashing(src: &Path, tmp: &Path) -> StorageResult<(SongId, u64)> {
    let mut input = File::open(src).map_err(|e| StorageError::io(src, e))?;
    let result = (|| -> std::io::Result<(SongId, u64)> {
        let mut out = songrec_fs::create_new(tmp)?;
        let copied = SongId::copy_hashed(&mut input, &mut out)?;
        out.sync_all()?;
        Ok(copied)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(tmp);
        StorageError::io(src, e)
    })
}

/// Moves a verified temporary file into place (rename, then the folder fsynced).
fn commit(id: &SongId, actual: SongId, tmp: &Path, dest: &Path) -> StorageResult<()> {
    if actual != *id {
        let _ = fs::remove_file(tmp);
        return Err(StorageError::HashMismatch {
            id: id.to_string(),
            actual: actual.to_string(),
        });
    }
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        StorageError::io(dest, e)
    })?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Copies `src` to `dest` atomically if its bytes hash to `id`.
pub(crate) fn copy_verified(id: &SongId, src: &Path, dest: &Path) -> StorageResult<u64> {
    let tmp = fsutil::temp_path(dest);
    let (actual, n) = copy_hashing(src, &tmp)?;
    commit(id, actual, &tmp, dest)?;
    Ok(n)
}

/// Clones `src` to `dest` (copy-on-write, sharing the blocks) if the file system can and its
/// bytes hash to `id`; `None` when the file system cannot clone (the caller copies).
fn clone_verified(id: &SongId, src: &Path, dest: &Path) -> StorageResult<Option<u64>> {
    let tmp = fsutil::temp_path(dest);
    if let Err(e) = reflink_copy::reflink(src, &tmp) {
        let _ = fs::remove_file(&tmp);
        tracing::debug!("no clone of {} ({e}); copying", src.display());
        return Ok(None);
    }
    let (actual, n) = SongId::from_file(&tmp)?;
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| StorageError::io(&tmp, e))?;
    commit(id, actual, &tmp, dest)?;
    Ok(Some(n))
}
