//! Stops calling a backend that keeps being unavailable.

use std::fmt;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{Layer, Op, delegate_backend};
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// Circuit-breaker configuration.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::CircuitBreaker;
/// let c = CircuitBreaker::new(5, Duration::from_secs(30));
/// assert_eq!(c.threshold(), 5);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive unavailable errors, for `cool_down`.
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
        }
    }

    /// Consecutive unavailable errors that open the circuit.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }
}

impl<B: StorageBackend> Layer<B> for CircuitBreaker {
    type Output = CircuitBreakerLayer<B>;
    fn wrap(self, inner: B) -> CircuitBreakerLayer<B> {
        CircuitBreakerLayer::new(inner, self)
    }
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive: u32,
    open_until: Option<Instant>,
}

/// After `threshold` consecutive [`StorageError::is_unavailable`] errors the circuit opens:
/// calls fail fast, without reaching the backend, with a non-transient `Unavailable` (so a
/// retry layer above does not spin on it) until the cool-down ends. Then it is half-open:
/// calls go through again; one success closes it, one unavailable error re-opens it.
/// Other errors (not found, invalid input...) prove the backend is reachable and reset the count.
///
/// ```
/// # #[cfg(feature = "conformance")] {
/// use std::time::Duration;
/// use songrec_storage::layers::{CircuitBreaker, LayerExt, testing::MemoryBackend};
/// let b = MemoryBackend::new().layer(CircuitBreaker::new(5, Duration::from_secs(30)));
/// assert_eq!(b.to_string(), "CircuitBreaker(Memory)");
/// assert!(!b.is_open());
/// # }
/// ```
#[derive(Debug)]
pub struct CircuitBreakerLayer<B> {
    inner: B,
    config: CircuitBreaker,
    state: Mutex<BreakerState>,
}

impl<B: StorageBackend> CircuitBreakerLayer<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, config: CircuitBreaker) -> Self {
        Self {
            inner,
            config,
            state: Mutex::new(BreakerState::default()),
        }
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    /// Whether calls currently fail fast.
    pub fn is_open(&self) -> bool {
        self.lock().open_until.is_some_and(|t| Instant::now() < t)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BreakerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn run<T, F, Fut>(&self, op: Op, mut f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        {
            let s = self.lock();
            if let Some(until) = s.open_until {
                let now = Instant::now();
                if now < until {
                    return Err(StorageError::Unavailable {
                        backend: self.inner.to_string(),
                        message: format!(
                            "{op} refused: remote failing ({} consecutive unavailable errors); not retrying until the cool-down ends in {:?}",
                            s.consecutive,
                            until - now
                        ),
                        transient: false,
                    });
                }
            }
        }
        let r = f().await;
        let mut s = self.lock();
        match &r {
            Err(e) if e.is_unavailable() => {
                s.consecutive = s.consecutive.saturating_add(1);
                if s.consecutive >= self.config.threshold {
                    s.open_until = Some(Instant::now() + self.config.cool_down);
                    tracing::warn!(%op, error = %e, "storage circuit opened for {:?}", self.config.cool_down);
                }
            }
            _ => {
                s.consecutive = 0;
                s.open_until = None;
            }
        }
        r
    }
}

impl<B: fmt::Display> fmt::Display for CircuitBreakerLayer<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CircuitBreaker({})", self.inner)
    }
}

delegate_backend!(CircuitBreakerLayer, run);
