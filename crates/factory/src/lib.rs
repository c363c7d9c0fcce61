//! songrec's composition root: the only crate whose `[dependencies]` name the concrete
//! backends (`songrec-local`, `songrec-astra`). Everything else (the application layer, the
//! REST server, the CLI) works on `dyn StorageBackend` and asks this crate for what it needs:
//!
//! - [`open`] / [`build`]: the layered backend for commands, read top to bottom as the stack,
//!   outermost first (offline fallback, disk cache, circuit breaker, the backend);
//! - [`sync`]: the two sides of `songrec sync`, its record and its lease;
//! - [`scratch_local`], [`open_local_for_reindex`]: bare local libraries for bulk tools;
//! - [`astra_options`], [`local_options`]: the backends' options from the configuration
//!   (`options.rs`);
//! - [`init_astra`], [`astra_doctor`]: admin handles for `init-astra` and `doctor`;
//! - [`cache_store`], [`offline_copies`] and the `*_file`/`*_dir` functions: the layout of the
//!   cache folder, known here (`layout.rs`) and nowhere else; `doctor.rs`, the storage checks.
//!
//! A new backend is a crate implementing `StorageBackend`, a `BackendKind` and an arm in
//! `open_with`; a new layer lives in `songrec_storage::layers` and is stacked there.

mod doctor;
mod layout;
mod options;
pub mod sync;

pub use doctor::{astra_doctor, doctor};
pub use layout::*;
use layout::{OFFLINE_DIR, OFFLINE_STATE};
pub use options::{astra_options, local_options};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use songrec_astra::{AstraBackend, InitReport};
use songrec_cache::{Cache, CacheStore, Fallback, SnapshotRefresh};
use songrec_config::{BackendKind, Config};
pub use songrec_local::AnnOptions;
use songrec_local::LocalBackend;
use songrec_storage::layers::{CircuitBreaker, LayerExt};
use songrec_storage::{ModelInfo, StorageBackend, StorageResult};

/// A backend ready for use, with its stack visible in `Display`.
pub type Backend = Arc<dyn StorageBackend>;

/// Consecutive unretryable remote failures after which a bulk tool's circuit opens.
const BULK_BREAKER_THRESHOLD: u32 = 5;

/// How long a remote that failed is left alone before it is tried again (every process
/// using the same cache folder honours it).
pub const REMOTE_COOL_DOWN: Duration = Duration::from_secs(30);

/// Whether reads may be answered by the offline copy when the remote is unavailable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reads {
    /// Only the remote answers: for commands that write or must see the remote itself
    /// (ingest, delete, migrate, sync). They fail at once while the remote is down.
    RemoteOnly,
    /// Reads fall back to the offline copy, and [`Opened::offline_warning`] says so
    /// (list, show, similar, stats).
    MayUseOfflineCopy,
}

/// What [`open`] built: the backend plus handles on its cache and offline copy (present
/// for remote backends with the cache enabled).
pub struct Opened {
    pub backend: Backend,
    /// The library in the user's words ([`describe`]): what to print instead of the stack.
    pub description: String,
    /// The disk cache, for statistics.
    pub cache: Option<Arc<CacheStore>>,
    /// The offline copy, to refresh it and to read its status.
    pub offline: Option<Arc<dyn SnapshotRefresh>>,
}

/// The library in the user's words: "local library at PATH", "cloud library at HOST/KEYSPACE
/// (cached)". The layered stack (`Fallback(Cache(...))`) is for `-v` and `doctor`.
///
/// ```
/// use songrec_config::{BackendKind, Config};
/// let mut cfg = Config::from_sources(None, &Default::default()).unwrap();
/// cfg.local.path = "/music/lib".into();
/// assert_eq!(songrec_factory::describe(&cfg, BackendKind::Local), "local library at /music/lib");
/// cfg.astra.api_endpoint = "https://db-1.apps.astra.datastax.com".into();
/// cfg.astra.keyspace = "music".into();
/// cfg.cache.enabled = false;
/// assert_eq!(
///     songrec_factory::describe(&cfg, BackendKind::Astra),
///     "cloud library at db-1.apps.astra.datastax.com/music (no cache)"
/// );
/// ```
pub fn describe(cfg: &Config, kind: BackendKind) -> String {
    describe_cached(cfg, kind, cfg.cache.enabled)
}

fn describe_cached(cfg: &Config, kind: BackendKind, cached: bool) -> String {
    match kind {
        BackendKind::Local => format!("local library at {}", cfg.local.path.display()),
        BackendKind::Astra => {
            let host = songrec_astra::origin::host_of(&cfg.astra.api_endpoint);
            let cache = if cached { "cached" } else { "no cache" };
            format!("cloud library at {host}/{} ({cache})", cfg.astra.keyspace)
        }
    }
}

impl Opened {
    /// A stack without cache or offline copy.
    fn bare(backend: Backend) -> Self {
        Self {
            backend,
            description: String::new(),
            cache: None,
            offline: None,
        }
    }

