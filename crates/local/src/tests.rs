//! Unit tests of the backend's internals, and the test seams ([`Faults`]) the backend calls under
//! `cfg(test)`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use songrec_storage::prelude::*;

use songrec_storage::{
    Embedding, Metric, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord, StorageError,
};

use crate::journal::scan_journal;
use crate::records::JournalRecord;
use crate::{LocalBackend, npy};

/// Test seams: injected write failures and counters of expensive work.
#[derive(Default)]
pub(crate) struct Faults {
    /// Write this many bytes of the next journal append, then fail as a full disk does.
    pub(crate) journal_write: Mutex<Option<usize>>,
    /// Runs after that partial write, before it is rolled back (another process looking).
    pub(crate) journal_peek: Mutex<Option<Box<dyn FnOnce() + Send>>>,
    /// Packs rebuilt from the `.npy` files.
    pub(crate) rebuilds: AtomicUsize,
    /// Full reloads of a reader's state.
    pub(crate) reloads: AtomicUsize,
    /// Saving an approximate index fails after writing part of the file.
    pub(crate) ann_save_fails: std::sync::atomic::AtomicBool,
}

impl Faults {
    pub(crate) fn take_journal_fault(&self) -> Option<usize> {
        self.journal_write.lock().unwrap().take()
    }

    pub(crate) fn peek_journal(&self) {
        if let Some(peek) = self.journal_peek.lock().unwrap().take() {
            peek();
        }
    }
}

pub(crate) fn model() -> ModelInfo {
    ModelInfo::new("m", "1", 4)
}

pub(crate) fn song(i: u32) -> SongMetadata {
    SongMetadata::new(SongId::from_bytes(&i.to_le_bytes()), format!("Song {i}"))
}

pub(crate) fn record(i: u32, v: [f32; 4]) -> SongRecord {
    SongRecord {
        metadata: song(i),
        embeddings: vec![Embedding::new(model(), v.to_vec()).unwrap()],
    }
}

pub(crate) async fn ids(b: &LocalBackend) -> Vec<SongId> {
    let mut v: Vec<SongId> = b
        .list_versions()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| !e.deleted)
        .map(|e| e.id)
        .collect();
    v.sort();
    v
}

pub(crate) fn sorted(v: impl IntoIterator<Item = u32>) -> Vec<SongId> {
    let mut v: Vec<SongId> = v.into_iter().map(|i| song(i).id).collect();
    v.sort();
    v
}

pub(crate) async fn top(b: &LocalBackend, v: [f32; 4]) -> SongId {
    b.search(&SearchQuery::new(model(), v.to_vec(), 1))
        .await
        .unwrap()[0]
        .id
        .clone()
}

pub(crate) fn journal(dir: &Path) -> PathBuf {
    dir.join("data/.songrec/journal.jsonl")
}

#[tokio::test]
async fn a_failed_journal_append_is_rolled_back_and_the_library_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    b.put_metadata(&song(1)).await.unwrap();
    // The disk fills up in the middle of the next record.
    b.inner.faults.journal_write.lock().unwrap().replace(17);
    let err = b.put_metadata(&song(2)).await.unwrap_err();
    assert!(err.to_string().contains("no space left"), "{err}");
    assert!(b.get_metadata(&song(2).id).await.unwrap().is_none());
    // Space is freed; ingest goes on.
    b.put_metadata(&song(3)).await.unwrap();
    // A fragment that a failed roll-back left behind is cut before the next record too.
    let mut f = OpenOptions::new()
        .append(true)
        .open(journal(dir.path()))
        .unwrap();
    f.write_all(b"{\"put\":{\"id\":\"ab").unwrap();
    b.put_metadata(&song(4)).await.unwrap();
    drop(b);
    let text = fs::read_to_string(journal(dir.path())).unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    let b = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(ids(&b).await, sorted([1, 3, 4]));
}

