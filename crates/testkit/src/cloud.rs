//! The local cloud: the Data API server (`songrec-dataapi-server`, in memory) and the S3 server
//! (`songrec-devservers`, s3s-fs with SigV4) on 127.0.0.1, with fresh credentials and a fresh
//! temporary folder, optionally behind fault-injecting proxies.
//!
//! [`LocalCloud::start`] runs the servers on the caller's Tokio runtime (async tests);
//! [`LocalCloud::start_blocking`] gives them a runtime of their own (plain `#[test]`s that run
//! the `songrec` binary), reached with [`LocalCloud::block_on`].

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig, RetryPolicy};
use songrec_astra::secret::Secret;
use songrec_astra::{AstraBackend, AstraOptions};
use songrec_config::{BackendKind, Config};
use songrec_dataapi_server::{ServerConfig, ServerHandle, Token};
use songrec_devservers::{FaultPlan, FaultProxy, S3Server};

/// The bucket the S3 server is started with.
pub const BUCKET: &str = "music";
/// The region the clients sign for.
pub const REGION: &str = "us-east-1";
/// The Data API path of the local server (Astra's is `/api/json/v1`).
pub const API_PATH: &str = "/v1";

/// Where a client reaches the two servers: directly or through proxies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    /// Data API base URL (`http://127.0.0.1:PORT`).
    pub api: String,
    /// S3 endpoint (`http://127.0.0.1:PORT`).
    pub s3: String,
}

/// Fault plans for proxies put in front of the servers at start; see [`LocalCloud::builder`].
#[derive(Default)]
pub struct Builder {
    api_faults: Option<FaultPlan>,
    s3_faults: Option<FaultPlan>,
    schema: bool,
    max_sort_count: Option<usize>,
    max_collections: Option<usize>,
    page_size: Option<usize>,
}

impl Builder {
    /// Creates the Astra backend's collections once the servers are up (no models registered;
    /// `songrec init-astra` would also register the default embedders' models).
    pub fn with_schema(mut self) -> Self {
        self.schema = true;
        self
    }

    /// Lowers the Data API server's in-memory sort cap (10,000 matches, as the real service)
    /// so that tests can list libraries larger than the cap quickly.
    pub fn max_sort_count(mut self, cap: usize) -> Self {
        self.max_sort_count = Some(cap);
        self
    }

    /// Sets the Data API server's page size (`find`, `updateMany`): 50 by default as the
    /// current service, 20 as older ones; any other size a server might use, to check that
    /// clients follow the service's own end signals rather than a page size they assume.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = Some(n);
        self
    }

    /// Sets the Data API server's collection budget (10 by default, as newer Astra databases;
    /// 5 as older ones).
    pub fn max_collections(mut self, n: usize) -> Self {
        self.max_collections = Some(n);
        self
    }

    /// A [`FaultProxy`] with `plan` in front of the Data API server: [`LocalCloud::cfg`],
    /// [`LocalCloud::env`] and [`LocalCloud::front`] go through it.
    pub fn api_faults(mut self, plan: FaultPlan) -> Self {
        self.api_faults = Some(plan);
        self
    }

    /// A [`FaultProxy`] with `plan` in front of the S3 server (as [`Builder::api_faults`]).
    pub fn s3_faults(mut self, plan: FaultPlan) -> Self {
        self.s3_faults = Some(plan);
        self
    }

    /// Starts the servers (and proxies) on the current Tokio runtime.
    pub async fn start(self) -> LocalCloud {
        let mut cloud = LocalCloud::start_servers(tokio::runtime::Handle::current(), &self).await;
        if let Some(plan) = self.api_faults {
            cloud.api_proxy = Some(cloud.proxy_api(plan).await);
        }
        if let Some(plan) = self.s3_faults {
            cloud.s3_proxy = Some(cloud.proxy_s3(plan).await);
        }
        if self.schema {
            AstraBackend::init(&cloud.options_via(&cloud.direct()), &[])
                .await
                .expect("creating the collections");
        }
        cloud
    }

    /// Starts the servers (and proxies) on a runtime of their own (2 worker threads).
    pub fn start_blocking(self) -> LocalCloud {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the local cloud");
        let mut cloud = rt.block_on(self.start());
        cloud.handle = rt.handle().clone();
        cloud.rt = Some(rt);
        cloud
    }
}

/// The two servers, running; both stop when this is dropped (or at [`LocalCloud::stop`]).
pub struct LocalCloud {
    // Dropped in this order: proxies, servers, the runtime that runs them, the folder.
    api_proxy: Option<FaultProxy>,
    s3_proxy: Option<FaultProxy>,
    api: Option<ServerHandle>,
    s3: Option<S3Server>,
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    api_addr: SocketAddr,
    s3_addr: SocketAddr,
    token: String,
    access_key: String,
    secret_key: String,
    dir: tempfile::TempDir,
}

