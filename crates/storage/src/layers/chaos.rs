//! Fault injection for tests.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// Chaos configuration.
///
/// - `fail_ratio`: share of calls failed with a transient `Unavailable` *before* delegating
///   (nothing happened).
/// - `after_ratio`: share of writes failed with a transient `Backend` error *after* delegating
///   (a lost acknowledgement), only for writes whose repeat gives the same answer.
/// - `latency`: sleep before each call (to exercise timeouts).
///
/// ```
/// use songrec_storage::layers::Chaos;
/// let c = Chaos::new(7).fail_ratio(0.3).after_ratio(0.1);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Chaos {
    seed: u64,
    fail_ratio: f64,
    after_ratio: f64,
    latency: Duration,
}

impl Chaos {
    /// No faults yet; `seed` makes the fault sequence reproducible.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            fail_ratio: 0.0,
            after_ratio: 0.0,
            latency: Duration::ZERO,
        }
    }

    /// Share (0..=1) of calls failed before they reach the backend.
    pub fn fail_ratio(mut self, r: f64) -> Self {
        self.fail_ratio = r.clamp(0.0, 1.0);
        self
    }

    /// Share (0..=1) of repeat-safe writes failed after they reached the backend.
    pub fn after_ratio(mut self, r: f64) -> Self {
        self.after_ratio = r.clamp(0.0, 1.0);
        self
    }

    /// Delay added before each call.
    pub fn latency(mut self, d: Duration) -> Self {
        self.latency = d;
        self
    }
}

#[derive(Debug)]
struct ChaosState {
    rng: u64,
    config: Chaos,
    injected: u64,
}

impl ChaosState {
    /// Uniform in [0, 1) from a 64-bit LCG (Knuth's MMIX constants).
    fn next(&mut self) -> f64 {
        self.rng = self
            .rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Fails a configurable, seeded share of calls with transient errors (see [`Chaos`]).
///
/// ```
/// use songrec_storage::layers::{Chaos, LayerExt};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(Chaos::new(1).fail_ratio(0.5));
/// assert_eq!(b.to_string(), "Chaos(Memory)");
/// ```
#[derive(Debug)]
pub struct ChaosLayer<B> {
    inner: B,
    state: Mutex<ChaosState>,
}

impl<B: StorageBackend> ChaosLayer<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, config: Chaos) -> Self {
        Self {
            inner,
            state: Mutex::new(ChaosState {
                rng: config.seed ^ 0x9E37_79B9_7F4A_7C15,
                config,
                injected: 0,
            }),
        }
    }

    /// Changes the fault configuration (keeps the random sequence going).
    pub fn set_config(&self, config: Chaos) {
        self.lock().config = config;
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.lock().injected
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChaosState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Draws whether to fail (`after` selects the lost-ack ratio).
    fn roll(&self, after: bool) -> bool {
        let mut s = self.lock();
        let c = s.config;
        let ratio = if after { c.after_ratio } else { c.fail_ratio };
        let hit = ratio > 0.0 && s.next() < ratio;
        s.injected += u64::from(hit);
        hit
    }

    async fn run<T, F, Fut>(&self, op: Op, mut f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        let latency = self.lock().config.latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if self.roll(false) {
            return Err(StorageError::Unavailable {
                backend: self.to_string(),
                message: format!("injected fault before {op}"),
                transient: true,
            });
        }
        let r = f().await;
        if r.is_ok() && op.repeat_gives_same_answer() && self.roll(true) {
            return Err(StorageError::Backend {
                backend: self.to_string(),
                message: format!("injected lost acknowledgement after {op} succeeded"),
                transient: true,
            });
        }
        r
    }
}

layer_of!(Chaos => ChaosLayer, run, "Chaos");
