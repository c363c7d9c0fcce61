//! The audio folder (`data/audio/`): each song's audio, named by the SHA-256 of its file's
//! bytes, kept one of two ways:
//!
//! - `<hash>.<ext>`: the library's own copy (or copy-on-write clone), verified against the hash;
//! - `<hash>.ref.json`: a reference to the user's file where it lies ([`Pointer`]: the folder
//!   it is relative to (the music folder when it lies below it, else its own folder), its path
//!   below that folder, and the size, modification time, inode number and inode change time it
//!   had when it was hashed). The user's file is only ever read.
//!
//! A reference is checked on every read: a file gone or resized is [`StorageError::Stale`]; one
//! whose stamp moved in any field (inode and change time included) is hashed again and served
//! only if it still hashes to the key. A reference resolves only below its folder, and one
//! naming a folder not in `music.json` is served only after hashing.

use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_storage::{AudioMode, PutOutcome, SongId, StorageError, StorageResult};

use crate::fsutil::{self, sync_dir};
use crate::layout::{dir_stamp, file_stamp, mkdirs, read_json, write_json};
use crate::records::MusicRecord;
use crate::state::{Inner, State};

/// Name suffix of a reference in the audio folder.
const POINTER: &str = ".ref.json";

/// A reference to a user's audio file (`data/audio/<hash>.ref.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Pointer {
    /// The folder `music` is relative to (absolute). References written before songrec
    /// recorded it are relative to the library's first recorded music folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    root: Option<String>,
    /// Path below `root` (`/`-separated; only plain names, never `..`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    music: Option<String>,
    /// Absolute path (references of earlier versions to files outside the music folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    /// Size in bytes when it was hashed.
    size: u64,
    /// Modification time (ns since the epoch) when it was hashed.
    mtime_ns: u128,
    /// Inode change time and number when it was hashed (0: written by an earlier version).
    #[serde(default, skip_serializing_if = "is_zero")]
    ctime_ns: u128,
    #[serde(default, skip_serializing_if = "is_zero")]
    ino: u64,
    /// The SHA-256 of the file's bytes when it is not the key: this machine's own copy of the
    /// same recording under other tags ([`StorageBackend::link_audio_as`]), checked against
    /// its own hash.
    ///
    /// [`StorageBackend::link_audio_as`]: songrec_storage::StorageBackend::link_audio_as
    #[serde(default, skip_serializing_if = "Option::is_none")]
    own: Option<SongId>,
}

impl Pointer {
    /// The hash the referenced file's bytes have: its own, or the key.
    fn hash<'a>(&'a self, key: &'a SongId) -> &'a SongId {
        self.own.as_ref().unwrap_or(key)
    }
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// How far a candidate file of a reference may be trusted without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trust {
    /// Below a folder the library wrote references against: its stamp decides.
    Stamp,
    /// Anywhere else (a moved music folder, a reference naming a folder the library never
    /// wrote): served only if its bytes hash to the song's key.
    Hash,
}

