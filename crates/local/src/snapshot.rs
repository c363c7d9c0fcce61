//! A binary snapshot of `metadata.json`, derived and disposable, so opening a large library
//! neither parses its JSON nor decodes every song on every command.
//!
//! Written whenever songrec rewrites `metadata.json`, stamped with that file's size and
//! modification time, and used only while the stamp matches (another writer of the JSON makes
//! songrec read the JSON).
//!
//! Layout (little-endian): magic `SRMETA03`, the JSON's size (u64) and modification time (u128,
//! ns), the song count `n`, a CRC-32C (u32, then 4 zero bytes) of everything else in the file,
//! a table of `n` × (32-byte id, u64 offset of the song's record from the end of the table), then
//! the records, each decoded only when read ([`View`]). A file failing its checksum or table
//! checks is reported once and the JSON read instead, until the next write rewrites it.

use std::path::Path;

use chrono::{DateTime, Utc};
use songrec_storage::{SongId, SongMetadata};

use crate::integrity::{HeaderCrc, Refused, Verified};

const MAGIC: &[u8; 8] = b"SRMETA03";
/// Magic, JSON size, JSON modification time, song count, checksum.
const HEADER: usize = 8 + 8 + 16 + 8 + 8;
/// The header's checksum.
pub(crate) const CHECKSUM: HeaderCrc = HeaderCrc { at: 40 };

/// Writes the checksum of `bytes` into its header (for the fuzz harness: inputs get past the
/// checksum into the table and records). Does nothing to bytes shorter than a header.
#[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
pub fn seal(bytes: &mut [u8]) {
    CHECKSUM.seal(bytes);
}

/// One table entry: id and record offset.
const ENTRY: usize = 32 + 8;
/// The fewest bytes one song's record takes: id, empty title, three absent options, duration,
/// sample rate, channels, size, empty hash and file name, bpm, absent key, no tags, two times,
/// version, empty extra.
#[cfg(test)]
const MIN_SONG_BYTES: usize = 32 + 8 + 3 + 8 * 6 + 8 + 1 + 8 + 16 + 16 + 8 + 8;

struct W(Vec<u8>);
impl W {
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt(&mut self, s: &Option<String>) {
        match s {
            Some(s) => {
                self.0.push(1);
                self.str(s);
            }
            None => self.0.push(0),
        }
    }
    fn time(&mut self, t: &DateTime<Utc>) {
        self.0.extend_from_slice(&t.timestamp().to_le_bytes());
        self.u64(u64::from(t.timestamp_subsec_nanos()));
    }
}

struct R<'a>(&'a [u8]);
impl R<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u64(&mut self) -> Option<u64> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Option<i64> {
        self.array().map(i64::from_le_bytes)
    }
    fn f64(&mut self) -> Option<f64> {
        self.array().map(f64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
            .and_then(|b| std::str::from_utf8(b).ok())
            .map(str::to_owned)
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => self.str().map(Some),
            _ => None,
        }
    }
    fn skip_str(&mut self) -> Option<()> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n).map(|_| ())
    }
    fn skip_opt(&mut self) -> Option<()> {
        match self.u8()? {
            0 => Some(()),
            1 => self.skip_str(),
            _ => None,
        }
    }
    fn time(&mut self) -> Option<DateTime<Utc>> {
        let secs = self.i64()?;
        let nanos = u32::try_from(self.u64()?).ok()?;
        DateTime::from_timestamp(secs, nanos)
    }
}

/// Encodes songs with the stamp of the `metadata.json` they mirror.
pub fn encode(songs: &[&SongMetadata], json_stamp: (u64, u128)) -> Vec<u8> {
    let mut records = W(Vec::with_capacity(songs.len() * 256));
    let mut table = W(Vec::with_capacity(HEADER + songs.len() * ENTRY));
    table.0.extend_from_slice(MAGIC);
    table.u64(json_stamp.0);
    table.0.extend_from_slice(&json_stamp.1.to_le_bytes());
    table.u64(songs.len() as u64);
    table.u64(0); // the checksum, sealed below
    for m in songs {
        table.0.extend_from_slice(&m.id.to_bytes());
        table.u64(records.0.len() as u64);
        encode_song(&mut records, m);
    }
    table.0.extend_from_slice(&records.0);
    seal(&mut table.0);
    table.0
}

