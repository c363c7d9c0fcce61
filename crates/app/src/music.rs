//! This machine's own copy of the collection (`[library] music`, `sync --music DIR`): every
//! audio file below a folder, indexed by the SHA-256 of its bytes and by its audio identity, so
//! that `sync` links a song to the file here instead of downloading its audio. A state file
//! remembers each path's stamp, hash and identity: unchanged files are not read again.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_fs::Stamp;
use songrec_storage::SongId;

use crate::ingest::scan;
use crate::ingest::scan::{is_zero, save_json};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Hashed {
    size: u64,
    mtime_ns: u128,
    /// Inode change time and number (0: recorded by an earlier version; see
    /// [`songrec_fs::Stamp`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    ctime_ns: u128,
    #[serde(default, skip_serializing_if = "is_zero")]
    ino: u64,
    key: SongId,
    /// The file's audio identity (none: a stream songrec cannot demux, or a record of an
    /// earlier version, identified at the next index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    audio: Option<SongId>,
    /// Its stream could not be demuxed: not tried again while the file is unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    unidentified: bool,
}

impl Hashed {
    fn new(now: &Stamp, key: SongId, audio: Option<SongId>) -> Hashed {
        Hashed {
            size: now.size,
            mtime_ns: now.mtime_ns,
            ctime_ns: now.ctime_ns,
            ino: now.ino,
            unidentified: audio.is_none(),
            key,
            audio,
        }
    }

    /// Whether the file, stamped `now`, is the one hashed (records without an inode: size and
    /// time decide, and the record is stamped anew).
    fn matches(&self, now: &Stamp) -> bool {
        now.unchanged_since(self.size, self.mtime_ns, self.ctime_ns, self.ino)
    }
}

/// A file of the folder: where it is, the hash of its bytes and its audio identity.
#[derive(Clone, Debug, PartialEq)]
pub struct MusicFile {
    pub path: PathBuf,
    pub key: SongId,
    pub audio: Option<SongId>,
}

