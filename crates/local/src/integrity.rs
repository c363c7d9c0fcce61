//! Full-content checksums of the derived files, checked once per file before the file is trusted.
//!
//! Every derived file a search reads carries a CRC-32C of all its bytes: the packs and the
//! approximate indexes in the index manifest, the live-row table and the metadata snapshot in
//! their own headers. It catches bit rot, torn copies and stray writes, not an adversary.
//!
//! A file is checked in full once per file state for every process: checks are recorded in
//! `index/verified.json` under the file's state (device, inode, length, modification and
//! status-change times), which any write changes. A writer records what it wrote; after
//! another's append only the new bytes are read. A file that fails is ignored with one warning
//! and rebuilt. `songrec reindex --verify` checks every file whatever the record says.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

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
        (0, crate::fsutil::file_id(m))
    }
}

/// Device, inode, length and modification time (ns): a file that no process changes in place.
type FileKey = (u64, u64, u64, u128);

/// Device, inode and build of a pack.
type PackKey = (u64, u64, u64);

/// The name of the shared record in the index folder (see the module docs).
pub(crate) const RECORD_FILE: &str = "verified.json";

/// What any write to a file changes: device, inode, length, modification and status-change
/// times, as text.
pub(crate) fn file_state(m: &fs::Metadata) -> String {
    let (dev, ino) = dev_ino(m);
    #[cfg(unix)]
    let changed = {
        use std::os::unix::fs::MetadataExt;
        i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec())
    };
    #[cfg(not(unix))]
    let changed = 0i128;
    let modified = songrec_fs::mtime_nanos(m).unwrap_or(0);
    format!("{dev}:{ino}:{}:{modified}:{changed}", m.len())
}

/// The shared record: index file name → what was checked of it.
#[derive(Default, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    files: BTreeMap<String, Checked>,
}

/// The shared record at `path`; `None` when it cannot be read.
fn read_record(path: &Path) -> Option<Record> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// One file's entry in the shared record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Checked {
    /// [`file_state`] when it was checked.
    state: String,
    /// The pack's build (0 for other files).
    build: u64,
    /// Bytes checked from the start.
    len: u64,
    /// Their CRC-32C.
    crc: u32,
}

/// What this process has checked, and what every process recorded (see the module docs).
#[derive(Default)]
pub(crate) struct Verified {
    /// (device, inode, build) of a pack → (length checked, CRC of that prefix).
    packs: Mutex<HashMap<PackKey, (usize, u32)>>,
    /// Whole files checked (approximate indexes) → their CRC.
    files: Mutex<HashMap<FileKey, u32>>,
    /// The shared record's path (none: this process's memory only).
    record: Option<PathBuf>,
}

impl Verified {
    /// A record shared through `index_dir`'s [`RECORD_FILE`].
    pub(crate) fn shared(index_dir: &Path) -> Self {
        Self {
            record: Some(index_dir.join(RECORD_FILE)),
            ..Self::default()
        }
    }

    /// The shared record's entry for `path` if the file is still in the state it was checked
    /// in. An unreadable record is no record.
    fn recorded(&self, path: &Path, meta: &fs::Metadata) -> Option<Checked> {
        let name = path.file_name()?.to_str()?;
        let mut r = read_record(self.record.as_ref()?)?;
        r.files.remove(name).filter(|c| c.state == file_state(meta))
    }

    /// Records that `path`, in the state `meta` describes, was checked (best effort: an entry
    /// lost to a read-only library or a concurrent recorder is only checked again).
    fn record(&self, path: &Path, meta: &fs::Metadata, build: u64, len: usize, crc: u32) {
        let (Some(record), Some(name)) = (
            self.record.as_ref(),
            path.file_name().and_then(|n| n.to_str()),
        ) else {
            return;
        };
        let mut r = read_record(record).unwrap_or_default();
        let entry = Checked {
            state: file_state(meta),
            build,
            len: len as u64,
            crc,
        };
        if r.files.get(name) == Some(&entry) {
            return;
        }
        r.files.insert(name.to_owned(), entry);
        // Entries of files that are gone (an older build's pack, a replaced index) go too.
        let dir = record.parent().unwrap_or(Path::new("."));
        r.files.retain(|n, _| dir.join(n).exists());
        let written = crate::fsutil::write_atomic_nosync_dir(record, |w| {
            serde_json::to_writer(&mut *w, &r).map_err(std::io::Error::other)
        });
        if let Err(e) = written {
            tracing::debug!("not recording the check of {}: {e}", path.display());
        }
    }

    /// The longest checked prefix of the pack at `path` (build `build`) no longer than
    /// `committed`: checked by this process, or recorded for the file as it is now.
    pub(crate) fn pack_prefix(
        &self,
        path: &Path,
        meta: &fs::Metadata,
        build: u64,
        committed: usize,
    ) -> Option<(usize, u32)> {
        let (dev, ino) = dev_ino(meta);
        let mine = self
            .packs
            .lock()
            .ok()
            .and_then(|packs| packs.get(&(dev, ino, build)).copied())
            .filter(|(len, _)| *len <= committed);
        mine.or_else(|| {
            self.recorded(path, meta)
                .filter(|c| c.build == build && c.len <= committed as u64)
                .map(|c| (c.len as usize, c.crc))
        })
    }

