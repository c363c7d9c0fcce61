//! The shared conformance suite against the local backend.

use songrec_local::LocalBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_backend_passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::open(dir.path()).expect("open");
    songrec_conformance::run_all(&backend).await;
    drop(backend); // releases the write lock
    // Everything written survives a reopen (journal replay / compacted metadata).
    let reopened = LocalBackend::open(dir.path()).expect("reopen");
    songrec_conformance::empty_backend(&reopened).await;
}

/// Pseudo-random f64 and f32 bit patterns, subnormals and awkward values come back bit for
/// bit: from memory, from the journal after a reopen, and from the compacted files after a
/// flush and another reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_backend_carries_floats_bit_for_bit() {
    use songrec_conformance::{check_float_fidelity, put_float_fidelity};
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::open(dir.path()).expect("open");
    let records = put_float_fidelity(&backend, 51, 12, 40).await;
    drop(backend);
    let backend = LocalBackend::open(dir.path()).expect("reopen (journal)");
    check_float_fidelity(&backend, &records).await;
    // Only a writer folds the journal into metadata.json and the binary snapshot.
    backend.lock_for_writing().await.expect("lock");
    songrec_storage::SongStore::flush(&backend)
        .await
        .expect("flush");
    drop(backend);
    let snapshot = dir.path().join("data/.songrec/index/metadata.bin");
    assert!(snapshot.exists(), "flush writes the binary snapshot");
    let backend = LocalBackend::open(dir.path()).expect("reopen (binary snapshot)");
    check_float_fidelity(&backend, &records).await;
    drop(backend);
    std::fs::remove_file(&snapshot).expect("remove the snapshot");
    let backend = LocalBackend::open(dir.path()).expect("reopen (metadata.json)");
    check_float_fidelity(&backend, &records).await;
}

/// The audio part of the suite with each way of keeping a user's file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_audio_mode_passes_the_audio_conformance() {
    use songrec_storage::AudioMode;
    for audio in [AudioMode::Reference, AudioMode::Reflink, AudioMode::Copy] {
        let dir = tempfile::tempdir().expect("tempdir");
        let opts = songrec_local::LocalOptions {
            audio,
            ..Default::default()
        };
        let b = LocalBackend::open_with(dir.path(), opts).expect("open");
        songrec_conformance::audio_roundtrip(&b).await;
        songrec_conformance::link_audio_leaves_the_file(&b).await;
        songrec_conformance::link_audio_as_serves_this_file_or_refuses(&b).await;
        songrec_conformance::delete_leaves_tombstone(&b).await;
    }
}
