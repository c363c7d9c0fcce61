//! songrec's web server (`songrec serve`): a REST API under `/api/v1` described by an OpenAPI 3
//! document, Prometheus metrics, a health check, and a web page (search, library map, song
//! pages with similar songs and a player), all over any [`StorageBackend`].
//!
//! ```no_run
//! # async fn demo(backend: std::sync::Arc<dyn songrec_storage::StorageBackend>) -> Result<(), songrec_server::ServerError> {
//! use songrec_server::{Server, ServerOptions};
//! let opts = ServerOptions::new("127.0.0.1:8080".parse().unwrap());
//! let server = Server::bind(backend, opts).await?;
//! println!("listening on http://{}/", server.local_addr());
//! server.run(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! Routes are declared once (`routes!`): the same table builds the router and is checked
//! against the OpenAPI document ([`openapi::document`]) by the tests.

pub mod api;
pub mod audio;
pub mod error;
pub mod guard;
pub mod map;
pub mod metrics;
pub mod openapi;
pub mod params;
pub mod range;
pub mod sniff;
pub mod subsonic;
pub mod web;

#[cfg(test)]
mod fuzz_replay;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use futures::FutureExt;
use songrec_audio::Embedder;
use songrec_storage::StorageBackend;
use songrec_storage::layers::{LayerExt, MetricsRecorder};

use crate::error::ApiError;
use crate::map::{PcaProjector, Projector};
use crate::metrics::HttpMetrics;

/// Default upload limit for `POST /api/v1/similar`: 50 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50_000_000;
/// Default budget of all spooled uploads together: 1 GB.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 1_000_000_000;
/// Default time allowed to receive an upload's body: 120 s.
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// How often plays and stars kept while the library was locked are tried again.
const MARKS_RETRY: Duration = Duration::from_secs(2);

/// Errors starting or running the server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// A non-loopback address without `--public`.
    #[error(
        "refusing to listen on {0}: it is reachable from other machines; use 127.0.0.1 (the default), or pass --public (the web page and /api/v1 then require the Subsonic password or API key) or --public-read (open to anyone who can reach it)"
    )]
    NotLoopback(SocketAddr),
    /// `--public` with no Subsonic password or API key to require, and no `--public-read`.
    #[error(
        "refusing to listen on {0} with --public: no Subsonic password or API key is set, so the web page and /api/v1 (every song's metadata and audio) would be open to anyone who can reach it; set SONGREC_SUBSONIC_USER and SONGREC_SUBSONIC_PASSWORD (or SONGREC_SUBSONIC_API_KEY) to require them, or pass --public-read instead of --public if anyone who can reach it may read the library"
    )]
    OpenWithoutCredentials(SocketAddr),
    /// The address did not parse.
    #[error("cannot read {0:?} as an address to listen on; use IP:PORT, e.g. 127.0.0.1:8080")]
    BadAddress(String),
    /// Binding failed (port in use, permission).
    #[error("cannot listen on {addr}: {error}; pick another port with --bind")]
    Bind {
        addr: SocketAddr,
        error: std::io::Error,
    },
    /// An `--allow-host` value that is not a host name.
    #[error("{0}")]
    BadHost(String),
    /// Scratch space for uploads could not be made.
    #[error("cannot create a scratch folder for uploads: {0}")]
    Scratch(std::io::Error),
    /// The server stopped with an I/O error.
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
}

/// Parses `IP:PORT` (also `localhost:PORT` and `[::1]:PORT`).
pub fn parse_bind(s: &str) -> Result<SocketAddr, ServerError> {
    let t = s.trim();
    let t2 = t
        .strip_prefix("localhost:")
        .map(|port| format!("127.0.0.1:{port}"));
    t2.as_deref()
        .unwrap_or(t)
        .parse()
        .map_err(|_| ServerError::BadAddress(s.to_owned()))
}

/// Refuses addresses reachable from other machines unless `public`.
pub fn check_bind(addr: &SocketAddr, public: bool) -> Result<(), ServerError> {
    let ok = addr.ip().is_loopback() || public;
    ok.then_some(()).ok_or(ServerError::NotLoopback(*addr))
}

