//! The songs of a loaded library, in slots: each either decoded or still a record in the
//! mapped binary snapshot, decoded the first time it is read.
//!
//! A command that touches a few songs (`similar`, `show`, a one-song `ingest` or `edit`) decodes
//! only those; a command that walks every song (`list` with a filter, `stats`, a metadata fold)
//! decodes each once. Slots are addressed like a vector (`songs[i]`), so search, filters and
//! the pack's row-to-song join work the same on both kinds.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use songrec_storage::{Filter, SongMetadata, SortKey};

use crate::snapshot::View;

/// A slot: a snapshot row not decoded yet, or a song.
struct Slot {
    /// The row in the snapshot this slot reads from (`u32::MAX`: none, `cell` is set).
    row: u32,
    cell: OnceLock<Box<SongMetadata>>,
}

/// Songs by slot (see the module documentation).
#[derive(Default)]
pub(crate) struct Songs {
    view: Option<Arc<View>>,
    slots: Vec<Slot>,
}

const NO_ROW: u32 = u32::MAX;

impl Songs {
    /// Every song of `view`, none decoded yet. `None` if the snapshot is too large to address.
    pub(crate) fn from_view(view: View) -> Option<Self> {
        let n = u32::try_from(view.len()).ok().filter(|&n| n < NO_ROW)?;
        Some(Self {
            slots: (0..n)
                .map(|row| Slot {
                    row,
                    cell: OnceLock::new(),
                })
                .collect(),
            view: Some(Arc::new(view)),
        })
    }

    /// The snapshot's raw id of each slot still backed by it, in slot order (slots are all
    /// backed right after [`Songs::from_view`]).
    pub(crate) fn view_ids(&self) -> impl Iterator<Item = [u8; 32]> + '_ {
        self.slots.iter().filter_map(|s| {
            let view = self.view.as_ref()?;
            (s.row != NO_ROW).then(|| view.raw_id(s.row as usize))
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn push(&mut self, m: SongMetadata) {
        self.slots.push(Slot::owned(m));
    }

    /// Replaces the song in slot `i`.
    pub(crate) fn set(&mut self, i: usize, m: SongMetadata) {
        self.slots[i] = Slot::owned(m);
    }

    pub(crate) fn swap_remove(&mut self, i: usize) {
        self.slots.swap_remove(i);
    }

    /// The song in slot `i`, decoding it on first use.
    pub(crate) fn get(&self, i: usize) -> Option<&SongMetadata> {
        self.slots.get(i).map(|s| self.decoded(s))
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &SongMetadata> + '_ {
        self.slots.iter().map(|s| self.decoded(s))
    }

    /// Whether slot `i` holds a decoded song (for tests of what is decoded when).
    #[cfg(test)]
    pub(crate) fn is_decoded(&self, i: usize) -> bool {
        self.slots[i].cell.get().is_some()
    }

    /// The raw id in slot `i` (`i < len()`), without decoding it.
    pub(crate) fn raw_id(&self, i: usize) -> [u8; 32] {
        let s = &self.slots[i];
        self.undecoded(s, |view, row| Some(view.raw_id(row)))
            .unwrap_or_else(|| self.decoded(s).id.to_bytes())
    }

    /// The song in slot `i` (`i < len()`) for reading its fixed fields: the decoded song, or,
    /// when it is not decoded yet, a decode without the free-form `extra` fields that is not
    /// kept. For sort keys.
    pub(crate) fn light(&self, i: usize) -> Cow<'_, SongMetadata> {
        self.partial(i, View::song_light)
    }

    /// A copy of the song in slot `i`, decoded from the snapshot without keeping it decoded
    /// when it is not already: what a listing returns, so walking a library page by page holds
    /// one page of songs, not all of them.
    pub(crate) fn copy(&self, i: usize) -> SongMetadata {
        self.partial(i, View::song).into_owned()
    }

    /// The song in slot `i` for its id, title and artist only (the sort keys by title and by
    /// artist): the decoded song, or a song with just those read from the snapshot.
    pub(crate) fn head(&self, i: usize) -> Cow<'_, SongMetadata> {
        self.partial(i, View::song_head)
    }

    /// The decoded song in slot `i`, or `read` of its snapshot row, not kept.
    fn partial(
        &self,
        i: usize,
        read: fn(&View, usize) -> Option<SongMetadata>,
    ) -> Cow<'_, SongMetadata> {
        let s = &self.slots[i];
        let m = self.undecoded(s, read);
        m.map_or_else(|| Cow::Borrowed(self.decoded(s)), Cow::Owned)
    }

    /// The version and content hash of the song in slot `i`, without decoding it.
    pub(crate) fn version_and_hash(&self, i: usize) -> (u64, String) {
        let s = &self.slots[i];
        if let Some(v) = self.undecoded(s, |view, row| view.version_and_hash(row)) {
            return v;
        }
        let m = self.decoded(s);
        (m.version, m.content_hash.clone())
    }

    /// Whether slot `i` passes `filter`. A filter decodes the song and keeps it decoded: a
    /// filtered search or count on a library decodes every song once, and the next one (in a
    /// long-running process: the server) tests songs in memory.
    pub(crate) fn matches(&self, i: usize, filter: &Filter) -> bool {
        filter.is_empty() || filter.matches(&self[i])
    }

    /// `read` on the snapshot row of a slot not decoded yet; `None` for a decoded slot, or when
    /// `read` fails (the caller then decodes the slot the usual way).
    fn undecoded<T>(&self, s: &Slot, read: impl FnOnce(&View, usize) -> Option<T>) -> Option<T> {
        match (s.cell.get(), &self.view) {
            (None, Some(view)) if s.row != NO_ROW => read(view, s.row as usize),
            _ => None,
        }
    }

    fn decoded<'a>(&'a self, s: &'a Slot) -> &'a SongMetadata {
        s.cell.get_or_init(|| {
            let Some(view) = self.view.as_ref().filter(|_| s.row != NO_ROW) else {
                // Unreachable: a slot without a row is created with its song.
                return Box::new(SongMetadata::new(
                    songrec_storage::SongId::from_raw(&[0; 32]),
                    "(missing)",
                ));
            };
            let row = s.row as usize;
            Box::new(view.song(row).unwrap_or_else(|| {
                let id = view.id(row);
                tracing::warn!(
                    "the metadata snapshot's record of song {id} is damaged; showing a \
                     placeholder (run `songrec reindex` to rebuild the snapshot from metadata.json)"
                );
                SongMetadata::new(id, "(metadata unreadable: run songrec reindex)")
            }))
        })
    }
}

