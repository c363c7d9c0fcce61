//! What the listener did with a song (a play, a skip, a star), kept in the library's listening
//! history ([`songrec_storage::listening`]) for every door: the Subsonic server's `scrobble`
//! and `star`, the radio's plays and skips.
//!
//! Promises:
//! - **No change lost to a concurrent writer.** Each mark reads the song afresh and writes it
//!   back only over the version it read ([`StorageBackend::put_metadata_if`]); on a conflict it
//!   reads again. An edit, a sync or another player writing the same song meanwhile costs no
//!   count, and 40 concurrent plays of one song are 40.
//! - **A player is answered at once.** While another process holds the library's write lock
//!   for long (an ingest, a sync), a mark is not refused: it is kept in this process's pending
//!   file (written atomically) and applied when the lock frees ([`Marks::apply_pending`]: at
//!   the next mark, or by the caller's timer), even after a restart.
//! - **Counted per machine.** Plays and skips go to this machine's own entry, so syncs in any
//!   order add them up exactly ([`songrec_storage::listening`]).

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use songrec_storage::listening::{self, Heard};
use songrec_storage::{SongId, SongMetadata, StorageBackend, StorageError};

use crate::{AppError, AppResult};

/// Read-change-write rounds before a mark gives up: each lost round means another writer
/// changed the song in between, which takes far fewer rounds than this even under a flood.
const MAX_ROUNDS: usize = 64;

/// One thing the listener did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mark", rename_all = "snake_case")]
pub enum Mark {
    /// Heard to the end (or long enough), at this time.
    Played { at: DateTime<Utc> },
    /// Left early, at this time.
    Skipped { at: DateTime<Utc> },
    /// Starred at this time.
    Starred { at: DateTime<Utc> },
    /// The star taken away.
    Unstarred,
}

/// What became of a mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// Written to the library.
    Applied,
    /// Nothing to write (a star on a starred song).
    Unchanged,
    /// The library is locked by another process for now: kept in the pending file, written
    /// when the lock frees.
    Queued,
}

/// A mark waiting in the pending file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Waiting {
    id: SongId,
    #[serde(flatten)]
    mark: Mark,
}

/// Records marks for one process (see the module's promises).
pub struct Marks {
    backend: std::sync::Arc<dyn StorageBackend>,
    machine: String,
    pending: Option<PathBuf>,
    /// One mark at a time in this process: the pending file has one writer, and a flood of
    /// marks on one song does not spin on conflicts with itself.
    gate: tokio::sync::Mutex<()>,
}

impl Marks {
    /// Marks written to `backend` under this machine's id `machine` (a stable id of this
    /// machine's library, the one `sync` uses). `pending`: where marks wait while the library
    /// is locked (`None`: a locked library fails the mark).
    pub fn new(
        backend: std::sync::Arc<dyn StorageBackend>,
        machine: impl Into<String>,
        pending: Option<PathBuf>,
    ) -> Self {
        Self {
            backend,
            machine: machine.into(),
            pending,
            gate: tokio::sync::Mutex::new(()),
        }
    }

    /// This machine's id, as plays are counted under it.
    pub fn machine(&self) -> &str {
        &self.machine
    }

    /// Keeps `mark` of song `id`: written now, or queued while another process holds the
    /// library's write lock. Marks queued earlier are written first, in order.
    pub async fn keep(&self, id: &SongId, mark: Mark) -> AppResult<Kept> {
        let _one = self.gate.lock().await;
        let queued = self.read_pending()?;
        if !queued.is_empty() && self.apply_queue(queued.clone()).await? < queued.len() {
            // Still locked: this one waits behind them.
            return self.queue(id, mark).map(|()| Kept::Queued);
        }
        match self.apply(id, mark).await {
            Err(AppError::Storage(StorageError::Locked { .. })) if self.pending.is_some() => {
                self.queue(id, mark).map(|()| Kept::Queued)
            }
            other => other,
        }
    }

    /// Writes the marks waiting in the pending file, as far as the lock allows; returns how
    /// many were written. Call it at start and now and then (the server and the radio do it
    /// on a timer), so marks queued behind a long ingest land without a new play.
    pub async fn apply_pending(&self) -> AppResult<usize> {
        let _one = self.gate.lock().await;
        let queued = self.read_pending()?;
        if queued.is_empty() {
            return Ok(0);
        }
        self.apply_queue(queued).await
    }

