//! Stops calling a backend that keeps being unavailable.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// Circuit-breaker configuration.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::CircuitBreaker;
/// let c = CircuitBreaker::new(5, Duration::from_secs(30));
/// // Shared by every process using this file (e.g. short-lived CLI runs):
/// let c = c.persist_to(std::env::temp_dir().join("songrec-doc-breaker.json"));
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    cool_down: Duration,
    state_file: Option<PathBuf>,
}

impl CircuitBreaker {
    /// Opens after `threshold` consecutive unavailable errors, for `cool_down`.
    pub fn new(threshold: u32, cool_down: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cool_down,
            state_file: None,
        }
    }

    /// Keeps an open circuit in `path` (JSON: until when, why), so the next process using
    /// the same file starts with the circuit open instead of paying the remote's timeouts
    /// again; the file is removed when a call succeeds. Unreadable files are ignored.
    pub fn persist_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }
}

#[derive(Debug, Default)]
struct BreakerState {
    consecutive: u32,
    open_until: Option<Instant>,
    /// The last unavailable error, for the refusal message.
    last_error: Option<String>,
    /// Which backend it came from (the error's own name, e.g. `astra`), for the same.
    last_backend: Option<String>,
    /// A state file exists (written by us or found at start).
    persisted: bool,
}

/// What [`CircuitBreaker::persist_to`] writes.
#[derive(serde::Serialize, serde::Deserialize)]
struct PersistedState {
    open_until_unix_ms: u64,
    consecutive: u32,
    last_error: String,
    #[serde(default)]
    last_backend: Option<String>,
}

fn unix_ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl BreakerState {
    fn load(path: &Path) -> Self {
        let Some(p) = std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<PersistedState>(&b).ok())
        else {
            return Self::default();
        };
        let now = unix_ms(SystemTime::now());
        let left = p.open_until_unix_ms.saturating_sub(now);
        Self {
            consecutive: p.consecutive,
            open_until: (left > 0).then(|| Instant::now() + Duration::from_millis(left)),
            last_error: Some(p.last_error),
            last_backend: p.last_backend,
            persisted: true,
        }
    }

    fn save(&mut self, path: &Path, cool_down: Duration) {
        let p = PersistedState {
            open_until_unix_ms: unix_ms(SystemTime::now() + cool_down),
            consecutive: self.consecutive,
            last_error: self.last_error.clone().unwrap_or_default(),
            last_backend: self.last_backend.clone(),
        };
        let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
        let r = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                use std::io::Write as _;
                // create_new: a link planted at the temporary name is refused, not followed.
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&tmp)?
                    .write_all(&serde_json::to_vec(&p).unwrap_or_default())
            })
            .and_then(|()| std::fs::rename(&tmp, path));
        match r {
            Ok(()) => self.persisted = true,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                tracing::debug!("cannot record the open circuit in {}: {e}", path.display());
            }
        }
    }
}

/// After `threshold` consecutive [`StorageError::is_unavailable`] errors the circuit opens:
/// calls fail fast, without reaching the backend, with a non-transient `Unavailable` (so a
/// retry layer above does not spin on it) until the cool-down ends. Then it is half-open:
/// calls go through again; one success closes it, one unavailable error re-opens it.
/// Other errors (not found, invalid input...) prove the backend is reachable and reset the count.
///
/// ```
/// use std::time::Duration;
/// use songrec_storage::layers::{CircuitBreaker, LayerExt};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(CircuitBreaker::new(5, Duration::from_secs(30)));
/// assert_eq!(b.to_string(), "CircuitBreaker(Memory)");
/// assert!(!b.is_open());
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
        let state = config
            .state_file
            .as_deref()
            .map(BreakerState::load)
            .unwrap_or_default();
        Self {
            inner,
            config,
            state: Mutex::new(state),
        }
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
            let left = (s.open_until).and_then(|t| t.checked_duration_since(Instant::now()));
            if let Some(left) = left.filter(|d| !d.is_zero()) {
                // The user reads the failure and the retry time; the stack goes to the log.
                tracing::debug!(%op, backend = %self.inner, consecutive = s.consecutive, "circuit open: call refused");
                return Err(StorageError::Unavailable {
                    backend: s.last_backend.clone().unwrap_or_else(|| "remote".into()),
                    message: format!(
                        "{}; songrec tries it again in {} s",
                        s.last_error.as_deref().unwrap_or("it keeps failing"),
                        left.as_secs().max(1),
                    ),
                    transient: false,
                });
            }
        }
        let r = f().await;
        let mut s = self.lock();
        match &r {
            Err(e) if e.is_unavailable() => {
                s.consecutive = s.consecutive.saturating_add(1);
                s.last_error = Some(e.brief());
                if let StorageError::Unavailable { backend, .. } = e {
                    s.last_backend = Some(backend.clone());
                }
                if s.consecutive >= self.config.threshold {
                    s.open_until = Some(Instant::now() + self.config.cool_down);
                    tracing::info!(%op, error = %e, "storage circuit opened for {:?}", self.config.cool_down);
                    if let Some(p) = &self.config.state_file {
                        s.save(p, self.config.cool_down);
                    }
                }
            }
            _ => {
                if std::mem::take(&mut *s).persisted
                    && let Some(p) = &self.config.state_file
                {
                    match std::fs::remove_file(p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => tracing::debug!("cannot remove {}: {e}", p.display()),
                    }
                }
            }
        }
        r
    }
}

layer_of!(CircuitBreaker => CircuitBreakerLayer, run, "CircuitBreaker");