    /// The one-line warning to print when reads were answered by the offline copy.
    pub fn offline_warning(&self) -> Option<String> {
        self.offline.as_ref()?.fallback_status().warning()
    }
}

/// Builds the configured backend (remote reads never fall back; see [`open`]).
///
/// ```no_run
/// let cfg = songrec_config::Config::from_sources(None, &Default::default()).unwrap();
/// let backend = songrec_factory::build(&cfg).unwrap();
/// println!("using {backend}");
/// ```
pub fn build(cfg: &Config) -> StorageResult<Backend> {
    // Bulk tools (migrate, sync) read every blob once: serve cached audio, keep no new audio.
    Ok(open_with(cfg, Reads::RemoteOnly, false)?.backend)
}

/// Builds the configured backend with handles on its cache and offline copy.
///
/// ```no_run
/// use songrec_factory::{open, Reads};
/// let cfg = songrec_config::Config::from_sources(None, &Default::default()).unwrap();
/// let opened = open(&cfg, Reads::MayUseOfflineCopy).unwrap();
/// // ... use opened.backend ...
/// if let Some(w) = opened.offline_warning() {
///     eprintln!("warning: {w}");
/// }
/// ```
pub fn open(cfg: &Config, reads: Reads) -> StorageResult<Opened> {
    open_with(cfg, reads, true)
}

/// [`open`] for a process that runs until it is stopped and writes now and then
/// (`songrec serve`, the radio): it takes a local library's write lock only for the moment of
/// each write ([`LockHold::PerWrite`](songrec_local::LockHold::PerWrite)), so ingests, edits
/// and syncs run beside it; `what` names it in the lock file ("songrec serve on
/// 127.0.0.1:4533").
pub fn open_long_running(cfg: &Config, reads: Reads, what: &str) -> StorageResult<Opened> {
    open_as(cfg, reads, true, Some(what))
}

fn open_with(cfg: &Config, reads: Reads, keep_audio: bool) -> StorageResult<Opened> {
    open_as(cfg, reads, keep_audio, None)
}

/// `brief`: the process takes the local write lock only per write, and is named so.
fn open_as(
    cfg: &Config,
    reads: Reads,
    keep_audio: bool,
    brief: Option<&str>,
) -> StorageResult<Opened> {
    let hold = |mut o: songrec_local::LocalOptions| {
        if let Some(what) = brief {
            o.hold = songrec_local::LockHold::PerWrite;
            o.holder = Some(what.to_owned());
        }
        o
    };
    let mut opened = match cfg.backend {
        // Local(...)
        BackendKind::Local => Opened::bare(with_test_hooks(
            cfg.backend,
            LocalBackend::open_with(&cfg.local.path, hold(local_options(cfg)?))?,
        )?),
        BackendKind::Astra => {
            let astra = AstraBackend::connect(&astra_options(cfg))?;
            // Interactive commands open the circuit after one failure the client could not
            // retry away; bulk tools (`!keep_audio`) retry whole steps and tolerate more.
            let threshold = if keep_audio {
                1
            } else {
                BULK_BREAKER_THRESHOLD
            };
            let breaker = CircuitBreaker::new(threshold, REMOTE_COOL_DOWN);
            match cache_parts(cfg, hold(songrec_local::LocalOptions::default())) {
                // CircuitBreaker(Astra(..)): the client retries transient failures itself;
                // the breaker stops hammering a remote that keeps failing.
                None => Opened::bare(with_test_hooks(cfg.backend, astra.layer(breaker))?),
                Some(parts) => {
                    let breaker = breaker.persist_to(parts.dir.join("circuit.json"));
                    let remote = with_test_hooks(cfg.backend, astra.layer(breaker))?;
                    cached(remote, parts, reads, keep_audio)
                }
            }
        }
    };
    opened.description = describe_cached(cfg, cfg.backend, opened.cache.is_some());
    Ok(opened)
}

/// The cached remote stack over `inner` (the remote with its circuit breaker):
/// `Fallback(Cache(CircuitBreaker(Astra(..))), Local(<offline copy>))` (see `songrec_cache`).
fn cached<B: StorageBackend + 'static>(
    inner: B,
    parts: CacheParts,
    reads: Reads,
    keep_audio: bool,
) -> Opened {
    let stack = Arc::new(
        inner
            .layer(
                Cache::from_store(parts.store.clone())
                    .namespace(&parts.namespace)
                    .keep_audio(keep_audio),
            )
            .layer(
                Fallback::new(parts.offline)
                    .reads(reads == Reads::MayUseOfflineCopy)
                    .state_file(parts.dir.join(OFFLINE_STATE)),
            ),
    );
    Opened {
        backend: stack.clone(),
        description: String::new(),
        cache: Some(parts.store),
        offline: Some(stack),
    }
}

struct CacheParts {
    store: Arc<CacheStore>,
    offline: LocalBackend,
    namespace: String,
    dir: PathBuf,
}

