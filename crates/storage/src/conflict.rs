//! How a song changed on both sides is resolved: the sync engine's conflict policy, here in the
//! contract so that the configuration names it without depending on the sync engine.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::StorageError;

/// How a song changed on both sides is resolved.
///
/// ```
/// use songrec_storage::conflict::Policy;
/// assert_eq!("keep-both".parse::<Policy>().unwrap(), Policy::KeepBoth);
/// assert_eq!(Policy::default(), Policy::Newer);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Policy {
    /// Conflicting fields take the values of the side updated last (`updated_at`, then version).
    #[default]
    Newer,
    /// This machine's values win (and its deletions).
    Local,
    /// The remote's values win (and its deletions).
    Remote,
    /// Like `newer`, and the losing values are kept in the song's `extra.conflicts[]`.
    KeepBoth,
}

impl FromStr for Policy {
    type Err = StorageError;
    fn from_str(s: &str) -> Result<Self, StorageError> {
        match s.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "newer" | "newest" => Ok(Self::Newer),
            "local" | "here" => Ok(Self::Local),
            "remote" | "there" => Ok(Self::Remote),
            "keep-both" | "both" => Ok(Self::KeepBoth),
            _ => Err(StorageError::InvalidInput(format!(
                "unknown conflict policy {s:?}; use newer, local, remote or keep-both"
            ))),
        }
    }
}
