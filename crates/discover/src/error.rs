//! Errors of the discovery features.

use std::path::PathBuf;

/// What can go wrong.
///
/// ```
/// let e = songrec_discover::DiscoverError::Invalid("k must be at least 1".into());
/// assert_eq!(e.to_string(), "k must be at least 1");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Storage(#[from] songrec_storage::StorageError),
    /// Telling recordings apart failed.
    #[error(transparent)]
    Identity(#[from] songrec_identity::IdentityError),
    /// Bad input (a parameter out of range, a song without a vector, ...).
    #[error("{0}")]
    Invalid(String),
    /// A file of ours (history, output) could not be read or written.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A file of ours holds something we cannot read; it was left untouched.
    #[error(
        "{} is damaged ({detail}); it was left untouched: move it aside or delete it",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    #[error("drawing failed: {0}")]
    Draw(String),
}

impl DiscoverError {
    /// An I/O error on a file.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}

pub type DiscoverResult<T> = Result<T, DiscoverError>;
