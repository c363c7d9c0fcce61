//! The local backend's on-disk behaviour: numpy interoperability, libraries written by the
//! Python tool, crash leftovers, external edits, and the write lock.

use std::path::Path;
use std::process::Command;

use songrec_local::{LocalBackend, npy};
use songrec_storage::prelude::*;
use songrec_storage::{
    Embedding, Filter, ModelInfo, SearchQuery, SongId, SongMetadata, SongRecord, StorageError,
};

fn py(code: &str) -> String {
    let out = Command::new(songrec_testkit::fixtures::test_python())
        .args(["-c", code])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn model() -> ModelInfo {
    ModelInfo::new("m", "1", 4)
}

fn song(i: u32) -> SongMetadata {
    let mut m = SongMetadata::new(SongId::from_bytes(&i.to_le_bytes()), format!("Song {i}"));
    m.genre = Some(if i.is_multiple_of(2) { "even" } else { "odd" }.into());
    m
}

#[test]
fn numpy_reads_what_we_write_and_we_read_what_numpy_writes() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.npy");
    let v = [0.5f32, -1.25, 3.0e-7, 1.0e6];
    std::fs::write(&ours, npy::encode(&v)).unwrap();
    let got = py(&format!(
        "import numpy as np; a = np.load({:?}); print(a.dtype, a.shape, np.array_equal(a, np.array([0.5, -1.25, 3.0e-7, 1.0e6], dtype=np.float32)))",
        ours.to_str().unwrap()
    ));
    assert_eq!(got, "float32 (4,) True");

    for (name, code) in [
        (
            "f32.npy",
            "np.save(p, np.array([1.5, -2, 0.25], dtype=np.float32))",
        ),
        (
            "f64_row.npy",
            "np.save(p, np.array([[1.5, -2, 0.25]], dtype=np.float64))",
        ),
        (
            "f32_be.npy",
            "np.save(p, np.array([1.5, -2, 0.25], dtype='>f4'))",
        ),
        ("f64_col.npy", "np.save(p, np.array([[1.5], [-2], [0.25]]))"),
    ] {
        let p = dir.path().join(name);
        py(&format!(
            "import numpy as np; p = {:?}; {code}",
            p.to_str().unwrap()
        ));
        assert_eq!(npy::read(&p).unwrap(), vec![1.5, -2.0, 0.25], "{name}");
    }
    let bad = dir.path().join("matrix.npy");
    py(&format!(
        "import numpy as np; np.save({:?}, np.zeros((2, 3)))",
        bad.to_str().unwrap()
    ));
    let err = npy::read(&bad).unwrap_err();
    assert!(
        matches!(err, StorageError::Corrupt { .. }) && err.to_string().contains("matrix.npy"),
        "{err}"
    );
}

#[tokio::test]
async fn reads_a_library_written_by_the_python_tool() {
    let dir = tempfile::tempdir().unwrap();
    let emb = dir.path().join("data/embeddings");
    std::fs::create_dir_all(dir.path().join("data/audio")).unwrap();
    std::fs::create_dir_all(&emb).unwrap();
    let ids: Vec<SongId> = (0..3u32)
        .map(|i| SongId::from_bytes(&i.to_le_bytes()))
        .collect();
    // float64 (1, d) vectors as np.save writes them, and metadata without songrec's own fields.
    py(&format!(
        "import numpy as np, json\nd = {:?}\nids = {:?}\nvecs = [[1,0,0,0],[0.9,0.1,0,0],[0,0,1,0]]\nmeta = {{}}\nfor i, v in zip(ids, vecs):\n    np.save(d + '/' + i + '.npy', np.array([v], dtype=np.float64))\n    meta[i] = {{'title': 'T' + i[:4], 'artist': 'A', 'genre': 'rock', 'file_path': 'data/audio/x.mp3'}}\njson.dump(meta, open(d + '/metadata.json', 'w'))",
        emb.to_str().unwrap(),
        ids.iter().map(|i| i.to_string()).collect::<Vec<_>>()
    ));
    let b = LocalBackend::open(dir.path()).unwrap();
    let models = b.models().await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].model, ModelInfo::new("legacy", "0", 4));
    assert_eq!(models[0].count, 3);
    let m = b.get_metadata(&ids[0]).await.unwrap().unwrap();
    assert_eq!(m.artist.as_deref(), Some("A"));
    assert_eq!(
        m.extra["file_path"], "data/audio/x.mp3",
        "unknown fields are kept"
    );
    let hits = b
        .search(&SearchQuery::new(
            models[0].model.clone(),
            vec![1.0, 0.0, 0.0, 0.0],
            2,
        ))
        .await
        .unwrap();
    assert_eq!(
        hits.iter().map(|h| h.id.clone()).collect::<Vec<_>>(),
        vec![ids[0].clone(), ids[1].clone()]
    );
}

