//! What ingest reports: each file's [`Outcome`] in a [`FileReport`], the run's
//! [`IngestSummary`], and the [`Progress`] that is handed each report as it finishes.

use std::path::{Path, PathBuf};

use serde::Serialize;
use songrec_storage::SongId;

/// What happened to one file.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// Analysed and stored.
    Added {
        id: SongId,
        /// Display name.
        title: String,
        /// Things the user should know about the file that did not stop it from being added,
        /// e.g. `truncated: decoded 12.0 s` for a file that ends before its header says.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        warnings: Vec<String>,
    },
    /// Same size and modification time as when last ingested.
    Unchanged,
    /// The content is already in the library (maybe from another path or machine).
    AlreadyInLibrary { id: SongId },
    /// The file of a song in the library, at a new path (moved or renamed): the song now
    /// refers to it; nothing was recomputed.
    Moved {
        id: SongId,
        /// Where it was.
        from: PathBuf,
    },
    /// A song's audio under other tags (or another container around the same stream): its
    /// metadata was updated from the file, its vectors kept.
    Retagged {
        id: SongId,
        /// Display name after the update.
        title: String,
    },
    /// A file the library knew that is gone, and whose song turned up nowhere else (the path
    /// is where it was). Kept in the library: `prune` removes it.
    Missing {
        id: SongId,
        /// Display name.
        title: String,
    },
    /// A missing file's song removed from the library (`prune`; the file was already gone).
    Removed {
        id: SongId,
        /// Display name.
        title: String,
    },
    /// The file of a song deleted from the library (`songrec delete`, `dupes --delete`), as it
    /// was when the song was deleted: kept out, so that a deletion sticks (`ingest --readd`
    /// brings it back).
    Deleted { id: SongId },
    /// Not ingested.
    Failed {
        /// Short stable reason kind (`unsupported_codec`, `corrupt`, `empty`, `storage`...).
        kind: String,
        /// What went wrong and what to do.
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct IngestSummary {
    /// Every candidate file, in completion order.
    pub files: Vec<FileReport>,
    /// Seconds of wall time.
    pub elapsed_secs: f64,
    /// Seconds of audio in the files analysed (long files are analysed in excerpts, so this
    /// is the music's length, not the seconds decoded).
    pub audio_secs: f64,
    /// The run was stopped ([`Progress::stopped`]) before every file was read: the files in
    /// hand were finished and stored, the rest was not started (a rerun continues).
    #[serde(default)]
    pub interrupted: bool,
    /// Files kept as copies inside the library (`[library] audio = "copy"`, or `reflink` where
    /// the file system cannot clone).
    #[serde(default)]
    pub copies: usize,
}

impl IngestSummary {
    pub(super) fn report(&mut self, progress: &Progress, r: FileReport) {
        progress.finished(&r);
        self.files.push(r);
    }
    pub(super) fn report_outcome(&mut self, progress: &Progress, path: PathBuf, outcome: Outcome) {
        self.report(progress, FileReport { path, outcome });
    }
    /// Files whose outcome passes `f`, e.g. `|o| matches!(o, Outcome::Moved { .. })`.
    pub fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.files.iter().filter(|r| f(&r.outcome)).count()
    }
    pub fn added(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Added { .. }))
    }
    /// Files skipped as unchanged or already present.
    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Unchanged | Outcome::AlreadyInLibrary { .. }))
    }
    pub fn failed(&self) -> Vec<&FileReport> {
        self.files
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Failed { .. }))
            .collect()
    }
}

/// Ingest's progress: each file's report as it finishes (the CLI draws a bar with it).
pub type Progress = dyn songrec_storage::Progress<FileReport>;
pub use songrec_storage::NoProgress;

pub(super) fn failed(path: &Path, kind: &str, reason: impl Into<String>) -> FileReport {
    FileReport {
        path: path.to_path_buf(),
        outcome: Outcome::Failed {
            kind: kind.into(),
            reason: reason.into(),
        },
    }
}
