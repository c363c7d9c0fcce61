//! **Test fault hook**: kills the process at an exact backend operation, so crash tests stop a
//! real `songrec` at a deterministic point. Built in only when `SONGREC_TEST_CRASH_AT` is set;
//! `local:put_songs:2:after` lets the 2nd local `put_songs` finish, then runs `kill -9`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::intercept::layer_of;
use super::op::Op;
use crate::backend::StorageBackend;
use crate::error::{StorageError, StorageResult};

/// What happens at the crash point (default: `kill -9` of this process).
pub type CrashAction = Arc<dyn Fn() + Send + Sync>;

/// Where to crash.
///
/// ```
/// use songrec_storage::layers::CrashPoint;
/// let p = CrashPoint::parse("local:put_songs:2:after").unwrap();
/// assert_eq!(p.backend(), Some("local"));
/// assert_eq!(p.to_string(), "local:put_songs:2:after");
/// assert!(CrashPoint::parse("put_songs:0").is_err());
/// ```
#[derive(Clone)]
pub struct CrashPoint {
    backend: Option<String>,
    op: Op,
    nth: u64,
    after: bool,
    action: CrashAction,
}

impl fmt::Debug for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CrashPoint({self})")
    }
}

impl fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(b) = &self.backend {
            write!(f, "{b}:")?;
        }
        let when = if self.after { "after" } else { "before" };
        write!(f, "{}:{}:{when}", self.op, self.nth)
    }
}

/// Sends SIGKILL to this process (like `kill -9` from outside); aborts if that fails.
pub fn kill_self() {
    let pid = std::process::id().to_string();
    eprintln!("songrec test crash hook: kill -9 {pid}");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status();
    // Still alive (no `kill` binary?): die without unwinding or flushing anything.
    std::process::abort();
}

impl CrashPoint {
    /// Parses `[BACKEND:]OP:N[:before|after]` (`after` when omitted; N counts from 1).
    pub fn parse(spec: &str) -> StorageResult<Self> {
        let bad = |why: &str| {
            StorageError::InvalidInput(format!(
                "crash point {spec:?}: {why}; expected [BACKEND:]OP:N[:before|after], e.g. local:put_songs:2:after"
            ))
        };
        let mut parts: Vec<&str> = spec.trim().split(':').collect();
        let after = parts.last() != Some(&"before");
        if matches!(parts.last(), Some(&("after" | "before"))) {
            parts.pop();
        }
        let (backend, op, n) = match parts.as_slice() {
            [op, n] => (None, *op, *n),
            [b, op, n] => (Some((*b).to_owned()), *op, *n),
            _ => return Err(bad("wrong number of parts")),
        };
        let op = (Op::ALL.iter().copied())
            .find(|o| o.name() == op)
            .ok_or_else(|| bad("unknown operation"))?;
        let nth: u64 = n.parse().map_err(|_| bad("N is not a number"))?;
        if nth == 0 {
            return Err(bad("N counts from 1"));
        }
        Ok(Self {
            backend,
            op,
            nth,
            after,
            action: Arc::new(kill_self),
        })
    }

    /// The backend kind the point is limited to, if any.
    pub fn backend(&self) -> Option<&str> {
        self.backend.as_deref()
    }

    /// Replaces the action (tests of the layer itself).
    pub fn with_action(mut self, action: CrashAction) -> Self {
        self.action = action;
        self
    }
}

/// Runs [`CrashPoint`]'s action at the chosen call of the chosen operation; otherwise a
/// transparent pass-through.
///
/// ```
/// use songrec_storage::layers::{CrashPoint, LayerExt};
/// use songrec_conformance::MemoryBackend;
/// let b = MemoryBackend::new().layer(CrashPoint::parse("flush:3").unwrap());
/// assert_eq!(b.to_string(), "Crash(Memory)");
/// ```
#[derive(Debug)]
pub struct CrashLayer<B> {
    inner: B,
    point: CrashPoint,
    calls: AtomicU64,
}

impl<B: StorageBackend> CrashLayer<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, point: CrashPoint) -> Self {
        Self {
            inner,
            point,
            calls: AtomicU64::new(0),
        }
    }

    async fn run<T, F, Fut>(&self, op: Op, mut f: F) -> StorageResult<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        let hit =
            op == self.point.op && self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.point.nth;
        if hit && !self.point.after {
            (self.point.action)();
        }
        let r = f().await;
        if hit && self.point.after {
            (self.point.action)();
        }
        r
    }
}

layer_of!(CrashPoint => CrashLayer, run, "Crash");
