//! [`AppState`]: what every handler shares, made once when the server starts.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use songrec_storage::StorageBackend;
use songrec_storage::layers::{LayerExt, MetricsRecorder};

use crate::metrics::HttpMetrics;
use crate::options::{ServerError, ServerOptions};
use crate::policy::{Access, HostPolicy};
use crate::subsonic_core::media::limits::MediaState;
use crate::subsonic_core::state::SubsonicState;

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
    pub hosts: HostPolicy,
    /// Who may use the web page and `/api/v1`.
    pub access: Access,
    /// Spool folder for uploads (removed on drop).
    pub scratch: tempfile::TempDir,
    /// Computed maps by query, with the library fingerprint they were computed at.
    pub map_cache: Mutex<HashMap<String, (u64, Arc<songrec_app::views::MapView>)>>,
    /// The Subsonic API's state (`/rest/`).
    pub subsonic: SubsonicState,
    /// Re-encoding and picture-scaling turns, scaled pictures.
    pub media: MediaState,
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
        let access = Access::of(opts)?;
        let public = opts.public || opts.public_read;
        let hosts = HostPolicy::new(opts.bind, public, &opts.allowed_hosts)
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
            subsonic: SubsonicState::new(opts.subsonic.clone()),
            media: MediaState::new(&opts.media),
            marks,
            playlist_writes: tokio::sync::Mutex::new(()),
            opts: opts.clone(),
        })
    }
}
