//! The live-row table of a pack (`<model>.rows` next to it): which record holds each song's
//! current vector, as of some committed length of one pack build.
//!
//! Finding the live rows by reading the pack touches every record header, so every page of the
//! pack (two records a page at 512 dimensions): a process that answers one query through the
//! approximate index would pull the whole pack into memory. With the table, a process reads 48
//! bytes a song, plus the records appended since the table was written, and touches only the
//! pack pages of the vectors it scores.
//!
//! ```text
//! header (40 B): b"SRROWS02", pack build: u64, covered pack bytes: u64, rows: u64,
//!                checksum: u32 (CRC-32C of the header's first 32 bytes and every row), zero: u32
//! row (48 B):    id: [u8; 32], record offset: u64, norm: f32, zero: u32
//! ```
//!
//! Derived and disposable like the pack's index: written atomically by a process holding the
//! library lock, used only when its build matches the manifest's and it covers no more than
//! the committed length, its checksum (over the whole file) matches and every offset is a
//! record boundary inside what it covers. Anything else and the pack is read instead, and the
//! next process that can take the lock writes a new table; a table that is this build's but
//! damaged is reported once. Tables of the previous format (`SRROWS01`, whose checksum left
//! the header out) are ignored like another build's.

use std::path::Path;

use songrec_storage::StorageResult;

use crate::integrity::{HeaderCrc, Refused, ignore_damaged};
use crate::pack::{HEADER, IdMap, Pack, Row, record_size};

const MAGIC: &[u8; 8] = b"SRROWS02";
const HEAD: usize = 40;
const ROW: usize = 48;
/// The header's checksum.
const CHECKSUM: HeaderCrc = HeaderCrc { at: 32 };

/// Writes the checksum of `table` into its header (for the fuzz harness: inputs get past the
/// checksum into the rows). Does nothing to a table shorter than its header.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub fn seal(table: &mut [u8]) {
    CHECKSUM.seal(table);
}

/// Encodes the live rows of the first `covered` bytes of pack build `build`.
pub fn encode(build: u64, covered: usize, rows: &[Row]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rows.len() * ROW);
    for r in rows {
        body.extend_from_slice(&r.id);
        body.extend_from_slice(&(r.offset as u64).to_le_bytes());
        body.extend_from_slice(&r.norm.to_le_bytes());
        body.extend_from_slice(&[0; 4]);
    }
    let mut out = Vec::with_capacity(HEAD + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&build.to_le_bytes());
    out.extend_from_slice(&(covered as u64).to_le_bytes());
    out.extend_from_slice(&(rows.len() as u64).to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&body);
    seal(&mut out);
    out
}

/// Decodes a table for pack build `build` of record size for `dim`, committed to `committed`
/// bytes: the rows and the length they cover. [`Refused::Stale`]: not a table of this build
/// (another build, another format, or covering more than is committed); [`Refused::Damaged`]:
/// a table whose checksum or offsets are wrong.
pub fn decode(
    bytes: &[u8],
    build: u64,
    dim: usize,
    committed: usize,
) -> Result<(Vec<Row>, usize), Refused> {
    let damaged = |why: &str| Refused::Damaged(why.to_owned());
    let u64_at = |at: usize| -> Result<u64, Refused> {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| damaged("cut short"))
    };
    if bytes.get(..8) != Some(MAGIC) {
        return Err(Refused::Stale);
    }
    CHECKSUM.check(bytes).map_err(damaged)?;
    if u64_at(8)? != build {
        return Err(Refused::Stale);
    }
    let covered = usize::try_from(u64_at(16)?).map_err(|_| damaged("covered length"))?;
    let n = usize::try_from(u64_at(24)?).map_err(|_| damaged("row count"))?;
    let body = bytes.get(HEAD..).ok_or_else(|| damaged("cut short"))?;
    if covered > committed {
        return Err(Refused::Stale);
    }
    if covered < HEADER || n.checked_mul(ROW) != Some(body.len()) {
        return Err(damaged("its length does not match its row count"));
    }
    let rs = record_size(dim);
    let mut rows = Vec::with_capacity(n);
    for r in body.chunks_exact(ROW) {
        let offset = usize::try_from(u64::from_le_bytes(r[32..40].try_into().unwrap_or_default()))
            .ok()
            .filter(|&o| {
                o >= HEADER
                    && o.checked_add(rs).is_some_and(|e| e <= covered)
                    && (o - HEADER).is_multiple_of(rs)
            })
            .ok_or_else(|| damaged("a row names no record of the pack"))?;
        rows.push(Row {
            offset,
            id: r[..32].try_into().unwrap_or_default(),
            norm: f32::from_le_bytes(r[40..44].try_into().unwrap_or_default()),
        });
    }
    Ok((rows, covered))
}

