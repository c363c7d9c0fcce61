//! Builds the backend the configuration asks for. This is the one place where layers are
//! stacked over a concrete backend; read it top to bottom as the stack, outermost first.

use std::sync::Arc;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use std::time::Duration;

use songrec_storage::StorageBackend;
use songrec_storage::config::{BackendKind, Config};
use songrec_storage::layers::{CircuitBreaker, LayerExt};

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
            Ok(Arc::new(LocalBackend::open(&cfg.local.path)?))
        }
        BackendKind::Astra => {
            // CircuitBreaker(Astra(Data API collections, S3 blobs)): the client retries
            // transient failures itself; the breaker stops hammering a remote that keeps failing.
            let astra = AstraBackend::connect(cfg)?;
            Ok(Arc::new(
                astra.layer(CircuitBreaker::new(5, Duration::from_secs(30))),
            ))
        }
    }
}