/// A reference's relative path, refused unless it is plain names (no `..`, no root): a reference
/// never resolves outside its folder.
fn plain_relative(rel: &str) -> StorageResult<&Path> {
    let p = Path::new(rel);
    if p.components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
    {
        Ok(p)
    } else {
        Err(StorageError::InvalidInput(format!(
            "a reference in the library names {rel:?}, which is not a plain path below its music folder; it is not followed"
        )))
    }
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

    /// The library's music folders (`music.json`), read again only when the file changed: a
    /// reference is resolved on every read of a song's audio, and `has_audio` per listed song.
    fn music_record<'a>(&self, st: &'a mut State) -> &'a MusicRecord {
        let path = self.paths.internal.join("music.json");
        let stamp = file_stamp(&path);
        if st.music.as_ref().is_none_or(|(seen, _)| *seen != stamp) {
            let record = read_json::<MusicRecord>(&path).unwrap_or_default();
            st.music = Some((stamp, record));
        }
        &st.music.get_or_insert_with(Default::default).1
    }

    /// The files a reference may stand for, in the order they are tried, with how far each is
    /// trusted: its own folder (or, for references of earlier versions, the library's first
    /// music folder), then the configured music folder (a collection moved there).
    fn reference_files(
        &self,
        st: &mut State,
        ptr: &Pointer,
    ) -> StorageResult<Vec<(PathBuf, Trust)>> {
        let record = self.music_record(st);
        let mut out = Vec::new();
        if let Some(rel) = &ptr.music {
            let rel = plain_relative(rel)?;
            let own = match &ptr.root {
                Some(r) => Some(PathBuf::from(r)),
                None => record.root.clone().or_else(|| self.opts.music.clone()),
            };
            if let Some(root) = &own {
                let trust = if record.knows(root) || Some(root) == self.opts.music.as_ref() {
                    Trust::Stamp
                } else {
                    Trust::Hash
                };
                out.push((root.join(rel), trust));
            }
            if let Some(music) = &self.opts.music
                && own.as_ref() != Some(music)
            {
                out.push((music.join(rel), Trust::Hash));
            }
            if out.is_empty() {
                return Err(StorageError::InvalidInput(format!(
                    "the library refers to {} inside a music folder it does not know: set [library] music to it",
                    rel.display()
                )));
            }
        } else if let Some(p) = &ptr.path {
            let p = PathBuf::from(p);
            let trusted = p.is_absolute()
                && !p.components().any(|c| c == std::path::Component::ParentDir)
                && (record.root.iter().chain(&record.roots))
                    .chain(&self.opts.music)
                    .any(|r| p.starts_with(r));
            out.push((p, if trusted { Trust::Stamp } else { Trust::Hash }));
        } else {
            return Err(StorageError::NotFound("reference without a path".into()));
        }
        Ok(out)
    }

    fn read_pointer(path: &Path) -> StorageResult<Pointer> {
        let bytes = fs::read(path).map_err(|e| StorageError::io(path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| StorageError::corrupt(path, e.to_string()))
    }

    /// The file holding `id`'s audio, checked, and the hash its bytes have: a copy as it is
    /// (hashing to `id`), a reference only while it is still the file that was hashed (its
    /// stamp, else its bytes hashed again; its own hash when it is this machine's copy of the
    /// recording under other tags).
    pub(crate) fn audio_source(
        &self,
        st: &mut State,
        id: &SongId,
    ) -> StorageResult<(PathBuf, SongId)> {
        let held = self
            .held(st, id)?
            .ok_or_else(|| StorageError::NotFound(format!("audio of song {}", id.short())))?;
        if !is_pointer(&held) {
            return Ok((held, id.clone()));
        }
        let ptr = Self::read_pointer(&held)?;
        let mut first = None;
        for (file, trust) in self.reference_files(st, &ptr)? {
            match check_reference(&ptr, &file, ptr.hash(id), trust) {
                Ok(()) => return Ok((file, ptr.hash(id).clone())),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or_else(|| StorageError::NotFound("reference without a path".into())))
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
        Ok(self.reference_files(st, &ptr).is_ok_and(|c| {
            c.iter()
                .any(|(f, _)| fs::metadata(f).is_ok_and(|m| m.len() == ptr.size))
        }))
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
            } else if let Ok((file, _)) = self.audio_source(st, id) {
                let bytes = fs::metadata(file).map(|m| m.len()).unwrap_or_default();
                return Ok(outcome(bytes, true, AudioMode::Reference));
            }
        }
        self.write_copy(st, id, src, AudioMode::Copy)
    }

    /// Keeps the user's file `src` as `id`'s audio the way the library is set to
    /// (`LocalOptions::audio`), replacing a copy or reference held before once the new one is
    /// in place. `own`: the hash of `src`'s bytes when they are not `id` (this machine's copy
    /// of the recording under other tags), kept only as a reference.
    pub(crate) fn link(
        &self,
        st: &mut State,
        id: &SongId,
        src: &Path,
        own: Option<&SongId>,
    ) -> StorageResult<PutOutcome> {
        let held = self.held(st, id)?;
        let own = own.filter(|o| *o != id);
        let expected = own.unwrap_or(id);
        match self.opts.audio {
            AudioMode::Reference => {
                // A reference that still holds (to this file, or to another copy of the same
                // bytes elsewhere in the collection) stays as it is.
                if let Some(p) = held.as_deref().filter(|p| is_pointer(p)) {
                    let ptr = Self::read_pointer(p)?;
                    let holds = self.reference_files(st, &ptr).is_ok_and(|c| {
                        c.first().is_some_and(|(f, trust)| {
                            *trust == Trust::Stamp && stamp_matches(&ptr, f)
                        })
                    });
                    if holds {
                        return Ok(outcome(ptr.size, true, AudioMode::Reference));
                    }
                }
                let copy_instead = |st: &mut State| match own {
                    None => self.write_copy(st, id, src, AudioMode::Copy),
                    Some(_) => Err(StorageError::Unsupported(format!(
                        "{} cannot be written into a reference, and its bytes are not the song's",
                        src.display()
                    ))),
                };
                let Some(text) = src.to_str() else {
                    // A name that is not UTF-8 cannot be written into the reference: copy.
                    return copy_instead(st);
                };
                let abs = if src.is_absolute() {
                    PathBuf::from(text)
                } else {
                    std::env::current_dir()
                        .map_err(|e| StorageError::io(src, e))?
                        .join(text)
                };
                self.refuse_own_files(&abs)?;
                let (actual, bytes) = SongId::from_file(&abs)?;
                if actual != *expected {
                    return Err(StorageError::HashMismatch {
                        id: expected.to_string(),
                        actual: actual.to_string(),
                    });
                }
                let stamp = songrec_fs::stamp(&abs)
                    .ok_or_else(|| StorageError::NotFound(abs.display().to_string()))?;
                if stamp.size != bytes {
                    return Err(StorageError::Stale {
                        path: abs,
                        detail: "changed while it was being read".into(),
                    });
                }
                // Relative to the music folder when it lies below it (as configured, or where
                // a configured link to it leads), else to its own folder.
                let below_music = self.opts.music.as_ref().and_then(|m| {
                    let real = fs::canonicalize(m).ok();
                    let rel = abs
                        .strip_prefix(m)
                        .ok()
                        .or_else(|| abs.strip_prefix(real.as_ref()?).ok())?;
                    Some((m.clone(), rel.to_path_buf()))
                });
                let (root, rel) = match below_music {
                    Some(found) => found,
                    None => {
                        let parent = abs
                            .parent()
                            .ok_or_else(|| StorageError::NotFound(abs.display().to_string()))?;
                        let name = abs.file_name().map(PathBuf::from).unwrap_or_default();
                        (parent.to_path_buf(), name)
                    }
                };
                let (Some(root_text), Some(rel)) = (root.to_str(), rel.to_str()) else {
                    return copy_instead(st);
                };
                let ptr = Pointer {
                    root: Some(root_text.to_owned()),
                    music: Some(rel.to_owned()),
                    path: None,
                    size: stamp.size,
                    mtime_ns: stamp.mtime_ns,
                    ctime_ns: stamp.ctime_ns,
                    ino: stamp.ino,
                    own: own.cloned(),
                };
                self.record_music_root(&root)?;
                mkdirs(&self.paths.audio)?;
                let dest = self.pointer_path(id);
                write_json(&dest, &ptr)?;
                // The copy goes only once the reference stands for another file with its bytes.
                if let Some(old) = held.filter(|p| !is_pointer(p))
                    && !songrec_fs::same_file(&abs, &old)
                {
                    remove_if_present(&old)?;
                    sync_dir(&self.paths.audio)?;
                }
                self.audio_index(st)?.insert(id.clone(), dest);
                Ok(outcome(bytes, false, AudioMode::Reference))
            }
            mode if own.is_some() => Err(StorageError::Unsupported(format!(
                "a library that keeps {mode} copies keeps each song's own bytes, not {}",
                src.display()
            ))),
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

    /// Records `root` as a folder references are written against (the first one recorded
    /// stays what references of earlier versions are relative to).
    fn record_music_root(&self, root: &Path) -> StorageResult<()> {
        let path = self.paths.internal.join("music.json");
        let mut recorded: MusicRecord = read_json(&path)?;
        if recorded.knows(root) {
            return Ok(());
        }
        if recorded.root.is_none() && Some(root) == self.opts.music.as_deref() {
            recorded.root = Some(root.to_path_buf());
        } else {
            recorded.roots.push(root.to_path_buf());
        }
        mkdirs(&self.paths.internal)?;
        write_json(&path, &recorded)
    }

    /// Refuses a file inside the library's own data folder as a user's file: a reference to
    /// the library's copy would stand for nothing once the copy is replaced.
    fn refuse_own_files(&self, abs: &Path) -> StorageResult<()> {
        let Some(data) = self.paths.audio.parent() else {
            return Ok(());
        };
        let canon = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if canon(abs).starts_with(canon(data)) {
            return Err(StorageError::InvalidInput(format!(
                "{} is inside the library's own folder {}: songrec keeps references only to your files, not to its own copies",
                abs.display(),
                data.display()
            )));
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

/// Whether the file still has the stamp it was hashed at: size and time, and where recorded
/// its inode and change time (which `touch -r` cannot set).
fn stamp_matches(ptr: &Pointer, file: &Path) -> bool {
    songrec_fs::stamp(file)
        .is_some_and(|now| now.unchanged_since(ptr.size, ptr.mtime_ns, ptr.ctime_ns, ptr.ino))
}

/// Checks that the referenced `file` is still the one hashed as `id` (see the module docs).
fn check_reference(ptr: &Pointer, file: &Path, id: &SongId, trust: Trust) -> StorageResult<()> {
    let stale = |detail: String| StorageError::Stale {
        path: file.to_path_buf(),
        detail,
    };
    let Some(now) = songrec_fs::stamp(file) else {
        return Err(stale(
            "the file songrec analysed is gone (moved, renamed or deleted)".into(),
        ));
    };
    if trust == Trust::Stamp && stamp_matches(ptr, file) {
        return Ok(());
    }
    if now.size != ptr.size {
        return Err(stale(format!(
            "the file changed since songrec analysed it ({} bytes then, {} now: retagged or replaced)",
            ptr.size, now.size
        )));
    }
    // Same size, another stamp (or a file the stamp cannot vouch for): only its bytes tell.
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
    let (actual, n) = songrec_fs::copy_to_new(src, &tmp, |r, w| SongId::copy_hashed(r, w))
        .map_err(|e| StorageError::io(src, e))?;
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
