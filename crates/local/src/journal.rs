//! The metadata journal (`journal.jsonl`): parsing it (repairing the fragments of failed
//! appends), replaying it over `metadata.json`, appending records durably, and compacting it
//! into `metadata.json` and `tombstones.json`.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};

use songrec_storage::{SongMetadata, StorageError, StorageResult};

use crate::fsutil::{file_id, write_atomic, write_atomic_nosync_dir};
use crate::layout::{mkdirs, write_json};
use crate::records::JournalRecord;
use crate::snapshot;
use crate::state::{Inner, State};

/// Bytes before its offset a reader checks before resuming the journal there (see
/// [`Inner::replay_journal`]).
pub(crate) const TAIL_CHECK: usize = 4096;

/// Journal records before `metadata.json` is rewritten, at least: 5,000, or a twentieth of the
/// library, at most 50,000 (see [`compact_after`]).
const COMPACT_AFTER: usize = 5000;
/// The most journal records between folds, whatever the library's size: bounds what a process
/// replays when it opens the library (~50 MB of JSON).
const COMPACT_AFTER_MAX: usize = 50_000;

/// Journal records that trigger a fold into `metadata.json` for a library of `songs`.
///
/// A fold rewrites `metadata.json` and the snapshot whole, so with a fixed threshold a bulk
/// ingest of `n` songs would rewrite O(n²) bytes (at a million songs, 200 folds of up to a
/// gigabyte). Growing the threshold with the library makes a fold's cost proportional to the
/// records it folds (each record pays for rewriting about 20 songs) up to 1M songs, and the cap
/// keeps the journal a process replays at open bounded.
///
/// ```text
/// 10k songs: 5,000   100k: 5,000   400k: 20,000   1M and above: 50,000
/// ```
pub(crate) fn compact_after(songs: usize) -> usize {
    (songs / 20).clamp(COMPACT_AFTER, COMPACT_AFTER_MAX)
}

/// Libraries up to this many songs fold the journal into `metadata.json` on every `flush` (the
/// end of each writing command), so the Python tool sees each change at once; it costs
/// rewriting ~20 MB.
pub(crate) const FOLD_ON_FLUSH_MAX_SONGS: usize = 20_000;

/// Whether `flush` folds the journal: always on a small library; on a larger one only when the
/// journal already holds a twentieth of it, so a command that changes one song of a million
/// does not rewrite a gigabyte (the fold then happens with the writes that reach
/// [`compact_after`], or on `songrec reindex`).
pub(crate) fn fold_on_flush(songs: usize, records: usize) -> bool {
    records > 0 && (songs <= FOLD_ON_FLUSH_MAX_SONGS || records.saturating_mul(20) >= songs)
}

#[cfg(test)]
#[test]
fn folds_grow_with_the_library_and_stay_bounded() {
    assert_eq!(compact_after(0), 5000);
    assert_eq!(compact_after(100_000), 5000);
    assert_eq!(compact_after(400_000), 20_000);
    assert_eq!(compact_after(1_000_000), 50_000);
    assert_eq!(compact_after(50_000_000), 50_000);
    assert!(fold_on_flush(20_000, 1));
    assert!(!fold_on_flush(20_000, 0));
    assert!(!fold_on_flush(1_000_000, 1));
    assert!(fold_on_flush(1_000_000, 50_000));
}

/// What a pass over journal bytes found.
#[derive(Default)]
pub(crate) struct JournalScan {
    pub(crate) records: Vec<JournalRecord>,
    /// Byte range of each record's text (without its newline).
    ranges: Vec<std::ops::Range<usize>>,
    /// Bytes up to the end of the last complete line.
    pub(crate) consumed: usize,
    /// The bytes end with a line that has no newline yet (a torn or an in-progress write).
    pub(crate) torn_tail: bool,
    /// Line numbers where the start of a failed write was dropped before a complete record.
    pub(crate) repaired: Vec<usize>,
}

/// Parses journal lines. `before` is the number of records before these bytes (for messages).
///
/// A line that is not a record is corruption and an error, with one exception that is safe to
/// repair: the incomplete start of a record whose append failed (a full disk), followed on the
/// same line by a complete record appended later by a version that did not roll the failed
/// write back. The fragment is provably not a record (it is JSON cut short) and was never
/// acknowledged, so it is dropped and the complete record after it kept.
pub(crate) fn scan_journal(bytes: &[u8], before: usize) -> Result<JournalScan, String> {
    let mut scan = JournalScan::default();
    let mut pos = 0;
    while pos < bytes.len() {
        let Some(nl) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            scan.torn_tail = true;
            break;
        };
        let line = &bytes[pos..pos + nl];
        let n = before + scan.records.len() + 1;
        let (rec, start) = match serde_json::from_slice::<JournalRecord>(line) {
            Ok(rec) => (rec, 0),
            Err(e) => match recover_torn_line(line) {
                Some((rec, start)) => {
                    scan.repaired.push(n);
                    (rec, start)
                }
                None => return Err(format!("record {n}: {e}")),
            },
        };
        scan.records.push(rec);
        scan.ranges.push(pos + start..pos + nl);
        pos += nl + 1;
        scan.consumed = pos;
    }
    Ok(scan)
}

