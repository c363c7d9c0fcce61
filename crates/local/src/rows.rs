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
//! header (40 B): b"SRROWS01", pack build: u64, covered pack bytes: u64, rows: u64, checksum: u64
//! row (48 B):    id: [u8; 32], record offset: u64, norm: f32, zero: u32
//! ```
//!
//! Derived and disposable like the pack's index: written atomically by a process holding the
//! library lock, used only when its build matches the manifest's and it covers no more than
//! the committed length, its checksum matches and every offset is a record boundary inside
//! what it covers. Anything else and the pack is read instead.

use std::path::Path;

use crate::pack::{HEADER, Row, record_size};

const MAGIC: &[u8; 8] = b"SRROWS01";
const HEAD: usize = 40;
const ROW: usize = 48;

/// A cheap 64-bit checksum (FNV-style over 8-byte words): catches damage, not adversaries.
fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for c in bytes.chunks(8) {
        let mut w = [0u8; 8];
        w[..c.len()].copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
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
    out.extend_from_slice(&checksum(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes a table for pack build `build` of record size for `dim`, committed to `committed`
/// bytes: the rows and the length they cover, or `None` if it does not fit.
pub fn decode(bytes: &[u8], build: u64, dim: usize, committed: usize) -> Option<(Vec<Row>, usize)> {
    let u64_at = |at: usize| -> Option<u64> {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    if bytes.get(..8)? != MAGIC || u64_at(8)? != build {
        return None;
    }
    let covered = usize::try_from(u64_at(16)?).ok()?;
    let n = usize::try_from(u64_at(24)?).ok()?;
    let body = bytes.get(HEAD..)?;
    if covered > committed || covered < HEADER || body.len() != n.checked_mul(ROW)? {
        return None;
    }
    if checksum(body) != u64_at(32)? {
        return None;
    }
    let rs = record_size(dim);
    let mut rows = Vec::with_capacity(n);
    for r in body.chunks_exact(ROW) {
        let offset = usize::try_from(u64::from_le_bytes(r[32..40].try_into().ok()?)).ok()?;
        if offset < HEADER || offset + rs > covered || !(offset - HEADER).is_multiple_of(rs) {
            return None;
        }
        rows.push(Row {
            offset,
            id: r[..32].try_into().ok()?,
            norm: f32::from_le_bytes(r[40..44].try_into().ok()?),
        });
    }
    Some((rows, covered))
}

/// Writes the table next to `pack` (atomically; not fsynced: it is derived).
pub(crate) fn save(pack: &Path, bytes: &[u8]) -> songrec_storage::StorageResult<()> {
    crate::fsutil::write_atomic_nosync_dir(&path(pack), |w| w.write_all(bytes))
}

/// Where the table of `pack` lives.
pub(crate) fn path(pack: &Path) -> std::path::PathBuf {
    pack.with_extension("rows")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(decode(&b, 8, 2, covered).is_none(), "another build");
        assert!(
            decode(&b, 7, 2, covered - rs).is_none(),
            "covers more than committed"
        );
        assert!(
            decode(&b, 7, 3, covered).is_none(),
            "offsets off the record grid"
        );
        assert!(
            decode(&b[..b.len() - 1], 7, 2, covered).is_none(),
            "truncated"
        );
        let mut bad = b.clone();
        bad[HEAD + 5] ^= 1;
        assert!(decode(&bad, 7, 2, covered).is_none(), "checksum");
    }
}