#[derive(Clone)]
pub struct ServerOptions {
    /// Where to listen (port 0 picks a free one).
    pub bind: SocketAddr,
    /// Allow non-loopback addresses; the web page and `/api/v1` then require the Subsonic
    /// password or API key ([`guard::Access`]).
    pub public: bool,
    /// Allow non-loopback addresses with the web page and `/api/v1` open to anyone who can reach
    /// them (the stated choice; implies `public`).
    pub public_read: bool,
    /// Largest accepted upload, bytes.
    pub max_upload_bytes: u64,
    /// Embedders started with the server, for analysing uploads; others an upload's query needs
    /// (`auto` blends musicnn and DSP where the library holds both) start on first use with
    /// [`ServerOptions::embedder_config`]. Which vectors a query compares does not depend on this
    /// list: it is the `embedder`/`blend`/`model` parameters, `auto` by default, as in the CLI.
    pub embedders: Vec<Arc<dyn Embedder>>,
    /// Settings of the embedders started on demand (neural runtime, model files).
    pub embedder_config: songrec_config::EmbedderConfig,
    /// Uploads analysed at the same time (analysis is CPU-heavy).
    pub analysis_jobs: usize,
    /// Where uploads are spooled (default: the system temp folder).
    pub scratch_dir: Option<PathBuf>,
    /// The 2-D projection for the library map.
    pub projector: Arc<dyn Projector>,
    /// Extra names the `Host` header may carry (`NAME` or `NAME:PORT`), besides localhost and
    /// the bound address: see [`guard::HostPolicy`].
    pub allowed_hosts: Vec<String>,
    /// Uploads in progress at once (being received, waiting or being analysed); more are
    /// answered `503` with `Retry-After`. `None`: twice `analysis_jobs`.
    pub max_uploads: Option<usize>,
    /// Bytes of all spooled uploads together; an upload that would go over is answered `503`.
    pub max_spool_bytes: u64,
    /// Time allowed to receive an upload's body; slower ones are answered `408`.
    pub upload_timeout: Duration,
    /// The Subsonic API's user and sign-in limits (`/rest/`; no user: every call but
    /// `getOpenSubsonicExtensions` is refused).
    pub subsonic: subsonic::SubsonicOptions,
    /// Limits of re-encodings and picture scaling (`stream`, `getCoverArt`).
    pub media: subsonic::media::MediaOptions,
    /// This machine's id, under which plays and skips are counted (the library's sync id;
    /// see [`songrec_app::marks`]).
    pub machine: String,
    /// Where plays and stars wait while another process holds the library's write lock
    /// (`None`: such a play is answered with an error).
    pub pending_marks: Option<PathBuf>,
}

impl ServerOptions {
    /// Defaults: loopback only, 50 MB uploads, the DSP embedder started (musicnn on first use,
    /// with the default settings), one analysis per core, PCA.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            public: false,
            public_read: false,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            embedders: songrec_app::embedders::parse_list("dsp").unwrap_or_default(),
            embedder_config: songrec_config::EmbedderConfig::default(),
            analysis_jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            scratch_dir: None,
            projector: Arc::new(PcaProjector),
            allowed_hosts: Vec::new(),
            max_uploads: None,
            max_spool_bytes: DEFAULT_MAX_SPOOL_BYTES,
            upload_timeout: DEFAULT_UPLOAD_TIMEOUT,
            subsonic: subsonic::SubsonicOptions::default(),
            media: subsonic::media::MediaOptions::default(),
            machine: "this machine".into(),
            pending_marks: None,
        }
    }
}

