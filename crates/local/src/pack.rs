//! The packed, memory-mapped vector file derived from a model's `.npy` files.
//!
//! Searching must not re-read thousands of small files per query, so each model's vectors are
//! also kept in one append-only file of fixed-size records, mapped into memory:
//!
//! ```text
//! header (64 B): b"SRPACK01", dim: u32 LE, zero: u32, build: u64 LE, zero padding
//! record:        id: [u8; 32], norm: f32 LE, live: u32 LE (1 = vector, 0 = deletion), dim × f32 LE
//! ```
//!
//! A later record for the same id supersedes earlier ones. Only the first `committed_len` bytes
//! (recorded in the index manifest after the append was fsynced) are trusted; a crash mid-append
//! leaves garbage that is ignored and overwritten. The `.npy` files stay the source of truth.
//!
//! The header names the build (the manifest's number for this file): a pack of another build is
//! refused and rebuilt, and the live-row table ([`crate::rows`]) is trusted only for its build.
//! Build-0 packs (older) are scanned until a writer stamps the build into their header padding.
//! The manifest records a CRC-32C of the committed bytes (the build field read as zero), extended
//! by each append and checked before a process first trusts the pack ([`crate::integrity`]).

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use songrec_storage::{SongId, StorageError, StorageResult, math};

#[cfg(target_endian = "big")]
compile_error!(
    "the vector pack is little-endian and read in place; big-endian targets are not supported"
);

const MAGIC: &[u8; 8] = b"SRPACK01";
pub(crate) const HEADER: usize = 64;
const REC_HEAD: usize = 40;
/// Where the header holds the build.
const BUILD_AT: usize = 16;

/// Bytes per record for a dimension.
pub fn record_size(dim: usize) -> usize {
    REC_HEAD + 4 * dim
}

/// Hashes song ids (SHA-256, so already uniform) by their first 8 bytes: cheaper than SipHash.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A map keyed by raw song ids.
pub(crate) type IdMap<V> =
    std::collections::HashMap<[u8; 32], V, std::hash::BuildHasherDefault<IdHasher>>;

/// One live vector in a pack.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// Byte offset of the record.
    pub(crate) offset: usize,
    /// Raw id bytes.
    pub(crate) id: [u8; 32],
    pub(crate) norm: f32,
}

#[cfg(any(test, feature = "internals"))]
impl Row {
    /// Byte offset of the record in the pack.
    pub fn offset(&self) -> usize {
        self.offset
    }
}

#[derive(Clone, Copy)]
pub(crate) struct CandRow {
    pub(crate) row: Row,
    pub(crate) slot: u32,
}

/// A mapped pack file.
#[derive(Debug)]
pub struct Pack {
    pub(crate) path: PathBuf,
    pub(crate) dim: usize,
    pub(crate) committed: usize,
    map: Option<Mmap>,
    /// The manifest's build number of this file (0: unknown, no row table is used).
    pub(crate) build: u64,
    /// The build named in the file's header (0: written before headers named one).
    pub(crate) header_build: u64,
    /// CRC-32C of the committed bytes (see the module docs), once computed or checked.
    crc: Option<u32>,
    /// The file mapped (`None`: built in memory), read for the checksum.
    file: Option<File>,
}

impl Pack {
    /// Writes a fresh pack from scratch (atomically) and returns its committed length and
    /// checksum. `build` is the manifest's number for the new file, recorded in its header.
    pub(crate) fn build(
        path: &Path,
        dim: usize,
        build: u64,
        rows: impl IntoIterator<Item = (SongId, Vec<f32>)>,
    ) -> StorageResult<(usize, u32)> {
        let mut len = HEADER;
        let mut crc = crc32c::crc32c(&header(dim, 0));
        crate::fsutil::write_atomic(path, |w| {
            w.write_all(&header(dim, build))?;
            for (id, v) in rows {
                let r = record(&id, Some(&v), dim);
                crc = crc32c::crc32c_append(crc, &r);
                w.write_all(&r)?;
                len += record_size(dim);
            }
            Ok(())
        })?;
        Ok((len, crc))
    }

