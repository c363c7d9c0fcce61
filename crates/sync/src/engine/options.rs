//! The options of one run ([`SyncOptions`]), and this machine's own music it may link audio
//! to ([`LocalFiles`]).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use songrec_storage::SongId;
#[cfg(doc)]
use songrec_storage::StorageBackend;

use crate::plan::{Policy, Rails};

/// Environment variable of the test fault hook (see [`SyncOptions::abort_after_writes`]);
/// exists only with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
pub const ABORT_AFTER_ENV: &str = "SONGREC_SYNC_TEST_ABORT_AFTER";

/// Options of one run.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    pub policy: Policy,
    pub rails: Rails,
    /// Plan only: take no lease, change nothing.
    pub dry_run: bool,
    /// Songs per write batch.
    pub batch_size: usize,
    /// Songs transferred concurrently.
    pub concurrency: usize,
    /// Folder for audio in transit (created, removed at the end).
    pub scratch_dir: PathBuf,
    /// Do a full reconciliation (list both sides whole) even when the record has a valid
    /// feed position (`songrec sync --full`).
    pub full: bool,
    /// A feed position descending from a full reconciliation older than this is not used:
    /// the run reconciles fully (default 7 days).
    pub full_every: Duration,
    /// **Test fault hook**: `std::process::abort()` right after this many writes (backend
    /// writes and record commits), to test that a killed run is finished by the next one.
    /// The CLI sets it from the `SONGREC_SYNC_TEST_ABORT_AFTER` environment variable. Only
    /// with the `test-hooks` feature.
    #[cfg(any(test, feature = "test-hooks"))]
    pub abort_after_writes: Option<u64>,
    /// This machine's own copy of the music (`songrec sync --music`): audio coming to the
    /// local side is linked to the file found there instead of downloaded.
    pub local_files: Option<Arc<dyn LocalFiles>>,
}

/// Finds this machine's own copy of a song's audio (`sync --music`): a folder of the user's
/// music, indexed by the SHA-256 of each file's bytes and by its audio identity.
pub trait LocalFiles: Send + Sync + fmt::Debug {
    /// A file here whose bytes hash to `key` (the audio key of a song), if one is known. The
    /// caller links it with [`StorageBackend::link_audio`], which checks the bytes again.
    fn find(&self, key: &SongId) -> Option<PathBuf>;

    /// A file here holding the recording whose audio identity is `audio` (a song's id) under
    /// any tags, with the hash of its bytes. The caller links it with
    /// [`StorageBackend::link_audio_as`], which checks the bytes against that hash.
    fn find_audio(&self, audio: &SongId) -> Option<(PathBuf, SongId)> {
        let _ = audio;
        None
    }

    /// The files read anew since the last index of the folder (new, or changed: a retag): a
    /// song whose audio here is a downloaded copy is linked to such a file after the run, so
    /// a file that appears (or is retagged) replaces the copy by itself.
    fn fresh(&self) -> Vec<LocalFile> {
        Vec::new()
    }
}

/// A file of this machine's music folder ([`LocalFiles::fresh`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    /// The SHA-256 of its bytes.
    pub key: SongId,
    /// Its audio identity, when its stream could be read.
    pub audio: Option<SongId>,
}

impl SyncOptions {
    /// Defaults: policy `newer`, 50 % delete rail, batches of 64, 8 transfers at a time.
    pub fn new(scratch_dir: impl Into<PathBuf>) -> Self {
        Self {
            policy: Policy::default(),
            rails: Rails::default(),
            dry_run: false,
            batch_size: 64,
            concurrency: 8,
            scratch_dir: scratch_dir.into(),
            full: false,
            full_every: DEFAULT_FULL_EVERY,
            #[cfg(any(test, feature = "test-hooks"))]
            abort_after_writes: None,
            local_files: None,
        }
    }
}

/// Default of [`SyncOptions::full_every`]: a week.
pub const DEFAULT_FULL_EVERY: Duration = Duration::from_secs(7 * 24 * 3600);