/// Writes the table next to `pack` (atomically; not fsynced: it is derived).
pub(crate) fn save(pack: &Path, bytes: &[u8]) -> songrec_storage::StorageResult<()> {
    crate::fsutil::write_atomic_nosync_dir(&path(pack), |w| w.write_all(bytes))
}

/// Where the table of `pack` lives.
pub(crate) fn path(pack: &Path) -> std::path::PathBuf {
    pack.with_extension("rows")
}

impl Pack {
    /// The latest live record of every id, in file order.
    pub fn live_rows(&self) -> Vec<Row> {
        self.live_rows_counted().0
    }

    /// The live rows, and how many records were read from the pack to find them: those past
    /// the live-row table (see [`crate::rows`]), or all of them without a usable table.
    pub fn live_rows_counted(&self) -> (Vec<Row>, usize) {
        let rs = record_size(self.dim);
        let bytes = self.bytes();
        let table = (self.build != 0 && self.header_build == self.build)
            .then(|| self.read_rows())
            .flatten();
        let (base, from) = table.unwrap_or_default();
        let mut latest: IdMap<Option<Row>> = IdMap::default();
        let mut off = from.max(HEADER);
        let scanned = (bytes.len().saturating_sub(off)) / rs;
        while off + rs <= bytes.len() {
            let id: [u8; 32] = bytes[off..off + 32].try_into().unwrap_or_default();
            let norm = f32::from_le_bytes(bytes[off + 32..off + 36].try_into().unwrap_or_default());
            let live = bytes[off + 36] == 1;
            latest.insert(
                id,
                live.then_some(Row {
                    offset: off,
                    id,
                    norm,
                }),
            );
            off += rs;
        }
        let mut rows: Vec<Row> = base
            .into_iter()
            .filter(|r| !latest.contains_key(&r.id))
            .collect();
        rows.extend(latest.into_values().flatten());
        rows.sort_by_key(|r| r.offset);
        (rows, scanned)
    }

    /// The live-row table of this build, if there is a sound one. A damaged table is reported
    /// once and not used (the pack is read instead; the next process holding the lock writes
    /// a new table).
    fn read_rows(&self) -> Option<(Vec<Row>, usize)> {
        let path = path(&self.path);
        let bytes = std::fs::read(&path).ok()?;
        match decode(&bytes, self.build, self.dim, self.committed) {
            Ok(t) => Some(t),
            Err(Refused::Stale) => None,
            Err(Refused::Damaged(why)) => {
                let instead = "reading the vector pack instead; it is rewritten by the next \
                               search that can take the library lock";
                ignore_damaged("live-row table", &path, &why, instead);
                None
            }
        }
    }