#[tokio::test]
async fn a_fragment_before_good_records_is_dropped_and_every_record_kept() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    for i in 1..=4 {
        b.put_metadata(&song(i)).await.unwrap();
    }
    drop(b);
    // What a version without roll-back left after a full disk: the start of a record,
    // then (same line) the next records, committed after space was freed.
    let text = fs::read_to_string(journal(dir.path())).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let torn = format!(
        "{}\n{}{}\n{}{}{}\n{}\n",
        lines[0],
        &lines[1][..30],
        lines[2],
        &lines[1][..9],
        &lines[1][..22],
        lines[3],
        lines[1]
    );
    fs::write(journal(dir.path()), &torn).unwrap();
    // A reader opens it with every complete record and leaves the file alone.
    let r = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(ids(&r).await, sorted([1, 2, 3, 4]));
    assert_eq!(fs::read_to_string(journal(dir.path())).unwrap(), torn);
    drop(r);
    // A writer rewrites it without the fragments, the complete records byte for byte.
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_metadata(&song(5)).await.unwrap();
    drop(w);
    let repaired = fs::read_to_string(journal(dir.path())).unwrap();
    let kept: Vec<&str> = repaired.lines().collect();
    assert_eq!(kept[..4], [lines[0], lines[2], lines[3], lines[1]]);
    assert_eq!(kept.len(), 5);
    let b = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(ids(&b).await, sorted([1, 2, 3, 4, 5]));
}