fn encode_song(w: &mut W, m: &SongMetadata) {
    w.0.extend_from_slice(&m.id.to_bytes());
    w.str(&m.title);
    w.opt(&m.artist);
    w.opt(&m.album);
    w.opt(&m.genre);
    w.0.extend_from_slice(&m.duration_secs.to_le_bytes());
    w.u64(u64::from(m.sample_rate));
    w.u64(u64::from(m.channels));
    w.u64(m.file_size);
    w.str(&m.content_hash);
    w.str(&m.file_name);
    w.0.extend_from_slice(&m.bpm.map_or(f64::NAN, f64::from).to_le_bytes());
    w.opt(&m.key);
    w.u64(m.tags.len() as u64);
    for t in &m.tags {
        w.str(t);
    }
    w.time(&m.created_at);
    w.time(&m.updated_at);
    w.u64(m.version);
    if m.extra.is_empty() {
        w.str("");
    } else {
        w.str(&serde_json::to_string(&m.extra).unwrap_or_default());
    }
}

/// Decodes one record, which must fill `bytes` exactly; without `extra`, the free-form fields
/// (a JSON text, the costly part) are checked for length only and left empty.
fn decode_song(bytes: &[u8], extra: bool) -> Option<SongMetadata> {
    let mut r = R(bytes);
    let id = SongId::from_raw(r.take(32)?.try_into().ok()?);
    let mut m = SongMetadata::new(id, r.str()?);
    m.artist = r.opt()?;
    m.album = r.opt()?;
    m.genre = r.opt()?;
    m.duration_secs = r.f64()?;
    m.sample_rate = u32::try_from(r.u64()?).ok()?;
    m.channels = u16::try_from(r.u64()?).ok()?;
    m.file_size = r.u64()?;
    m.content_hash = r.str()?;
    m.file_name = r.str()?;
    let bpm = r.f64()?;
    m.bpm = (!bpm.is_nan()).then_some(bpm as f32);
    m.key = r.opt()?;
    let tags = usize::try_from(r.u64()?).ok()?;
    if tags > r.0.len() / 8 {
        return None;
    }
    m.tags = (0..tags).map(|_| r.str()).collect::<Option<_>>()?;
    m.created_at = r.time()?;
    m.updated_at = r.time()?;
    m.version = r.u64()?;
    let n = usize::try_from(r.u64()?).ok()?;
    let text = r.take(n)?;
    if extra && !text.is_empty() {
        m.extra = serde_json::from_slice(text).ok()?;
    }
    r.0.is_empty().then_some(m)
}

/// The bytes of a snapshot: a read-only mapping of the file, or bytes in memory.
#[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A checked snapshot whose songs are decoded one at a time, on demand.
pub struct View {
    bytes: Bytes,
    n: usize,
}

impl View {
    /// Maps the snapshot at `path` if it mirrors a `metadata.json` with this stamp and is sound;
    /// else [`Refused::Stale`] (none, another stamp or format) or [`Refused::Damaged`].
    #[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
    pub fn open_checked(path: &Path, json_stamp: (u64, u128)) -> Result<View, Refused> {
        Self::open_recorded(path, json_stamp, &Verified::default())
    }

    /// [`View::open_checked`], reading the whole file for its checksum only when `verified`
    /// has no check of it in its present state (see [`crate::integrity`]).
    pub(crate) fn open_recorded(
        path: &Path,
        json_stamp: (u64, u128),
        verified: &Verified,
    ) -> Result<View, Refused> {
        let file = std::fs::File::open(path).map_err(|_| Refused::Stale)?;
        let meta = file.metadata().map_err(|_| Refused::Stale)?;
        // SAFETY: songrec replaces the snapshot by renaming a new file over it, never by
        // writing into it, so the mapped bytes do not change under this process; a file cut
        // short by someone else is caught by the bounds checks, which every read goes through.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|_| Refused::Stale)?;
        let stored = CHECKSUM.stored(&map);
        let trusted = stored.is_some_and(|crc| verified.trusts(path, &meta, crc));
        let view = Self::check(Bytes::Map(map), json_stamp, !trusted)?;
        if let (false, Some(crc)) = (trusted, stored) {
            verified.note(path, &meta, crc);
        }
        Ok(view)
    }

