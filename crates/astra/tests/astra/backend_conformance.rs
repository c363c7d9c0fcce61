//! The shared conformance suite against `AstraBackend` on the local Data API server (real
//! socket, `/v1` path) and s3s-fs 0.14.1 (SigV4 enforced).

use crate::{Env, api_config, backend_at};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn astra_backend_passes_conformance() {
    let env = Env::start(true).await;
    songrec_storage::conformance::run_all(&env.backend).await;
    // A second backend object on the same data sees the same (empty) state.
    let again = backend_at(&env.cloud, &env.base_url(), env.token());
    songrec_storage::conformance::empty_backend(&again).await;
}

/// Pseudo-random f64 and f32 bit patterns, subnormals and awkward values go through the real
/// Data API server and come back bit for bit, with vectors sent as `$binary` and as arrays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn astra_backend_carries_floats_bit_for_bit() {
    use songrec_astra::dataapi::VectorEncoding;
    use songrec_storage::conformance::{check_float_fidelity, put_float_fidelity};

    let env = Env::start(true).await;
    let binary = put_float_fidelity(&env.backend, 41, 12, 40).await;
    let arrays = env.cloud.astra_with(
        api_config(&env.base_url(), env.token()).with_vector_encoding(VectorEncoding::Array),
        crate::s3_config(&env.cloud),
    );
    // What one encoding wrote, the other reads exactly; and arrays both ways.
    check_float_fidelity(&arrays, &binary).await;
    let array_written = put_float_fidelity(&arrays, 43, 12, 40).await;
    check_float_fidelity(&env.backend, &array_written).await;
}
