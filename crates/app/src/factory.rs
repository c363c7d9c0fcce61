//! Builds the backend the configuration asks for. This is the one place where layers are
//! stacked over a concrete backend; read it top to bottom as the stack, outermost first.

use std::sync::Arc;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use std::time::Duration;

use songrec_storage::StorageBackend;
use songrec_storage::config::{BackendKind, Config};
use songrec_storage::layers::{CircuitBreaker, CrashPoint, LayerExt};

use crate::AppResult;

/// A backend ready for use, with its stack visible in `Display`.
pub type Backend = Arc<dyn StorageBackend>;

/// Builds the configured backend.
///
/// ```no_run
/// let cfg = songrec_storage::config::Config::from_sources(None, &Default::default()).unwrap();
/// let backend = songrec_app::factory::build(&cfg).unwrap();
/// println!("using {backend}");
/// ```
pub fn build(cfg: &Config) -> AppResult<Backend> {
    match cfg.backend {
        BackendKind::Local => {
            // Local(...)
            with_test_hooks(cfg.backend, LocalBackend::open(&cfg.local.path)?)
        }
        BackendKind::Astra => {
            // CircuitBreaker(Astra(Data API collections, S3 blobs)): the client retries
            // transient failures itself; the breaker stops hammering a remote that keeps failing.
            let astra = AstraBackend::connect(cfg)?;
            with_test_hooks(
                cfg.backend,
                astra.layer(CircuitBreaker::new(5, Duration::from_secs(30))),
            )
        }
    }
}

// ---- test fault hook ------------------------------------------------------------------------

/// Environment variable of the crash-test hook (see [`with_test_hooks`]).
pub const TEST_CRASH_ENV: &str = "SONGREC_TEST_CRASH_AT";

/// **Test fault hook, for crash tests only.** When `SONGREC_TEST_CRASH_AT` is set to
/// `[BACKEND:]OP:N[:before|after]` (e.g. `local:put_songs:2:after`), the backend of that kind
/// is wrapped, outermost, in a [`CrashPoint`] layer that `kill -9`s the process at the N-th call
/// of OP (`Crash(...)` then shows in the stack). Unset, nothing is added.
fn with_test_hooks<B: StorageBackend + 'static>(
    kind: BackendKind,
    backend: B,
) -> AppResult<Backend> {
    if let Ok(spec) = std::env::var(TEST_CRASH_ENV) {
        let point = CrashPoint::parse(&spec)?;
        if point.backend().is_none_or(|b| b == kind.to_string()) {
            tracing::warn!("test crash hook armed: {point}");
            return Ok(Arc::new(backend.layer(point)));
        }
    }
    Ok(Arc::new(backend))
}
