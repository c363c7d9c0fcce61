//! The shared conformance suite against `AstraBackend` on the local Data API server (real
//! socket, `/v1` path) and s3s-fs 0.14.1 (SigV4 enforced).

mod backend_support;

use backend_support::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn astra_backend_passes_conformance() {
    let env = Env::start(true).await;
    songrec_storage::conformance::run_all(&env.backend).await;
    // A second backend object on the same data sees the same (empty) state.
    let again = backend_support::backend_at(&env.base_url(), backend_support::TOKEN, &env.s3);
    songrec_storage::conformance::empty_backend(&again).await;
}
