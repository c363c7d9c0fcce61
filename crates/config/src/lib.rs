//! songrec's configuration: one struct, filled from defaults, `config.toml`, `.env`, the
//! environment and command-line flags, in that order (later wins).
//!
//! | source | example |
//! |---|---|
//! | defaults | local backend in `~/.local/share/songrec` |
//! | `config.toml` (`--config`, `$SONGREC_CONFIG`, `~/.config/songrec/config.toml`) | `[storage] backend = "astra"` |
//! | `.env` (`--env-file`, `$SONGREC_ENV_FILE`, `~/.config/songrec/.env`; never overrides a variable already set) | `ASTRA_DB_APPLICATION_TOKEN=...` |
//! | environment | `SONGREC_STORAGE_BACKEND=astra` |
//! | flags | `--storage-backend astra --library ~/lib` |
//!
//! Secrets (the Data API token, the S3 secret key, the Subsonic password and API key) are only
//! read from the environment or `.env`, never from `config.toml`, and are held in [`Secret`] so
//! they never print.
//!
//! Files in the working directory are never read unless named: running songrec inside a
//! downloaded folder must not load a library or send credentials to an endpoint chosen by
//! whoever made the folder.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use songrec_storage::error::{StorageError, StorageResult};
use songrec_storage::secret::Secret;

/// Which backend holds the library.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, strum::Display)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum BackendKind {
    /// Plain files on this machine.
    #[default]
    Local,
    /// Astra DB Data API + S3-compatible blobs (also spelled `cloud`).
    #[serde(alias = "cloud", alias = "astradb")]
    Astra,
}

impl FromStr for BackendKind {
    type Err = StorageError;
    fn from_str(s: &str) -> StorageResult<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(Self::Local),
            "astra" | "astradb" | "cloud" => Ok(Self::Astra),
            _ => Err(StorageError::InvalidInput(format!(
                "unknown storage backend {s:?}; use local or astra (alias: cloud)"
            ))),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct LocalConfig {
    /// Library root (holds `data/`).
    #[default(xdg("XDG_DATA_HOME", ".local/share").join("songrec"))]
    pub path: PathBuf,
    /// Vectors of one model from which `similar` searches an approximate nearest-neighbour
    /// index instead of scanning every vector (`SONGREC_ANN_THRESHOLD`; 0 turns the index off).
    #[default = 50_000]
    pub ann_threshold: usize,
    /// Storage of vectors in that index: `f32`, `f16` (default) or `i8`.
    #[default = "f16"]
    pub ann_quantization: String,
    /// Candidate list size of an approximate search (HNSW ef_search): higher finds more of
    /// the exact neighbours and takes longer. 0 (default): chosen from the library's size.
    pub ann_ef_search: usize,
}

/// Astra DB Data API settings.
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct AstraConfig {
    /// `https://<db-id>-<region>.apps.astra.datastax.com` (or a local Data API server).
    pub api_endpoint: String,
    /// Application token (environment / `.env` only).
    #[serde(skip)]
    pub token: Secret,
    #[default = "default_keyspace"]
    pub keyspace: String,
    /// Prefix of collection names.
    #[default = "songrec"]
    pub collection_prefix: String,
    /// API path prefix: `/api/json/v1` on Astra, `/v1` on self-hosted servers.
    #[default = "/api/json/v1"]
    pub api_path: String,
    /// Per-request timeout, seconds.
    #[default = 30]
    pub request_timeout_secs: u64,
    /// Allow a plain `http://` endpoint on another machine (env `ASTRA_DB_ALLOW_HTTP`);
    /// `http://` to this machine (a loopback address, or the name `localhost` itself but not
    /// `*.localhost`) is always allowed.
    pub allow_http: bool,
}

/// S3-compatible object storage settings.
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// Endpoint URL (empty for AWS).
    pub endpoint: String,
    pub bucket: String,
    #[default = "us-east-1"]
    pub region: String,
    /// Key prefix inside the bucket.
    #[default = "songrec"]
    pub prefix: String,
    /// Access key id (environment / `.env`).
    #[serde(skip)]
    pub access_key_id: String,
    /// Secret access key (environment / `.env` only).
    #[serde(skip)]
    pub secret_access_key: Secret,
    /// Allow a plain `http://` endpoint on another machine (env `SONGREC_S3_ALLOW_HTTP`);
    /// `http://` to this machine (a loopback address, or the name `localhost` itself but not
    /// `*.localhost`) is always allowed.
    pub allow_http: bool,
    /// Per-request timeout, seconds (a hung request is abandoned and retried).
    #[default = 60]
    pub request_timeout_secs: u64,
}

