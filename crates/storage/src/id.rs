//! Content-derived song identifiers.

use std::fmt;
use std::io::{Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{StorageError, StorageResult};

/// Number of hex characters shown for a song id in listings.
pub const SHORT_ID_LEN: usize = 12;

/// A song's identity: the lowercase hex SHA-256 of its audio file's bytes.
///
/// The same file on two machines is the same song, and ingesting it twice is a no-op.
///
/// ```
/// use songrec_storage::SongId;
/// let id = SongId::from_bytes(b"not really audio");
/// assert_eq!(id.as_str().len(), 64);
/// assert_eq!(id.short().len(), 12);
/// assert_eq!(SongId::parse(id.as_str()).unwrap(), id);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SongId {
    // Lowercase ASCII hex; ordering and equality on it equal those of the raw bytes.
    hex: [u8; 64],
}

impl SongId {
    /// Parses a full 64-character hex id (case-insensitive).
    pub fn parse(s: &str) -> StorageResult<Self> {
        let s = s.trim();
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hex = [0u8; 64];
            hex.copy_from_slice(s.as_bytes());
            hex.make_ascii_lowercase();
            Ok(Self { hex })
        } else {
            Err(StorageError::InvalidInput(format!(
                "not a song id (expected 64 hex characters): {s:?}"
            )))
        }
    }

    /// The id of some bytes.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self::from_raw(&Sha256::digest(bytes).into())
    }

    /// Hashes a reader in 1 MiB chunks (bounded memory), returning the id and the byte count.
    pub fn from_reader(r: impl Read) -> std::io::Result<(Self, u64)> {
        Self::copy_hashed(r, std::io::sink())
    }

    /// Copies `r` into `w` in 1 MiB chunks, hashing the bytes on the way: the id of what was
    /// written and the byte count. The caller fsyncs `w` when it must be durable.
    pub fn copy_hashed(mut r: impl Read, mut w: impl Write) -> std::io::Result<(Self, u64)> {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let k = r.read(&mut buf)?;
            if k == 0 {
                break;
            }
            n += k as u64;
            h.update(&buf[..k]);
            w.write_all(&buf[..k])?;
        }
        Ok((Self::from_raw(&h.finalize().into()), n))
    }

    /// Hashes a file.
    pub fn from_file(path: &Path) -> StorageResult<(Self, u64)> {
        let f = std::fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
        Self::from_reader(std::io::BufReader::new(f)).map_err(|e| StorageError::io(path, e))
    }

    /// The full hex id.
    pub fn as_str(&self) -> &str {
        // Every constructor stores ASCII hex digits only.
        std::str::from_utf8(&self.hex).unwrap_or_default()
    }

    /// The short prefix shown to users.
    pub fn short(&self) -> &str {
        &self.as_str()[..SHORT_ID_LEN]
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(self.hex, &mut out).expect("an id holds 64 hex digits");
        out
    }

    /// Rebuilds an id from its raw 32 bytes.
    pub fn from_raw(bytes: &[u8; 32]) -> Self {
        let mut hex = [0u8; 64];
        hex::encode_to_slice(bytes, &mut hex).expect("32 bytes are 64 hex digits");
        Self { hex }
    }
}

impl TryFrom<String> for SongId {
    type Error = StorageError;
    fn try_from(s: String) -> StorageResult<Self> {
        Self::parse(&s)
    }
}

impl From<SongId> for String {
    fn from(id: SongId) -> String {
        id.as_str().to_owned()
    }
}

impl fmt::Display for SongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for SongId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SongId({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sha256() {
        let id = SongId::from_bytes(b"abc");
        assert_eq!(
            id.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(SongId::from_raw(&id.to_bytes()), id);
    }

    #[test]
    fn reader_matches_bytes() {
        let data = vec![7u8; 3 << 20];
        let (id, n) = SongId::from_reader(&data[..]).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(id, SongId::from_bytes(&data));
    }

    #[test]
    fn rejects_bad_ids() {
        assert!(SongId::parse("abc").is_err());
        assert!(SongId::parse(&"g".repeat(64)).is_err());
        let upper = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
        assert_eq!(SongId::parse(upper).unwrap().as_str(), upper.to_lowercase());
        assert!(serde_json::from_str::<SongId>("\"xyz\"").is_err());
    }
}