    /// Builds a pack in anonymous memory, for a process that may not write the library's index
    /// (`path` names it in messages only).
    pub(crate) fn build_in_memory(
        path: &Path,
        dim: usize,
        rows: &[(SongId, Vec<f32>)],
    ) -> StorageResult<Self> {
        let io = |e| StorageError::io(path, e);
        let len = record_size(dim)
            .checked_mul(rows.len())
            .and_then(|n| n.checked_add(HEADER))
            .ok_or_else(|| {
                StorageError::InvalidInput(format!("too many rows for {}", path.display()))
            })?;
        let mut map = memmap2::MmapMut::map_anon(len).map_err(io)?;
        map[..HEADER].copy_from_slice(&header(dim, 0));
        let mut off = HEADER;
        for (id, v) in rows {
            check_dim(Some(v.as_slice()), dim)?;
            map[off..off + record_size(dim)].copy_from_slice(&record(id, Some(v), dim));
            off += record_size(dim);
        }
        Ok(Self {
            path: path.to_path_buf(),
            dim,
            committed: len,
            map: Some(map.make_read_only().map_err(io)?),
            build: 0,
            header_build: 0,
            crc: None,
            file: None,
        })
    }

    /// Opens a pack, trusting `committed` bytes. Errors if the file is shorter or malformed.
    pub fn open(path: &Path, dim: usize, committed: usize) -> StorageResult<Self> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let actual = file
            .metadata()
            .map_err(|e| StorageError::io(path, e))?
            .len() as usize;
        if committed < HEADER
            || actual < committed
            || !(committed - HEADER).is_multiple_of(record_size(dim))
        {
            return Err(StorageError::corrupt(
                path,
                format!("pack length {actual} does not match the index ({committed})"),
            ));
        }
        // SAFETY: the file is only ever written past `committed` (under the library's write
        // lock) or replaced by rename, never truncated: bytes below `committed` never change.
        let map = unsafe { memmap2::MmapOptions::new().map(&file) }
            .map_err(|e| StorageError::io(path, e))?;
        if &map[..8] != MAGIC
            || u32::from_le_bytes([map[8], map[9], map[10], map[11]]) as usize != dim
        {
            return Err(StorageError::corrupt(path, "bad pack header"));
        }
        let header_build = map[BUILD_AT..BUILD_AT + 8].try_into().unwrap_or_default();
        Ok(Self {
            path: path.to_path_buf(),
            dim,
            committed,
            map: Some(map),
            build: 0,
            header_build: u64::from_le_bytes(header_build),
            crc: None,
            file: Some(file),
        })
    }

    /// Names the build of this file (the manifest's), so its live-row table can be used.
    /// Refuses a file whose header names another build: it is not the file the manifest
    /// describes (an interrupted rebuild, or damage).
    pub fn with_build(mut self, build: u64) -> StorageResult<Self> {
        if self.header_build != 0 && self.header_build != build {
            return Err(StorageError::corrupt(
                &self.path,
                format!(
                    "pack build {:016x}, the index manifest names {build:016x} (an interrupted \
                     rebuild?)",
                    self.header_build
                ),
            ));
        }
        self.build = build;
        Ok(self)
    }

    /// Committed length in bytes.
    pub(crate) fn committed(&self) -> usize {
        self.committed
    }

    /// The build its header names (0: written before headers named one).
    pub fn header_build(&self) -> u64 {
        self.header_build
    }

    /// The checksum of the committed bytes if computed or checked.
    pub(crate) fn known_crc(&self) -> Option<u32> {
        self.crc
    }

    /// The checksum of the committed bytes, computed now if not known (a pack of a manifest
    /// written before checksums were recorded is trusted as it is, as it was then).
    pub fn content_crc(&mut self) -> StorageResult<u32> {
        let c = self.crc.map_or_else(|| self.crc_from(0, 0), Ok)?;
        self.crc = Some(c);
        Ok(c)
    }

    /// Checks the committed bytes against the manifest's checksum `expect`. `known`: a prefix
    /// of this same file already checked (its length and checksum), so only the bytes past it
    /// are read. Returns the error naming the file on a mismatch.
    pub fn verify(&mut self, expect: u32, known: Option<(usize, u32)>) -> StorageResult<()> {
        let (from, crc) = known
            .filter(|(len, _)| *len <= self.committed)
            .unwrap_or((0, 0));
        let got = self.crc_from(from, crc)?;
        if got != expect {
            return Err(crate::integrity::mismatch(&self.path, got, expect));
        }
        self.crc = Some(got);
        Ok(())
    }

    /// Extends `crc` (of the first `from` bytes) over the committed bytes past `from`, reading
    /// the header's build field as zero. Read with `read`, not through the map, so the check
    /// neither makes the whole pack resident nor raises SIGBUS on a file cut short.
    fn crc_from(&self, from: usize, mut crc: u32) -> StorageResult<u32> {
        use std::io::Read;
        let Some(mut file) = self.file.as_ref() else {
            // Built in memory by this process: nothing to check against.
            return Ok(crc32c::crc32c_append(crc, &self.bytes()[from..]));
        };
        let io = |e| StorageError::io(&self.path, e);
        file.seek(SeekFrom::Start(from as u64)).map_err(io)?;
        let mut buf = vec![0u8; (self.committed - from).min(crate::integrity::CRC_CHUNK)];
        let mut at = from;
        while at < self.committed {
            let n = (self.committed - at).min(buf.len());
            let chunk = &mut buf[..n];
            file.read_exact(chunk).map_err(io)?;
            // The build field, where this chunk overlaps it.
            let (lo, hi) = (BUILD_AT.max(at), (BUILD_AT + 8).min(at + n));
            if lo < hi {
                chunk[lo - at..hi - at].fill(0);
            }
            crc = crc32c::crc32c_append(crc, chunk);
            crate::integrity::count_checked(n);
            at += n;
        }
        Ok(crc)
    }

    /// Appends records (a `None` vector records a deletion) at the committed length, fsyncs,
    /// and remaps. The caller holds the write lock and records the new length in the manifest.
    /// Never truncates: another process may have the file mapped (SIGBUS past its end).
    pub(crate) fn append(&mut self, records: &[(SongId, Option<&[f32]>)]) -> StorageResult<usize> {
        if records.is_empty() {
            return Ok(self.committed);
        }
        // The checksum of what is committed now, which the appended bytes extend.
        self.content_crc()?;
        let path = self.path.clone();
        let io = |e| StorageError::io(&path, e);
        let mut f = self.write_at(self.committed as u64).map_err(io)?;
        let mut buf = Vec::with_capacity(records.len() * record_size(self.dim));
        for (id, v) in records {
            check_dim(*v, self.dim)?;
            buf.extend_from_slice(&record(id, *v, self.dim));
        }
        f.write_all(&buf).map_err(io)?;
        f.sync_data().map_err(io)?;
        self.crc = self.crc.map(|c| crc32c::crc32c_append(c, &buf));
        self.committed += buf.len();
        self.map = None;
        // SAFETY: as in `open`.
        self.map = Some(unsafe { memmap2::MmapOptions::new().map(&f) }.map_err(io)?);
        Ok(self.committed)
    }

    /// The pack file opened for reading and writing, positioned at `at`.
    fn write_at(&self, at: u64) -> std::io::Result<File> {
        let mut f = OpenOptions::new().read(true).write(true).open(&self.path)?;
        f.seek(SeekFrom::Start(at))?;
        Ok(f)
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.map
            .as_deref()
            .map(|m| &m[..self.committed])
            .unwrap_or(&[])
    }

    /// Records the manifest's build in the header padding of a file written without one, in
    /// place (a torn write matches no build: the pack is then refused and rebuilt), fsynced.
    pub(crate) fn stamp_build(&mut self) -> StorageResult<()> {
        let path = self.path.clone();
        let io = |e| StorageError::io(&path, e);
        let mut f = self.write_at(BUILD_AT as u64).map_err(io)?;
        f.write_all(&self.build.to_le_bytes()).map_err(io)?;
        f.sync_data().map_err(io)?;
        self.header_build = self.build;
        Ok(())
    }

    pub fn vector(&self, row: &Row) -> &[f32] {
        let start = row.offset + REC_HEAD;
        let bytes = &self.bytes()[start..start + 4 * self.dim];
        // SAFETY: the map is page-aligned and HEADER, REC_HEAD and record sizes are multiples of 4,
        // so `start` is 4-byte aligned; any bit pattern is a valid f32.
        let (pre, floats, _) = unsafe { bytes.align_to::<f32>() };
        debug_assert!(pre.is_empty());
        floats
    }
}

