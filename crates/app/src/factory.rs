//! Builds the backend the configuration asks for. This is the one place where layers are
//! stacked over a concrete backend; read it top to bottom as the stack, outermost first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use songrec_storage::StorageBackend;
use songrec_storage::cache::{Cache, CacheStore, Fallback, SnapshotRefresh};
use songrec_storage::config::{BackendKind, Config};
use songrec_storage::layers::{CircuitBreaker, LayerExt};

use crate::AppResult;

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
    /// The stack.
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
/// use songrec_storage::config::{BackendKind, Config};
/// let mut cfg = Config::from_sources(None, &Default::default()).unwrap();
/// cfg.local.path = "/music/lib".into();
/// assert_eq!(songrec_app::factory::describe(&cfg, BackendKind::Local), "local library at /music/lib");
/// cfg.astra.api_endpoint = "https://db-1.apps.astra.datastax.com".into();
/// cfg.astra.keyspace = "music".into();
/// cfg.cache.enabled = false;
/// assert_eq!(
///     songrec_app::factory::describe(&cfg, BackendKind::Astra),
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
            let host = url::Url::parse(cfg.astra.api_endpoint.trim())
                .ok()
                .and_then(|u| {
                    u.host_str().map(|h| {
                        format!(
                            "{h}{}",
                            u.port().map(|p| format!(":{p}")).unwrap_or_default()
                        )
                    })
                })
                .unwrap_or_else(|| "?".to_owned());
            let cache = if cached { "cached" } else { "no cache" };
            format!("cloud library at {host}/{} ({cache})", cfg.astra.keyspace)
        }
    }
}

impl Opened {
    /// The one-line warning to print when reads were answered by the offline copy.
    pub fn offline_warning(&self) -> Option<String> {
        self.offline.as_ref()?.fallback_status().warning()
    }
}

/// Builds the configured backend (remote reads never fall back; see [`open`]).
///
/// ```no_run
/// let cfg = songrec_storage::config::Config::from_sources(None, &Default::default()).unwrap();
/// let backend = songrec_app::factory::build(&cfg).unwrap();
/// println!("using {backend}");
/// ```
pub fn build(cfg: &Config) -> AppResult<Backend> {
    // Bulk tools (migrate, sync) read every blob once: serve cached audio, keep no new audio.
    Ok(open_with(cfg, Reads::RemoteOnly, false)?.backend)
}

/// Builds the configured backend with handles on its cache and offline copy.
///
/// ```no_run
/// use songrec_app::factory::{open, Reads};
/// let cfg = songrec_storage::config::Config::from_sources(None, &Default::default()).unwrap();
/// let opened = open(&cfg, Reads::MayUseOfflineCopy).unwrap();
/// // ... use opened.backend ...
/// if let Some(w) = opened.offline_warning() {
///     eprintln!("warning: {w}");
/// }
/// ```
pub fn open(cfg: &Config, reads: Reads) -> AppResult<Opened> {
    open_with(cfg, reads, true)
}

fn open_with(cfg: &Config, reads: Reads, keep_audio: bool) -> AppResult<Opened> {
    let mut opened = open_stack(cfg, reads, keep_audio)?;
    opened.description = describe_cached(cfg, cfg.backend, opened.cache.is_some());
    Ok(opened)
}

fn open_stack(cfg: &Config, reads: Reads, keep_audio: bool) -> AppResult<Opened> {
    match cfg.backend {
        BackendKind::Local => {
            // Local(...)
            Ok(Opened {
                backend: with_test_hooks(cfg.backend, LocalBackend::open(&cfg.local.path)?)?,
                description: String::new(),
                cache: None,
                offline: None,
            })
        }
        BackendKind::Astra => {
            let astra = AstraBackend::connect(cfg)?;
            // Interactive commands open the circuit after one failure the client could not
            // retry away (reads then come from the offline copy at once). Bulk tools (migrate,
            // sync: `keep_audio == false`) make thousands of calls and retry whole steps
            // themselves: one unlucky call must not fail the rest of the run for a cool-down.
            let threshold = if keep_audio {
                1
            } else {
                BULK_BREAKER_THRESHOLD
            };
            let breaker = CircuitBreaker::new(threshold, REMOTE_COOL_DOWN);
            let Some(parts) = cache_parts(cfg) else {
                // CircuitBreaker(Astra(..)): the client retries transient failures itself;
                // the breaker stops hammering a remote that keeps failing.
                return Ok(Opened {
                    backend: with_test_hooks(cfg.backend, astra.layer(breaker))?,
                    description: String::new(),
                    cache: None,
                    offline: None,
                });
            };
            let breaker = breaker.persist_to(parts.dir.join("circuit.json"));
            let remote = with_test_hooks(cfg.backend, astra.layer(breaker))?;
            Ok(cached(remote, parts, reads, keep_audio))
        }
    }
}