/// Shared state of the handlers.
pub struct AppInner {
    /// The backend, wrapped in the metrics layer.
    pub backend: Arc<dyn StorageBackend>,
    /// The backend's operation counters.
    pub recorder: MetricsRecorder,
    pub http: HttpMetrics,
    /// The options the server was started with (its real port in `bind`).
    pub opts: ServerOptions,
    /// Embedders for uploads: those started with the server, and any other started on first use.
    pub embedders: songrec_app::embedders::Pool,
    /// Bounds concurrent analyses.
    pub analysis: tokio::sync::Semaphore,
    /// Bounds uploads in progress (taken before the body is read).
    pub uploads: tokio::sync::Semaphore,
    /// Bytes spooled by uploads in progress.
    pub spool_bytes: AtomicU64,
    /// Which `Host` and `Origin` values are accepted.
    pub hosts: guard::HostPolicy,
    /// Who may use the web page and `/api/v1`.
    pub access: guard::Access,
    /// Spool folder for uploads (removed on drop).
    pub scratch: tempfile::TempDir,
    /// Computed maps by query, with the library fingerprint they were computed at.
    pub map_cache: Mutex<HashMap<String, (u64, Arc<songrec_app::views::MapView>)>>,
    /// The Subsonic API's state (`/rest/`).
    pub subsonic: subsonic::state::SubsonicState,
    /// Re-encoding and picture-scaling turns, scaled pictures.
    pub media: subsonic::media::MediaState,
    /// Plays, skips and stars, written for every door ([`songrec_app::marks`]).
    pub marks: Arc<songrec_app::marks::Marks>,
    /// One playlist change at a time: each reads the playlist, changes it and writes it whole,
    /// so two at once would keep only one's change.
    pub playlist_writes: tokio::sync::Mutex<()>,
}

/// Cheaply clonable handle to [`AppInner`].
pub type AppState = Arc<AppInner>;

impl AppInner {
    /// Wraps `backend` in a metrics layer and prepares the state (`opts.bind` must carry the
    /// real port: the `Host` check compares with it).
    pub fn new(
        backend: Arc<dyn StorageBackend>,
        opts: &ServerOptions,
    ) -> Result<Self, ServerError> {
        let recorder = MetricsRecorder::new();
        let backend: Arc<dyn StorageBackend> = Arc::new(backend.layer(recorder.clone()));
        let mut scratch = tempfile::Builder::new();
        scratch.prefix("songrec-serve-");
        let scratch = match &opts.scratch_dir {
            Some(d) => std::fs::create_dir_all(d).and_then(|()| scratch.tempdir_in(d)),
            None => scratch.tempdir(),
        }
        .map_err(ServerError::Scratch)?;
        let access = guard::Access::of(opts)?;
        let public = opts.public || opts.public_read;
        let hosts = guard::HostPolicy::new(opts.bind, public, &opts.allowed_hosts)
            .map_err(ServerError::BadHost)?;
        let analysis_jobs = opts.analysis_jobs.max(1);
        let max_uploads = opts
            .max_uploads
            .unwrap_or(analysis_jobs.saturating_mul(2))
            .max(1);
        let marks = Arc::new(songrec_app::marks::Marks::new(
            backend.clone(),
            opts.machine.clone(),
            opts.pending_marks.clone(),
        ));
        Ok(Self {
            backend,
            recorder,
            http: HttpMetrics::new(),
            embedders: songrec_app::embedders::Pool::with(
                opts.embedder_config.clone(),
                opts.embedders.clone(),
            ),
            analysis: tokio::sync::Semaphore::new(analysis_jobs),
            uploads: tokio::sync::Semaphore::new(max_uploads),
            spool_bytes: AtomicU64::new(0),
            hosts,
            access,
            scratch,
            map_cache: Mutex::new(HashMap::new()),
            subsonic: subsonic::state::SubsonicState::new(opts.subsonic.clone()),
            media: subsonic::media::MediaState::new(&opts.media),
            marks,
            playlist_writes: tokio::sync::Mutex::new(()),
            opts: opts.clone(),
        })
    }
}

/// One route: method, path template (OpenAPI syntax) and OpenAPI operation id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// Lowercase HTTP method.
    pub method: &'static str,
    /// Path template, e.g. `/api/v1/songs/{id}`.
    pub path: &'static str,
    /// OpenAPI `operationId`.
    pub operation_id: &'static str,
}

macro_rules! routes {
    ($( $method:ident $path:literal $op:literal => $handler:path; )*) => {
        /// Every route the server answers, in the order of the router.
        pub const ROUTES: &[RouteInfo] = &[
            $( RouteInfo { method: stringify!($method), path: $path, operation_id: $op }, )*
        ];

        fn add_routes(r: Router<AppState>) -> Router<AppState> {
            r $( .route($path, axum::routing::$method($handler)) )*
        }
    };
}