/// Read cache settings (the disk cache and offline copy of a remote library; see
/// the `songrec-cache` crate).
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// Cache folder (env `SONGREC_CACHE_DIR`).
    #[default(xdg("XDG_CACHE_HOME", ".cache").join("songrec"))]
    pub path: PathBuf,
    /// Size limit of cached audio and vectors in bytes (env `SONGREC_CACHE_MAX_BYTES`).
    #[default(2 << 30)]
    pub max_bytes: u64,
    /// Whether remote backends are cached and read offline (env `SONGREC_CACHE=0` or the
    /// `--no-cache` flag turn it off).
    #[default = true]
    pub enabled: bool,
}

/// Where the music lives and how the local library keeps it (`[library]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LibraryConfig {
    /// How ingest keeps each file in the local library: `reference` (the default: the file
    /// stays where it is), `reflink` (a copy-on-write clone, a copy where the file system
    /// cannot clone) or `copy` (env `SONGREC_AUDIO`, flag `ingest --audio`).
    #[serde(deserialize_with = "audio_mode")]
    pub audio: songrec_storage::AudioMode,
    /// This machine's copy of the collection (env `SONGREC_MUSIC`, flag `sync --music`):
    /// references below it are stored relative to it, and `sync` links songs to the files
    /// found there instead of downloading their audio.
    pub music: Option<PathBuf>,
}

fn audio_mode<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<songrec_storage::AudioMode, D::Error> {
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Parallel analysis jobs (0 = one per core).
    pub jobs: usize,
}

/// `songrec sync` settings.
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct SyncConfig {
    /// Conflict policy: newer, local, remote or keep-both.
    pub conflict: songrec_storage::conflict::Policy,
    /// Refuse to delete more than this percentage of a side's songs in one run.
    #[default = 50]
    pub max_delete: u32,
    /// Lifetime of the remote lease without renewal, seconds.
    #[default = 120]
    pub lease_ttl_secs: u64,
    /// A sync reads only the remote's changes since its last run, and reconciles fully (lists
    /// both sides whole) when its last full reconciliation is older than this many days.
    #[default = 7]
    pub full_every_days: u32,
}

/// `songrec serve` settings.
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on (loopback unless `--public`).
    #[default = "127.0.0.1:8080"]
    pub bind: String,
    /// Largest upload for "similar to this file", in bytes.
    #[default = 50_000_000]
    pub max_upload_bytes: u64,
}

/// The Subsonic API of `songrec serve` (`/rest/`): who may sign in. Nobody when no user and
/// password (or API key) are set.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SubsonicConfig {
    /// The user name Subsonic apps sign in with (`SONGREC_SUBSONIC_USER`).
    pub user: String,
    /// Its password (`SONGREC_SUBSONIC_PASSWORD`; environment / `.env` only).
    #[serde(skip)]
    pub password: Secret,
    /// An API key for the `apiKeyAuthentication` extension (`SONGREC_SUBSONIC_API_KEY`;
    /// environment / `.env` only).
    #[serde(skip)]
    pub api_key: Secret,
}

/// Which runtime runs the neural embedder.
///
/// ```
/// use songrec_config::NeuralRuntime;
/// assert_eq!("ORT".parse::<NeuralRuntime>().unwrap(), NeuralRuntime::Onnxruntime);
/// assert!("gpu".parse::<NeuralRuntime>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuralRuntime {
    /// ONNX Runtime when one is configured or found installed, else tract.
    #[default]
    Auto,
    /// Always the built-in tract runtime.
    Tract,
    /// ONNX Runtime; an error when none is configured or found.
    Onnxruntime,
}

impl FromStr for NeuralRuntime {
    type Err = StorageError;
    fn from_str(s: &str) -> StorageResult<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "tract" => Ok(Self::Tract),
            "onnxruntime" | "ort" => Ok(Self::Onnxruntime),
            _ => Err(StorageError::InvalidInput(format!(
                "unknown neural runtime {s:?}; use auto, tract or onnxruntime"
            ))),
        }
    }
}