/// The audio files of a folder by the hash of their bytes and by their audio identity.
#[derive(Clone, Debug, Default)]
pub struct MusicFolder {
    by_key: HashMap<SongId, PathBuf>,
    by_audio: HashMap<SongId, (PathBuf, SongId)>,
    /// Files hashed now (the others were known from the state file).
    pub hashed: usize,
    /// The files hashed now: new or changed since the last index.
    pub fresh: Vec<MusicFile>,
    /// Files that could not be read, with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl MusicFolder {
    /// Indexes the audio files below `dir`, hashing those the state file at `state` does not
    /// know as they are (in parallel, `jobs` threads; 0 = one per core), and saves the state.
    /// The folders in `exclude` (songrec's own: the library's data, the cache) are not walked.
    pub fn index(dir: &Path, state: &Path, jobs: usize, exclude: &[PathBuf]) -> MusicFolder {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let (files, errors) = scan(std::slice::from_ref(&dir), exclude);
        let before: BTreeMap<PathBuf, Hashed> = std::fs::read(state)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .map(songrec_fs::keyed_by_path)
            .unwrap_or_default();
        // (path, what is known of it, whether it was hashed now)
        let look = |p: &PathBuf| -> Result<(PathBuf, Hashed, bool), (PathBuf, String)> {
            let now = songrec_fs::stamp(p)
                .ok_or_else(|| (p.clone(), "cannot read its size and time".to_owned()))?;
            let identity = |p: &Path| {
                songrec_audio::identity::identify(p)
                    .ok()
                    .map(|i| SongId::from_raw(&i.audio))
            };
            if let Some(h) = before.get(p).filter(|h| h.matches(&now)) {
                let tried = h.audio.is_some() || h.unidentified;
                let audio = if tried { h.audio.clone() } else { identity(p) };
                return Ok((p.clone(), Hashed::new(&now, h.key.clone(), audio), false));
            }
            let (key, _) = SongId::from_file(p).map_err(|e| (p.clone(), e.to_string()))?;
            Ok((p.clone(), Hashed::new(&now, key, identity(p)), true))
        };
        let threads = songrec_storage::progress::jobs_or_cores(jobs);
        let results: Vec<_> = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => pool.install(|| {
                use rayon::prelude::*;
                files.par_iter().map(look).collect()
            }),
            Err(_) => files.iter().map(look).collect(),
        };
        let mut out = MusicFolder::default();
        let mut after = BTreeMap::new();
        for r in results {
            match r {
                Ok((p, h, hashed)) => {
                    if hashed {
                        out.hashed += 1;
                        out.fresh.push(MusicFile {
                            path: p.clone(),
                            key: h.key.clone(),
                            audio: h.audio.clone(),
                        });
                    }
                    out.by_key.entry(h.key.clone()).or_insert_with(|| p.clone());
                    if let Some(audio) = &h.audio {
                        out.by_audio
                            .entry(audio.clone())
                            .or_insert_with(|| (p.clone(), h.key.clone()));
                    }
                    after.insert(p, h);
                }
                Err(e) => out.unreadable.push(e),
            }
        }
        for e in errors {
            if let crate::ingest::Outcome::Failed { reason, .. } = e.outcome {
                out.unreadable.push((e.path, reason));
            }
        }
        if let Err(e) = save_json(state, &songrec_fs::keyed_by_string(&after)) {
            tracing::warn!(
                "could not save {} (files will be hashed again): {e}",
                state.display()
            );
        }
        out
    }

    /// A file here whose bytes hash to `key`.
    pub fn find(&self, key: &SongId) -> Option<&Path> {
        self.by_key.get(key).map(PathBuf::as_path)
    }

    /// A file here holding the recording whose audio identity is `audio`, whatever its tags,
    /// with the hash of its bytes.
    pub fn find_audio(&self, audio: &SongId) -> Option<(&Path, &SongId)> {
        self.by_audio.get(audio).map(|(p, k)| (p.as_path(), k))
    }

    /// Audio files indexed.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_found_by_their_bytes_and_by_their_audio_under_other_tags() {
        let dir = tempfile::tempdir().unwrap();
        let music = dir.path().join("Music");
        std::fs::create_dir_all(&music).unwrap();
        let real = songrec_testkit::fixtures::real_recording("freedesktop", "bell.oga");
        let retagged = music.join("Bell (other tags).oga");
        songrec_testkit::audio::retagged_copy(&real, &retagged, "Bell (other tags)");
        std::fs::write(music.join("junk.mp3"), b"not audio at all").unwrap();
        let state = dir.path().join("music.json");

        let folder = MusicFolder::index(&music, &state, 1, &[]);
        assert_eq!(folder.hashed, 2);
        let (key, _) = SongId::from_file(&retagged).unwrap();
        let audio = songrec_audio::identity::identify(&real).unwrap().audio;
        let (found, own) = folder.find_audio(&SongId::from_raw(&audio)).unwrap();
        assert!(found.ends_with("Bell (other tags).oga"), "{found:?}");
        assert_eq!(*own, key, "the hash of this file's own bytes");
        assert_eq!(folder.find(&key), Some(found));
        let fresh: Vec<_> = folder.fresh.iter().map(|f| f.audio.is_some()).collect();
        assert_eq!(fresh.len(), 2);
        assert_eq!(fresh.iter().filter(|a| **a).count(), 1, "the junk has none");

        // Known files are neither hashed nor identified again, the junk included.
        let text = std::fs::read_to_string(&state).unwrap();
        assert!(text.contains("\"unidentified\":true"), "{text}");
        let again = MusicFolder::index(&music, &state, 1, &[]);
        assert_eq!((again.hashed, again.fresh.len()), (0, 0));
        assert!(again.find_audio(&SongId::from_raw(&audio)).is_some());
        assert_eq!(std::fs::read_to_string(&state).unwrap(), text);
    }
}
