//! Builds the backend the configuration asks for. This is the one place where layers are
//! stacked over a concrete backend; read it top to bottom as the stack, outermost first.

use std::sync::Arc;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use songrec_storage::StorageBackend;
use songrec_storage::config::{BackendKind, Config};

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
            // Astra(Data API collections, S3 blobs)
            Ok(Arc::new(AstraBackend::connect(cfg)?))
        }
    }
}