    /// Applies the pending marks now and then every `every` while the process runs (a task
    /// on the current tokio runtime): marks queued behind another process's long write land
    /// soon after it ends, without waiting for the next play.
    pub fn keep_applying(self: std::sync::Arc<Self>, every: std::time::Duration) {
        if self.pending.is_none() {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.apply_pending().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!("{n} kept plays or stars written to the library"),
                    Err(e) => tracing::debug!("kept plays and stars not written yet: {e}"),
                }
            }
        });
    }

    /// How many marks wait in the pending file.
    pub fn pending(&self) -> AppResult<usize> {
        Ok(self.read_pending()?.len())
    }

    /// Applies `queued` in order until the library is locked, rewrites the file with the rest
    /// and returns how many were written. A mark of a song no longer in the library is dropped
    /// (said at debug level): there is nothing left to count it on.
    async fn apply_queue(&self, queued: Vec<Waiting>) -> AppResult<usize> {
        let mut done = 0;
        for w in &queued {
            match self.apply(&w.id, w.mark).await {
                Ok(_) => done += 1,
                Err(AppError::Storage(StorageError::Locked { .. })) => break,
                Err(AppError::Storage(StorageError::NotFound(_))) => {
                    tracing::debug!("a queued mark of song {} dropped: it was deleted", w.id);
                    done += 1;
                }
                Err(e) => {
                    self.write_pending(&queued[done..])?;
                    return Err(e);
                }
            }
        }
        self.write_pending(&queued[done..])?;
        Ok(done)
    }

    async fn apply(&self, id: &SongId, mark: Mark) -> AppResult<Kept> {
        keep_now(self.backend.as_ref(), id, mark, &self.machine).await
    }

    fn queue(&self, id: &SongId, mark: Mark) -> AppResult<()> {
        let mut queued = self.read_pending()?;
        queued.push(Waiting {
            id: id.clone(),
            mark,
        });
        self.write_pending(&queued)?;
        tracing::info!(
            "the library is being written by another songrec process: the {} of song {id} is kept and written when it is done",
            mark.noun()
        );
        Ok(())
    }

    fn read_pending(&self) -> AppResult<Vec<Waiting>> {
        let Some(path) = &self.pending else {
            return Ok(Vec::new());
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                StorageError::corrupt(path, format!("not a list of pending marks: {e}")).into()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(StorageError::io(path, e).into()),
        }
    }

    /// Replaces the pending file atomically (removes it when nothing waits).
    fn write_pending(&self, queued: &[Waiting]) -> AppResult<()> {
        let Some(path) = &self.pending else {
            return Ok(());
        };
        if queued.is_empty() {
            return match std::fs::remove_file(path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(StorageError::io(path, e).into())
                }
                _ => Ok(()),
            };
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
        }
        let json = serde_json::to_vec(queued)
            .map_err(|e| StorageError::corrupt(path, format!("pending marks: {e}")))?;
        songrec_fs::write_atomic(path, |w| w.write_all(&json))
            .map_err(|e| StorageError::io(path, e).into())
    }
}

impl std::fmt::Debug for Marks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Marks")
            .field("machine", &self.machine)
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

