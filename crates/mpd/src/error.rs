//! What can go wrong talking to MPD, in words a user acts on.

use songrec_app::AppError;

#[derive(Debug, thiserror::Error)]
pub enum MpdError {
    /// The address could not be read.
    #[error("bad MPD address {spec:?}: {why}")]
    Address { spec: String, why: String },
    /// Nothing answers at the address (or it answered something that is not MPD).
    #[error("cannot reach MPD at {addr}: {why}")]
    Unreachable { addr: String, why: String },
    /// The server refused the password.
    #[error("MPD at {addr} refused the password (check the password in --mpd or MPD_HOST)")]
    WrongPassword { addr: String },
    /// MPD wants a password (or another one) for a command.
    #[error(
        "MPD at {addr} does not allow `{command}` without a password: give it as \
         PASSWORD@HOST in --mpd or MPD_HOST"
    )]
    NoPermission { addr: String, command: String },
    /// The connection dropped (MPD stopped or restarted).
    #[error("lost the connection to MPD at {addr}")]
    Closed { addr: String },
    /// MPD answered a command with an error (`ACK`).
    #[error("MPD at {addr} refused `{command}`: {message}")]
    Refused {
        addr: String,
        command: String,
        /// MPD's error code (50: no such song or file).
        code: u64,
        message: String,
    },
    /// An answer songrec could not read.
    #[error("MPD at {addr} sent an answer songrec cannot read ({detail})")]
    Protocol { addr: String, detail: String },
    /// The server broke MPD's protocol or a limit on what songrec reads (a line or an answer
    /// too long, data that is not text): the connection is dropped and not tried again.
    #[error(
        "MPD at {addr} broke MPD's protocol ({detail}); songrec stopped talking to it \
         (is it MPD?)"
    )]
    Malformed { addr: String, detail: String },
    /// An argument MPD's protocol cannot carry (a line break or a NUL byte), not sent.
    #[error("MPD's protocol cannot carry {what}: a line break or a NUL byte ends a command")]
    Unsendable { what: String },
    /// Where MPD's files are is not known.
    #[error("{0}")]
    MusicDirectory(String),
    /// The library failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl MpdError {
    /// Whether the connection is gone (a reconnection may help).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, MpdError::Closed { .. } | MpdError::Unreachable { .. })
    }

    /// Whether one command failed but the connection and the session are fine: the radio says
    /// so and goes on.
    pub fn is_passing(&self) -> bool {
        matches!(
            self,
            MpdError::Refused { .. } | MpdError::Protocol { .. } | MpdError::Unsendable { .. }
        )
    }
}

impl From<songrec_storage::StorageError> for MpdError {
    fn from(e: songrec_storage::StorageError) -> Self {
        MpdError::App(e.into())
    }
}

impl From<songrec_discover::DiscoverError> for MpdError {
    fn from(e: songrec_discover::DiscoverError) -> Self {
        MpdError::App(e.into())
    }
}

pub type MpdResult<T> = Result<T, MpdError>;
