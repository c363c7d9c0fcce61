//! Content-addressed audio blobs in S3-compatible object storage (object_store 0.14).
//!
//! Keys are `<prefix>/audio/<sha256 hex>`. Uploads stream the file (multipart in `part_size` parts
//! above that size) and verify the SHA-256 of what was read; downloads stream into a temporary file
//! next to the destination, verify the SHA-256 against the key, fsync and atomically rename.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::client::{HttpClient, HttpConnector};
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer as _};
use object_store::{
    ClientOptions, ObjectStore as _, ObjectStoreExt as _, PutMode, PutPayload, RetryConfig,
    WriteMultipart,
};
use sha2::{Digest as _, Sha256};
use songrec_storage::StorageError;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

use crate::secret::Secret;

/// Default multipart part size (8 MiB; S3 requires ≥ 5 MiB for all but the last part).
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;
/// Smallest part size S3 accepts.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// Longest validity of a SigV4 presigned URL.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// S3 connection settings (`Debug` hides the secret key).
#[derive(Debug, Clone, derive_setters::Setters)]
#[setters(prefix = "with_")]
pub struct S3Config {
    /// Custom endpoint (`None` = AWS for `region`). Requests are path-style with an endpoint.
    #[setters(strip_option, into)]
    pub endpoint: Option<String>,
    #[setters(skip)]
    pub bucket: String,
    /// Region (`us-east-1` for most S3-compatible servers).
    #[setters(skip)]
    pub region: String,
    #[setters(skip)]
    pub access_key_id: String,
    #[setters(skip)]
    pub secret_access_key: Secret,
    /// Allow `http://` endpoints.
    pub allow_http: bool,
    /// Key prefix (may be empty).
    #[setters(into)]
    pub prefix: String,
    /// Multipart part size (files larger than this are uploaded in parts); min 5 MiB.
    pub part_size: usize,
    /// Retries of object_store's own HTTP layer, and of the store's own loop around each
    /// operation (see [`BlobStore`]); 0 disables both.
    pub max_retries: usize,
    /// Per-request timeout (bounds a request that hangs; the retry loops then try again).
    pub request_timeout: Duration,
}

impl S3Config {
    /// Settings with defaults: AWS endpoint, https only, no prefix, 8 MiB parts, 4 in flight.
    pub fn new(
        bucket: impl Into<String>,
        region: impl Into<String>,
        access_key_id: impl Into<String>,
        secret_access_key: Secret,
    ) -> Self {
        Self {
            endpoint: None,
            bucket: bucket.into(),
            region: region.into(),
            access_key_id: access_key_id.into(),
            secret_access_key,
            allow_http: false,
            prefix: String::new(),
            part_size: DEFAULT_PART_SIZE,
            max_retries: 3,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Errors of the blob store. Never contains the secret key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The hash is not 64 hex digits.
    #[error("invalid content hash {0:?}: expected 64 hex digits of SHA-256")]
    InvalidHash(String),
    #[error("invalid S3 configuration: {0}")]
    Config(String),
    /// No object under the key.
    #[error("blob {key} not found")]
    NotFound { key: String },
    /// The downloaded bytes do not hash to the key (corrupted or tampered blob).
    #[error("blob {key} failed verification: content hashes to {actual}, expected {expected}")]
    HashMismatch {
        key: String,
        /// Hash from the key.
        expected: String,
        /// Hash of the received bytes.
        actual: String,
    },
    /// The local file does not hash to the hash it is being stored under.
    #[error("file {path} hashes to {actual}, not {expected}; refusing to upload it under that key")]
    LocalHashMismatch {
        path: PathBuf,
        /// Requested hash.
        expected: String,
        actual: String,
    },
    /// Credentials were rejected (bad key id / secret key, clock skew, missing permission).
    #[error(
        "S3 rejected the credentials for bucket {bucket}: check the access key id, the secret access key and the system clock ({message})"
    )]
    Unauthorized {
        bucket: String,
        /// The store's error (scrubbed).
        message: String,
    },
    /// The server ignored `If-None-Match: *` (a conditional put overwrote an object).
    #[error("the S3 server does not support conditional puts (If-None-Match): {0}")]
    ConditionalPutUnsupported(String),
    /// Local I/O failure.
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The server could not be reached at all (connection refused, DNS failure, timeout).
    #[error(
        "the S3 store at {endpoint} is unreachable ({reason}); check SONGREC_S3_ENDPOINT and your network"
    )]
    Unreachable {
        /// Scheme, host and port of the endpoint.
        endpoint: String,
        /// What was observed, e.g. "connection refused".
        reason: String,
    },
    /// An answer larger than songrec reads (a listing, a multipart answer or an error body past
    /// [`S3_BODY_CAP`](crate::capped::S3_BODY_CAP)); reading stopped there. Not retried.
    #[error(
        "the S3 store {0} (a misbehaving server or proxy, or an endpoint that is not S3: check SONGREC_S3_ENDPOINT)"
    )]
    ResponseTooLarge(crate::capped::BodyTooLarge),
    /// Any other object store failure.
    #[error("the S3 store failed: {message}")]
    Store {
        /// The store's error (scrubbed).
        message: String,
        #[source]
        source: object_store::Error,
    },
}