    /// A view over bytes in memory (the same checks as [`View::open_checked`]).
    #[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
    pub fn from_bytes(bytes: Vec<u8>, json_stamp: (u64, u128)) -> Option<View> {
        Self::check(Bytes::Owned(bytes), json_stamp, true).ok()
    }

    /// Checks a snapshot's header and table, and (`checksum`) its checksum.
    fn check(bytes: Bytes, json_stamp: (u64, u128), checksum: bool) -> Result<View, Refused> {
        let damaged = |why: &str| Refused::Damaged(why.to_owned());
        let mut r = R(&bytes);
        if r.take(8) != Some(MAGIC) {
            return Err(Refused::Stale);
        }
        let size = r.u64().ok_or_else(|| damaged("cut short"))?;
        let mtime = r
            .array()
            .map(u128::from_le_bytes)
            .ok_or_else(|| damaged("cut short"))?;
        if (size, mtime) != json_stamp {
            return Err(Refused::Stale);
        }
        let n = r.u64().ok_or_else(|| damaged("cut short"))?;
        r.take(8).ok_or_else(|| damaged("cut short"))?;
        if checksum {
            CHECKSUM.check(&bytes).map_err(damaged)?;
        }
        let bad_table = || damaged("its song table does not fit its records");
        let n = usize::try_from(n).map_err(|_| bad_table())?;
        let table = n.checked_mul(ENTRY).ok_or_else(bad_table)?;
        let records = r.0.len().checked_sub(table).ok_or_else(bad_table)?;
        let view = View { bytes, n };
        let mut prev = 0u64;
        for i in 0..n {
            let off = view.offset(i);
            if (i > 0 && off <= prev) || off >= records as u64 {
                return Err(bad_table());
            }
            prev = off;
        }
        if n > 0 || records == 0 {
            Ok(view)
        } else {
            Err(bad_table())
        }
    }

    /// Number of songs.
    pub fn len(&self) -> usize {
        self.n
    }

    /// True when the snapshot holds no song.
    #[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    fn entry(&self, i: usize) -> &[u8] {
        let at = HEADER + i * ENTRY;
        &self.bytes[at..at + ENTRY]
    }

    fn offset(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.entry(i)[32..].try_into().unwrap_or_default())
    }

    /// The id of song `i` (`i < len()`), from the table: no record is decoded.
    pub fn id(&self, i: usize) -> SongId {
        SongId::from_raw(&self.raw_id(i))
    }

    /// The raw id of song `i` (`i < len()`).
    pub fn raw_id(&self, i: usize) -> [u8; 32] {
        self.entry(i)[..32].try_into().unwrap_or_default()
    }

    /// Decodes song `i`; `None` if its record is damaged or does not carry the table's id.
    pub fn song(&self, i: usize) -> Option<SongMetadata> {
        self.decode(i, true)
    }

    /// Song `i` without its free-form fields (`extra` left empty): for filters and sort keys
    /// that do not read them, at a fraction of the cost.
    pub fn song_light(&self, i: usize) -> Option<SongMetadata> {
        self.decode(i, false)
    }

    /// Song `i`'s id, title and artist, the rest left at defaults: the sort keys by title and
    /// by artist, read from the start of the record.
    pub fn song_head(&self, i: usize) -> Option<SongMetadata> {
        let (start, end) = self.span(i)?;
        let mut r = R(self.bytes.get(start..end)?);
        let id = r.take(32)?;
        if id != self.raw_id(i) {
            return None;
        }
        let mut m = SongMetadata::new(self.id(i), r.str()?);
        m.artist = r.opt()?;
        Some(m)
    }

    /// Song `i`'s version and content hash (what sync listings need), read past the other
    /// fields without decoding them.
    pub fn version_and_hash(&self, i: usize) -> Option<(u64, String)> {
        let (start, end) = self.span(i)?;
        let mut r = R(self.bytes.get(start..end)?);
        if r.take(32)? != self.raw_id(i) {
            return None;
        }
        r.skip_str()?;
        for _ in 0..3 {
            r.skip_opt()?;
        }
        r.take(8 * 4)?;
        let hash = r.str()?;
        r.skip_str()?;
        r.take(8)?;
        r.skip_opt()?;
        let tags = r.u64()?;
        for _ in 0..tags {
            r.skip_str()?;
        }
        r.take(32)?;
        Some((r.u64()?, hash))
    }

    fn span(&self, i: usize) -> Option<(usize, usize)> {
        let base = HEADER + self.n * ENTRY;
        // Offsets were checked at open: increasing and inside the records.
        let start = base + usize::try_from(self.offset(i)).ok()?;
        let end = if i + 1 < self.n {
            base + usize::try_from(self.offset(i + 1)).ok()?
        } else {
            self.bytes.len()
        };
        Some((start, end))
    }

    fn decode(&self, i: usize, extra: bool) -> Option<SongMetadata> {
        let (start, end) = self.span(i)?;
        let m = decode_song(self.bytes.get(start..end)?, extra)?;
        (m.id.to_bytes() == self.raw_id(i)).then_some(m)
    }
}

