//! Counts calls, errors, latency and audio bytes per operation.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::{PutOutcome, StorageBackend};
use crate::error::StorageResult;

/// Counters of one operation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpMetrics {
    /// Calls made (including failed ones).
    pub calls: u64,
    /// Calls that returned an error.
    pub errors: u64,
    /// Summed latency of all calls.
    pub total_latency: Duration,
}

/// A snapshot of a [`MetricsLayer`]'s counters; `Display` renders a table.
///
/// ```
/// use songrec_storage::layers::Metrics;
/// let m = Metrics::default();
/// assert_eq!(m.total_calls(), 0);
/// assert!(m.to_string().starts_with("operation"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Per operation (trait method name), only those called at least once.
    pub ops: BTreeMap<&'static str, OpMetrics>,
    /// Audio bytes uploaded by `put_audio` (blobs already present count 0).
    pub audio_bytes_put: u64,
    /// Audio bytes downloaded by `get_audio`.
    pub audio_bytes_got: u64,
}

impl Metrics {
    /// Counters of one operation, by trait method name.
    pub fn op(&self, name: &str) -> Option<&OpMetrics> {
        self.ops.get(name)
    }

    /// Calls over all operations.
    pub fn total_calls(&self) -> u64 {
        self.ops.values().map(|o| o.calls).sum()
    }
}

impl fmt::Display for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<18} {:>8} {:>8} {:>12} {:>12}",
            "operation", "calls", "errors", "total ms", "mean ms"
        )?;
        for (name, o) in &self.ops {
            let total = o.total_latency.as_secs_f64() * 1000.0;
            let mean = total / o.calls.max(1) as f64;
            writeln!(
                f,
                "{name:<18} {:>8} {:>8} {total:>12.3} {mean:>12.3}",
                o.calls, o.errors
            )?;
        }
        write!(
            f,
            "audio bytes: {} put, {} got",
            self.audio_bytes_put, self.audio_bytes_got
        )
    }
}

/// A shared handle to the counters: configure a stack with a clone and read it later.
///
/// ```
/// use songrec_storage::layers::MetricsRecorder;
/// let rec = MetricsRecorder::new();
/// assert_eq!(rec.metrics().total_calls(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MetricsRecorder {
    state: Arc<Mutex<Metrics>>,
}

impl MetricsRecorder {
    pub fn new() -> Self {
        Self::default()
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.lock().clone()
    }

    /// Sets every counter back to zero.
    pub fn reset(&self) {
        *self.lock() = Metrics::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Metrics> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, op: Op, elapsed: Duration, ok: bool, bytes: u64) {
        let mut m = self.lock();
        let o = m.ops.entry(op.name()).or_default();
        o.calls += 1;
        o.total_latency += elapsed;
        o.errors += u64::from(!ok);
        match op {
            Op::PutAudio => m.audio_bytes_put += bytes,
            Op::GetAudio => m.audio_bytes_got += bytes,
            _ => {}
        }
    }
}

/// Records calls, errors and latency per operation, plus audio bytes moved.
///
/// ```
/// use songrec_storage::layers::{LayerExt, MetricsRecorder};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(MetricsRecorder::new());
/// assert_eq!(b.to_string(), "Metrics(Memory)");
/// assert_eq!(b.metrics().total_calls(), 0);
/// ```
#[derive(Debug)]
pub struct MetricsLayer<B> {
    inner: B,
    recorder: MetricsRecorder,
}

impl<B: StorageBackend> MetricsLayer<B> {
    /// Wraps `inner`, recording into `recorder`.
    pub fn new(inner: B, recorder: MetricsRecorder) -> Self {
        Self { inner, recorder }
    }

    /// A snapshot of the counters.
    pub fn metrics(&self) -> Metrics {
        self.recorder.metrics()
    }

    async fn run<T, F, Fut>(&self, op: Op, mut f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send + 'static,
    {
        let start = Instant::now();
        let r = f().await;
        // Audio bytes moved: a blob put (0 when already present), or a `get_audio` count.
        let bytes = match r.as_ref().map(|v| v as &dyn std::any::Any) {
            Ok(v) if op == Op::GetAudio => v.downcast_ref::<u64>().copied().unwrap_or(0),
            Ok(v) => (v.downcast_ref::<PutOutcome>())
                .map_or(0, |p| if p.already_present { 0 } else { p.bytes }),
            Err(_) => 0,
        };
        self.recorder.record(op, start.elapsed(), r.is_ok(), bytes);
        r
    }
}

layer_of!(MetricsRecorder => MetricsLayer, run, "Metrics");
