//! Full-content checksums of the derived files, checked once per file before the file is
//! trusted.
//!
//! Every derived file a search reads carries a CRC-32C (Castagnoli) of all its bytes: the vector
//! packs and the approximate indexes in the index manifest (their entries' `crc32c`), the live-row
//! table and the metadata snapshot in their own headers. CRC-32C runs on the CPU's CRC
//! instruction (SSE 4.2, ARMv8), about 10 GB/s per core; measured with
//! `cargo run --release -p songrec-local --features internals --example checksum_cost`. It
//! catches every burst of damage up to 32 bits and any other with probability 1 − 2⁻³²: it
//! catches bit rot, torn copies and stray writes, not an adversary.
//!
//! A pack is checked the first time a process maps it (per device, inode and build), and after
//! a writer appended to it only the new bytes are read: the CRC of a prefix extends to the CRC
//! of the longer prefix. An approximate index is checked the first time a process maps it (per
//! device, inode, length and modification time). A file that fails is ignored with one warning
//! naming it and `songrec reindex`, and rebuilt from the library's own data.

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Mutex;

use songrec_storage::{StorageError, StorageResult};

/// Why a derived file was not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Not the file wanted (another build, another stamp, an older format): ignored silently.
    Stale,
    /// The file it claims to be, damaged (checksum or structure): ignored with a warning.
    Damaged(String),
}

/// Device and inode of a file (0 for the device where there is none).
pub(crate) fn dev_ino(m: &fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    }
    #[cfg(not(unix))]
    {
        (0, crate::layout::file_id(m))
    }
}

/// Device, inode, length and modification time (ns): a file that no process changes in place.
type FileKey = (u64, u64, u64, u128);

/// Device, inode and build of a pack.
type PackKey = (u64, u64, u64);

/// What this process has checked (see the module docs).
#[derive(Default)]
pub(crate) struct Verified {
    /// (device, inode, build) of a pack → (length checked, CRC of that prefix).
    packs: Mutex<HashMap<PackKey, (usize, u32)>>,
    /// Whole files checked (approximate indexes) → their CRC.
    files: Mutex<HashMap<FileKey, u32>>,
}

impl Verified {
    /// The longest checked prefix of this pack file no longer than `committed`.
    pub(crate) fn pack_prefix(
        &self,
        key: (u64, u64, u64),
        committed: usize,
    ) -> Option<(usize, u32)> {
        let packs = self.packs.lock().ok()?;
        packs
            .get(&key)
            .copied()
            .filter(|(len, _)| *len <= committed)
    }

    /// Records that the first `len` bytes of the pack have CRC `crc`.
    pub(crate) fn note_pack(&self, key: PackKey, len: usize, crc: u32) {
        if let Ok(mut packs) = self.packs.lock() {
            packs.insert(key, (len, crc));
        }
    }

    /// Checks the whole file at `path` against `expect`, once per file identity.
    pub(crate) fn check_file(&self, path: &Path, expect: u32) -> StorageResult<()> {
        let meta = fs::metadata(path).map_err(|e| StorageError::io(path, e))?;
        let (dev, ino) = dev_ino(&meta);
        let key = (
            dev,
            ino,
            meta.len(),
            songrec_fs::mtime_nanos(&meta).unwrap_or(0),
        );
        if self
            .files
            .lock()
            .is_ok_and(|f| f.get(&key) == Some(&expect))
        {
            return Ok(());
        }
        let got = file_crc(path)?;
        if got != expect {
            return Err(mismatch(path, got, expect));
        }
        if let Ok(mut files) = self.files.lock() {
            files.insert(key, got);
        }
        Ok(())
    }
}

/// A file whose header holds its own checksum: at byte `at`, a CRC-32C (u32) of every byte of
/// the file but the checksum's 8-byte field, then 4 zero bytes (the live-row table, the
/// metadata snapshot).
#[derive(Clone, Copy)]
pub(crate) struct HeaderCrc {
    pub(crate) at: usize,
}

impl HeaderCrc {
    /// CRC-32C of `bytes` without the checksum field.
    fn of(self, bytes: &[u8]) -> u32 {
        let crc = crc32c::crc32c(bytes.get(..self.at).unwrap_or(bytes));
        crc32c::crc32c_append(crc, bytes.get(self.at + 8..).unwrap_or(&[]))
    }

    /// Writes the checksum of `bytes` into its field. Does nothing to bytes that end before
    /// the field does.
    pub(crate) fn seal(self, bytes: &mut [u8]) {
        if bytes.len() >= self.at + 8 {
            let c = self.of(bytes);
            bytes[self.at..self.at + 4].copy_from_slice(&c.to_le_bytes());
            bytes[self.at + 4..self.at + 8].fill(0);
        }
    }

    /// Checks the field against the content. The zero bytes after the checksum are the only
    /// ones it does not cover: they must be zero.
    pub(crate) fn check(self, bytes: &[u8]) -> Result<(), &'static str> {
        let field = bytes.get(self.at..self.at + 8).ok_or("cut short")?;
        let stored = u32::from_le_bytes([field[0], field[1], field[2], field[3]]);
        if field[4..] != [0; 4] || self.of(bytes) != stored {
            return Err("its checksum does not match its content");
        }
        Ok(())
    }
}

/// The error of a file whose content does not match its recorded checksum.
pub(crate) fn mismatch(path: &Path, got: u32, expect: u32) -> StorageError {
    StorageError::corrupt(
        path,
        format!(
            "its content does not match the checksum the index manifest recorded \
             (CRC-32C {got:08x}, recorded {expect:08x})"
        ),
    )
}

/// CRC-32C of a file's bytes (read, not mapped: a file cut short meanwhile is an error, never
/// a signal).
pub fn file_crc(path: &Path) -> StorageResult<u32> {
    use std::io::Read;
    let mut file = fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
    let mut buf = vec![0u8; crate::pack::CRC_CHUNK];
    let mut crc = 0u32;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(crc),
            Ok(n) => crc = crc32c::crc32c_append(crc, &buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StorageError::io(path, e)),
        }
    }
}

/// Logs `message` as a warning the first time this process sees `key`, at debug level after.
pub(crate) fn warn_once(key: &str, message: impl FnOnce() -> String) {
    static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let first = SEEN.lock().is_ok_and(|mut seen| {
        let new = !seen.iter().any(|s| s == key);
        if new {
            seen.push(key.to_owned());
        }
        new
    });
    if first {
        tracing::warn!("{}", message());
    } else {
        tracing::debug!("{}", message());
    }
}