/// Decodes a whole snapshot if it mirrors a `metadata.json` with this stamp; `None` otherwise
/// (stale, truncated, damaged or from another format version).
#[cfg_attr(not(any(test, feature = "internals")), allow(dead_code))]
pub fn decode(bytes: &[u8], json_stamp: (u64, u128)) -> Option<Vec<SongMetadata>> {
    let view = View::from_bytes(bytes.to_vec(), json_stamp)?;
    (0..view.len()).map(|i| view.song(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corrupt_count_reserves_only_what_the_bytes_can_hold() {
        // A valid header claiming ten million songs, followed by a few bytes.
        let stamp = (10, 20);
        let mut bytes = encode(&[], stamp);
        bytes[32..40].copy_from_slice(&10_000_000u64.to_le_bytes());
        bytes.extend_from_slice(&[0u8; 200]);
        seal(&mut bytes);
        crate::alloc_probe::reset();
        assert!(decode(&bytes, stamp).is_none());
        let largest = crate::alloc_probe::largest();
        assert!(
            largest < 64 * 1024,
            "decoding {} bytes reserved {largest} bytes at once",
            bytes.len()
        );
        // The smallest possible song is what MIN_SONG_BYTES says.
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "");
        m.content_hash.clear();
        let one = encode(&[&m], stamp);
        assert_eq!(one.len() - encode(&[], stamp).len(), ENTRY + MIN_SONG_BYTES);
    }

    #[test]
    fn roundtrip_and_staleness() {
        let mut a = SongMetadata::new(SongId::from_bytes(b"a"), "Tïtle");
        a.artist = Some("X".into());
        a.bpm = Some(121.5);
        a.tags = vec!["t1".into(), "t2".into()];
        a.extra.insert("k".into(), serde_json::json!({"n": [1, 2]}));
        a.version = 7;
        let b = SongMetadata::new(SongId::from_bytes(b"b"), "");
        a.key = Some("A minor".into());
        a.content_hash = "h".repeat(64);
        let bytes = encode(&[&a, &b], (10, 20));
        let view = View::from_bytes(bytes.clone(), (10, 20)).unwrap();
        assert_eq!(view.version_and_hash(0), Some((7, "h".repeat(64))));
        assert_eq!(
            view.version_and_hash(1),
            Some((b.version, b.content_hash.clone()))
        );
        let head = view.song_head(0).unwrap();
        assert_eq!((&head.title, &head.artist), (&a.title, &a.artist));
        let light = view.song_light(0).unwrap();
        assert!(light.extra.is_empty());
        assert_eq!(
            (light.tags.clone(), light.bpm, light.version),
            (a.tags.clone(), a.bpm, 7)
        );
        assert_eq!(decode(&bytes, (10, 20)).unwrap(), vec![a, b]);
        assert!(decode(&bytes, (10, 21)).is_none(), "stale stamp");
        assert!(
            decode(&bytes[..bytes.len() - 1], (10, 20)).is_none(),
            "truncated"
        );
        assert!(decode(b"garbage", (10, 20)).is_none());
        // Every byte is covered: a flip in the magic or the stamp makes it another file's
        // snapshot, anywhere else damage.
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x04;
            let got = View::check(Bytes::Owned(bad), (10, 20), true).err();
            let want_stale = at < 32;
            assert!(
                matches!(
                    (&got, want_stale),
                    (Some(Refused::Stale), true) | (Some(Refused::Damaged(_)), false)
                ),
                "byte {at}: {got:?}"
            );
        }
    }
}
