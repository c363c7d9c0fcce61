//! How the server is started: [`ServerOptions`] and their defaults, the address to listen on
//! ([`parse_bind`], [`check_bind`]), and why it would not start ([`ServerError`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use songrec_audio::Embedder;

use crate::map::{PcaProjector, Projector};
use crate::subsonic_core::auth::SubsonicOptions;
use crate::subsonic_core::media::limits::MediaOptions;

/// Default upload limit for `POST /api/v1/similar`: 50 MB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 50_000_000;
/// Default budget of all spooled uploads together: 1 GB.
pub const DEFAULT_MAX_SPOOL_BYTES: u64 = 1_000_000_000;
/// Default time allowed to receive an upload's body: 120 s.
pub const DEFAULT_UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

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
    /// password or API key ([`Access`](crate::policy::Access)).
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
    /// the bound address: see [`HostPolicy`](crate::policy::HostPolicy).
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
    pub subsonic: SubsonicOptions,
    /// Limits of re-encodings and picture scaling (`stream`, `getCoverArt`).
    pub media: MediaOptions,
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
            subsonic: SubsonicOptions::default(),
            media: MediaOptions::default(),
            machine: "this machine".into(),
            pending_marks: None,
        }
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