fn write_songs(root: &Path, n: u32) -> LocalBackend {
    let b = LocalBackend::open(root).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let recs: Vec<SongRecord> = (0..n)
            .map(|i| SongRecord {
                metadata: song(i),
                embeddings: vec![
                    Embedding::new(model(), vec![i as f32 + 1.0, 1.0, 0.0, 0.5]).unwrap(),
                ],
            })
            .collect();
        assert!(b.put_songs(&recs).await.unwrap().is_complete());
    });
    b
}

#[test]
fn a_torn_journal_tail_is_ignored_and_repaired() {
    let dir = tempfile::tempdir().unwrap();
    drop(write_songs(dir.path(), 3));
    // Simulate a crash in the middle of appending a record.
    let journal = dir.path().join("data/.songrec/journal.jsonl");
    let mut bytes = std::fs::read(&journal).unwrap();
    bytes.extend_from_slice(b"{\"put\":{\"id\":\"abc");
    std::fs::write(&journal, &bytes).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let b = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(b.count(&Filter::default()).await.unwrap(), 3);
        b.put_metadata(&song(10)).await.unwrap(); // a write cuts the torn line first
        drop(b);
        let b = LocalBackend::open(dir.path()).unwrap();
        assert_eq!(b.count(&Filter::default()).await.unwrap(), 4);
    });
    let text = std::fs::read_to_string(&journal).unwrap();
    assert!(
        text.ends_with('\n') && !text.contains("\"abc"),
        "torn record removed"
    );
    // A damaged record in the middle is corruption: reported, file untouched.
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(1, "{not json");
    let damaged = lines.join("\n") + "\n";
    std::fs::write(&journal, &damaged).unwrap();
    let err = LocalBackend::open(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("journal.jsonl") && err.to_string().contains("record 2"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&journal).unwrap(), damaged);
}

#[tokio::test]
async fn the_packed_index_follows_npy_files_added_by_other_tools() {
    let dir = tempfile::tempdir().unwrap();
    let b = tokio::task::spawn_blocking({
        let p = dir.path().to_path_buf();
        move || write_songs(&p, 4)
    })
    .await
    .unwrap();
    let q = SearchQuery::new(model(), vec![0.0, 0.0, 1.0, 0.0], 1);
    assert_ne!(b.search(&q).await.unwrap()[0].id, song(20).id);
    b.flush().await.unwrap();
    drop(b);
    // Another tool drops a vector file next to ours and adds its metadata.
    let s = song(20);
    std::fs::write(
        dir.path().join(format!("data/embeddings/{}.npy", s.id)),
        npy::encode(&[0.0, 0.0, 1.0, 0.0]),
    )
    .unwrap();
    let meta_path = dir.path().join("data/embeddings/metadata.json");
    let mut meta: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&std::fs::read(&meta_path).unwrap()).unwrap();
    meta.insert(s.id.to_string(), serde_json::to_value(&s).unwrap());
    std::fs::write(&meta_path, serde_json::to_vec(&meta).unwrap()).unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    let hits = b.search(&q).await.unwrap();
    assert_eq!(
        hits[0].id, s.id,
        "the new vector is searchable without a manual reindex"
    );
    assert!((hits[0].similarity - 1.0).abs() < 1e-6);
}

#[tokio::test]
async fn two_writers_never_share_a_library() {
    let dir = tempfile::tempdir().unwrap();
    let a = LocalBackend::open(dir.path()).unwrap();
    let b = LocalBackend::open(dir.path()).unwrap();
    a.put_metadata(&song(1)).await.unwrap();
    let err = b.put_metadata(&song(2)).await.unwrap_err();
    assert!(matches!(err, StorageError::Locked { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("locked by another songrec process")
            && err.to_string().contains("pid"),
        "{err}"
    );
    // The reader sees a's committed write.
    assert!(
        b.get_metadata(&song(1).id).await.unwrap().is_some(),
        "b sees what a committed"
    );
    drop(a);
    // Once a is gone, b can write, and its write is based on a fresh view (a's song survives).
    b.put_metadata(&song(2)).await.unwrap();
    b.flush().await.unwrap();
    drop(b);
    let c = LocalBackend::open(dir.path()).unwrap();
    assert_eq!(c.count(&Filter::default()).await.unwrap(), 2);
}
