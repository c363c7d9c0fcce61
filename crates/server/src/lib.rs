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
mod fingerprint;
pub mod guard;
pub mod map;
pub mod metrics;
pub mod openapi;
pub mod options;
pub mod params;
pub mod policy;
pub mod range;
pub mod sniff;
pub mod state;
pub mod subsonic;
pub mod subsonic_core;
pub mod web;

#[cfg(test)]
mod fuzz_replay;

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use futures::FutureExt;
use songrec_storage::StorageBackend;

pub use crate::options::{
    DEFAULT_MAX_SPOOL_BYTES, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_UPLOAD_TIMEOUT, ServerError,
    ServerOptions, check_bind, parse_bind,
};
pub use crate::state::{AppInner, AppState};

use crate::error::ApiError;

/// How often plays and stars kept while the library was locked are tried again.
const MARKS_RETRY: Duration = Duration::from_secs(2);

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