/// Refuses a vector of another length than the pack's `dim` (a deletion has none).
fn check_dim(v: Option<&[f32]>, dim: usize) -> StorageResult<()> {
    match v {
        Some(v) if v.len() != dim => Err(StorageError::InvalidInput(format!(
            "vector of {} values for a {dim}-d pack",
            v.len()
        ))),
        _ => Ok(()),
    }
}

fn header(dim: usize, build: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&(dim as u32).to_le_bytes());
    h[BUILD_AT..BUILD_AT + 8].copy_from_slice(&build.to_le_bytes());
    h
}

fn record(id: &SongId, v: Option<&[f32]>, dim: usize) -> Vec<u8> {
    let mut r = Vec::with_capacity(record_size(dim));
    r.extend_from_slice(&id.to_bytes());
    r.extend_from_slice(&v.map_or(0.0, math::norm).to_le_bytes());
    r.extend_from_slice(&u32::from(v.is_some()).to_le_bytes());
    match v {
        Some(v) => v.iter().for_each(|x| r.extend_from_slice(&x.to_le_bytes())),
        // Deletions carry no vector but keep records fixed-size.
        None => r.resize(record_size(dim), 0),
    }
    r
}

/// A fresh, non-zero number naming a pack build or an index file.
pub(crate) fn nonce() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = t ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
    n.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_table_spares_reading_the_pack_and_agrees_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let ids: Vec<SongId> = (0..10u8).map(|i| SongId::from_bytes(&[i])).collect();
        let len = Pack::build(&p, 2, 42, ids.iter().map(|id| (id.clone(), vec![1.0, 0.5])))
            .unwrap()
            .0;
        let mut pack = Pack::open(&p, 2, len).unwrap().with_build(42).unwrap();
        let (rows, scanned) = pack.live_rows_counted();
        assert_eq!(
            (rows.len(), scanned),
            (10, 10),
            "no table yet: every record read"
        );
        pack.save_rows(&rows).unwrap();
        assert_eq!(pack.live_rows_counted().1, 0, "the table covers everything");
        // Appends after the table: a rewrite of song 3, a deletion of song 4, a new song.
        let newer = [0.0f32, 1.0];
        let new = SongId::from_bytes(b"new");
        pack.append(&[
            (ids[3].clone(), Some(&newer[..])),
            (ids[4].clone(), None),
            (new.clone(), Some(&newer[..])),
        ])
        .unwrap();
        let (with_table, scanned) = pack.live_rows_counted();
        assert_eq!(scanned, 3, "only the records after the table are read");
        let full = Pack::open(&p, 2, pack.committed()).unwrap().live_rows();
        let key = |rows: &[Row]| rows.iter().map(|r| (r.id, r.offset)).collect::<Vec<_>>();
        assert_eq!(key(&with_table), key(&full));
        assert_eq!(full.len(), 10);
        // The file is not another build's.
        assert!(
            Pack::open(&p, 2, pack.committed())
                .unwrap()
                .with_build(43)
                .is_err()
        );
    }

    #[test]
    fn the_checksum_covers_every_committed_byte_and_extends_with_appends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let ids: Vec<SongId> = (0..5u8).map(|i| SongId::from_bytes(&[i])).collect();
        let (len, crc) =
            Pack::build(&p, 2, 42, ids.iter().map(|id| (id.clone(), vec![1.0, 0.5]))).unwrap();
        let mut pack = Pack::open(&p, 2, len).unwrap().with_build(42).unwrap();
        pack.verify(crc, None).unwrap();
        assert_eq!(pack.content_crc().unwrap(), crc);
        // An append extends it; a reader that checked the prefix reads only the new bytes.
        let v = [3.0f32, 4.0];
        let longer = pack
            .append(&[(SongId::from_bytes(b"new"), Some(&v[..]))])
            .unwrap();
        let crc2 = pack.known_crc().unwrap();
        let mut fresh = Pack::open(&p, 2, longer).unwrap();
        fresh.verify(crc2, None).unwrap();
        Pack::open(&p, 2, longer)
            .unwrap()
            .verify(crc2, Some((len, crc)))
            .unwrap();
        // Stamping the build into an older header does not change it.
        let (_, crc0) =
            Pack::build(&p, 2, 0, ids.iter().map(|id| (id.clone(), vec![1.0, 0.5]))).unwrap();
        assert_eq!(crc0, crc, "the build field counts as zero");
        let mut old = Pack::open(&p, 2, len).unwrap().with_build(7).unwrap();
        old.save_rows(&old.live_rows()).unwrap();
        assert_eq!(old.header_build(), 7);
        Pack::open(&p, 2, len).unwrap().verify(crc, None).unwrap();
        // A byte changed anywhere is caught: by the checksum, or (the build) by its build.
        let pristine = std::fs::read(&p).unwrap();
        for at in 0..len {
            let mut bytes = pristine.clone();
            bytes[at] ^= 0x01;
            std::fs::write(&p, &bytes).unwrap();
            let caught = Pack::open(&p, 2, len)
                .and_then(|p| p.with_build(7))
                .and_then(|mut p| p.verify(crc, None))
                .is_err();
            assert!(caught, "byte {at}");
        }
    }

    #[test]
    fn an_old_table_is_never_read_with_a_new_pack_of_the_same_length() {
        // A rebuild renamed a new pack into place and crashed before the manifest named it: the
        // manifest (and the row table) still describe the old build, at the same length.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let ids: Vec<SongId> = (0..6u8).map(|i| SongId::from_bytes(&[i])).collect();
        let len = Pack::build(&p, 2, 7, ids.iter().map(|id| (id.clone(), vec![1.0, 0.0])))
            .unwrap()
            .0;
        let mut old = Pack::open(&p, 2, len).unwrap().with_build(7).unwrap();
        let rows = old.live_rows();
        old.save_rows(&rows).unwrap();
        let others: Vec<SongId> = (10..16u8).map(|i| SongId::from_bytes(&[i])).collect();
        let len2 = Pack::build(
            &p,
            2,
            8,
            others.iter().map(|id| (id.clone(), vec![0.0, 1.0])),
        )
        .unwrap()
        .0;
        assert_eq!(len2, len);
        let err = Pack::open(&p, 2, len).unwrap().with_build(7).unwrap_err();
        assert!(err.to_string().contains("interrupted"), "{err}");
    }

    #[test]
    fn build_append_supersede_delete() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let a = SongId::from_bytes(b"a");
        let b = SongId::from_bytes(b"b");
        let len = Pack::build(
            &p,
            3,
            1,
            vec![
                (a.clone(), vec![1.0, 0.0, 0.0]),
                (b.clone(), vec![0.0, 2.0, 0.0]),
            ],
        )
        .unwrap()
        .0;
        let mut pack = Pack::open(&p, 3, len).unwrap();
        assert_eq!(pack.live_rows().len(), 2);
        let newer = [0.0f32, 0.0, 3.0];
        pack.append(&[(a.clone(), Some(&newer[..])), (b.clone(), None)])
            .unwrap();
        let rows = pack.live_rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].id, a.to_bytes());
        assert_eq!(pack.vector(&rows[0]), &newer);
        assert_eq!(rows[0].norm, 3.0);
        // Garbage past the committed length is ignored by a reader that trusts the old length.
        let reopened = Pack::open(&p, 3, len).unwrap();
        assert_eq!(reopened.live_rows().len(), 2);
        // A wrong committed length is refused.
        assert!(Pack::open(&p, 3, len + 1).is_err());
        assert!(Pack::open(&p, 4, len).is_err());
    }

    #[test]
    fn an_append_never_shrinks_a_file_that_readers_may_map() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let a = SongId::from_bytes(b"a");
        let len = Pack::build(&p, 2, 1, vec![(a.clone(), vec![1.0, 2.0])])
            .unwrap()
            .0;
        // An interrupted append left three records' worth of garbage past the committed length.
        let mut bytes = std::fs::read(&p).unwrap();
        bytes.extend(std::iter::repeat_n(0xAB, 3 * record_size(2)));
        std::fs::write(&p, &bytes).unwrap();
        let reader = Pack::open(&p, 2, len).unwrap();
        let mut writer = Pack::open(&p, 2, len).unwrap();
        let b = SongId::from_bytes(b"b");
        let v = [3.0f32, 4.0];
        let committed = writer.append(&[(b.clone(), Some(&v[..]))]).unwrap();
        assert_eq!(committed, len + record_size(2));
        assert_eq!(
            std::fs::metadata(&p).unwrap().len() as usize,
            bytes.len(),
            "the file was truncated in place"
        );
        // The new record overwrote the garbage; the old reader still reads its rows.
        let rows = Pack::open(&p, 2, committed).unwrap().live_rows();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].id, b.to_bytes());
        assert_eq!(rows[1].norm, 5.0);
        let old = reader.live_rows();
        assert_eq!(reader.vector(&old[0]), &[1.0, 2.0]);
    }

    #[test]
    fn an_in_memory_pack_reads_like_a_file() {
        let a = SongId::from_bytes(b"a");
        let b = SongId::from_bytes(b"b");
        let rows = vec![(a.clone(), vec![1.0, 0.0]), (b.clone(), vec![0.0, 2.0])];
        let pack = Pack::build_in_memory(Path::new("mem.pack"), 2, &rows).unwrap();
        let live = pack.live_rows();
        assert_eq!(live.len(), 2);
        assert_eq!(pack.vector(&live[1]), &[0.0, 2.0]);
        assert_eq!(live[1].norm, 2.0);
        assert!(Pack::build_in_memory(Path::new("mem.pack"), 3, &rows).is_err());
    }
}