#[test]
fn only_fragments_cut_short_are_dropped() {
    let good = br#"{"delete":{"id":"00","version":2}}"#;
    let id = song(1).id;
    let rec = format!(r#"{{"delete":{{"id":"{id}","version":2}}}}"#);
    assert!(serde_json::from_str::<JournalRecord>(&rec).is_ok());
    // Malformed (not merely cut short) text before a record is corruption, not a fragment.
    for bad in [
        format!(r#"{{"put":{{"id":"x"}}}}{rec}"#),
        format!(r#"{{"put":]{rec}"#),
        format!(r#"xx{rec}"#),
        format!("{rec}{rec}"),
    ] {
        let err = scan_journal(format!("{bad}\n").as_bytes(), 7)
            .err()
            .unwrap_or_else(|| panic!("accepted {bad}"));
        assert!(err.starts_with("record 8:"), "{err}");
    }
    let ok = scan_journal(format!("{{\"delete\":{{\"id\":\"{rec}\n").as_bytes(), 0).unwrap();
    assert_eq!(ok.repaired, vec![1]);
    assert_eq!(ok.records.len(), 1);
    // The last line without its newline is not consumed (a write in progress or torn).
    let bytes = format!("{rec}\n{}", std::str::from_utf8(good).unwrap());
    let s = scan_journal(bytes.as_bytes(), 0).unwrap();
    assert!(s.torn_tail && s.consumed == rec.len() + 1 && s.records.len() == 1);
}

/// A library (in a fresh folder) where a writer put songs 1 and 2, and a reader opened after.
async fn writer_of_two_and_reader() -> (tempfile::TempDir, LocalBackend, LocalBackend) {
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_songs(&[
        record(1, [1.0, 0.0, 0.0, 0.0]),
        record(2, [0.0, 1.0, 0.0, 0.0]),
    ])
    .await
    .unwrap();
    let r = LocalBackend::open(dir.path()).unwrap();
    (dir, w, r)
}

#[tokio::test]
async fn a_reader_sees_other_writers_commits_with_work_in_proportion() {
    let (dir, w, r) = writer_of_two_and_reader().await;
    assert_eq!(ids(&r).await, sorted([1, 2]));
    assert_eq!(top(&r, [1.0, 0.1, 0.0, 0.0]).await, song(1).id);
    let audio = dir.path().join("clip.ogg");
    fs::write(&audio, b"clip 3").unwrap();
    let audio_id = SongId::from_bytes(b"clip 3");
    assert!(!r.has_audio(&audio_id).await.unwrap());
    let reloads = || r.inner.faults.reloads.load(Ordering::Relaxed);
    let before = reloads();

    // Appends are replayed from the journal's tail, packs remapped.
    w.put_songs(&[record(3, [0.0, 0.0, 1.0, 0.0])])
        .await
        .unwrap();
    w.put_audio(&audio_id, &audio).await.unwrap();
    assert_eq!(ids(&r).await, sorted([1, 2, 3]));
    assert_eq!(top(&r, [0.0, 0.0, 1.0, 0.0]).await, song(3).id);
    assert!(r.has_audio(&audio_id).await.unwrap());
    w.delete_song(&song(1).id).await.unwrap();
    assert_eq!(ids(&r).await, sorted([2, 3]));
    assert_eq!(top(&r, [1.0, 0.1, 0.0, 0.0]).await, song(2).id);
    // A new model.
    let m2 = ModelInfo::new("other", "2", 2);
    w.put_embedding(
        &song(2).id,
        &Embedding::new(m2.clone(), vec![1.0, 2.0]).unwrap(),
    )
    .await
    .unwrap();
    let models = r.models().await.unwrap();
    assert_eq!(models.len(), 2);
    assert_eq!(models[1].model, m2);
    assert_eq!(models[1].count, 1);
    assert_eq!(reloads(), before, "appends need no full reload");

    // Folding the journal into metadata.json replaces files: one reload.
    w.put_songs(&[record(4, [0.0, 0.0, 0.0, 1.0])])
        .await
        .unwrap();
    w.flush().await.unwrap();
    assert_eq!(ids(&r).await, sorted([2, 3, 4]));
    assert_eq!(top(&r, [0.0, 0.0, 0.0, 1.0]).await, song(4).id);
    assert_eq!(reloads(), before + 1);
    assert_eq!(ids(&r).await, sorted([2, 3, 4]));
    assert_eq!(reloads(), before + 1, "nothing changed, nothing reloaded");
    assert_eq!(r.inner.faults.rebuilds.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_writer_appends_without_rereading_the_vector_folder() {
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    for i in 0..4 {
        w.put_songs(&[record(i, [i as f32 + 1.0, 1.0, 0.0, 0.0])])
            .await
            .unwrap();
    }
    // One build when the pack is first needed; every later batch only appends.
    assert_eq!(w.inner.faults.rebuilds.load(Ordering::Relaxed), 1);
    assert_eq!(w.models().await.unwrap()[0].count, 4);
}

#[tokio::test]
async fn a_reader_never_rolls_back_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let m2 = ModelInfo::new("other", "2", 2);
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_songs(&[record(1, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    w.put_embedding(
        &song(1).id,
        &Embedding::new(m2.clone(), vec![1.0, 2.0]).unwrap(),
    )
    .await
    .unwrap();
    drop(w);
    let r = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(r.models().await.unwrap().len(), 2);
    // Another process adds a vector of the second model and exits.
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_songs(&[SongRecord {
        metadata: song(2),
        embeddings: vec![Embedding::new(m2.clone(), vec![3.0, 4.0]).unwrap()],
    }])
    .await
    .unwrap();
    drop(w);
    let manifest = dir.path().join("data/.songrec/index/manifest.json");
    let committed = |key: &str| -> u64 {
        let m: serde_json::Value = serde_json::from_slice(&fs::read(&manifest).unwrap()).unwrap();
        m["packs"][key]["committed"].as_u64().unwrap()
    };
    let m2_len = committed("other-2");
    // Another tool drops a vector into the first model's folder: the reader rebuilds that
    // model's pack (no writer is at work) and records it in the manifest.
    let s = song(9);
    fs::write(
        dir.path().join(format!("data/embeddings/{}.npy", s.id)),
        npy::encode(&[0.0, 0.0, 1.0, 0.0]),
    )
    .unwrap();
    let rebuilds = r.inner.faults.rebuilds.load(Ordering::Relaxed);
    r.search(&SearchQuery::new(model(), vec![1.0, 0.0, 0.0, 0.0], 1))
        .await
        .unwrap();
    assert_eq!(
        r.inner.faults.rebuilds.load(Ordering::Relaxed),
        rebuilds + 1
    );
    assert_eq!(
        committed("other-2"),
        m2_len,
        "the other model's pack was rolled back"
    );
    let counts: Vec<u64> = r.models().await.unwrap().iter().map(|m| m.count).collect();
    assert_eq!(counts, vec![1, 2]);
}

#[tokio::test]
async fn a_reader_serves_the_committed_pack_while_a_writer_works() {
    let (dir, w, r) = writer_of_two_and_reader().await;
    assert_eq!(top(&r, [0.0, 1.0, 0.0, 0.0]).await, song(2).id);
    // The vector folder moves while the writer holds the lock (as it does between the
    // writer's own .npy writes and its index update).
    fs::write(
        dir.path()
            .join(format!("data/embeddings/{}.npy", song(9).id)),
        npy::encode(&[0.0, 0.0, 1.0, 0.0]),
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(top(&r, [0.0, 1.0, 0.0, 0.0]).await, song(2).id);
    }
    assert_eq!(
        r.inner.faults.rebuilds.load(Ordering::Relaxed),
        0,
        "a reader re-read every .npy file"
    );
    // Once the writer brings the index in step, the reader follows.
    w.put_songs(&[record(3, [0.0, 0.0, 0.0, 1.0])])
        .await
        .unwrap();
    assert_eq!(top(&r, [0.0, 0.0, 0.0, 1.0]).await, song(3).id);
    assert_eq!(r.inner.faults.rebuilds.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_private_index_uses_no_shared_temporary_file() {
    // A library written by the Python tool, on a read-only medium: no bookkeeping folder,
    // so the index is built for this process only.
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("lib/data/embeddings");
    fs::create_dir_all(&emb).unwrap();
    for i in 0..2u32 {
        let v = [i as f32, 1.0, 0.0, 0.0];
        fs::write(emb.join(format!("{}.npy", song(i).id)), npy::encode(&v)).unwrap();
    }
    // Someone else on the machine plants a symlink where a predictable name would be.
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").unwrap();
    let planted = std::env::temp_dir().join(format!(
        "songrec-pack-{}-legacy-0.2.tmp",
        std::process::id()
    ));
    let _ = fs::remove_file(&planted);
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let b = LocalBackend::open(dir.path().join("lib")).unwrap();
    let models = b.models().await;
    let _ = fs::remove_file(&planted);
    assert_eq!(models.unwrap()[0].count, 0, "no metadata: no candidates");
    assert_eq!(fs::read(&victim).unwrap(), b"precious");
    assert!(
        !dir.path().join("lib/data/.songrec").exists(),
        "nothing written"
    );
    // The in-memory index is reused while the folder does not change.
    b.models().await.unwrap();
    assert_eq!(b.inner.faults.rebuilds.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn vectors_that_cannot_be_searched_are_refused_or_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    b.put_songs(&[record(1, [1.0, 0.0, 0.0, 0.0])])
        .await
        .unwrap();
    // Finite values whose norm overflows: refused with a typed error, nothing stored.
    let huge = Embedding::new(model(), vec![3e38, 3e38, 0.0, 0.0]).unwrap();
    let err = b.put_embedding(&song(2).id, &huge).await.unwrap_err();
    assert!(
        matches!(&err, StorageError::InvalidInput(m) if m.contains("norm")),
        "{err}"
    );
    let report = b
        .put_songs(&[
            record(3, [0.0, 1.0, 0.0, 0.0]),
            SongRecord {
                metadata: song(2),
                embeddings: vec![huge.clone()],
            },
        ])
        .await
        .unwrap();
    assert_eq!(report.stored, vec![song(3).id]);
    assert_eq!(report.failed.len(), 1);
    assert!(b.get_metadata(&song(2).id).await.unwrap().is_none());
    let q = SearchQuery::new(model(), vec![3e38, 3e38, 0.0, 0.0], 1);
    assert!(matches!(
        b.search(&q).await.unwrap_err(),
        StorageError::InvalidInput(_)
    ));
    // Files another tool wrote: NaN, infinity, a float64 beyond float32's range. The index
    // skips them (with a message); the rest stays searchable.
    let emb = dir.path().join("data/embeddings");
    let mut f8 = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }\n";
    f8.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    f8.extend_from_slice(dict.as_bytes());
    for x in [1e300f64, 0.0, 0.0, 0.0] {
        f8.extend_from_slice(&x.to_le_bytes());
    }
    for (i, bytes) in [
        (4u32, npy::encode(&[f32::NAN, 1.0, 0.0, 0.0])),
        (5, npy::encode(&[-f32::NAN, 1.0, 0.0, 0.0])),
        (6, npy::encode(&[f32::INFINITY, 0.0, 0.0, 0.0])),
        (7, f8),
    ] {
        fs::write(emb.join(format!("{}.npy", song(i).id)), bytes).unwrap();
        b.put_metadata(&song(i)).await.unwrap();
    }
    b.reindex().await.unwrap();
    for v in [
        [1.0, 0.0, 0.0, 0.0],
        [0.0, 1.0, 0.0, 0.0],
        [-1.0, -1.0, 0.0, 0.0],
    ] {
        for metric in [Metric::Cosine, Metric::Dot, Metric::L2] {
            let mut q = SearchQuery::new(model(), v.to_vec(), 10);
            q.ranking.metric = metric;
            let hits = b.search(&q).await.unwrap();
            let mut got: Vec<SongId> = hits.iter().map(|h| h.id.clone()).collect();
            got.sort();
            assert_eq!(got, sorted([1, 3]), "{metric:?} {v:?}");
            assert!(hits.iter().all(|h| h.similarity.is_finite()));
        }
    }
    assert_eq!(b.models().await.unwrap()[0].count, 2);
    assert!(b.get_embedding(&song(4).id, &model()).await.is_err());
}

#[tokio::test]
async fn legacy_adoption_skips_files_it_cannot_use() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("data/embeddings");
    fs::create_dir_all(&emb).unwrap();
    // A zero-length vector would register a model of dimension 0; a huge shape used to
    // overflow into one.
    let mut empty = b"\x93NUMPY\x01\x00".to_vec();
    let dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2305843009213693952,), }\n";
    empty.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    empty.extend_from_slice(dict.as_bytes());
    fs::write(emb.join(format!("{}.npy", song(1).id)), npy::encode(&[])).unwrap();
    fs::write(
        emb.join(format!("{}.npy", song(2).id)),
        npy::encode(&[f32::NAN; 3]),
    )
    .unwrap();
    fs::write(
        emb.join(format!("{}.npy", song(3).id)),
        npy::encode(&[1.0, 2.0]),
    )
    .unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    let models = b.models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].model, ModelInfo::new("legacy", "0", 2));
    // With only the overflowing shape, the file is reported (it is malformed).
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("data/embeddings");
    fs::create_dir_all(&emb).unwrap();
    fs::write(emb.join(format!("{}.npy", song(1).id)), &empty).unwrap();
    let err = LocalBackend::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("too large"), "{err}");
}

/// A first page by title or artist (selected with a bounded heap over the two fields) is the
/// start of the full sort, with ties in case, missing artists and equal titles broken by id.
#[tokio::test]
async fn a_first_page_by_title_or_artist_is_the_start_of_the_full_order() {
    use songrec_storage::{ListQuery, SortKey};
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    let titles = ["b", "B", "a", "Ä", "a", "c", "", "b side"];
    let recs: Vec<SongRecord> = (0..40u32)
        .map(|i| {
            let mut r = record(i, [1.0, i as f32, 0.0, 0.0]);
            r.metadata.title = titles[i as usize % titles.len()].into();
            r.metadata.artist = match i % 5 {
                0 => None,
                1 => Some("zed".into()),
                2 => Some("Zed".into()),
                3 => Some(String::new()),
                _ => Some(format!("art {}", i % 3)),
            };
            r
        })
        .collect();
    w.put_songs(&recs).await.unwrap();
    w.flush().await.unwrap();
    drop(w);
    for reopen in [false, true] {
        let b = LocalBackend::open(dir.path()).unwrap();
        if reopen {
            // Some songs decoded, most not: both kinds of slot are read.
            for r in recs.iter().step_by(3) {
                b.get_metadata(&r.metadata.id).await.unwrap();
            }
        }
        for sort in [SortKey::Title, SortKey::Artist] {
            for descending in [false, true] {
                let q = ListQuery {
                    sort,
                    descending,
                    limit: 1000,
                    ..ListQuery::default()
                };
                let all = b.list(&q).await.unwrap().items;
                assert_eq!(all.len(), 40);
                for n in [1, 6, 39] {
                    let page = b
                        .list(&ListQuery {
                            limit: n,
                            ..q.clone()
                        })
                        .await
                        .unwrap();
                    let got: Vec<&SongId> = page.items.iter().map(|m| &m.id).collect();
                    let want: Vec<&SongId> = all[..n].iter().map(|m| &m.id).collect();
                    assert_eq!(got, want, "{sort:?} descending {descending}, first {n}");
                    let last = page.items.last().unwrap();
                    assert_eq!(
                        page.next,
                        Some(songrec_storage::query::position_cursor(last, sort))
                    );
                    let rest = b
                        .list(&ListQuery {
                            cursor: page.next.clone(),
                            limit: 1000,
                            ..q.clone()
                        })
                        .await
                        .unwrap();
                    assert_eq!(
                        rest.items,
                        all[n..],
                        "{sort:?} descending {descending}, after {n}"
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn a_reopened_library_decodes_only_what_it_reads_and_pages_reuse_one_order() {
    use songrec_storage::{Condition, Field, Filter, ListQuery, SortKey, StorageBackendExt, Value};
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    let recs: Vec<SongRecord> = (0..50)
        .map(|i| {
            let mut r = record(i, [1.0, i as f32, 0.0, 0.0]);
            r.metadata.artist = Some(format!("Artist {}", 49 - i));
            r.metadata.genre = Some(if i % 2 == 0 { "even" } else { "odd" }.into());
            r.metadata.extra.insert("n".into(), serde_json::json!(i));
            r
        })
        .collect();
    w.put_songs(&recs).await.unwrap();
    w.flush().await.unwrap();
    drop(w);

    let r = LocalBackend::open(dir.path()).unwrap();
    let decoded = |b: &LocalBackend| {
        b.inner
            .with_state(|st| {
                Ok((0..st.songs.len())
                    .filter(|&i| st.songs.is_decoded(i))
                    .count())
            })
            .unwrap()
    };
    let one = r.get_metadata(&song(7).id).await.unwrap().unwrap();
    assert_eq!(
        one, recs[7].metadata,
        "a lazily decoded song is the song written"
    );
    assert_eq!(decoded(&r), 1, "one song read, one decoded");
    assert_eq!(r.list_versions().await.unwrap().len(), 50);
    let odd = Filter::default().and(Condition::Eq(Field::Genre, Value::Text("odd".into())));
    assert_eq!(decoded(&r), 1, "versions decode nothing");
    assert_eq!(r.count(&odd).await.unwrap(), 25);
    assert_eq!(
        decoded(&r),
        50,
        "a filter decodes every song once and keeps them"
    );

    assert_eq!(r.list_all(&Filter::default()).await.unwrap().len(), 50);
    // Paging by artist: one order, every song once, in the right order; a page decodes its own.
    let q = ListQuery {
        sort: SortKey::Artist,
        limit: 7,
        ..ListQuery::default()
    };
    let page = r.list(&q).await.unwrap();
    assert_eq!(page.items[0].artist.as_deref(), Some("Artist 0"));
    assert_eq!(page.items[0].extra["n"], 49);
    let mut seen = Vec::new();
    r.for_each_page(&q, |items| {
        seen.extend(items);
        true
    })
    .await
    .unwrap();
    let artists: Vec<String> = seen.iter().map(|m| m.artist.clone().unwrap()).collect();
    // Natural order: Artist 2 before Artist 10.
    let want: Vec<String> = (0..50).map(|i| format!("Artist {i}")).collect();
    assert_eq!(artists, want);
    assert_eq!(
        page.items,
        seen[..7],
        "the first page, selected alone, is the walk's start"
    );
    let down = r
        .list(&ListQuery {
            descending: true,
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(down.items[0].artist.as_deref(), Some("Artist 49"));
    assert_eq!(
        down.next,
        Some(songrec_storage::query::position_cursor(
            &down.items[6],
            SortKey::Artist
        )),
        "the cursor names where the page ended (keyset paging)"
    );
    let order = || {
        r.inner
            .with_state(|st| Ok(Arc::clone(&st.list_order.as_ref().unwrap().slots)))
            .unwrap()
    };
    let first = order();
    let later = r
        .list(&ListQuery {
            cursor: Some("14".into()),
            ..q.clone()
        })
        .await
        .unwrap();
    assert_eq!(later.items, seen[14..21]);
    assert!(Arc::ptr_eq(&first, &order()), "later pages reuse one order");
    // Walking every page by id returns copies and keeps nothing decoded.
    let fresh = LocalBackend::open(dir.path()).unwrap();
    let mut n = 0;
    fresh
        .for_each_page(
            &ListQuery {
                limit: 9,
                ..ListQuery::default()
            },
            |items| {
                n += items.len();
                true
            },
        )
        .await
        .unwrap();
    assert_eq!(n, 50);
    assert_eq!(decoded(&fresh), 0, "pages are copies");
    // A filter on a free-form field still works (it decodes what it tests).
    let by_extra = Filter::default().and(Condition::Range {
        field: Field::Extra("n".into()),
        min: Some(40.0),
        max: None,
    });
    assert_eq!(r.count(&by_extra).await.unwrap(), 10);
}

#[tokio::test]
async fn the_batch_whose_append_triggers_a_fold_is_in_the_fold() {
    // 5,000 journal records fold the journal into metadata.json; the fold must include the
    // batch that reached the mark (it once wrote the state from before the batch and emptied
    // the journal, so a new process did not see the batch).
    let dir = tempfile::tempdir().unwrap();
    let w = LocalBackend::open(dir.path()).unwrap();
    let batch = |from: u32, n: u32| -> Vec<SongRecord> {
        (from..from + n)
            .map(|i| SongRecord {
                metadata: song(i),
                embeddings: Vec::new(),
            })
            .collect()
    };
    w.put_songs(&batch(0, 4000)).await.unwrap();
    w.put_songs(&batch(4000, 1000)).await.unwrap();
    let folded = w.inner.with_state(|st| Ok(st.journal_records)).unwrap();
    assert_eq!(folded, 0, "the 5,000th record folded the journal");
    let r = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(ids(&r).await.len(), 5000, "a new process sees every song");
    assert!(r.get_metadata(&song(4999).id).await.unwrap().is_some());
}

/// (id, similarity) of each match.
fn scored(matches: &[songrec_storage::Match]) -> Vec<(SongId, f32)> {
    matches
        .iter()
        .map(|m| (m.id.clone(), m.similarity))
        .collect()
}

#[tokio::test]
async fn a_reload_never_reuses_rows_of_the_old_song_list() {
    // Issue 25's library: songs with vectors of one model and a song with only another
    // model's vectors, which sorts before them.
    let dir = tempfile::tempdir().unwrap();
    let other = ModelInfo::new("musicnn", "1", 2);
    let first = SongId::parse(&"0".repeat(64)).unwrap();
    let mut recs: Vec<SongRecord> = (1..=5)
        .map(|i| record(i, [i as f32, 1.0, 0.5, 0.25]))
        .collect();
    recs.push(SongRecord {
        metadata: SongMetadata::new(first.clone(), "only the other model"),
        embeddings: vec![Embedding::new(other, vec![1.0, 0.0]).unwrap()],
    });
    let w = LocalBackend::open(dir.path()).unwrap();
    w.put_songs(&recs).await.unwrap();
    w.flush().await.unwrap();
    drop(w);
    // A long-running reader answers once (keeping its candidate rows)...
    let r = LocalBackend::open(dir.path()).unwrap();
    let q = |k| SearchQuery::new(model(), vec![2.5, 1.0, 0.5, 0.25], k);
    assert_eq!(r.search(&q(10)).await.unwrap().len(), 5);
    // ...another process deletes the other model's song and folds the journal...
    let w = LocalBackend::open(dir.path()).unwrap();
    assert!(w.delete_song(&first).await.unwrap());
    w.flush().await.unwrap();
    drop(w);
    // ...and the reader, which reloads, answers what a fresh process answers.
    let fresh = LocalBackend::open(dir.path()).unwrap();
    for k in [1, 10] {
        let want = scored(&fresh.search(&q(k)).await.unwrap());
        let got = r.search(&q(k)).await.map(|m| scored(&m));
        assert_eq!(got.as_ref().ok(), Some(&want), "k={k}: {got:?}");
    }
    assert_eq!(ids(&r).await, sorted(1..=5));
}

#[tokio::test]
async fn a_panic_while_holding_the_state_fails_only_that_operation() {
    let (_dir, _w, r) = writer_of_two_and_reader().await;
    assert_eq!(ids(&r).await, sorted([1, 2]));
    let inner = r.inner.clone();
    let panicked = std::thread::spawn(move || {
        inner.with_state(|_| -> songrec_storage::StorageResult<()> { panic!("injected bug") })
    })
    .join();
    assert!(panicked.is_err());
    // The next operations run on state loaded again.
    assert_eq!(ids(&r).await, sorted([1, 2]));
    assert_eq!(top(&r, [0.0, 1.0, 0.0, 0.0]).await, song(2).id);
}
