//! The shared core of a [`LocalBackend`](crate::LocalBackend): its paths and in-memory state
//! (songs, tombstones, registry, open packs), loading that state, catching up with other
//! processes' commits, and taking the write lock.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use songrec_storage::{ModelInfo, SongId, SongMetadata, StorageError, StorageResult};

use crate::fsutil::{FoldLock, LockOwner, WriteLock};
use crate::integrity::{Refused, ignore_damaged};
use crate::layout::{
    FileStamp, Paths, RegisteredModel, Registry, dir_stamp, file_stamp, mkdirs, parse_json,
    read_json, read_opt,
};
use crate::manifest::Manifest;
use crate::records::{JournalRecord, MusicRecord};
use crate::{pack, snapshot};

pub(crate) struct Inner {
    pub(crate) root: PathBuf,
    pub(crate) paths: Paths,
    pub(crate) state: Mutex<State>,
    pub(crate) opts: crate::options::LocalOptions,
    /// The derived files this process has checked completely (see [`crate::integrity`]).
    pub(crate) verified: crate::integrity::Verified,
    #[cfg(test)]
    pub(crate) faults: crate::tests::Faults,
}

#[derive(Default)]
pub(crate) struct State {
    loaded: bool,
    pub(crate) lock: Option<WriteLock>,
    pub(crate) registry: Registry,
    pub(crate) songs: crate::songs::Songs,
    pub(crate) index: pack::IdMap<usize>,
    pub(crate) tombstones: BTreeMap<SongId, u64>,
    /// Names this song list: a fresh number from [`next_generation`] whenever the list changes
    /// or is loaded again, never reused in this process (a reload does not start over), so a
    /// cache of something derived from the list (candidate rows, the approximate index's map,
    /// a listing's order) can never be taken for another list's.
    pub(crate) meta_gen: u64,
    pub(crate) journal_records: usize,
    /// Bytes of the journal replayed: the end of its last complete record, where the next
    /// record goes.
    pub(crate) journal_len: u64,
    /// The last bytes replayed (up to [`crate::journal::TAIL_CHECK`] bytes ending at
    /// `journal_len`): a reader resumes the journal only where they are still the same.
    pub(crate) journal_check: Vec<u8>,
    /// Identity of the journal file replayed (a compaction replaces the file).
    pub(crate) journal_id: Option<u64>,
    /// Replay skipped fragments of failed appends: the next writer rewrites the journal.
    pub(crate) journal_repaired: bool,
    /// Stamps of the files this state was loaded from, so a reader notices other processes' writes.
    pub(crate) seen: Seen,
    pub(crate) manifest: Manifest,
    /// The songs came from a current binary snapshot (or there is no `metadata.json`); false
    /// when `metadata.json` was parsed, so a writer writes the snapshot for the next process.
    pub(crate) snapshot_current: bool,
    pub(crate) packs: HashMap<String, PackCache>,
    /// The order of the last listing, reused by the pages that follow while no song changes.
    pub(crate) list_order: Option<crate::songs::ListOrder>,
    /// Open approximate nearest-neighbour indexes, by model file key (see [`crate::ann`]).
    pub(crate) anns: HashMap<String, crate::ann_cache::AnnCache>,
    /// Packs built in this process's memory because the index could not be written, with the
    /// stamp of the `.npy` folder they were built from.
    pub(crate) private: HashMap<String, Option<u128>>,
    pub(crate) audio: Option<HashMap<SongId, PathBuf>>,
    /// Stamp of the audio folder when `audio` was listed (a reader lists it again when it moves).
    pub(crate) audio_stamp: Option<u128>,
    /// `music.json` as last read, with its stamp (read again only when it changed).
    pub(crate) music: Option<(Option<crate::layout::FileStamp>, MusicRecord)>,
}

pub(crate) struct PackCache {
    pub(crate) pack: pack::Pack,
    /// Identity of the mapped file (a rebuild replaces the file, maybe at the same length).
    pub(crate) file: Option<u64>,
    /// The manifest's build number it was opened as (0: built in memory).
    pub(crate) build: u64,
    /// Live rows joined with metadata slots, valid for (pack length, metadata generation).
    pub(crate) rows: Option<(usize, u64, Arc<Vec<pack::CandRow>>)>,
}

/// The small index files are compared by content: file times are only as fine as the kernel's
/// clock tick, and a replaced file may get the inode of the one it replaced, so two writes in
/// one tick can leave the same size, time and inode.
#[derive(Default)]
pub(crate) struct Seen {
    metadata: Option<FileStamp>,
    tombstones: Option<FileStamp>,
    registry: Option<Vec<u8>>,
    pub(crate) manifest: Option<Vec<u8>>,
}

