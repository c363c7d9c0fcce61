//! Errors of the recording identity.

use std::path::PathBuf;

/// What can go wrong.
///
/// ```
/// let e = songrec_identity::IdentityError::Invalid("unreadable fingerprint: short".into());
/// assert_eq!(e.to_string(), "unreadable fingerprint: short");
/// ```
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    Storage(#[from] songrec_storage::StorageError),
    #[error(transparent)]
    Audio(#[from] songrec_audio::AudioError),
    /// Bad input (an unreadable record, an analysis that failed, ...).
    #[error("{0}")]
    Invalid(String),
    /// A scratch file could not be made.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl IdentityError {
    /// An I/O error on a file.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}

pub type IdentityResult<T> = Result<T, IdentityError>;
