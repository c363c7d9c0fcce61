//! Retries transient failures with capped, jittered exponential backoff.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// Retry configuration: how often and how long to wait between attempts.
///
/// Defaults: 5 retries, 100 ms doubling up to 5 s, with jitter.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::Retry;
/// let r = Retry::default().max_retries(3).delays(Duration::from_millis(10), Duration::from_secs(1));
/// ```
#[derive(Clone, Copy, Debug, smart_default::SmartDefault)]
pub struct Retry {
    #[default = 5]
    max_retries: usize,
    #[default(Duration::from_millis(100))]
    min_delay: Duration,
    #[default(Duration::from_secs(5))]
    max_delay: Duration,
}

impl Retry {
    /// Retries after the first attempt (0 = no retries).
    pub fn max_retries(mut self, n: usize) -> Self {
        self.max_retries = n;
        self
    }

    /// First delay and the cap on any delay.
    pub fn delays(mut self, min: Duration, max: Duration) -> Self {
        self.min_delay = min;
        self.max_delay = max.max(min);
        self
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(self.max_retries)
            .with_factor(2.0)
            .with_jitter()
    }
}

/// Retries every operation whose error is [`StorageError::is_transient`], using `backon`.
///
/// After a lost acknowledgement the retry's answer is returned unchanged (`put_audio` may say
/// `already_present`, a delete `false`): the state is what was asked for either way.
///
/// ```
/// use songrec_storage::layers::{LayerExt, Retry};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(Retry::default());
/// assert_eq!(b.to_string(), "Retry(Memory)");
/// ```
#[derive(Debug)]
pub struct RetryLayer<B> {
    inner: B,
    config: Retry,
}

impl<B: StorageBackend> RetryLayer<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, config: Retry) -> Self {
        Self { inner, config }
    }

    async fn run<T, F, Fut>(&self, op: Op, f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        f.retry(self.config.backoff())
            .when(StorageError::is_transient)
            .notify(|e: &StorageError, after: Duration| {
                tracing::debug!(%op, error = %e, ?after, "transient storage error; retrying");
            })
            .await
    }
}

layer_of!(Retry => RetryLayer, run, "Retry");