/// Embedder settings (the neural embedder's runtime and model).
///
/// ```
/// let mut env = std::collections::HashMap::new();
/// env.insert("SONGREC_ORT_LIBRARY".to_string(), "/opt/ort/libonnxruntime.so.1.31.1".to_string());
/// let cfg = songrec_config::Config::from_sources(None, &env).unwrap();
/// assert!(cfg.embedder.onnxruntime_library.is_some());
/// assert!(cfg.embedder.musicnn_model.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct EmbedderConfig {
    /// Which runtime runs neural models (`SONGREC_NEURAL_RUNTIME`): `auto` (default) uses
    /// ONNX Runtime when one is configured or installed (`pip install onnxruntime`), else tract.
    pub runtime: NeuralRuntime,
    /// Native ONNX Runtime library (`libonnxruntime.so.1.x`, 1.24 or newer) to run neural
    /// models with; unset = look for an installed one (`runtime = "auto"`), else the built-in
    /// pure-Rust tract runtime.
    pub onnxruntime_library: Option<PathBuf>,
    /// Whether `runtime = "auto"` looks for an installed ONNX Runtime (virtualenv, conda,
    /// ~/.local, pyenv, /usr/local, /usr) when no library is configured
    /// (`SONGREC_ORT_DISCOVERY`; default on). Off: only a configured library is ever loaded.
    #[default = true]
    pub onnxruntime_discovery: bool,
    /// An MSD_musicnn model file instead of the one built into songrec.
    pub musicnn_model: Option<PathBuf>,
    /// An MTT_musicnn model file instead of the one built into songrec.
    pub musicnn_mtt_model: Option<PathBuf>,
}

/// `songrec previews` settings.
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct PreviewsConfig {
    /// Base URL of the iTunes Search API (`/search` is appended).
    #[default = "https://itunes.apple.com"]
    pub base_url: String,
    /// Store country, e.g. `US` (empty: the API's default).
    pub country: String,
}

/// `songrec radio` and `playlist --mpd` settings (`[mpd]`).
#[derive(Clone, Debug, PartialEq, Deserialize, smart_default::SmartDefault)]
#[serde(default, deny_unknown_fields)]
pub struct MpdConfig {
    /// The server when `--mpd` names none and `MPD_HOST` is unset: `[password@]host[:port]`
    /// or a socket path.
    pub address: Option<String>,
    /// MPD's `music_directory` as this machine sees it (env `SONGREC_MPD_MUSIC_DIRECTORY`);
    /// unset: asked of MPD, which tells it over a local socket only.
    pub music_directory: Option<PathBuf>,
    /// Songs the radio keeps queued after the one playing.
    #[default = 5]
    pub ahead: usize,
    /// A song left before this many seconds of listening is a skip ...
    #[default = 30.0]
    pub skip_secs: f64,
    /// ... or before this share of its length, when that comes first.
    #[default = 0.5]
    pub skip_fraction: f64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    #[serde(default)]
    backend: BackendKind,
}

/// `[storage] backend` of the config file.
fn storage_backend<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BackendKind, D::Error> {
    Ok(StorageSection::deserialize(d)?.backend)
}

/// The whole configuration.
///
/// ```
/// use songrec_config::{BackendKind, Config};
/// let mut env = std::collections::HashMap::new();
/// env.insert("SONGREC_STORAGE_BACKEND".to_string(), "astra".to_string());
/// env.insert("ASTRA_DB_APPLICATION_TOKEN".to_string(), "AstraCS:secret".to_string());
/// let cfg = Config::from_sources(None, &env).unwrap();
/// assert_eq!(cfg.backend, BackendKind::Astra);
/// assert!(!format!("{cfg:?}").contains("AstraCS:secret"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which backend commands use.
    #[serde(rename = "storage", deserialize_with = "storage_backend")]
    pub backend: BackendKind,
    pub local: LocalConfig,
    pub library: LibraryConfig,
    pub astra: AstraConfig,
    pub s3: S3Config,
    pub cache: CacheConfig,
    pub ingest: IngestConfig,
    pub sync: SyncConfig,
    pub embedder: EmbedderConfig,
    pub server: ServerConfig,
    pub mpd: MpdConfig,
    pub previews: PreviewsConfig,
    pub subsonic: SubsonicConfig,
    /// Where the config file was read from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var).map_or_else(|| home().join(fallback), PathBuf::from)
}

