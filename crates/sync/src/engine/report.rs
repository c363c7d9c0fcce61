//! What a run did ([`SyncReport`], with how it read the remote), and why a run stopped
//! ([`SyncError`]).

use serde::Serialize;
use songrec_storage::{SongId, StorageError};

use crate::lease::{LeaseError, LeaseInfo};
use crate::plan::{Action, Conflict, PlanSummary, Violation};

#[cfg(doc)]
use super::options::SyncOptions;

/// Why a run listed the remote whole instead of reading its change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, strum::Display)]
#[serde(rename_all = "snake_case")]
pub enum FullReason {
    /// Asked for (`--full`).
    #[strum(to_string = "asked for (--full)")]
    Asked,
    /// The record has no feed position (first sync, a run that did not complete, or a
    /// remote without a feed).
    #[strum(to_string = "no change cursor recorded yet")]
    NoPosition,
    /// The last full reconciliation is older than [`SyncOptions::full_every`].
    #[strum(to_string = "the last full reconciliation is too old")]
    Expired,
    /// The remote does not know the cursor (no feed, another or a recreated library).
    #[strum(to_string = "the remote does not know the recorded cursor")]
    CursorUnknown,
}

/// How a run read the remote side.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum RemoteRead {
    /// Only what changed since the recorded cursor (the record stands in for the rest).
    Feed {
        /// Entries the feed returned (overlap included).
        changes: usize,
    },
    /// The whole listing (a full reconciliation).
    Full { reason: FullReason },
}

impl Default for RemoteRead {
    fn default() -> Self {
        Self::Full {
            reason: FullReason::NoPosition,
        }
    }
}

/// What a run did (or, for a dry run, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct SyncReport {
    /// The plan's counts.
    pub summary: PlanSummary,
    /// The plan's steps (dry runs only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
    pub dry_run: bool,
    /// Safety-rail refusals; when present nothing was changed.
    pub violations: Vec<Violation>,
    /// Whole songs uploaded.
    pub pushed_new: usize,
    /// Metadata changes uploaded (incl. merges written to the remote).
    pub pushed_changed: usize,
    /// Whole songs downloaded.
    pub pulled_new: usize,
    /// Songs whose audio was linked to this machine's own copy of the file (`--music`)
    /// instead of downloaded.
    pub audio_linked: usize,
    /// Metadata changes downloaded (incl. merges written here).
    pub pulled_changed: usize,
    /// Songs deleted here.
    pub deleted_local: usize,
    /// Songs deleted on the remote.
    pub deleted_remote: usize,
    /// Songs found equal on both sides (only the record advanced).
    pub recorded: usize,
    /// Conflicts, each with its resolution.
    pub conflicts: Vec<Conflict>,
    /// Songs that could not be synced this run, with the reason (the next run retries them).
    pub failed: Vec<(SongId, String)>,
    /// The lease held during the run.
    pub lease: Option<LeaseInfo>,
    /// How the remote was read (change feed or full listing).
    pub remote_read: RemoteRead,
    /// Whether the record's feed position was advanced (complete runs on a remote with a feed).
    pub cursor_advanced: bool,
    /// Saved playlists carried (or, for a dry run, to carry).
    pub playlists: crate::playlists::PlaylistReport,
}

impl SyncReport {
    /// Both sides agree (nothing refused, nothing failed).
    pub fn is_complete(&self) -> bool {
        self.violations.is_empty() && self.failed.is_empty() && self.playlists.failed.is_empty()
    }
}

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The lease is held by another machine, or was lost.
    #[error(transparent)]
    Lease(#[from] LeaseError),
    /// A storage failure that concerns the whole library (unreachable, locked, unauthorised,
    /// listing or record failures).
    #[error(transparent)]
    Storage(#[from] StorageError),
}