routes! {
    get "/" "getIndexPage" => web::index;
    get "/static/app.js" "getAppScript" => web::app_js;
    get "/static/style.css" "getStyleSheet" => web::style_css;
    get "/healthz" "getHealth" => api::healthz;
    get "/metrics" "getMetrics" => api::metrics;
    get "/api/v1/openapi.json" "getOpenApi" => api::openapi;
    get "/api/v1/songs" "listSongs" => api::list_songs;
    get "/api/v1/songs/{id}" "getSong" => api::get_song;
    get "/api/v1/songs/{id}/similar" "similarToSong" => api::similar_to_song;
    get "/api/v1/songs/{id}/audio" "getSongAudio" => audio::get_audio;
    get "/api/v1/artists/{name}/similar" "similarArtists" => api::similar_artists;
    post "/api/v1/similar" "similarToUpload" => api::similar_to_upload;
    get "/api/v1/similar" "similarToText" => api::similar_to_text;
    get "/api/v1/stats" "getStats" => api::stats;
    get "/api/v1/map" "getMap" => api::map;
    get "/api/v1/playlist" "getPlaylist" => api::playlist;
    get "/api/v1/clusters" "getClusters" => api::clusters;
}

/// Turns a panic in a handler into a JSON 500 (belt and braces: handlers do not panic on
/// input, and a panic would only end its own connection anyway).
pub async fn panic_guard(req: Request, next: Next) -> Response {
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!("a request handler panicked: {what}");
            let message = "the server hit a bug while handling this request; it was logged";
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message).into_response()
        }
    }
}

async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    state.http.begin();
    let t = Instant::now();
    let resp = next.run(req).await;
    state.http.end();
    let elapsed = t.elapsed();
    let status = resp.status().as_u16();
    state.http.record(&method, &route, status, elapsed);
    // One line per request with -v (songrec's info): the path, never the query (Subsonic
    // clients put passwords and tokens there).
    tracing::info!(
        "{method} {path} {status} {:.1} ms",
        elapsed.as_secs_f64() * 1000.0
    );
    resp
}

async fn not_found(req: Request) -> ApiError {
    ApiError::not_found(format!(
        "no such endpoint: {} {}; see /api/v1/openapi.json",
        req.method(),
        req.uri().path()
    ))
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed on {}; see /api/v1/openapi.json",
            req.method(),
            req.uri().path()
        ),
    )
}

/// The whole application: routes, JSON fallbacks, the panic guard, metrics and body limit.
pub fn router(state: AppState) -> Router {
    // Multipart framing adds a little to the file itself.
    let body_limit = usize::try_from(state.opts.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(1 << 20);
    add_routes(Router::new())
        .merge(subsonic::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(panic_guard))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// A bound, not yet running server.
pub struct Server {
    listener: tokio::net::TcpListener,
    state: AppState,
}

impl Server {
    /// Checks the address and binds it.
    pub async fn bind(
        backend: Arc<dyn StorageBackend>,
        mut opts: ServerOptions,
    ) -> Result<Self, ServerError> {
        check_bind(&opts.bind, opts.public || opts.public_read)?;
        guard::Access::of(&opts)?;
        let listener = tokio::net::TcpListener::bind(opts.bind)
            .await
            .map_err(|error| ServerError::Bind {
                addr: opts.bind,
                error,
            })?;
        // The real port (when 0 was asked for), for the Host check.
        opts.bind = listener.local_addr().map_err(ServerError::Serve)?;
        let state = Arc::new(AppInner::new(backend, &opts)?);
        // Plays kept while another process held the library land soon after it lets go.
        Arc::clone(&state.marks).keep_applying(MARKS_RETRY);
        Ok(Self { listener, state })
    }

    /// The address actually bound (the port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        let bound = self.listener.local_addr();
        // Only fails for unbound sockets, which a bound listener is not.
        bound.unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The handlers' state (counters, backend).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        // The peer's address reaches the handlers (the Subsonic API counts failed sign-ins by it).
        let app = router(self.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        // No Nagle delay: a response's headers and first bytes leave at once (with it, a small
        // write after another waits for the client's delayed ACK, about 40 ms).
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ServerError::Serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_addresses() {
        assert_eq!(
            parse_bind("localhost:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert!(parse_bind("nonsense").is_err());
        let addr = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(check_bind(&addr("127.0.0.1:8080"), false).is_ok());
        assert!(check_bind(&addr("0.0.0.0:8080"), false).is_err());
        assert!(check_bind(&addr("0.0.0.0:8080"), true).is_ok());
    }
}
