//! The application layer's errors: [`AppError`], and [`AskError`], why a similarity ask cannot
//! be answered (re-exported as `similar::AskError`), which an `AppError` carries.

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
    Ask(#[from] AskError),
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

/// Why an ask cannot be answered (each door words these in its own terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AskError {
    /// Neither a target nor words.
    #[error("nothing to be similar to: give a song, a file or words")]
    Nothing,
    /// One song per recording folds a target's neighbours, words re-rank them: not both.
    #[error("one song per recording cannot be combined with words")]
    DistinctWithWords,
    /// Explanations compare a stored song's key, tempo and tags with each match's (a file's
    /// are not stored; words alone have none).
    #[error("explanations need a song of the library to compare with")]
    ExplainNeedsSong,
    /// Words alone compare no vectors: a choice of vectors or a threshold would be ignored.
    #[error("a choice of vectors and a threshold apply to neighbours, not to words alone")]
    VectorsWithWordsAlone,
    /// A blend mixes cosine similarities: it ranks by cosine or dot, not by l2 distance.
    #[error("a blend mixes cosine similarities; it cannot rank by l2 distance")]
    BlendNeedsCosine,
}