/// The process environment as configuration reads it: the variables whose name and value are
/// UTF-8. One that is not (`XDG_CACHE_HOME=$'/tmp/c\xff'`) is left out rather than panicking
/// like `std::env::vars` does, so that one odd variable never stops songrec.
pub fn process_env() -> HashMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Expands a leading `~/`.
pub fn expand_home(p: &Path) -> PathBuf {
    p.strip_prefix("~")
        .map_or_else(|_| p.to_path_buf(), |rest| home().join(rest))
}

impl Config {
    /// The user's configuration folder: `$XDG_CONFIG_HOME/songrec`, else `~/.config/songrec`
    /// (`None` without an absolute `XDG_CONFIG_HOME` or `HOME`: never a relative folder).
    pub fn user_dir(env: &HashMap<String, String>) -> Option<PathBuf> {
        let absolute = |k: &str| env.get(k).map(PathBuf::from).filter(|p| p.is_absolute());
        absolute("XDG_CONFIG_HOME")
            .or_else(|| absolute("HOME").map(|h| h.join(".config")))
            .map(|d| d.join("songrec"))
    }

    /// Where the config file is looked for when no `--config` is given: `$SONGREC_CONFIG`, else
    /// `config.toml` in [`Config::user_dir`] if it exists.
    ///
    /// Never the working directory: a `config.toml` there may have come with downloaded files,
    /// and it could name a native library to load or an endpoint to send the token to.
    pub fn default_file(env: &HashMap<String, String>) -> Option<PathBuf> {
        Self::named_or_user_file(env, "SONGREC_CONFIG", "config.toml")
    }

    /// Which `.env` file to load when no `--env-file` is given: `$SONGREC_ENV_FILE`, else `.env`
    /// in [`Config::user_dir`] if it exists. Never the working directory or its parents.
    pub fn default_env_file(env: &HashMap<String, String>) -> Option<PathBuf> {
        Self::named_or_user_file(env, "SONGREC_ENV_FILE", ".env")
    }

    fn named_or_user_file(env: &HashMap<String, String>, var: &str, name: &str) -> Option<PathBuf> {
        if let Some(p) = env.get(var).filter(|p| !p.is_empty()) {
            return Some(PathBuf::from(p));
        }
        let user = Self::user_dir(env)?.join(name);
        user.is_file().then_some(user)
    }

