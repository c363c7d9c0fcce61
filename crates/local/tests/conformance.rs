//! The shared conformance suite against the local backend.

use songrec_local::LocalBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_backend_passes_conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = LocalBackend::open(dir.path()).expect("open");
    songrec_storage::conformance::run_all(&backend).await;
    drop(backend); // releases the write lock
    // Everything written survives a reopen (journal replay / compacted metadata).
    let reopened = LocalBackend::open(dir.path()).expect("reopen");
    songrec_storage::conformance::empty_backend(&reopened).await;
}