    /// Records that the first `len` bytes of the pack at `path` (build `build`) have CRC `crc`:
    /// in this process, and in the shared record unless it already said so.
    pub(crate) fn note_pack(&self, path: &Path, build: u64, len: usize, crc: u32) {
        let Ok(meta) = fs::metadata(path) else {
            return;
        };
        let (dev, ino) = dev_ino(&meta);
        if let Ok(mut packs) = self.packs.lock() {
            packs.insert((dev, ino, build), (len, crc));
        }
        self.record(path, &meta, build, len, crc);
    }

    /// Checks the whole file at `path` against `expect`, and its structure with `structure`,
    /// once per file state (see the module docs). Writers that wrote the file call
    /// [`Verified::note_file`] instead.
    pub(crate) fn check_file(
        &self,
        path: &Path,
        expect: u32,
        structure: impl FnOnce() -> StorageResult<()>,
    ) -> StorageResult<()> {
        let meta = fs::metadata(path).map_err(|e| StorageError::io(path, e))?;
        if self.trusts(path, &meta, expect) {
            return Ok(());
        }
        let got = file_crc(path)?;
        if got != expect {
            return Err(mismatch(path, got, expect));
        }
        structure()?;
        self.note(path, &meta, expect);
        Ok(())
    }

    /// Whether the whole file at `path`, in the state `meta` describes, was found to have
    /// CRC-32C `crc` by this process, or by any process in this state.
    pub(crate) fn trusts(&self, path: &Path, meta: &fs::Metadata, crc: u32) -> bool {
        let mine = self
            .files
            .lock()
            .is_ok_and(|f| f.get(&file_key(meta)) == Some(&crc));
        mine || self
            .recorded(path, meta)
            .is_some_and(|c| c.crc == crc && c.len == meta.len())
            && {
                self.remember(meta, crc);
                true
            }
    }

    /// Records that the whole file at `path`, in the state `meta` describes, has CRC-32C
    /// `crc` and is sound.
    pub(crate) fn note(&self, path: &Path, meta: &fs::Metadata, crc: u32) {
        self.remember(meta, crc);
        self.record(path, meta, 0, meta.len() as usize, crc);
    }

    fn remember(&self, meta: &fs::Metadata, crc: u32) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(file_key(meta), crc);
        }
    }

    /// Records a file this process wrote whole with CRC `crc` as checked.
    pub(crate) fn note_file(&self, path: &Path, crc: u32) {
        if let Ok(meta) = fs::metadata(path) {
            self.note(path, &meta, crc);
        }
    }
}

fn file_key(meta: &fs::Metadata) -> FileKey {
    let (dev, ino) = dev_ino(meta);
    (
        dev,
        ino,
        meta.len(),
        songrec_fs::mtime_nanos(meta).unwrap_or(0),
    )
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

    /// The checksum the field holds (`None` for bytes that end before it does).
    pub(crate) fn stored(self, bytes: &[u8]) -> Option<u32> {
        bytes
            .get(self.at..self.at + 4)?
            .try_into()
            .ok()
            .map(u32::from_le_bytes)
    }

    /// Checks the field against the content. The zero bytes after the checksum are the only
    /// ones it does not cover: they must be zero.
    pub(crate) fn check(self, bytes: &[u8]) -> Result<(), &'static str> {
        let field = bytes.get(self.at..self.at + 8).ok_or("cut short")?;
        if field[4..] != [0; 4] || self.stored(bytes) != Some(self.of(bytes)) {
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

/// Bytes this process has read to check checksums ([`file_crc`], packs), for the tests and
/// the benchmarks that measure what a search pays for checking.
static CHECKED_BYTES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// See [`CHECKED_BYTES`].
#[cfg(test)]
pub fn checked_bytes() -> u64 {
    CHECKED_BYTES.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn count_checked(n: usize) {
    CHECKED_BYTES.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
}

/// Bytes read at a time for a checksum: small enough to stay in the CPU's cache between the
/// copy out of the page cache and the CRC.
pub(crate) const CRC_CHUNK: usize = 256 * 1024;

/// CRC-32C of a file's bytes (read, not mapped: a file cut short meanwhile is an error, never
/// a signal).
pub fn file_crc(path: &Path) -> StorageResult<u32> {
    use std::io::Read;
    let mut file = fs::File::open(path).map_err(|e| StorageError::io(path, e))?;
    let mut buf = vec![0u8; CRC_CHUNK];
    let mut crc = 0u32;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(crc),
            Ok(n) => {
                count_checked(n);
                crc = crc32c::crc32c_append(crc, &buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StorageError::io(path, e)),
        }
    }
}

/// Warns once per file and damage that the damaged `what` at `path` is ignored, and what is
/// done `instead`.
pub(crate) fn ignore_damaged(what: &str, path: &Path, why: &str, instead: &str) {
    let path = path.display();
    warn_once(&format!("{path}:{why}"), || {
        format!("ignoring the damaged {what} {path} ({why}): {instead} (now: `songrec reindex`)")
    });
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