    /// Writes the live-row table of this pack as committed now (see [`crate::rows`]); only by
    /// a process holding the library lock. A pack written before headers named their build
    /// gets the manifest's build stamped into its header first (`rows` were then read from the
    /// pack itself, never from a table).
    pub(crate) fn save_rows(&mut self, rows: &[Row]) -> StorageResult<()> {
        if self.build == 0 {
            return Ok(());
        }
        if self.header_build == 0 {
            self.stamp_build()?;
        }
        if self.header_build != self.build {
            return Ok(());
        }
        save(&self.path, &encode(self.build, self.committed, rows))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    fn row(i: u8, offset: usize) -> Row {
        Row {
            offset,
            id: [i; 32],
            norm: f32::from(i),
        }
    }

    #[test]
    fn roundtrip_and_every_mismatch_is_refused() {
        let rs = record_size(2);
        let rows = vec![row(1, HEADER), row(2, HEADER + 2 * rs)];
        let covered = HEADER + 3 * rs;
        let b = encode(7, covered, &rows);
        let (back, cov) = decode(&b, 7, 2, covered + rs).unwrap();
        assert_eq!(cov, covered);
        assert_eq!(
            back.iter().map(|r| (r.id, r.offset)).collect::<Vec<_>>(),
            rows.iter().map(|r| (r.id, r.offset)).collect::<Vec<_>>()
        );
        assert_eq!(
            decode(&b, 8, 2, covered).unwrap_err(),
            Refused::Stale,
            "another build"
        );
        assert_eq!(
            decode(&b, 7, 2, covered - rs).unwrap_err(),
            Refused::Stale,
            "covers more than committed"
        );
        assert!(
            matches!(decode(&b, 7, 3, covered), Err(Refused::Damaged(_))),
            "offsets off the record grid"
        );
        assert!(
            matches!(
                decode(&b[..b.len() - 1], 7, 2, covered),
                Err(Refused::Damaged(_))
            ),
            "truncated"
        );
        // Every byte is covered: a flip anywhere is refused, as damage once past the magic.
        for at in 0..b.len() {
            let mut bad = b.clone();
            bad[at] ^= 0x10;
            let got = decode(&bad, 7, 2, covered);
            if at < 8 {
                assert_eq!(got.unwrap_err(), Refused::Stale, "magic byte {at}");
            } else {
                assert!(
                    matches!(got, Err(Refused::Damaged(_))),
                    "byte {at}: {got:?}"
                );
            }
        }
        // A table of the previous format is another build's, not damage.
        let mut old = b.clone();
        old[..8].copy_from_slice(b"SRROWS01");
        assert_eq!(decode(&old, 7, 2, covered).unwrap_err(), Refused::Stale);
    }

    #[test]
    fn a_pack_without_a_build_in_its_header_is_scanned_until_stamped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.pack");
        let ids: Vec<SongId> = (0..6u8).map(|i| SongId::from_bytes(&[i])).collect();
        // Written by an older songrec: build 0 in the header, a table of build 7 beside it
        // that may belong to another file of the same length.
        let len = Pack::build(&p, 2, 0, ids.iter().map(|id| (id.clone(), vec![1.0, 0.0])))
            .unwrap()
            .0;
        let bogus: Vec<Row> = (0..6)
            .map(|i| Row {
                offset: HEADER + i * record_size(2),
                id: [0xEE; 32],
                norm: 1.0,
            })
            .collect();
        save(&p, &encode(7, len, &bogus)).unwrap();
        let mut pack = Pack::open(&p, 2, len).unwrap().with_build(7).unwrap();
        let (rows, scanned) = pack.live_rows_counted();
        assert_eq!(scanned, 6, "the unproven table is not read");
        assert!(rows.iter().all(|r| r.id != [0xEE; 32]));
        pack.save_rows(&rows).unwrap();
        let again = Pack::open(&p, 2, len).unwrap().with_build(7).unwrap();
        let (rows2, scanned) = again.live_rows_counted();
        assert_eq!(scanned, 0, "stamped: the fresh table is read");
        assert_eq!(rows2.len(), 6);
        assert!(Pack::open(&p, 2, len).unwrap().with_build(9).is_err());
    }
}