/// Why a request never reached the S3 server (connection refused, DNS failure, timeout), when
/// that is what `e` says somewhere in its chain of causes; `None` for an answer from the server.
fn unreachable_reason(e: &object_store::Error) -> Option<String> {
    use std::io::ErrorKind as K;
    let causes = |e| std::iter::successors(e, |c: &&(dyn std::error::Error + 'static)| c.source());
    causes(Some(e as &(dyn std::error::Error + 'static))).find_map(|c| {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            let unreachable = matches!(
                io.kind(),
                K::ConnectionRefused
                    | K::ConnectionReset
                    | K::ConnectionAborted
                    | K::NotConnected
                    | K::TimedOut
                    | K::HostUnreachable
                    | K::NetworkUnreachable
                    | K::AddrNotAvailable
            );
            return unreachable.then(|| io.kind().to_string());
        }
        let r = c
            .downcast_ref::<reqwest::Error>()
            .filter(|r| r.is_connect() || r.is_timeout())?;
        let io =
            causes(std::error::Error::source(r)).find_map(|c| c.downcast_ref::<std::io::Error>());
        let fallback = if r.is_timeout() {
            "timed out"
        } else {
            "cannot connect"
        };
        Some(io.map_or_else(|| fallback.to_owned(), |io| io.kind().to_string()))
    })
}

/// Result of [`BlobStore::put_file`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutOutcome {
    /// Uploaded now.
    Uploaded {
        bytes: u64,
        /// Whether a multipart upload was used.
        multipart: bool,
    },
    /// An object with this hash already existed; nothing was written.
    AlreadyPresent,
}

impl BlobError {
    /// Whether the failure is not a definite answer, so repeating the operation may succeed:
    /// object_store's generic errors (HTTP 5xx/429/408 after its own retries, timeouts,
    /// connection resets, bodies cut short). Not found, already exists, denied, hash
    /// mismatches, bad configuration and local I/O errors are definite.
    pub fn is_transient(&self) -> bool {
        // A reset or refused connection, a timeout: the next attempt may well get through.
        matches!(
            self,
            Self::Store {
                source: object_store::Error::Generic { .. },
                ..
            } | Self::Unreachable { .. }
        )
    }
}

/// A content-addressed blob store on S3.
///
/// Transient failures are retried at two levels: object_store's HTTP layer retries 5xx, 429
/// and transport errors of idempotent requests; around each operation the store's own backoff
/// loop (`max_retries` times) retries any failure that is not a definite answer, such as a
/// conditional `PUT` that timed out or a download cut off mid-body. Repeating is safe because
/// keys are content hashes ([`PutOutcome::AlreadyPresent`] for a blob that did arrive).
#[derive(Clone)]
pub struct BlobStore {
    store: Arc<AmazonS3>,
    bucket: String,
    endpoint: String,
    prefix: String,
    part_size: usize,
    retries: usize,
    secret: Secret,
}