impl std::fmt::Debug for LocalCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalCloud")
            .field("api", &self.api_addr)
            .field("s3", &self.s3_addr)
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl LocalCloud {
    /// Options: the collections created, fault proxies in front of the servers.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Starts both servers on the current Tokio runtime.
    pub async fn start() -> Self {
        Self::builder().start().await
    }

    /// Starts both servers on a runtime of their own, for tests without one.
    pub fn start_blocking() -> Self {
        Self::builder().start_blocking()
    }

    async fn start_servers(handle: tokio::runtime::Handle, limits: &Builder) -> Self {
        static N: AtomicU64 = AtomicU64::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let nonce = format!(
            "{}-{n}-{:x}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let token = format!("AstraCS:testkit-token-{nonce}");
        let access_key = format!("AKIDTESTKIT{n}");
        let secret_key = format!("testkit-secret-{nonce}");
        let dir = tempfile::tempdir().expect("a folder for the local cloud");
        let mut api_cfg = ServerConfig::ephemeral(Token::new(&token));
        if let Some(cap) = limits.max_sort_count {
            api_cfg.max_sort_count = cap;
        }
        if let Some(n) = limits.max_collections {
            api_cfg.max_collections = n;
        }
        if let Some(n) = limits.page_size {
            api_cfg.page_size = n;
        }
        let api = songrec_dataapi_server::start(api_cfg)
            .await
            .expect("the Data API server starts");
        let s3 = S3Server::start(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            &dir.path().join("s3"),
            &[BUCKET],
            &access_key,
            &secret_key,
        )
        .await
        .expect("the S3 server starts");
        let s3_addr = s3
            .endpoint()
            .trim_start_matches("http://")
            .parse()
            .expect("the S3 server's address");
        Self {
            api_proxy: None,
            s3_proxy: None,
            api_addr: api.addr(),
            api: Some(api),
            s3: Some(s3),
            rt: None,
            handle,
            s3_addr,
            token,
            access_key,
            secret_key,
            dir,
        }
    }

    /// Runs `f` to completion on the runtime the servers run on. Not from inside an async
    /// context (use `.await` there).
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.handle.block_on(f)
    }

    /// The runtime the servers run on (for `cloud.runtime().block_on(cloud.stop())`).
    pub fn runtime(&self) -> tokio::runtime::Handle {
        self.handle.clone()
    }

    /// Stops both servers (and proxies) and waits until the Data API server has closed: their
    /// ports refuse connections from now on. The handle keeps its addresses and credentials.
    pub async fn stop(&mut self) {
        self.api_proxy = None;
        self.s3_proxy = None;
        if let Some(api) = self.api.take() {
            api.shutdown().await.expect("the Data API server stops");
        }
        self.s3 = None;
    }

    /// A fresh [`FaultProxy`] with `plan` in front of the Data API server. Must be awaited on
    /// the servers' runtime (`cloud.block_on(cloud.proxy_api(plan))` for a blocking cloud).
    pub async fn proxy_api(&self, plan: FaultPlan) -> FaultProxy {
        FaultProxy::start(self.api_addr, plan)
            .await
            .expect("the Data API proxy starts")
    }

    /// A fresh [`FaultProxy`] with `plan` in front of the S3 server (see [`Self::proxy_api`]).
    pub async fn proxy_s3(&self, plan: FaultPlan) -> FaultProxy {
        FaultProxy::start(self.s3_addr, plan)
            .await
            .expect("the S3 proxy starts")
    }

    /// The proxy in front of the Data API server, if the builder put one there.
    pub fn api_proxy(&self) -> Option<&FaultProxy> {
        self.api_proxy.as_ref()
    }

    /// The proxy in front of the S3 server, if the builder put one there.
    pub fn s3_proxy(&self) -> Option<&FaultProxy> {
        self.s3_proxy.as_ref()
    }

    /// The Data API server's address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The S3 server's address.
    pub fn s3_addr(&self) -> SocketAddr {
        self.s3_addr
    }

    /// `http://127.0.0.1:PORT` of the Data API server itself.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// `http://127.0.0.1:PORT` of the S3 server itself.
    pub fn s3_url(&self) -> String {
        format!("http://{}", self.s3_addr)
    }

    /// The servers themselves, no proxy.
    pub fn direct(&self) -> Endpoints {
        Endpoints {
            api: self.api_url(),
            s3: self.s3_url(),
        }
    }

    /// Where clients go by default: through the builder's proxies where there are any.
    pub fn front(&self) -> Endpoints {
        Endpoints {
            api: self
                .api_proxy
                .as_ref()
                .map_or_else(|| self.api_url(), FaultProxy::base_url),
            s3: self
                .s3_proxy
                .as_ref()
                .map_or_else(|| self.s3_url(), FaultProxy::base_url),
        }
    }

    /// The Data API token (`ASTRA_DB_APPLICATION_TOKEN`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The S3 access key id.
    pub fn access_key(&self) -> &str {
        &self.access_key
    }

    /// The S3 secret key.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// This cloud's own temporary folder (the S3 data is in `s3/`; the rest is free scratch).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The S3 server's data folder (buckets are folders in it).
    pub fn s3_root(&self) -> PathBuf {
        self.dir.path().join("s3")
    }

    /// Every object in the bucket: key → the file holding its bytes.
    pub fn s3_objects(&self) -> BTreeMap<String, PathBuf> {
        crate::data::files(&self.s3_root().join(BUCKET))
    }

    /// The audio blobs the Astra backend stored (keys `<prefix>/audio/…`).
    pub fn audio_objects(&self) -> BTreeMap<String, PathBuf> {
        self.s3_objects()
            .into_iter()
            .filter(|(k, _)| k.contains("/audio/"))
            .collect()
    }

    /// The environment the `songrec` binary needs for this cloud (via [`Self::front`]):
    /// `ASTRA_DB_API_ENDPOINT`, `ASTRA_DB_API_PATH`, `ASTRA_DB_APPLICATION_TOKEN`,
    /// `SONGREC_S3_ENDPOINT`, `SONGREC_S3_BUCKET`, `SONGREC_S3_ALLOW_HTTP`, `AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`. It does not choose the backend (`--storage-backend astra` or
    /// `SONGREC_STORAGE_BACKEND`), nor the cache folder.
    pub fn env(&self) -> BTreeMap<String, String> {
        self.env_via(&self.front())
    }

    /// [`Self::env`] for other endpoints (e.g. a proxy started with [`Self::proxy_api`]).
    pub fn env_via(&self, ep: &Endpoints) -> BTreeMap<String, String> {
        [
            ("ASTRA_DB_API_ENDPOINT", ep.api.as_str()),
            ("ASTRA_DB_API_PATH", API_PATH),
            ("ASTRA_DB_APPLICATION_TOKEN", self.token.as_str()),
            ("SONGREC_S3_ENDPOINT", ep.s3.as_str()),
            ("SONGREC_S3_BUCKET", BUCKET),
            ("SONGREC_S3_ALLOW_HTTP", "true"),
            ("AWS_ACCESS_KEY_ID", self.access_key.as_str()),
            ("AWS_SECRET_ACCESS_KEY", self.secret_key.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// A configuration for this cloud, as `songrec` builds it from [`Self::env`]: the Astra
    /// backend, and the cache in this cloud's folder (`cache/`).
    pub fn cfg(&self) -> Config {
        self.cfg_via(&self.front())
    }

    /// [`Self::cfg`] for other endpoints.
    pub fn cfg_via(&self, ep: &Endpoints) -> Config {
        let env: HashMap<String, String> = self.env_via(ep).into_iter().collect();
        let mut cfg = Config::from_sources(None, &env).expect("the local cloud's configuration");
        cfg.backend = BackendKind::Astra;
        cfg.cache.path = self.dir.path().join("cache");
        cfg
    }

    /// The Astra backend's options as the product builds them from [`Self::cfg`].
    pub fn options(&self) -> AstraOptions {
        self.options_via(&self.front())
    }

    /// [`Self::options`] for other endpoints.
    pub fn options_via(&self, ep: &Endpoints) -> AstraOptions {
        songrec_factory::astra_options(&self.cfg_via(ep))
    }

    /// The Astra backend as the product opens it ([`AstraBackend::connect`] on
    /// [`Self::options`]).
    pub fn astra(&self) -> AstraBackend {
        AstraBackend::connect(&self.options()).expect("the Astra backend on the local cloud")
    }

    /// A Data API client configuration for this cloud ([`Self::front`]): the local path and
    /// the fast retries of [`api_config`]. Adjust with its `with_*` methods.
    pub fn api_config(&self) -> DataApiConfig {
        api_config(&self.front().api, &self.token)
    }

    /// An S3 configuration for this cloud ([`Self::front`]), no key prefix. Adjust with its
    /// `with_*` methods.
    pub fn s3_config(&self) -> S3Config {
        S3Config::new(
            BUCKET,
            REGION,
            &self.access_key,
            Secret::new(&self.secret_key),
        )
        .with_endpoint(self.front().s3)
        .with_allow_http(true)
    }

    /// The Astra backend from its parts (collection prefix `songrec`).
    pub fn astra_with(&self, api: DataApiConfig, s3: S3Config) -> AstraBackend {
        let client = DataApiClient::new(api).expect("a Data API client");
        let blobs = BlobStore::new(s3).expect("a blob store");
        AstraBackend::from_parts(client, blobs, "songrec").expect("the Astra backend")
    }
}

/// Retries for tests: 6 retries, 5–50 ms apart.
pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(6)
        .with_delays(Duration::from_millis(5), Duration::from_millis(50))
}

/// A Data API client configuration for a local server at `base_url` with `token`: the local
/// path ([`API_PATH`]) and [`fast_retry`].
pub fn api_config(base_url: &str, token: &str) -> DataApiConfig {
    DataApiConfig::new(base_url, Secret::new(token))
        .with_api_path(API_PATH)
        .with_retry(fast_retry())
}
