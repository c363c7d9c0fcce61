//! songrec's application layer, between the thin CLI (and server) and the library crates: one
//! module per command or shared concern (each says what it does). It names no concrete backend:
//! it works on any [`songrec_storage::StorageBackend`] the composition root, `songrec-factory`,
//! builds.

pub mod edit;
pub mod embedders;
pub mod eval;
pub mod explain;
pub mod extra;
pub mod filters;
pub mod ingest;
pub mod marks;
pub mod migrate;
pub mod music;
pub mod musickey;
pub mod previews;
pub mod reembed;
pub mod relink;
pub mod resolve;
pub mod similar;
pub mod stats;
pub mod views;
pub mod words;

/// Errors of the application layer.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Storage(#[from] songrec_storage::StorageError),
    /// Decoding or analysing audio failed.
    #[error(transparent)]
    Audio(#[from] songrec_audio::AudioError),
    /// The neural embedder could not start (runtime library, model file).
    #[error(transparent)]
    Neural(#[from] songrec_neural::NeuralError),
    /// The user's words did not name exactly one song.
    #[error("{0}")]
    Resolve(String),
    /// Bad input from the user.
    #[error("{0}")]
    Invalid(String),
    /// `--model NAME@VERSION` names vectors the library does not hold (the message lists those
    /// it holds).
    #[error("{0}")]
    UnknownModel(String),
    /// A similarity ask that names no answer (each door words it in its own terms).
    #[error(transparent)]
    Ask(#[from] similar::AskError),
}

pub type AppResult<T> = Result<T, AppError>;

impl From<songrec_discover::DiscoverError> for AppError {
    fn from(e: songrec_discover::DiscoverError) -> Self {
        use songrec_discover::DiscoverError as D;
        match e {
            D::Storage(e) | D::Identity(songrec_identity::IdentityError::Storage(e)) => {
                AppError::Storage(e)
            }
            D::Identity(songrec_identity::IdentityError::Audio(e)) => AppError::Audio(e),
            other => AppError::Invalid(other.to_string()),
        }
    }
}