/// The slots a listing returns, in order, for one (filter, sort, direction) and metadata
/// generation: computed by the first page, reused by the next ones, so walking a library of
/// `n` songs in pages costs one filter-and-sort pass, not one per page.
pub(crate) struct ListOrder {
    pub(crate) filter: Filter,
    pub(crate) sort: SortKey,
    pub(crate) descending: bool,
    pub(crate) meta_gen: u64,
    pub(crate) slots: Arc<Vec<u32>>,
}

/// Whether a raw id, written in lowercase hex, starts with `prefix` (lowercase hex digits; any
/// other byte never matches), without formatting the id.
pub(crate) fn has_hex_prefix(raw: &[u8; 32], prefix: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    prefix.len() <= 64
        && prefix.iter().enumerate().all(|(k, &c)| {
            let b = raw[k / 2];
            let nibble = if k % 2 == 0 { b >> 4 } else { b & 15 };
            DIGITS[usize::from(nibble)] == c
        })
}

impl Slot {
    fn owned(m: SongMetadata) -> Self {
        let cell = OnceLock::new();
        let _ = cell.set(Box::new(m));
        Self { row: NO_ROW, cell }
    }
}

impl std::ops::Index<usize> for Songs {
    type Output = SongMetadata;
    fn index(&self, i: usize) -> &SongMetadata {
        self.decoded(&self.slots[i])
    }
}

impl FromIterator<SongMetadata> for Songs {
    fn from_iter<I: IntoIterator<Item = SongMetadata>>(iter: I) -> Self {
        Self {
            view: None,
            slots: iter.into_iter().map(Slot::owned).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot;
    use songrec_storage::SongId;

    fn song(name: &str) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(name.as_bytes()), name);
        m.version = 3;
        m
    }

    #[test]
    fn slots_decode_on_first_read_and_edits_replace_them() {
        let (a, b, c) = (song("a"), song("b"), song("c"));
        let bytes = snapshot::encode(&[&a, &b, &c], (1, 2));
        let view = View::from_bytes(bytes, (1, 2)).unwrap();
        let mut songs = Songs::from_view(view).unwrap();
        assert_eq!(
            songs.view_ids().collect::<Vec<_>>(),
            vec![a.id.to_bytes(), b.id.to_bytes(), c.id.to_bytes()]
        );
        assert!(songs.slots.iter().all(|s| s.cell.get().is_none()));
        assert_eq!(
            songs.version_and_hash(2),
            (c.version, c.content_hash.clone())
        );
        assert_eq!(songs[1], b);
        assert_eq!(
            songs
                .slots
                .iter()
                .filter(|s| s.cell.get().is_some())
                .count(),
            1,
            "only the song read is decoded"
        );
        let mut b2 = b.clone();
        b2.title = "B".into();
        songs.set(1, b2.clone());
        songs.swap_remove(0);
        songs.push(song("d"));
        let titles: Vec<&str> = songs.iter().map(|m| m.title.as_str()).collect();
        assert_eq!(titles, ["c", "B", "d"]);
    }

    #[test]
    fn hex_prefixes_match_like_the_formatted_id() {
        let id = songrec_storage::SongId::from_bytes(b"some song");
        let raw = id.to_bytes();
        for n in 0..=64 {
            assert!(has_hex_prefix(&raw, &id.as_str().as_bytes()[..n]));
        }
        let mut other = id.as_str().as_bytes()[..5].to_vec();
        other[4] = if other[4] == b'0' { b'1' } else { b'0' };
        assert!(!has_hex_prefix(&raw, &other));
        assert!(!has_hex_prefix(&raw, b"zz"));
        assert!(!has_hex_prefix(&raw, &[b'0'; 65]));
    }

    #[test]
    fn a_damaged_record_reads_as_a_placeholder_with_its_id() {
        let (a, b) = (song("a"), song("b"));
        let mut bytes = snapshot::encode(&[&a, &b], (1, 2));
        // Header 48 bytes, then two 40-byte table entries (id, offset); the second entry's
        // offset is at 120..128, relative to the end of the table (128).
        let off = u64::from_le_bytes(bytes[120..128].try_into().unwrap());
        let second = 128 + usize::try_from(off).unwrap();
        // The second record's title length (after its 32-byte id) now overruns the record, and
        // the checksum is made to match (a snapshot written that way: the checksum is checked
        // at open, a record when it is read).
        bytes[second + 32 + 7] = 0x7f;
        snapshot::seal(&mut bytes);
        let songs = Songs::from_view(View::from_bytes(bytes, (1, 2)).unwrap()).unwrap();
        assert_eq!(songs[0], a);
        assert_eq!(songs[1].id, b.id);
        assert!(songs[1].title.contains("unreadable"), "{}", songs[1].title);
    }
}
