//! The recording's identity, on any [`songrec_storage::StorageBackend`]: which files hold one
//! recording, whatever their tags, container or encoding ([`fingerprint`], [`waveform`],
//! [`recording`]), and the library's duplicates ([`dupes`]). Only [`dupes`] touches a library.

pub mod dupes;
pub mod error;
pub mod fingerprint;
pub mod recording;
pub mod waveform;

pub use error::{IdentityError, IdentityResult};