/// Keeps `mark` of song `id` now, as counted on `machine`: reads the song, applies the mark and
/// writes it over the version read, again on a conflict (no queue: a locked library is an
/// error). [`Marks::keep`] adds the queue.
pub async fn keep_now(
    backend: &dyn StorageBackend,
    id: &SongId,
    mark: Mark,
    machine: &str,
) -> AppResult<Kept> {
    for _ in 0..MAX_ROUNDS {
        let Some(mut m) = backend.get_metadata(id).await? else {
            return Err(StorageError::NotFound(format!("song {id}")).into());
        };
        let was = m.version;
        if !change(&mut m, mark, machine) {
            return Ok(Kept::Unchanged);
        }
        match backend.put_metadata_if(&m, was).await {
            Ok(()) => return Ok(Kept::Applied),
            Err(StorageError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(StorageError::Conflict(format!(
        "song {id} kept changing while its play or star was written ({MAX_ROUNDS} tries); try again"
    ))
    .into())
}

impl Mark {
    /// A play now.
    pub fn played_now() -> Self {
        Mark::Played { at: Utc::now() }
    }

    /// A skip now.
    pub fn skipped_now() -> Self {
        Mark::Skipped { at: Utc::now() }
    }

    /// The mark in a sentence ("play", "skip", "star").
    pub fn noun(self) -> &'static str {
        match self {
            Mark::Played { .. } => "play",
            Mark::Skipped { .. } => "skip",
            Mark::Starred { .. } => "star",
            Mark::Unstarred => "unstar",
        }
    }
}

/// Applies `mark` to `m` as counted on `machine`; whether anything changed.
pub fn change(m: &mut SongMetadata, mark: Mark, machine: &str) -> bool {
    match mark {
        Mark::Played { at } => listening::record(m, Heard::Played, at, machine),
        Mark::Skipped { at } => listening::record(m, Heard::Skipped, at, machine),
        Mark::Starred { at } => return listening::star(m, Some(at)),
        Mark::Unstarred => return listening::star(m, None),
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::listening::Listening;
    use std::sync::Arc;

    /// A library holding one song.
    async fn one_song() -> (Arc<dyn StorageBackend>, SongMetadata) {
        let backend: Arc<dyn StorageBackend> =
            Arc::new(songrec_conformance::MemoryBackend::default());
        let m = SongMetadata::new(SongId::from_bytes(b"marked"), "Marked");
        backend.put_metadata(&m).await.unwrap();
        (backend, m)
    }

    /// Mark `n` of a flood, kept by one of two recorders in turn: two processes' worth of
    /// marks on one library.
    fn keep_in_turn(
        recorders: &[Arc<Marks>; 2],
        n: usize,
        id: &SongId,
        mark: Mark,
    ) -> tokio::task::JoinHandle<AppResult<Kept>> {
        let (r, id) = (recorders[n % 2].clone(), id.clone());
        tokio::spawn(async move { r.keep(&id, mark).await })
    }

    /// Two recorders on `backend`, counting under these machine ids.
    fn recorders(backend: &Arc<dyn StorageBackend>, machines: [&str; 2]) -> [Arc<Marks>; 2] {
        machines.map(|machine| Arc::new(Marks::new(backend.clone(), machine, None)))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forty_concurrent_plays_of_one_song_are_forty() {
        let (backend, m) = one_song().await;
        let two = recorders(&backend, ["a", "a"]);
        let tasks: Vec<_> = (0..40)
            .map(|n| keep_in_turn(&two, n, &m.id, Mark::Played { at: Utc::now() }))
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Kept::Applied);
        }
        let got = backend.get_metadata(&m.id).await.unwrap().unwrap();
        assert_eq!(Listening::of(&got).plays, 40);
    }

    /// Plays, skips and a star of one song from two recorders at once, with title edits
    /// written over the same song meanwhile: every mark lands and so does the last edit, since
    /// each write goes over the version it read.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn plays_skips_stars_and_edits_at_once_all_land() {
        let (backend, m) = one_song().await;
        let two = recorders(&backend, ["a", "b"]);
        let marks: Vec<_> = (0..48)
            .map(|n| {
                let at = Utc::now();
                let mark = match n % 3 {
                    0 => Mark::Played { at },
                    1 => Mark::Skipped { at },
                    _ if n == 2 => Mark::Starred { at },
                    _ => Mark::Played { at },
                };
                keep_in_turn(&two, n, &m.id, mark)
            })
            .collect();
        let edits: Vec<_> = (0..8)
            .map(|n| {
                let (backend, id) = (backend.clone(), m.id.clone());
                tokio::spawn(async move {
                    let edit = crate::edit::Edit {
                        title: Some(format!("Marked, edit {n}")),
                        ..Default::default()
                    };
                    let m = backend.get_metadata(&id).await.unwrap().unwrap();
                    crate::edit::store(backend.as_ref(), &m, &edit).await
                })
            })
            .collect();
        for t in marks {
            assert_eq!(t.await.unwrap().unwrap(), Kept::Applied);
        }
        for t in edits {
            t.await.unwrap().unwrap();
        }
        let got = backend.get_metadata(&m.id).await.unwrap().unwrap();
        let heard = Listening::of(&got);
        // n % 3 == 0: 16 plays; n % 3 == 2: one star (n == 2) and 15 plays; n % 3 == 1: 16 skips.
        assert_eq!((heard.plays, heard.skips), (31, 16), "{heard:?}");
        assert!(heard.starred.is_some(), "{heard:?}");
        assert!(got.title.starts_with("Marked, edit "), "{}", got.title);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_star_twice_is_unchanged_and_a_deleted_song_is_not_found() {
        let (backend, m) = one_song().await;
        let r = Marks::new(backend.clone(), "a", None);
        let at = Utc::now();
        assert_eq!(
            r.keep(&m.id, Mark::Starred { at }).await.unwrap(),
            Kept::Applied
        );
        assert_eq!(
            r.keep(&m.id, Mark::Starred { at }).await.unwrap(),
            Kept::Unchanged
        );
        let gone = SongId::from_bytes(b"never stored");
        let err = r.keep(&gone, Mark::Unstarred).await.unwrap_err();
        assert!(
            matches!(err, AppError::Storage(StorageError::NotFound(_))),
            "{err}"
        );
    }
}