    /// Builds the configuration from a config file (if any) and an environment map
    /// (the process environment after `.env` was loaded). Flags are applied by the caller.
    pub fn from_sources(file: Option<&Path>, env: &HashMap<String, String>) -> StorageResult<Self> {
        let mut cfg: Config = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| StorageError::io(p, e))?;
                toml::from_str(&text)
                    .map_err(|e| StorageError::corrupt(p, format!("invalid config: {e}")))?
            }
            None => Config::default(),
        };
        cfg.source = file.map(Path::to_path_buf);
        let get = |k: &str| {
            env.get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        if let Some(v) = get("SONGREC_STORAGE_BACKEND") {
            cfg.backend = v.parse()?;
        }
        if let Some(v) = get("SONGREC_AUDIO") {
            cfg.library.audio = v
                .parse()
                .map_err(|e| StorageError::InvalidInput(format!("SONGREC_AUDIO={v:?}: {e}")))?;
        }
        if let Some(v) = get("SONGREC_ANN_THRESHOLD") {
            cfg.local.ann_threshold = number("SONGREC_ANN_THRESHOLD", &v, "vectors")?;
        }
        // Settings taken as they are written.
        for (key, slot) in [
            ("ASTRA_DB_API_ENDPOINT", &mut cfg.astra.api_endpoint),
            ("ASTRA_DB_KEYSPACE", &mut cfg.astra.keyspace),
            ("ASTRA_DB_API_PATH", &mut cfg.astra.api_path),
            ("SONGREC_S3_ENDPOINT", &mut cfg.s3.endpoint),
            ("SONGREC_S3_BUCKET", &mut cfg.s3.bucket),
            ("AWS_ACCESS_KEY_ID", &mut cfg.s3.access_key_id),
            ("SONGREC_SERVE_BIND", &mut cfg.server.bind),
            ("SONGREC_PREVIEWS_BASE_URL", &mut cfg.previews.base_url),
            ("SONGREC_SUBSONIC_USER", &mut cfg.subsonic.user),
        ] {
            if let Some(v) = get(key) {
                *slot = v;
            }
        }
        if let Some(v) = get("ASTRA_DB_ALLOW_HTTP") {
            cfg.astra.allow_http = matches!(v.as_str(), "1" | "true" | "yes");
        }
        if let Some(v) = get("SONGREC_S3_REGION").or_else(|| get("AWS_REGION")) {
            cfg.s3.region = v;
        }
        if let Some(v) = get("SONGREC_S3_ALLOW_HTTP") {
            cfg.s3.allow_http = matches!(v.as_str(), "1" | "true" | "yes");
        }
        // Secrets: from the environment (or `.env`) only.
        for (key, slot) in [
            ("ASTRA_DB_APPLICATION_TOKEN", &mut cfg.astra.token),
            ("AWS_SECRET_ACCESS_KEY", &mut cfg.s3.secret_access_key),
            ("SONGREC_SUBSONIC_PASSWORD", &mut cfg.subsonic.password),
            ("SONGREC_SUBSONIC_API_KEY", &mut cfg.subsonic.api_key),
        ] {
            if let Some(v) = get(key) {
                *slot = Secret::new(v);
            }
        }
        for (key, slot) in [
            ("SONGREC_LIBRARY", &mut cfg.local.path),
            ("SONGREC_CACHE_DIR", &mut cfg.cache.path),
        ] {
            if let Some(v) = get(key) {
                *slot = PathBuf::from(v);
            }
        }
        if let Some(v) = get("SONGREC_ORT_LIBRARY").or_else(|| get("ORT_DYLIB_PATH")) {
            cfg.embedder.onnxruntime_library = Some(PathBuf::from(v));
        }
        if let Some(v) = get("SONGREC_ORT_DISCOVERY") {
            cfg.embedder.onnxruntime_discovery =
                !matches!(v.as_str(), "0" | "false" | "no" | "off");
        }
        if let Some(v) = get("SONGREC_NEURAL_RUNTIME") {
            cfg.embedder.runtime = v.parse()?;
        }
        for (key, slot) in [
            ("SONGREC_MUSIC", &mut cfg.library.music),
            ("SONGREC_MPD_MUSIC_DIRECTORY", &mut cfg.mpd.music_directory),
            ("SONGREC_MUSICNN_MODEL", &mut cfg.embedder.musicnn_model),
            (
                "SONGREC_MUSICNN_MTT_MODEL",
                &mut cfg.embedder.musicnn_mtt_model,
            ),
        ] {
            if let Some(v) = get(key) {
                *slot = Some(PathBuf::from(v));
            }
        }
        for p in [
            &mut cfg.library.music,
            &mut cfg.mpd.music_directory,
            &mut cfg.embedder.onnxruntime_library,
            &mut cfg.embedder.musicnn_model,
            &mut cfg.embedder.musicnn_mtt_model,
        ] {
            // An empty value in the file means "not set" (no folder, tract, the built-in model).
            *p = p
                .take()
                .filter(|v| !v.as_os_str().is_empty())
                .map(|v| expand_home(&v));
        }
        if let Some(v) = get("SONGREC_CACHE_MAX_BYTES") {
            cfg.cache.max_bytes = number("SONGREC_CACHE_MAX_BYTES", &v, "bytes")?;
        }
        if let Some(v) = get("SONGREC_CACHE") {
            cfg.cache.enabled = match v.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true,
                "0" | "false" | "no" | "off" => false,
                _ => {
                    return Err(StorageError::InvalidInput(format!(
                        "SONGREC_CACHE={v:?}: use on or off"
                    )));
                }
            };
        }
        cfg.local.path = expand_home(&cfg.local.path);
        cfg.cache.path = expand_home(&cfg.cache.path);
        cfg.check_bounds()?;
        Ok(cfg)
    }

    /// Refuses counts and durations no run can mean (a lease of `i64::MAX` seconds, a
    /// billion jobs), each with the setting named and its range: they would otherwise
    /// overflow a clock or a preallocation deep inside a command.
    ///
    /// ```
    /// let mut cfg = songrec_config::Config::from_sources(None, &Default::default()).unwrap();
    /// cfg.sync.lease_ttl_secs = u64::MAX;
    /// let e = cfg.check_bounds().unwrap_err().to_string();
    /// assert!(e.contains("lease_ttl_secs") && e.contains("3..=86400"), "{e}");
    /// ```
    pub fn check_bounds(&self) -> StorageResult<()> {
        const DAY: u64 = 86_400;
        let (sync, local) = (&self.sync, &self.local);
        let timeouts = (
            self.astra.request_timeout_secs,
            self.s3.request_timeout_secs,
        );
        let upload = self.server.max_upload_bytes;
        let checks: [(&str, u64, u64, u64); 9] = [
            ("[sync] lease_ttl_secs", sync.lease_ttl_secs, 3, DAY),
            (
                "[sync] full_every_days",
                sync.full_every_days.into(),
                0,
                3650,
            ),
            ("[sync] max_delete", sync.max_delete.into(), 0, 100),
            ("[astra] request_timeout_secs", timeouts.0, 1, DAY),
            ("[s3] request_timeout_secs", timeouts.1, 1, DAY),
            ("[ingest] jobs", self.ingest.jobs as u64, 0, MAX_JOBS as u64),
            (
                "[local] ann_ef_search",
                local.ann_ef_search as u64,
                0,
                100_000,
            ),
            (
                "[local] ann_threshold",
                local.ann_threshold as u64,
                0,
                1 << 40,
            ),
            ("[server] max_upload_bytes", upload, 1, 1 << 40),
        ];
        for (name, v, lo, hi) in checks {
            in_range(name, v, lo, hi)?;
        }
        let mpd = [
            ("[mpd] ahead", self.mpd.ahead as f64, 1.0, 1000.0),
            ("[mpd] skip_secs", self.mpd.skip_secs, 0.0, 86_400.0),
            ("[mpd] skip_fraction", self.mpd.skip_fraction, 0.0, 1.0),
        ];
        for (name, v, lo, hi) in mpd {
            in_range(name, v, lo, hi)?;
        }
        Ok(())
    }
}

