//! The error type every backend returns.

use std::path::{Path, PathBuf};

pub type StorageResult<T> = Result<T, StorageError>;

/// What went wrong in a storage operation.
///
/// Messages name the file or song involved and, where there is one, what to do.
/// They never contain credentials: backends redact secrets before building an error.
///
/// ```
/// use songrec_storage::StorageError;
/// let e = StorageError::NotFound("song 0123abcd".into());
/// assert!(!e.is_transient());
/// assert_eq!(e.to_string(), "not found: song 0123abcd");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The song, embedding or blob does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The caller passed something unusable (bad id, bad filter, k too large...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A vector's dimension does not match its model's.
    #[error(
        "embedding dimension mismatch for model {model}: the library holds {expected}-d vectors, got {got}-d"
    )]
    DimensionMismatch {
        /// Model key (`name@version`).
        model: String,
        /// Dimension already stored for the model.
        expected: usize,
        /// Dimension offered.
        got: usize,
    },
    /// Stored data could not be parsed; nothing was overwritten.
    #[error(
        "corrupt data in {}: {detail} (the file was left untouched; restore it from a backup or move it aside)",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    /// A file-system operation failed.
    #[error("I/O error on {}: {error}", path.display())]
    Io {
        path: PathBuf,
        /// The OS error (part of the message, so not repeated as a `source`).
        error: std::io::Error,
    },
    /// Another process holds the library's write lock.
    #[error(
        "the library at {} is locked by another songrec process ({holder}); {}, or delete {} if no songrec is running",
        library.display(), lock_advice(.brief), lock_file.display()
    )]
    Locked {
        library: PathBuf,
        lock_file: PathBuf,
        /// Who holds it, as written in the lock file.
        holder: String,
        /// The holder takes the lock only for each write (a `songrec serve`, the radio), so
        /// the lock is free again in moments; otherwise it holds it until it finishes.
        brief: bool,
    },
    /// Downloaded or copied bytes do not hash to the song's id.
    #[error("content hash mismatch for song {id}: the stored bytes hash to {actual}")]
    HashMismatch {
        /// Expected id (the content hash).
        id: String,
        /// What the bytes hashed to.
        actual: String,
    },
    /// A versioned write lost a race (compare-and-set failed).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Credentials were rejected.
    #[error("authentication failed: {0}")]
    Unauthorized(String),
    /// The backend could not be reached or answered with a server-side failure.
    #[error("{backend} unavailable: {message}")]
    Unavailable {
        backend: String,
        message: String,
        /// Whether trying again later may help.
        transient: bool,
    },
    /// Any other backend-specific failure.
    #[error("{backend} error: {message}")]
    Backend {
        backend: String,
        message: String,
        /// Whether trying again may help.
        transient: bool,
    },
    /// A file the library refers to (the user's own audio, kept in place) is no longer the
    /// file that was analysed: moved, deleted, retagged or replaced since.
    #[error(
        "{}: {detail}; run `songrec ingest` on its folder to follow the change",
        path.display()
    )]
    Stale {
        path: PathBuf,
        /// What changed (gone, other size, other bytes).
        detail: String,
    },
    /// The operation is not supported by this backend.
    #[error("not supported by this backend: {0}")]
    Unsupported(String),
    /// A song over one of the portable limits; nothing was written.
    #[error(transparent)]
    SongLimit(#[from] SongLimitExceeded),
}

/// A song over one of the limits every backend keeps so that songs can move between them
/// (see `SongMetadata::check_portable`). Backends refuse such a song before writing
/// anything and report it as [`StorageError::SongLimit`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "song {song}: {field} has {actual} {what}, more than the {limit} the cloud backend accepts (so no backend stores it); nothing was written"
)]
pub struct SongLimitExceeded {
    pub song: String,
    /// The field: `tags`, `extra`, `metadata`, or the name of a free-form field.
    pub field: String,
    /// What is counted.
    pub what: &'static str,
    pub limit: usize,
    /// What the song has.
    pub actual: usize,
}

impl StorageError {
    /// Builds an [`StorageError::Io`] for a path.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            error: source,
        }
    }

    /// Builds a [`StorageError::Corrupt`].
    pub fn corrupt(path: impl AsRef<Path>, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            path: path.as_ref().to_path_buf(),
            detail: detail.into(),
        }
    }

    /// Builds a [`StorageError::Backend`] that trying again will not mend.
    pub fn backend(backend: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Backend {
            backend: backend.into(),
            message: message.into(),
            transient: false,
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unavailable { transient, .. } | Self::Backend { transient, .. } => *transient,
            Self::Io { error, .. } => matches!(
                error.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// Whether the backend itself is unreachable (used by read fallbacks and circuit breakers).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// Whether this error ends a run over many songs, being about the library and not the
    /// song: refused credentials, a locked library, a backend down for good.
    ///
    /// ```
    /// use songrec_storage::StorageError;
    /// let unavailable = |transient| StorageError::Unavailable {
    ///     backend: "x".into(), message: "m".into(), transient };
    /// assert!(StorageError::Unauthorized("no".into()).is_fatal());
    /// assert!(unavailable(false).is_fatal(), "an open circuit");
    /// assert!(!unavailable(true).is_fatal());
    /// assert!(!StorageError::NotFound("x".into()).is_fatal());
    /// ```
    pub fn is_fatal(&self) -> bool {
        matches!(self, Self::Unauthorized(_) | Self::Locked { .. })
            || (self.is_unavailable() && !self.is_transient())
    }

    /// A compare-and-set that found song `id` (a [`SongId`](crate::SongId), taken by its
    /// printed form so the errors stand below the types they name) at another version than
    /// `expected` (`None`: not stored).
    pub fn version_conflict(
        id: &impl std::fmt::Display,
        expected: u64,
        found: Option<u64>,
    ) -> Self {
        Self::Conflict(match found {
            Some(v) => format!("song {id} is at version {v}, not {expected}: it changed meanwhile"),
            None => format!("song {id} is not in the library (expected version {expected})"),
        })
    }

    /// The gist for one-line warnings: an unavailable or backend error's message up to its
    /// first parenthesised detail; other errors in full.
    ///
    /// ```
    /// use songrec_storage::StorageError;
    /// let e = StorageError::Unavailable {
    ///     backend: "astra".into(),
    ///     message: "listing songs: the database is unreachable (connection refused; check the endpoint)".into(),
    ///     transient: true,
    /// };
    /// assert_eq!(e.brief(), "listing songs: the database is unreachable");
    /// ```
    pub fn brief(&self) -> String {
        match self {
            Self::Unavailable { message, .. } | Self::Backend { message, .. } => message
                .split(" (")
                .next()
                .unwrap_or(message)
                .trim_end_matches([';', ',', ' '])
                .to_owned(),
            e => e.to_string(),
        }
    }
}

/// What to do about a held write lock, by how the holder holds it.
fn lock_advice(brief: &bool) -> &'static str {
    if *brief {
        "it takes the lock only for moments: try again"
    } else {
        "wait for it to finish"
    }
}
