//! Unit tests of readers racing the journal: a rolled-back append and a fold seen halfway
//! (split from `tests.rs`, whose helpers they use).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use songrec_storage::prelude::*;

use songrec_storage::{SongMetadata, SongRecord};

use crate::LocalBackend;
use crate::records::JournalRecord;
use crate::tests::{ids, journal, song, sorted};

/// `song(i)` at a fixed time, so its journal record has the same bytes each time.
fn fixed(i: u32) -> SongMetadata {
    let mut m = song(i);
    let t = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap();
    (m.created_at, m.updated_at) = (t, t);
    m
}

/// Songs `fixed(i)` without vectors.
fn without_vectors<const N: usize>(songs: [u32; N]) -> Vec<SongRecord> {
    songs
        .map(|i| SongRecord {
            metadata: fixed(i),
            embeddings: Vec::new(),
        })
        .into()
}

#[tokio::test]
async fn a_reader_that_replayed_a_rolled_back_append_replays_the_journal_again() {
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_metadata(&fixed(1)).await.unwrap();
    let r = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(ids(&r).await, sorted([1]));
    // A batch of two records fails after the first record and part of the second (a full
    // disk) and is rolled back; the reader looks in between and replays the first record.
    let line = serde_json::to_vec(&JournalRecord::Put(Box::new(fixed(2))))
        .unwrap()
        .len()
        + 1;
    let seen = Arc::new(Mutex::new(None));
    let (reader, seen2) = (r.clone(), seen.clone());
    *w.inner.faults.journal_peek.lock().unwrap() = Some(Box::new(move || {
        let ids = reader
            .inner
            .with_state(|st| Ok(st.get(&fixed(2).id).is_some()));
        *seen2.lock().unwrap() = Some(ids);
    }));
    w.inner
        .faults
        .journal_write
        .lock()
        .unwrap()
        .replace(line + 10);
    assert!(w.put_songs(&without_vectors([2, 3])).await.is_err());
    let seen = seen.lock().unwrap().take();
    assert!(
        matches!(seen, Some(Ok(true))),
        "the reader replayed the first record of the failed append: {seen:?}"
    );
    // The writer's next record goes where the rolled-back ones started.
    let mut long = fixed(4);
    long.title = "a title longer than the record that was rolled back".repeat(3);
    w.put_metadata(&long).await.unwrap();
    assert_eq!(ids(&r).await, sorted([1, 4]));
    // Rolled back again, and the next append has exactly the length the reader replayed to.
    let line = |m: &SongMetadata| serde_json::to_vec(&JournalRecord::Put(Box::new(m.clone())));
    let (reader, seen2) = (r.clone(), Arc::new(Mutex::new(None)));
    let seen3 = seen2.clone();
    *w.inner.faults.journal_peek.lock().unwrap() = Some(Box::new(move || {
        *seen3.lock().unwrap() = Some(reader.inner.with_state(|st| Ok(st.songs.len())));
    }));
    let s5 = fixed(5);
    let n5 = line(&s5).unwrap().len() + 1;
    w.inner.faults.journal_write.lock().unwrap().replace(n5 + 3);
    assert!(w.put_songs(&without_vectors([5, 6])).await.is_err());
    assert!(matches!(seen2.lock().unwrap().take(), Some(Ok(3))));
    // Song 7's record is as long as song 5's: the file ends where the reader stopped.
    let s7 = fixed(7);
    assert_eq!(line(&s7).unwrap().len() + 1, n5);
    w.put_metadata(&s7).await.unwrap();
    assert_eq!(ids(&r).await, sorted([1, 4, 7]));
}

/// Songs without vectors, `from..from + n`.
fn plain(from: u32, n: u32) -> Vec<SongRecord> {
    (from..from + n)
        .map(|i| SongRecord {
            metadata: song(i),
            embeddings: Vec::new(),
        })
        .collect()
}