/// Splits a line made of one or more fragments of records cut short, then one complete record;
/// returns the record and where it starts. Fragments and the record all start where a record starts
/// (`{"put":` or `{"delete":`), and every fragment must be JSON cut short, not malformed.
fn recover_torn_line(line: &[u8]) -> Option<(JournalRecord, usize)> {
    const STARTS: [&[u8]; 2] = [b"{\"put\":", b"{\"delete\":"];
    let starts: Vec<usize> = (0..line.len())
        .filter(|&i| STARTS.iter().any(|s| line[i..].starts_with(s)))
        .take(64)
        .collect();
    if starts.first() != Some(&0) {
        return None;
    }
    let cut_short =
        |seg: &[u8]| serde_json::from_slice::<serde_json::Value>(seg).is_err_and(|e| e.is_eof());
    // reach[k]: the bytes before starts[k] are nothing but fragments cut short.
    let mut reach = vec![false; starts.len()];
    reach[0] = true;
    for j in 1..starts.len() {
        reach[j] = (0..j).any(|k| reach[k] && cut_short(&line[starts[k]..starts[j]]));
        if reach[j]
            && let Ok(rec) = serde_json::from_slice::<JournalRecord>(&line[starts[j]..])
        {
            return Some((rec, starts[j]));
        }
    }
    None
}