impl fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobStore")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

/// The HTTP client of the S3 store: no transparent decompression (sizes come from
/// `Content-Length`), no redirect to another origin ([`crate::origin`]), and every body but an
/// object's own bytes capped ([`crate::capped`]).
#[derive(Debug)]
struct SameOriginConnector {
    timeout: Duration,
    allow_http: bool,
    /// `scheme://host[:port]`, for errors.
    endpoint: String,
}

impl HttpConnector for SameOriginConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .user_agent(format!("songrec/{}", env!("CARGO_PKG_VERSION")))
            .timeout(self.timeout)
            .redirect(crate::origin::redirect_policy())
            .https_only(!self.allow_http)
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .build()
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: Box::new(e),
            })?;
        Ok(HttpClient::new(crate::capped::CappedS3Client {
            client,
            endpoint: self.endpoint.clone(),
        }))
    }
}

/// Normalises and validates a SHA-256 hex string.
fn normalize_hash(hash: &str) -> Result<String, BlobError> {
    let h = hash.trim().to_ascii_lowercase();
    if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(h)
    } else {
        Err(BlobError::InvalidHash(hash.chars().take(80).collect()))
    }
}

fn object_path(key: &str) -> Result<ObjectPath, BlobError> {
    ObjectPath::parse(key).map_err(|e| BlobError::Config(format!("invalid key prefix: {e}")))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Refuses to store `path` under `expected` when its content hashes to `digest`.
fn local_hash_matches(
    path: &Path,
    expected: &str,
    digest: impl AsRef<[u8]>,
) -> Result<(), BlobError> {
    let actual = hex::encode(digest);
    if actual == expected {
        return Ok(());
    }
    Err(BlobError::LocalHashMismatch {
        path: path.to_path_buf(),
        expected: expected.to_owned(),
        actual,
    })
}

/// Runs blocking file work off the async threads; a failure (or a panic) is an I/O error on `path`.
async fn blocking<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, BlobError> {
    let joined = tokio::task::spawn_blocking(f).await;
    joined
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(io_err(path))
}

const READ_BUF: usize = 1024 * 1024;
/// Parts of a multipart upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;

impl BlobStore {
    /// Builds the store (no request is made).
    pub fn new(config: S3Config) -> Result<Self, BlobError> {
        if config.bucket.is_empty() {
            return Err(BlobError::Config("bucket is empty".into()));
        }
        let endpoint_url = config
            .endpoint
            .as_deref()
            .map(|ep| Url::parse(ep.trim()))
            .transpose()
            .map_err(|e| BlobError::Config(format!("endpoint is not a valid URL: {e}")))?;
        if let Some(u) = &endpoint_url
            && let Some(why) = crate::origin::plain_http_refusal(
                u,
                config.allow_http,
                "[s3] allow_http = true (or SONGREC_S3_ALLOW_HTTP=1)",
            )
        {
            return Err(BlobError::Config(why));
        }
        // Past the check above, http:// is either to this machine or allowed by the user.
        let allow_http = endpoint_url.as_ref().is_some_and(|u| u.scheme() == "http");
        // Note: with_client_options replaces all client options, including allow_http,
        // so allow_http is set on the ClientOptions itself.
        let client_options = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_timeout(config.request_timeout)
            .with_user_agent(object_store::HeaderValue::from_static(concat!(
                "songrec/",
                env!("CARGO_PKG_VERSION")
            )));
        let aws = || format!("https://s3.{}.amazonaws.com", config.region);
        let retry = RetryConfig {
            max_retries: config.max_retries,
            retry_timeout: Duration::from_secs(60),
            ..RetryConfig::default()
        };
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_access_key_id(&config.access_key_id)
            .with_secret_access_key(config.secret_access_key.expose())
            .with_client_options(client_options)
            .with_http_connector(SameOriginConnector {
                timeout: config.request_timeout,
                allow_http,
                endpoint: endpoint_url
                    .as_ref()
                    .map_or_else(aws, crate::origin::display_origin),
            })
            .with_retry(retry);
        let endpoint = match &config.endpoint {
            Some(ep) => {
                builder = builder
                    .with_endpoint(ep)
                    .with_virtual_hosted_style_request(false);
                ep.clone()
            }
            None => aws(),
        };
        let store = builder
            .build()
            .map_err(|e| BlobError::Config(config.secret_access_key.redact(&e.to_string())))?;
        let prefix = config.prefix.trim_matches('/').to_owned();
        Ok(Self {
            store: Arc::new(store),
            bucket: config.bucket,
            endpoint,
            prefix,
            part_size: config.part_size.max(MIN_PART_SIZE),
            retries: config.max_retries,
            secret: config.secret_access_key,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key for a hash: `<prefix>/audio/<sha256 hex>`.
    pub fn key_for(&self, hash: &str) -> Result<String, BlobError> {
        Ok(self.object_key(&format!("audio/{}", normalize_hash(hash)?)))
    }

    /// `<prefix>/<name>`: the key of a non-audio object such as the sync lease.
    pub fn object_key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// The underlying object store with songrec's HTTP client (redirects, body caps): for
    /// objects beside the audio (sync's lease, with [`Self::storage_error`]) and tests.
    pub fn object_store(&self) -> Arc<AmazonS3> {
        self.store.clone()
    }

    /// A failed request of [`Self::object_store`] on `key` as a [`StorageError`], the secret
    /// key scrubbed and the credentials' variables named.
    pub fn storage_error(&self, key: &str, e: object_store::Error) -> StorageError {
        match self.store_err(key, e) {
            e @ BlobError::Unauthorized { .. } => StorageError::Unauthorized(format!(
                "{e}; the key comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            )),
            e @ BlobError::ResponseTooLarge(_) => {
                StorageError::backend("s3", format!("{key}: {e}"))
            }
            e => StorageError::Unavailable {
                backend: "s3".into(),
                message: format!("{key}: {e}"),
                transient: true,
            },
        }
    }

    fn path_for(&self, hash: &str) -> Result<(ObjectPath, String), BlobError> {
        let key = self.key_for(hash)?;
        Ok((object_path(&key)?, key))
    }

    fn store_err(&self, key: &str, e: object_store::Error) -> BlobError {
        // The first `BodyTooLarge` in the error's chain of causes.
        let mut causes = std::iter::successors(Some(&e as &dyn std::error::Error), |c| c.source());
        if let Some(t) = causes.find_map(|c| c.downcast_ref::<crate::capped::BodyTooLarge>()) {
            return BlobError::ResponseTooLarge(t.clone());
        }
        let message = crate::s3_answer::in_few_words(&self.secret.redact(&e.to_string()));
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound {
                key: key.to_owned(),
            },
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. } => BlobError::Unauthorized {
                bucket: self.bucket.clone(),
                message,
            },
            source => match unreachable_reason(&source) {
                Some(reason) => BlobError::Unreachable {
                    endpoint: self.endpoint.clone(),
                    reason,
                },
                None => BlobError::Store { message, source },
            },
        }
    }

    /// Uploads `path` under `hash` unless an object with that hash exists.
    ///
    /// The file's SHA-256 must equal `hash` (checked while streaming; a multipart upload is
    /// aborted on mismatch). Files up to `part_size` are sent as one `PutMode::Create` put
    /// (an existing key gives [`PutOutcome::AlreadyPresent`]); larger files are checked
    /// with HEAD and then streamed with a multipart upload.
    pub async fn put_file(&self, hash: &str, path: &Path) -> Result<PutOutcome, BlobError> {
        self.retrying("put", || self.put_file_once(hash, path))
            .await
    }

    async fn put_file_once(&self, hash: &str, path: &Path) -> Result<PutOutcome, BlobError> {
        let expected = normalize_hash(hash)?;
        let (location, key) = self.path_for(&expected)?;
        let mut file = tokio::fs::File::open(path).await.map_err(io_err(path))?;
        let len = file.metadata().await.map_err(io_err(path))?.len();

        if len <= self.part_size as u64 {
            let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
            file.read_to_end(&mut buf).await.map_err(io_err(path))?;
            local_hash_matches(path, &expected, Sha256::digest(&buf))?;
            let bytes = buf.len() as u64;
            return match self
                .store
                .put_opts(&location, PutPayload::from(buf), PutMode::Create.into())
                .await
            {
                Ok(_) => Ok(PutOutcome::Uploaded {
                    bytes,
                    multipart: false,
                }),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(PutOutcome::AlreadyPresent),
                Err(e) => Err(self.store_err(&key, e)),
            };
        }

        // Multipart uploads cannot be conditional in object_store 0.14: check first. A racing
        // upload of the same hash writes identical bytes, so the race is harmless.
        if self.exists(&expected).await? {
            return Ok(PutOutcome::AlreadyPresent);
        }
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .map_err(|e| self.store_err(&key, e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_size);
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut buf = vec![0u8; READ_BUF];
        let streamed: Result<(), BlobError> = async {
            loop {
                let n = file.read(&mut buf).await.map_err(io_err(path))?;
                if n == 0 {
                    break;
                }
                let chunk = buf.get(..n).unwrap_or_default();
                hasher.update(chunk);
                total += n as u64;
                writer
                    .wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(|e| self.store_err(&key, e))?;
                writer.write(chunk);
            }
            Ok(())
        }
        .await
        .and_then(|()| local_hash_matches(path, &expected, hasher.finalize()));
        if let Err(e) = streamed {
            let _ = writer.abort().await;
            return Err(e);
        }
        writer.finish().await.map_err(|e| self.store_err(&key, e))?;
        Ok(PutOutcome::Uploaded {
            bytes: total,
            multipart: true,
        })
    }

    /// Downloads the blob to `dest`: streams into a temp file in `dest`'s directory,
    /// verifies the SHA-256 against the hash, fsyncs and renames over `dest`. On any failure
    /// the temp file is removed and an existing `dest` is left untouched. Returns the size.
    pub async fn get_to_file(&self, hash: &str, dest: &Path) -> Result<u64, BlobError> {
        self.retrying("get", || self.get_to_file_once(hash, dest))
            .await
    }

    async fn get_to_file_once(&self, hash: &str, dest: &Path) -> Result<u64, BlobError> {
        let expected = normalize_hash(hash)?;
        let (location, key) = self.path_for(&expected)?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let result = self
            .store
            .get(&location)
            .await
            .map_err(|e| self.store_err(&key, e))?;

        let tmp_dir = dir.clone();
        let (std_file, temp_path) = blocking(&dir, move || {
            tempfile::Builder::new()
                .prefix(".songrec-blob-")
                .suffix(".part")
                .tempfile_in(&tmp_dir)
                .map(tempfile::NamedTempFile::into_parts)
        })
        .await?;
        // `temp_path` deletes the file when dropped, i.e. on every early return below.
        let tmp_name = temp_path.to_path_buf();
        let mut file = tokio::fs::File::from_std(std_file);
        let mut hasher = Sha256::new();
        let mut total = 0u64;
        let mut stream = result.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.store_err(&key, e))?;
            hasher.update(&chunk);
            total += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io_err(&tmp_name))?;
        }
        file.flush().await.map_err(io_err(&tmp_name))?;
        let actual = hex::encode(hasher.finalize());
        if actual != expected {
            return Err(BlobError::HashMismatch {
                key,
                expected,
                actual,
            });
        }
        file.sync_all().await.map_err(io_err(&tmp_name))?;
        drop(file);
        let dest_owned = dest.to_path_buf();
        blocking(dest, move || {
            temp_path.persist(&dest_owned).map_err(|e| e.error)?;
            // Make the rename durable (best effort where directories cannot be opened).
            if let Ok(d) = std::fs::File::open(&dir) {
                let _ = d.sync_all();
            }
            Ok(())
        })
        .await?;
        Ok(total)
    }

    /// True if an object with this hash exists.
    pub async fn exists(&self, hash: &str) -> Result<bool, BlobError> {
        let (location, key) = self.path_for(hash)?;
        self.retrying("head", || async {
            match self.store.head(&location).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(self.store_err(&key, e)),
            }
        })
        .await
    }

    /// Deletes the object (succeeds if it does not exist).
    pub async fn delete(&self, hash: &str) -> Result<(), BlobError> {
        let (location, key) = self.path_for(hash)?;
        self.retrying("delete", || async {
            match self.store.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.store_err(&key, e)),
            }
        })
        .await
    }

    /// Runs `op` again after failures that are not a definite answer (see [`BlobStore`]).
    async fn retrying<T, F, Fut>(&self, what: &str, op: F) -> Result<T, BlobError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, BlobError>>,
    {
        use backon::Retryable as _;
        let backoff = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(2))
            .with_factor(2.0)
            .with_max_times(self.retries)
            .with_jitter();
        op.retry(backoff)
            .when(BlobError::is_transient)
            .notify(
                |e, d| tracing::warn!(op = what, error = %e, ?d, "transient S3 failure; retrying"),
            )
            .await
    }

    /// A SigV4 presigned GET URL valid for `expiry` (≤ 7 days). No request is made.
    pub async fn presigned_get_url(&self, hash: &str, expiry: Duration) -> Result<Url, BlobError> {
        if expiry.is_zero() || expiry > MAX_PRESIGN_EXPIRY {
            return Err(BlobError::Config(format!(
                "presigned URL expiry must be between 1 s and 7 days, got {expiry:?}"
            )));
        }
        let (location, key) = self.path_for(hash)?;
        self.store
            .signed_url(Method::GET, &location, expiry)
            .await
            .map_err(|e| self.store_err(&key, e))
    }

    /// Checks that the server honours conditional puts (`If-None-Match: *`): creates a probe
    /// object twice and expects the second attempt to fail with "already exists". The probe
    /// is deleted afterwards.
    pub async fn check_conditional_put(&self) -> Result<(), BlobError> {
        let key = self.object_key(&format!("_doctor/conditional-put-{}", uuid::Uuid::new_v4()));
        let location = object_path(&key)?;
        let create = |body: &'static [u8]| {
            let payload = PutPayload::from_static(body);
            self.store
                .put_opts(&location, payload, PutMode::Create.into())
        };
        create(b"probe-1")
            .await
            .map_err(|e| self.store_err(&key, e))?;
        let second = create(b"probe-2").await;
        let _ = self.store.delete(&location).await;
        match second {
            Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Ok(_) => Err(BlobError::ConditionalPutUnsupported(
                "a second create of the same key succeeded and overwrote the object".into(),
            )),
            Err(e) => Err(self.store_err(&key, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_validated_and_normalised() {
        let h = "AB".repeat(32);
        assert_eq!(normalize_hash(&h).ok(), Some("ab".repeat(32)));
        assert!(normalize_hash("abc").is_err());
        assert!(normalize_hash(&"g".repeat(64)).is_err());
        assert!(normalize_hash(&format!("../{}", "a".repeat(61))).is_err());
    }

    #[test]
    fn keys_use_prefix_and_debug_hides_secret() {
        let cfg = S3Config::new("b", "us-east-1", "AK", Secret::new("very-secret-key"))
            .with_endpoint("http://127.0.0.1:9")
            .with_allow_http(true)
            .with_prefix("/lib/");
        let store = BlobStore::new(cfg.clone()).map_err(|e| e.to_string());
        let key = store.as_ref().map(|s| s.key_for(&"a".repeat(64)));
        assert_eq!(
            key.ok().and_then(Result::ok),
            Some(format!("lib/audio/{}", "a".repeat(64)))
        );
        assert!(!format!("{cfg:?}").contains("very-secret-key"));
        assert!(!format!("{store:?}").contains("very-secret-key"));
    }
}