#[test]
fn a_reader_never_sees_a_half_folded_journal() {
    // A fold writes metadata.json first and empties the journal last; a reader reads
    // metadata.json first and the journal after. A load between the two once got the old
    // metadata and the empty journal: every record since the last fold was missing. Here a
    // writer appends a batch to the journal and folds it, in a tight loop and in the writer's
    // order (the files written as the writer writes them, without the snapshot, so readers
    // parse metadata.json and take long enough to be overtaken), while readers open the
    // library and catch up with it; every answer must hold at least the songs committed before
    // it was asked, and no more than after. And no reader starves: overtaken by folds a few
    // times, it holds the fold lock shared and the writer's next fold waits for it (without
    // that, readers here were overtaken 64 times in a row and answered "busy").
    const BASE: u32 = 2000;
    const BATCH: u32 = 50;
    const ROUNDS: u32 = 300;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    {
        let w = LocalBackend::open(dir.path()).unwrap();
        rt.block_on(async {
            w.put_songs(&plain(0, BASE)).await.unwrap();
            w.flush().await.unwrap();
        });
    }
    let root = dir.path().to_path_buf();
    let metadata = root.join("data/embeddings/metadata.json");
    let _ = fs::remove_file(root.join("data/.songrec/index/metadata.bin"));
    // Songs committed for certain, and songs that may be committed (a batch under way).
    let committed = Arc::new(AtomicUsize::new(BASE as usize));
    let upper = Arc::new(AtomicUsize::new(BASE as usize));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (committed, upper, done) = (
            Arc::clone(&committed),
            Arc::clone(&upper),
            Arc::clone(&done),
        );
        let root = root.clone();
        let fold_lock = crate::layout::Paths::new(&root).fold_lock;
        std::thread::spawn(move || {
            let mut all: std::collections::BTreeMap<String, SongMetadata> = (0..BASE)
                .map(|i| (song(i).id.to_string(), song(i)))
                .collect();
            let replace = |path: &Path, bytes: &[u8]| {
                let tmp = path.with_extension("tmp");
                fs::write(&tmp, bytes).unwrap();
                fs::rename(&tmp, path).unwrap();
            };
            for round in 0..ROUNDS {
                let from = BASE + round * BATCH;
                upper.store((from + BATCH) as usize, Ordering::SeqCst);
                let mut lines = Vec::new();
                for i in from..from + BATCH {
                    serde_json::to_writer(&mut lines, &JournalRecord::Put(Box::new(song(i))))
                        .unwrap();
                    lines.push(b'\n');
                    all.insert(song(i).id.to_string(), song(i));
                }
                let mut j = OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(journal(&root))
                    .unwrap();
                j.write_all(&lines).unwrap();
                j.sync_data().unwrap();
                committed.store((from + BATCH) as usize, Ordering::SeqCst);
                // The fold, in the writer's order: metadata.json, then the empty journal.
                let fold = crate::fsutil::FoldLock::exclusive(&fold_lock).unwrap();
                replace(&metadata, &serde_json::to_vec(&all).unwrap());
                replace(&journal(&root), b"");
                drop(fold);
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    let kept = LocalBackend::open(dir.path()).unwrap();
    let (mut answers, mut wrong, mut starved) = (0, Vec::new(), Vec::new());
    while !done.load(Ordering::SeqCst) {
        for reader in [None, Some(&kept)] {
            let before = committed.load(Ordering::SeqCst);
            let fresh;
            let r = match reader {
                Some(r) => r,
                None => match LocalBackend::open(dir.path()) {
                    Ok(b) => {
                        fresh = b;
                        &fresh
                    }
                    Err(e) => {
                        starved.push(e.to_string());
                        continue;
                    }
                },
            };
            let n = match rt.block_on(r.count(&Default::default())) {
                Ok(n) => n as usize,
                Err(e) => {
                    starved.push(e.to_string());
                    continue;
                }
            };
            let after = upper.load(Ordering::SeqCst);
            answers += 1;
            if n < before || n > after {
                wrong.push((before, n, after));
            }
        }
    }
    writer.join().unwrap();
    assert!(
        starved.is_empty(),
        "{} reads starved ({} answered): {:?}",
        starved.len(),
        answers,
        starved.first()
    );
    assert!(answers > 20, "only {answers} answers during the folds");
    assert!(
        wrong.is_empty(),
        "{} of {answers} answers were not a committed state (before, answer, after): {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(5)]
    );
}
