//! Composable layers over any [`StorageBackend`], in the style of OpenDAL's layers.
//!
//! Each layer wraps a backend and implements [`Intercept`]: what it does around each call.
//! Through that, it is a [`StorageBackend`] itself (every role forwarded once, in
//! `intercept.rs`), and it shows the whole stack in its `Display`
//! (`Retry(Timeout(Metrics(Memory)))`).
//! [`LayerExt::layer`] stacks them like a list, innermost first:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use songrec_storage::prelude::*;
//! use songrec_storage::layers::{LayerExt, MetricsRecorder, Retry, Timeout};
//! use songrec_conformance::MemoryBackend;
//! let metrics = MetricsRecorder::new();
//! let backend = MemoryBackend::new()
//!     .layer(metrics.clone())
//!     .layer(Timeout::new(Duration::from_secs(30)))
//!     .layer(Retry::default());
//! assert_eq!(backend.to_string(), "Retry(Timeout(Metrics(Memory)))");
//! backend.flush().await.unwrap();
//! assert_eq!(metrics.metrics().op("flush").unwrap().calls, 1);
//! # }
//! ```
//!
//! Every operation may be repeated: writes are idempotent, and only the answer of `put_audio`
//! and the deletes can differ after a lost acknowledgement (see [`RetryLayer`]). The one
//! exception is `put_metadata_if`, a compare-and-set: repeated after a lost acknowledgement
//! and another writer's change, it answers a conflict although it landed.
//!
//! [`StorageBackend`]: crate::StorageBackend

mod intercept;
mod op;

// Fault injection: test tooling, compiled only for tests and with the `test-hooks` feature.
#[cfg(any(test, feature = "test-hooks"))]
mod chaos;
mod circuit;
#[cfg(any(test, feature = "test-hooks"))]
mod crash;
mod metrics;
mod retry;
mod timeout;

#[cfg(any(test, feature = "test-hooks"))]
pub use chaos::{Chaos, ChaosLayer};
pub use circuit::{CircuitBreaker, CircuitBreakerLayer};
#[cfg(any(test, feature = "test-hooks"))]
pub use crash::{CrashAction, CrashLayer, CrashPoint, kill_self};
pub use metrics::{Metrics, MetricsLayer, MetricsRecorder, OpMetrics};
pub use retry::{Retry, RetryLayer};
pub use timeout::{Timeout, TimeoutLayer};

pub use intercept::{Intercept, Layer, LayerExt};
pub use op::Op;