/// `name = v` is within `lo..=hi`; else an error naming the setting and its range.
fn in_range<T: PartialOrd + Copy + fmt::Display>(
    name: &str,
    v: T,
    lo: T,
    hi: T,
) -> StorageResult<()> {
    if (lo..=hi).contains(&v) {
        return Ok(());
    }
    Err(StorageError::InvalidInput(format!(
        "{name} = {v} is out of range; use {lo}..={hi}"
    )))
}

/// A count read from the environment: digits, `_` allowed as a separator.
fn number<T: FromStr>(key: &str, v: &str, unit: &str) -> StorageResult<T> {
    v.replace('_', "")
        .parse()
        .map_err(|_| StorageError::InvalidInput(format!("{key}={v:?} is not a number of {unit}")))
}

/// Most parallel analysis jobs (`--jobs`, `[ingest] jobs`): far above any core count, far
/// below a thread count the OS refuses.
pub const MAX_JOBS: usize = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_file_then_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[storage]\nbackend = \"astra\"\n[astra]\nkeyspace = \"music\"\napi_endpoint = \"http://file\"\n[local]\npath = \"/lib\"\n").unwrap();
        let mut env = HashMap::new();
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(cfg.backend, BackendKind::Astra);
        assert_eq!(cfg.astra.keyspace, "music");
        assert_eq!(cfg.local.path, PathBuf::from("/lib"));
        env.insert("ASTRA_DB_API_ENDPOINT".into(), "http://env".into());
        env.insert("SONGREC_STORAGE_BACKEND".into(), "local".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(cfg.astra.api_endpoint, "http://env");
        assert_eq!(cfg.backend, BackendKind::Local);
        assert_eq!(
            cfg.astra.keyspace, "music",
            "file value kept where env is silent"
        );
    }

    #[test]
    fn subsonic_user_from_file_or_env_and_its_secrets_from_env_only() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[subsonic]\nuser = \"ann\"\n").unwrap();
        let mut env = HashMap::new();
        env.insert("SONGREC_SUBSONIC_PASSWORD".into(), "open-sesame".into());
        env.insert("SONGREC_SUBSONIC_API_KEY".into(), "key-4711".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(cfg.subsonic.user, "ann");
        assert_eq!(cfg.subsonic.password.expose(), "open-sesame");
        assert_eq!(cfg.subsonic.api_key.expose(), "key-4711");
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains("open-sesame") && !shown.contains("key-4711"),
            "{shown}"
        );
        env.insert("SONGREC_SUBSONIC_USER".into(), "bob".into());
        assert_eq!(
            Config::from_sources(Some(&f), &env).unwrap().subsonic.user,
            "bob"
        );
        std::fs::write(&f, "[subsonic]\npassword = \"in-the-file\"\n").unwrap();
        assert!(Config::from_sources(Some(&f), &env).is_err());
    }

    #[test]
    fn mpd_section_with_defaults_env_and_bounds() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        let env = HashMap::new();
        let defaults = Config::from_sources(None, &env).unwrap().mpd;
        assert_eq!(defaults, MpdConfig::default());
        let text = "[mpd]\nahead = 8\nmusic_directory = \"/srv/music\"\nskip_secs = 10\n";
        std::fs::write(&f, text).unwrap();
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!((cfg.mpd.ahead, cfg.mpd.skip_secs), (8, 10.0));
        assert_eq!(cfg.mpd.music_directory, Some(PathBuf::from("/srv/music")));
        let mut env = HashMap::new();
        env.insert("SONGREC_MPD_MUSIC_DIRECTORY".into(), "/mnt/music".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(cfg.mpd.music_directory, Some(PathBuf::from("/mnt/music")));
        for bad in ["ahead = 0", "skip_fraction = 1.5", "skip_secs = -1.0"] {
            std::fs::write(&f, format!("[mpd]\n{bad}\n")).unwrap();
            let e = Config::from_sources(Some(&f), &HashMap::new())
                .unwrap_err()
                .to_string();
            assert!(e.contains("[mpd]"), "{bad}: {e}");
        }
    }

    #[test]
    fn secrets_are_not_read_from_the_file_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[astra]\ntoken = \"AstraCS:leak\"\n").unwrap();
        let err = Config::from_sources(Some(&f), &HashMap::new()).unwrap_err();
        assert!(err.to_string().contains("token"), "{err}");
        let mut env = HashMap::new();
        env.insert("AWS_SECRET_ACCESS_KEY".into(), "very-secret-key".into());
        let cfg = Config::from_sources(None, &env).unwrap();
        assert_eq!(cfg.s3.secret_access_key.expose(), "very-secret-key");
        assert!(!format!("{cfg:?}").contains("very-secret-key"));
    }

    #[test]
    fn default_files_come_from_the_user_config_dir_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut env = HashMap::new();
        env.insert(
            "XDG_CONFIG_HOME".to_string(),
            dir.path().display().to_string(),
        );
        assert_eq!(Config::default_file(&env), None);
        assert_eq!(Config::default_env_file(&env), None);
        let user = dir.path().join("songrec");
        std::fs::create_dir_all(&user).unwrap();
        std::fs::write(user.join("config.toml"), "").unwrap();
        std::fs::write(user.join(".env"), "").unwrap();
        assert_eq!(Config::default_file(&env), Some(user.join("config.toml")));
        assert_eq!(Config::default_env_file(&env), Some(user.join(".env")));
        env.insert("SONGREC_CONFIG".into(), "/etc/songrec.toml".into());
        env.insert("SONGREC_ENV_FILE".into(), "/etc/songrec.env".into());
        assert_eq!(
            Config::default_file(&env),
            Some(PathBuf::from("/etc/songrec.toml"))
        );
        assert_eq!(
            Config::default_env_file(&env),
            Some(PathBuf::from("/etc/songrec.env"))
        );
        // Without an absolute HOME or XDG_CONFIG_HOME there is no user folder (never `./.config`).
        let mut env = HashMap::new();
        env.insert("XDG_CONFIG_HOME".to_string(), "cfg".to_string());
        assert_eq!(Config::user_dir(&env), None);
        assert_eq!(Config::default_file(&env), None);
        env.insert("HOME".to_string(), "/home/ann".to_string());
        assert_eq!(
            Config::user_dir(&env),
            Some(PathBuf::from("/home/ann/.config/songrec"))
        );
    }

    #[test]
    fn sync_section() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[sync]\nconflict = \"keep-both\"\nmax_delete = 20\n").unwrap();
        let cfg = Config::from_sources(Some(&f), &HashMap::new()).unwrap();
        assert_eq!(
            cfg.sync.conflict,
            songrec_storage::conflict::Policy::KeepBoth
        );
        assert_eq!(cfg.sync.max_delete, 20);
        assert_eq!(cfg.sync.lease_ttl_secs, 120);
        assert_eq!(cfg.sync.full_every_days, 7);
        std::fs::write(&f, "[sync]\nconflict = \"mine\"\n").unwrap();
        assert!(Config::from_sources(Some(&f), &HashMap::new()).is_err());
    }

    #[test]
    fn embedder_section_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(
            &f,
            "[embedder]\nonnxruntime_library = \"/file/libonnxruntime.so\"\nmusicnn_model = \"\"\n",
        )
        .unwrap();
        let mut env = HashMap::new();
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(
            cfg.embedder.onnxruntime_library,
            Some(PathBuf::from("/file/libonnxruntime.so"))
        );
        assert_eq!(cfg.embedder.musicnn_model, None, "empty means unset");
        env.insert("ORT_DYLIB_PATH".into(), "/ort/lib.so".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(
            cfg.embedder.onnxruntime_library,
            Some(PathBuf::from("/ort/lib.so"))
        );
        env.insert("SONGREC_ORT_LIBRARY".into(), "/songrec/lib.so".into());
        env.insert("SONGREC_MUSICNN_MODEL".into(), "/m.onnx".into());
        env.insert("SONGREC_MUSICNN_MTT_MODEL".into(), "/mtt.onnx".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(
            cfg.embedder.onnxruntime_library,
            Some(PathBuf::from("/songrec/lib.so")),
            "SONGREC_ORT_LIBRARY wins over ORT_DYLIB_PATH"
        );
        assert_eq!(cfg.embedder.musicnn_model, Some(PathBuf::from("/m.onnx")));
        assert_eq!(
            cfg.embedder.musicnn_mtt_model,
            Some(PathBuf::from("/mtt.onnx"))
        );
        assert_eq!(cfg.embedder.runtime, NeuralRuntime::Auto);
        std::fs::write(&f, "[embedder]\nruntime = \"tract\"\n").unwrap();
        let cfg = Config::from_sources(Some(&f), &HashMap::new()).unwrap();
        assert_eq!(cfg.embedder.runtime, NeuralRuntime::Tract);
        env.insert("SONGREC_NEURAL_RUNTIME".into(), "onnxruntime".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!(cfg.embedder.runtime, NeuralRuntime::Onnxruntime);
        env.insert("SONGREC_NEURAL_RUNTIME".into(), "cuda".into());
        assert!(Config::from_sources(Some(&f), &env).is_err());
    }

    #[test]
    fn cache_settings() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[cache]\nenabled = false\nmax_bytes = 1000\n").unwrap();
        let cfg = Config::from_sources(Some(&f), &HashMap::new()).unwrap();
        assert_eq!((cfg.cache.enabled, cfg.cache.max_bytes), (false, 1000));
        let mut env = HashMap::new();
        env.insert("SONGREC_CACHE".into(), "on".into());
        env.insert("SONGREC_CACHE_MAX_BYTES".into(), "64_000_000".into());
        let cfg = Config::from_sources(Some(&f), &env).unwrap();
        assert_eq!((cfg.cache.enabled, cfg.cache.max_bytes), (true, 64_000_000));
        env.insert("SONGREC_CACHE".into(), "maybe".into());
        assert!(Config::from_sources(None, &env).is_err());
    }

    #[test]
    fn bad_values_are_clear() {
        let mut env = HashMap::new();
        env.insert("SONGREC_STORAGE_BACKEND".into(), "floppy".into());
        let err = Config::from_sources(None, &env).unwrap_err();
        assert!(err.to_string().contains("floppy"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("config.toml");
        std::fs::write(&f, "[storage\n").unwrap();
        assert!(
            Config::from_sources(Some(&f), &HashMap::new())
                .unwrap_err()
                .to_string()
                .contains("config.toml")
        );
    }
}
