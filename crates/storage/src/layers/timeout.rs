//! Bounds every call's duration.

use std::future::Future;
use std::time::Duration;

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// Timeout configuration: the limit for each call.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::Timeout;
/// let t = Timeout::new(Duration::from_secs(2));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Timeout {
    limit: Duration,
}

impl Timeout {
    /// Each call may take at most `limit`.
    pub fn new(limit: Duration) -> Self {
        Self { limit }
    }
}

/// Fails a call that takes longer than the limit with a transient
/// [`StorageError::Unavailable`] naming the operation and the limit (so [`super::RetryLayer`]
/// above it retries). The abandoned call is dropped; writes are atomic per call, so it either
/// happened or did not.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::{LayerExt, Timeout};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(Timeout::new(Duration::from_secs(10)));
/// assert_eq!(b.to_string(), "Timeout(Memory)");
/// ```
#[derive(Debug)]
pub struct TimeoutLayer<B> {
    inner: B,
    config: Timeout,
}

impl<B: StorageBackend> TimeoutLayer<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, config: Timeout) -> Self {
        Self { inner, config }
    }

    async fn run<T, F, Fut>(&self, op: Op, mut f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        let limit = self.config.limit;
        match tokio::time::timeout(limit, f()).await {
            Ok(r) => r,
            Err(_) => Err(StorageError::Unavailable {
                backend: self.inner.to_string(),
                message: format!("{op} timed out after {limit:?}"),
                transient: true,
            }),
        }
    }
}

layer_of!(Timeout => TimeoutLayer, run, "Timeout");