/// Loads a reader tries before giving up while other processes keep folding the journal (each
/// fold makes a load that overlapped it start again).
const LOAD_TRIES: usize = 64;
/// Loads tried without the fold lock (see [`Inner::load`]).
const OPTIMISTIC_LOADS: usize = 3;
/// How long a writer waits for a process that holds the write lock only for each write
/// (`songrec serve`, the radio): far longer than one of its writes takes.
const WAIT_FOR_BRIEF_HOLDER: std::time::Duration = std::time::Duration::from_secs(10);
/// How long a brief writer waits for another brief one: a player is waiting for the answer.
const WAIT_WHEN_BRIEF: std::time::Duration = std::time::Duration::from_millis(150);

/// Empties the state for a new load, keeping what is checked again on use: the mapped packs and
/// approximate indexes, the private packs, the audio listing.
fn forget_songs(st: &mut State) {
    *st = State {
        packs: std::mem::take(&mut st.packs),
        anns: std::mem::take(&mut st.anns),
        private: std::mem::take(&mut st.private),
        audio: st.audio.take(),
        audio_stamp: st.audio_stamp,
        ..State::default()
    };
}

/// A number no song list of this process had before (see [`State::meta_gen`]).
pub(crate) fn next_generation() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl State {
    pub(crate) fn get(&self, id: &SongId) -> Option<&SongMetadata> {
        self.index
            .get(&id.to_bytes())
            .and_then(|&i| self.songs.get(i))
    }

    pub(crate) fn upsert(&mut self, m: SongMetadata) {
        self.tombstones.remove(&m.id);
        match self.index.get(&m.id.to_bytes()) {
            Some(&i) => self.songs.set(i, m),
            None => {
                self.index.insert(m.id.to_bytes(), self.songs.len());
                self.songs.push(m);
            }
        }
        self.meta_gen = next_generation();
    }

    pub(crate) fn remove(&mut self, id: &SongId, version: u64) {
        if let Some(i) = self.index.remove(&id.to_bytes()) {
            self.songs.swap_remove(i);
            if i < self.songs.len() {
                self.index.insert(self.songs[i].id.to_bytes(), i);
            }
        }
        self.tombstones.insert(id.clone(), version);
        self.meta_gen = next_generation();
    }

    pub(crate) fn apply(&mut self, r: JournalRecord) {
        match r {
            JournalRecord::Put(m) => self.upsert(*m),
            JournalRecord::Delete { id, version } => self.remove(&id, version),
        }
    }

    pub(crate) fn model(&self, m: &ModelInfo) -> Option<&RegisteredModel> {
        self.registry.models.iter().find(|r| r.model.same_model(m))
    }
}

/// Parses `metadata.json`: an object keyed by song id (an entry's `id` defaults to its key).
fn parse_metadata(path: &Path) -> StorageResult<Vec<SongMetadata>> {
    let Some(bytes) = read_opt(path)? else {
        return Ok(Vec::new());
    };
    if let Ok(map) = serde_json::from_slice::<BTreeMap<String, SongMetadata>>(&bytes) {
        return Ok(map.into_values().collect());
    }
    let raw: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)
        .map_err(|e| StorageError::corrupt(path, format!("not a JSON object of songs: {e}")))?;
    raw.into_iter()
        .map(|(key, mut v)| {
            if let Some(obj) = v.as_object_mut() {
                obj.entry("id")
                    .or_insert_with(|| serde_json::Value::String(key.clone()));
                if !obj.contains_key("title") {
                    obj.insert("title".into(), serde_json::Value::String(key.clone()));
                }
            }
            serde_json::from_value(v)
                .map_err(|e| StorageError::corrupt(path, format!("entry {key:?}: {e}")))
        })
        .collect()
}