/// The cached remote stack over `inner` (the remote with its circuit breaker):
///
/// ```text
/// Fallback(                   reads: the remote, else the offline copy; writes: remote only
///   Cache(                    audio by content hash, vectors by (song, model, version)
///     CircuitBreaker(         open after one failure (the client already retried),
///       Astra(..))),          shared by processes through circuit.json
///   Local(<offline copy>))    metadata + vectors, kept up to date by the traffic
/// ```
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
                    .state_file(parts.dir.join("offline.json")),
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
fn cache_parts(cfg: &Config) -> Option<CacheParts> {
    if !cfg.cache.enabled {
        return None;
    }
    let namespace = remote_namespace(cfg);
    let dir = remote_dir(cfg, &namespace);
    let store = match CacheStore::open(&cfg.cache.path, cfg.cache.max_bytes) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            tracing::warn!("cache disabled for this run: {e}");
            return None;
        }
    };
    let offline = match LocalBackend::open(dir.join("offline")) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(
                "cache disabled for this run: the offline copy cannot be read ({e}); `songrec cache clear` starts a new one"
            );
            return None;
        }
    };
    Some(CacheParts {
        store,
        offline,
        namespace,
        dir,
    })
}

/// Where a remote library's offline copy and circuit state live.
pub fn remote_dir(cfg: &Config, namespace: &str) -> PathBuf {
    cfg.cache.path.join("remotes").join(namespace)
}

/// A stable, file-name-safe name for the configured remote library: readable host, keyspace
/// and prefix, plus a hash of everything that identifies it (endpoint, keyspace, collection
/// prefix, bucket, S3 endpoint and prefix).
pub fn remote_namespace(cfg: &Config) -> String {
    let a = &cfg.astra;
    let s = &cfg.s3;
    let ident = [
        a.api_endpoint.trim(),
        &a.keyspace,
        &a.collection_prefix,
        s.endpoint.trim(),
        s.bucket.trim(),
        &s.prefix,
    ]
    .join("\n");
    let hash = hex_prefix(&Sha256::digest(ident.as_bytes()));
    let host = a
        .api_endpoint
        .trim()
        .split("://")
        .last()
        .unwrap_or("")
        .split('/')
        .next()
        .unwrap_or("");
    let readable: String = format!("astra-{host}-{}-{}", a.keyspace, a.collection_prefix)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{readable}-{hash}")
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

// ---- test fault hook ------------------------------------------------------------------------

/// Environment variable of the crash-test hook (see [`with_test_hooks`]); read only in builds
/// with the `test-hooks` feature (the crash tests), never by a released `songrec`.
pub const TEST_CRASH_ENV: &str = "SONGREC_TEST_CRASH_AT";

/// **Test fault hook, for crash tests only** (feature `test-hooks`). When
/// `SONGREC_TEST_CRASH_AT` is set to `[BACKEND:]OP:N[:before|after]` (e.g.
/// `local:put_songs:2:after`), the backend of that kind is wrapped, outermost, in a
/// `CrashPoint` layer that `kill -9`s the process at the N-th call of OP (`Crash(...)` then
/// shows in the stack). Unset, or built without the feature, nothing is added.
#[cfg(feature = "test-hooks")]
fn with_test_hooks<B: StorageBackend + 'static>(
    kind: BackendKind,
    backend: B,
) -> AppResult<Backend> {
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
) -> AppResult<Backend> {
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