impl Inner {
    /// Replays the journal from the start, or (`tail`) only what was appended since the last
    /// replay. Returns false, having applied nothing, when the tail cannot be replayed because
    /// the journal was replaced (a compaction), shrank, or no longer holds the bytes last
    /// replayed where they were: the caller reloads.
    ///
    /// The last case: a reader may replay a complete record of an append that then fails (its
    /// fsync, or a later record of the batch) and is rolled back; the writer's next append
    /// goes where the rolled-back one started, so the file has the same identity and may be
    /// as long or longer, but the reader's offset now falls inside other records. The last
    /// [`TAIL_CHECK`] bytes replayed are kept and compared before resuming, so such a reader
    /// replays the journal from the start instead of reading from the middle of a record or
    /// keeping a record that was never committed.
    pub(crate) fn replay_journal(&self, st: &mut State, tail: bool) -> StorageResult<bool> {
        let path = &self.paths.journal;
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(!tail || st.journal_id.is_none());
            }
            Err(e) => return Err(StorageError::io(path, e)),
        };
        let meta = file.metadata().map_err(|e| StorageError::io(path, e))?;
        let id = file_id(&meta);
        let from = if tail {
            if st.journal_id != Some(id) || meta.len() < st.journal_len {
                return Ok(false);
            }
            st.journal_len
        } else {
            0
        };
        // A tail replay starts with the bytes last replayed, to check them.
        let check = if tail { st.journal_check.len() } else { 0 };
        let mut bytes = Vec::new();
        let Some(start) = from.checked_sub(check as u64) else {
            return Ok(false);
        };
        file.seek(std::io::SeekFrom::Start(start))
            .and_then(|_| file.read_to_end(&mut bytes))
            .map_err(|e| StorageError::io(path, e))?;
        if bytes.get(..check) != Some(&st.journal_check[..]) {
            tracing::debug!("{} changed before its last replayed record", path.display());
            return Ok(false);
        }
        if tail && bytes.len() == check {
            return Ok(true); // nothing new
        }
        let scan = scan_journal(&bytes[check..], st.journal_records)
            .map_err(|detail| StorageError::corrupt(path, detail))?;
        if scan.torn_tail && !tail {
            // The write that produced it never completed (no fsync ack); a writer cuts it.
            tracing::warn!("ignoring an incomplete last record in {}", path.display());
        }
        if !scan.repaired.is_empty() {
            tracing::warn!(
                "{}: dropped the incomplete start of a failed write before record(s) {:?}; \
                 every complete record was kept",
                path.display(),
                scan.repaired
            );
            st.journal_repaired = true;
        }
        st.journal_records += scan.records.len();
        scan.records.into_iter().for_each(|r| st.apply(r));
        st.journal_len = from + scan.consumed as u64;
        st.journal_id = Some(id);
        let end = check + scan.consumed;
        st.journal_check = bytes[end.saturating_sub(TAIL_CHECK)..end].to_vec();
        Ok(true)
    }

    /// With the write lock just taken: rewrites a journal whose replay skipped fragments of
    /// failed appends (keeping every complete record byte for byte), or cuts an incomplete
    /// last record, so the next record starts on a clean line.
    pub(crate) fn repair_journal(&self, st: &mut State) -> StorageResult<()> {
        let path = &self.paths.journal;
        if st.journal_repaired {
            let bytes = fs::read(path).map_err(|e| StorageError::io(path, e))?;
            let scan =
                scan_journal(&bytes, 0).map_err(|detail| StorageError::corrupt(path, detail))?;
            write_atomic(path, |w| {
                for r in &scan.ranges {
                    w.write_all(&bytes[r.clone()])?;
                    w.write_all(b"\n")?;
                }
                Ok(())
            })?;
            tracing::warn!(
                "{}: rewrote the journal without the incomplete fragments",
                path.display()
            );
            st.journal_repaired = false;
            st.journal_len = scan.ranges.iter().map(|r| r.len() as u64 + 1).sum();
            // Only a writer gets here, and a writer never resumes the journal as a reader.
            st.journal_check.clear();
            st.journal_id = fs::metadata(path).ok().map(|m| file_id(&m));
            return Ok(());
        }
        let Ok(f) = OpenOptions::new().write(true).open(path) else {
            return Ok(());
        };
        let len = f.metadata().map_err(|e| StorageError::io(path, e))?.len();
        if len > st.journal_len {
            f.set_len(st.journal_len)
                .and_then(|()| f.sync_all())
                .map_err(|e| StorageError::io(path, e))?;
        }
        Ok(())
    }

    /// Appends records, fsyncs them and applies them to the state; they count only once this
    /// returns. A failed write or fsync (a full disk) is rolled back to the last complete record,
    /// so the next append never lands after a fragment.
    pub(crate) fn append_journal(
        &self,
        st: &mut State,
        recs: &[JournalRecord],
    ) -> StorageResult<()> {
        if recs.is_empty() {
            return Ok(());
        }
        let path = &self.paths.journal;
        let mut buf = Vec::new();
        for r in recs {
            serde_json::to_writer(&mut buf, r)
                .map_err(|e| StorageError::InvalidInput(e.to_string()))?;
            buf.push(b'\n');
        }
        let io = |e| StorageError::io(path, e);
        let mut f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(io)?;
        let good = st.journal_len;
        let len = f.metadata().map_err(io)?.len();
        if len < good {
            return Err(StorageError::corrupt(
                path,
                format!("shrank from {good} to {len} bytes while this process held the write lock"),
            ));
        }
        if len > good {
            // What an earlier failed append could not roll back.
            f.set_len(good).map_err(io)?;
        }
        let written = f
            .seek(std::io::SeekFrom::Start(good))
            .and_then(|_| self.write_journal_bytes(&mut f, &buf))
            .and_then(|()| f.sync_data());
        if let Err(e) = written {
            if let Err(undo) = f.set_len(good).and_then(|()| f.sync_data()) {
                tracing::warn!(
                    "could not roll back a failed append to {} ({undo}); the next write or open \
                     cuts it",
                    path.display()
                );
            }
            return Err(io(e));
        }
        st.journal_len = good + buf.len() as u64;
        st.journal_check.extend_from_slice(&buf);
        let over = st.journal_check.len().saturating_sub(TAIL_CHECK);
        st.journal_check.drain(..over);
        st.journal_records += recs.len();
        // Applied before a fold is considered: the fold writes the state, and must write these
        // records too (the journal they are in is emptied by it).
        recs.iter().for_each(|r| st.apply(r.clone()));
        if st.journal_records >= compact_after(st.songs.len()) {
            self.compact(st)?;
        }
        Ok(())
    }

    fn write_journal_bytes(&self, f: &mut File, buf: &[u8]) -> std::io::Result<()> {
        #[cfg(test)]
        if let Some(n) = self.faults.take_journal_fault() {
            f.write_all(&buf[..n.min(buf.len())])?;
            self.faults.peek_journal();
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device (injected)",
            ));
        }
        f.write_all(buf)
    }

    /// Folds the journal into `metadata.json` and `tombstones.json`.
    pub(crate) fn compact(&self, st: &mut State) -> StorageResult<()> {
        mkdirs(&self.paths.internal)?;
        let _fold = crate::fsutil::FoldLock::exclusive(&self.paths.fold_lock)?;
        let sorted: BTreeMap<&str, &SongMetadata> =
            st.songs.iter().map(|m| (m.id.as_str(), m)).collect();
        mkdirs(&self.paths.embeddings)?;
        write_atomic(&self.paths.metadata, |w| {
            serde_json::to_writer(&mut *w, &sorted).map_err(std::io::Error::other)?;
            w.write_all(b"\n")
        })?;
        if let Some(stamp) = songrec_fs::size_and_mtime(&self.paths.metadata) {
            let songs: Vec<&SongMetadata> = sorted.values().copied().collect();
            let bytes = snapshot::encode(&songs, stamp);
            mkdirs(&self.paths.index)?;
            write_atomic_nosync_dir(&self.paths.snapshot, |w| w.write_all(&bytes))?;
            if let Some(crc) = snapshot::CHECKSUM.stored(&bytes) {
                self.verified.note_file(&self.paths.snapshot, crc);
            }
        }
        write_json(&self.paths.tombstones, &st.tombstones)?;
        write_atomic(&self.paths.journal, |_| Ok(()))?;
        st.journal_records = 0;
        st.journal_len = 0;
        st.journal_check.clear();
        st.journal_id = fs::metadata(&self.paths.journal).ok().map(|m| file_id(&m));
        // metadata.json lives beside the first model's vectors: its folder's stamp moved.
        self.restamp(st)?;
        Ok(())
    }
}