impl Inner {
    /// Locks the state. If an earlier operation panicked while holding it (a bug: that
    /// operation failed, and in the server answered 500), the state it may have left half
    /// changed is dropped, write lock included, and loaded again from the files: one failed
    /// request never fails the ones after it.
    pub(crate) fn lock_state(&self) -> StorageResult<MutexGuard<'_, State>> {
        Ok(self.state.lock().unwrap_or_else(|poisoned| {
            tracing::warn!(
                "an earlier operation on {} panicked; loading the library again",
                self.root.display()
            );
            let mut st = poisoned.into_inner();
            *st = State::default();
            self.state.clear_poison();
            st
        }))
    }

    /// Runs `f` on the current state. A reader (no write lock) first catches up with what
    /// other processes committed since it last looked.
    pub(crate) fn with_state<T>(
        &self,
        f: impl FnOnce(&mut State) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        if !st.loaded {
            self.load(&mut st)?;
        } else if st.lock.is_none() {
            self.refresh(&mut st)?;
        }
        f(&mut st)
    }

    /// Brings a reader's state up to date with other processes' commits, doing work in
    /// proportion to the changes: a few `stat`s when nothing changed, the new journal records
    /// when a writer appended, a reload after a writer folded the journal into `metadata.json`.
    fn refresh(&self, st: &mut State) -> StorageResult<()> {
        let p = &self.paths;
        let replaced = file_stamp(&p.metadata) != st.seen.metadata
            || file_stamp(&p.tombstones) != st.seen.tombstones;
        if replaced || !self.replay_journal(st, true)? {
            self.reload(st)?;
        }
        let registry = read_opt(&p.registry)?;
        if registry != st.seen.registry {
            st.registry = parse_json(&p.registry, registry.as_deref())?;
            st.seen.registry = registry;
            if st.registry.models.is_empty() {
                self.adopt_legacy_vectors(st)?;
            }
        }
        let manifest = read_opt(&p.manifest)?;
        if manifest != st.seen.manifest {
            st.manifest = Manifest::parse(&p.manifest, manifest.as_deref());
            st.seen.manifest = manifest;
        }
        Ok(())
    }

    /// Loads the state afresh, keeping the mapped packs (checked against the manifest on use).
    fn reload(&self, st: &mut State) -> StorageResult<()> {
        #[cfg(test)]
        self.faults
            .reloads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        forget_songs(st);
        self.load(st)
    }

    /// Takes the write lock, waiting for a holder that takes it only for each write (up to
    /// [`WAIT_FOR_BRIEF_HOLDER`], or [`WAIT_WHEN_BRIEF`] in a process that is itself brief:
    /// it answers a player and keeps what it could not write for later).
    pub(crate) fn write_lock(&self) -> StorageResult<WriteLock> {
        let brief = self.opts.hold == crate::options::LockHold::PerWrite;
        let wait = if brief {
            WAIT_WHEN_BRIEF
        } else {
            WAIT_FOR_BRIEF_HOLDER
        };
        WriteLock::acquire(&self.root, &self.paths.lock, &self.lock_owner(), wait)
    }

    /// Takes the write lock only if it is free now: for work a reader does when it may (a
    /// derived file written for the next process), never worth waiting for.
    pub(crate) fn try_write_lock(&self) -> StorageResult<WriteLock> {
        let now = std::time::Duration::ZERO;
        WriteLock::acquire(&self.root, &self.paths.lock, &self.lock_owner(), now)
    }

    fn lock_owner(&self) -> LockOwner {
        LockOwner {
            what: self.opts.holder.clone(),
            brief: self.opts.hold == crate::options::LockHold::PerWrite,
        }
    }

    /// Runs `f` as the writer: takes the write lock unless this process holds it, bringing
    /// the state up to date first so writes never build on a stale view. With
    /// [`LockHold::Session`](crate::options::LockHold::Session) the lock is kept until the backend is
    /// dropped; with [`LockHold::PerWrite`](crate::options::LockHold::PerWrite) it is released as
    /// soon as `f` returns, and the process is a reader again.
    pub(crate) fn with_writable<T>(
        &self,
        f: impl FnOnce(&mut State) -> StorageResult<T>,
    ) -> StorageResult<T> {
        let mut st = self.lock_state()?;
        let taken_now = st.lock.is_none();
        if taken_now {
            mkdirs(&self.paths.internal)?;
            let lock = self.write_lock()?;
            if st.loaded && self.opts.hold == crate::options::LockHold::PerWrite {
                // Catching up costs what changed since this process last looked; a brief
                // writer writes often, and a full load per write would cost the library.
                if let Err(e) = self.refresh(&mut st) {
                    *st = State::default();
                    return Err(e);
                }
            } else {
                let listed = st.audio_stamp;
                let keep_audio = st
                    .audio
                    .take()
                    .filter(|_| listed.is_some() && listed == dir_stamp(&self.paths.audio));
                *st = State::default();
                st.audio = keep_audio;
                self.load(&mut st)?;
            }
            st.lock = Some(lock);
            for d in [&self.paths.audio, &self.paths.embeddings, &self.paths.index] {
                mkdirs(d)?;
            }
            self.repair_journal(&mut st)?;
            if !st.snapshot_current {
                // `metadata.json` was parsed whole (written by another tool, or by a version
                // without the mapped snapshot): fold now, so later processes map the snapshot.
                self.compact(&mut st)?;
                st.snapshot_current = true;
            }
        }
        let out = f(&mut st);
        if taken_now && self.opts.hold == crate::options::LockHold::PerWrite {
            st.lock = None;
        }
        out
    }

    /// Loads the state: `metadata.json` (or its snapshot) and `tombstones.json`, then the
    /// journal over them, as one committed state.
    ///
    /// A fold writes `metadata.json` and `tombstones.json` first and empties the journal last,
    /// while a load reads them in the same order: a load that read the old `metadata.json` and
    /// then the emptied journal would miss every record since the previous fold. Their stamps
    /// are taken before they are read; unchanged once the journal has been read, the journal
    /// read belongs with them (a fold replaces `metadata.json` before the journal, and a
    /// replaced file never keeps its inode), else the load is done again. Two `stat`s a load;
    /// a writer that folds takes the fold lock, which a reader overtaken three times holds.
    fn load(&self, st: &mut State) -> StorageResult<()> {
        // After a few loads overtaken by folds, the next ones hold the fold lock shared: the
        // writer's next fold waits for this load, so a reader is never starved by a busy
        // writer (a library whose writer never made the lock file just tries again).
        let mut _shared = None;
        for attempt in 0..LOAD_TRIES {
            if attempt == OPTIMISTIC_LOADS {
                _shared = FoldLock::shared(&self.paths.fold_lock);
            }
            self.load_once(st)?;
            let p = &self.paths;
            if file_stamp(&p.metadata) == st.seen.metadata
                && file_stamp(&p.tombstones) == st.seen.tombstones
            {
                return Ok(());
            }
            tracing::debug!(
                "{} was folded while being read: reading it again",
                p.metadata.display()
            );
            forget_songs(st);
        }
        // Busy, not broken: the server answers 503 with Retry-After, a command says to retry.
        Err(StorageError::Unavailable {
            backend: "local".into(),
            message: format!(
                "{} was rewritten by other processes {LOAD_TRIES} times while this one read it; \
                 try again",
                self.paths.metadata.display()
            ),
            transient: true,
        })
    }

    fn load_once(&self, st: &mut State) -> StorageResult<()> {
        let p = &self.paths;
        // Stamps are taken before the files are read: a change in between is seen next time.
        st.seen = Seen {
            metadata: file_stamp(&p.metadata),
            tombstones: file_stamp(&p.tombstones),
            registry: read_opt(&p.registry)?,
            manifest: read_opt(&p.manifest)?,
        };
        st.registry = parse_json(&p.registry, st.seen.registry.as_deref())?;
        // The snapshot is mapped and its songs decoded when read; without a current one the
        // JSON is parsed whole (and a writer writes the snapshot, see `with_writable`).
        let view = songrec_fs::size_and_mtime(&p.metadata).and_then(|stamp| {
            match snapshot::View::open_recorded(&p.snapshot, stamp, &self.verified) {
                Ok(view) => Some(view),
                Err(Refused::Stale) => None,
                Err(Refused::Damaged(why)) => {
                    let instead = "reading metadata.json instead; the next write rewrites it";
                    ignore_damaged("metadata snapshot", &p.snapshot, &why, instead);
                    None
                }
            }
        });
        let from_snapshot = view.and_then(crate::songs::Songs::from_view);
        let from_view = from_snapshot.is_some();
        st.snapshot_current = from_view || !p.metadata.exists();
        st.songs = match from_snapshot {
            Some(songs) => songs,
            None => parse_metadata(&p.metadata)?.into_iter().collect(),
        };
        st.index.reserve(st.songs.len());
        let ids: Vec<[u8; 32]> = if from_view {
            st.songs.view_ids().collect()
        } else {
            st.songs.iter().map(|m| m.id.to_bytes()).collect()
        };
        st.index
            .extend(ids.into_iter().enumerate().map(|(i, id)| (id, i)));
        st.tombstones = read_json(&p.tombstones)?;
        st.manifest = Manifest::parse(&p.manifest, st.seen.manifest.as_deref());
        self.replay_journal(st, false)?;
        if st.registry.models.is_empty() {
            self.adopt_legacy_vectors(st)?;
        }
        st.meta_gen = next_generation();
        st.loaded = true;
        Ok(())
    }
}