/// The cache store and offline copy for the configured remote, or `None` (with a warning)
/// when the cache is disabled or cannot be opened: a broken cache never stops a command.
fn cache_parts(cfg: &Config, offline_opts: songrec_local::LocalOptions) -> Option<CacheParts> {
    if !cfg.cache.enabled {
        return None;
    }
    let namespace = remote_namespace(cfg);
    let dir = remote_dir(cfg, &namespace);
    let store = cache_store(cfg)
        .inspect_err(|e| tracing::warn!("cache disabled for this run: {e}"))
        .ok()?;
    let offline = LocalBackend::open_with(dir.join(OFFLINE_DIR), offline_opts)
        .inspect_err(|e| {
            tracing::warn!(
                "cache disabled for this run: the offline copy cannot be read ({e}); `songrec cache clear` starts a new one"
            )
        })
        .ok()?;
    Some(CacheParts {
        store: Arc::new(store),
        offline,
        namespace,
        dir,
    })
}

// ---- other backends the commands open -------------------------------------------------------

/// The configured local library, opened bare (no layers, no test hooks): `songrec reindex`
/// rebuilds its vector index from the .npy files.
pub fn open_local_for_reindex(cfg: &Config) -> StorageResult<LocalBackend> {
    LocalBackend::open_with(&cfg.local.path, local_options(cfg)?)
}

/// [`scratch_local`] with the approximate index used from `ann_threshold` vectors
/// (`usize::MAX`: never), for benchmarks.
pub fn scratch_local_with(
    dir: impl AsRef<Path>,
    ann_threshold: usize,
) -> StorageResult<LocalBackend> {
    scratch_local_ann(
        dir,
        songrec_local::AnnOptions {
            min_vectors: ann_threshold,
            ..songrec_local::AnnOptions::default()
        },
    )
}

/// [`scratch_local`] with the given approximate-index options (benchmarks sweep them).
pub fn scratch_local_ann(
    dir: impl AsRef<Path>,
    ann: songrec_local::AnnOptions,
) -> StorageResult<LocalBackend> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| songrec_storage::StorageError::io(dir, e))?;
    LocalBackend::open_with(
        dir,
        songrec_local::LocalOptions {
            ann,
            ..Default::default()
        },
    )
}

/// A bare local library in `dir` (created when missing) that is not the user's library: the
/// scratch libraries of `songrec eval` and `songrec bench`.
pub fn scratch_local(dir: impl AsRef<Path>) -> StorageResult<LocalBackend> {
    LocalBackend::open(dir)
}

/// Creates the Astra DB collections of the configuration for `models` (idempotent):
/// `songrec init-astra`. With the database's collection budget `max_collections`, nothing is
/// created unless everything fits.
pub async fn init_astra(
    cfg: &Config,
    models: &[ModelInfo],
    max_collections: Option<usize>,
) -> StorageResult<InitReport> {
    AstraBackend::init_within(&astra_options(cfg), models, max_collections).await
}

// ---- test fault hook ------------------------------------------------------------------------

/// Environment variable of the crash-test hook (read only with the `test-hooks` feature).
pub const TEST_CRASH_ENV: &str = "SONGREC_TEST_CRASH_AT";

/// **Test fault hook, for crash tests only** (feature `test-hooks`): with
/// `SONGREC_TEST_CRASH_AT=[BACKEND:]OP:N[:before|after]` the backend of that kind is wrapped
/// in a `CrashPoint` layer that `kill -9`s the process at the N-th call of OP.
#[cfg(feature = "test-hooks")]
fn with_test_hooks<B: StorageBackend + 'static>(
    kind: BackendKind,
    backend: B,
) -> StorageResult<Backend> {
    use songrec_storage::layers::CrashPoint;
    if let Ok(spec) = std::env::var(TEST_CRASH_ENV) {
        let point = CrashPoint::parse(&spec)?;
        if point.backend().is_none_or(|b| b == kind.to_string()) {
            tracing::warn!("test crash hook armed: {point}");
            return Ok(Arc::new(backend.layer(point)));
        }
    }
    Ok(Arc::new(backend))
}

/// Without the `test-hooks` feature: the backend as it is.
#[cfg(not(feature = "test-hooks"))]
fn with_test_hooks<B: StorageBackend + 'static>(
    _kind: BackendKind,
    backend: B,
) -> StorageResult<Backend> {
    Ok(Arc::new(backend))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_tell_remotes_apart_and_are_file_names() {
        let mut cfg = Config::from_sources(None, &Default::default()).unwrap();
        cfg.astra.api_endpoint = "https://abc-123.apps.astra.datastax.com".into();
        cfg.s3.bucket = "music".into();
        let a = remote_namespace(&cfg);
        assert!(a.starts_with("astra-abc-123.apps.astra.datastax.com-default_keyspace-songrec-"));
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_eq!(a, remote_namespace(&cfg), "stable");
        cfg.s3.bucket = "other".into();
        assert_ne!(a, remote_namespace(&cfg));
    }
}
