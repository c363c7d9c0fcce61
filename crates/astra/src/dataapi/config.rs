//! Client configuration.

use std::time::Duration;

use backon::ExponentialBuilder;

use crate::secret::Secret;

/// Path prefix used by Astra DB (`https://<db>-<region>.apps.astra.datastax.com/api/json/v1/...`).
pub const ASTRA_API_PATH: &str = "/api/json/v1";
/// Path prefix used by self-hosted Data API servers (`http://host:8181/v1/...`).
pub const SELF_HOSTED_API_PATH: &str = "/v1";

/// How `$vector` values are written to the server.
///
/// Reads always accept both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VectorEncoding {
    /// A JSON array of numbers.
    Array,
    /// `{"$binary": "<base64 of big-endian f32s>"}` (compact; astrapy 2.x default).
    #[default]
    Binary,
}

/// Retry behaviour for transient failures (capped, jittered exponential backoff).
#[derive(Debug, Clone, PartialEq, smart_default::SmartDefault)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0 disables retrying).
    #[default = 5]
    pub max_retries: usize,
    /// First backoff delay.
    #[default(Duration::from_millis(200))]
    pub min_delay: Duration,
    /// Cap for one backoff delay.
    #[default(Duration::from_secs(5))]
    pub max_delay: Duration,
    /// Cap for a server-provided `Retry-After` delay.
    #[default(Duration::from_secs(30))]
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn with_max_retries(mut self, max_retries: usize) -> Self {
        self.max_retries = max_retries;
        self
    }

    /// Sets the first and the maximum backoff delay.
    pub fn with_delays(mut self, min_delay: Duration, max_delay: Duration) -> Self {
        self.min_delay = min_delay;
        self.max_delay = max_delay.max(min_delay);
        self
    }

    pub(crate) fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay.max(self.min_delay))
            .with_factor(2.0)
            .with_max_times(self.max_retries)
            .with_jitter()
    }
}

/// Configuration of a [`DataApiClient`](super::DataApiClient).
#[derive(Debug, Clone, derive_setters::Setters)]
#[setters(prefix = "with_")]
pub struct DataApiConfig {
    /// API endpoint, e.g. `https://<db-id>-<region>.apps.astra.datastax.com` or `http://127.0.0.1:8181`.
    #[setters(skip)]
    pub endpoint: String,
    /// Path prefix: `/api/json/v1` (Astra, default) or `/v1` (self-hosted).
    #[setters(into)]
    pub api_path: String,
    /// Application token, sent as the `Token` header.
    #[setters(skip)]
    pub token: Secret,
    /// Keyspace for keyspace-level and collection commands.
    #[setters(into)]
    pub keyspace: String,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
    /// Deadline of one logical operation including its retries (one command; for
    /// `insert_many` one chunk, for cursors one page, for `delete_many` one round).
    pub operation_timeout: Duration,
    /// Retry policy for transient failures.
    pub retry: RetryPolicy,
    /// `User-Agent` header.
    #[setters(into)]
    pub user_agent: String,
    /// Documents per `insertMany` request (clamped to 1..=100).
    pub insert_chunk_size: usize,
    /// Concurrent `insertMany` requests.
    pub insert_concurrency: usize,
    /// How `$vector` values are sent.
    pub vector_encoding: VectorEncoding,
    /// Allow a plain `http://` endpoint on another machine (`http://` to this machine is
    /// always allowed; see [`crate::origin`]).
    pub allow_http: bool,
    /// Most bytes read of an answer with documents (others stop at
    /// [`STATUS_BODY_CAP`](crate::capped::STATUS_BODY_CAP) or this, if lower); past it the request
    /// fails with [`DataApiError::ResponseTooLarge`](super::DataApiError).
    pub max_response_bytes: u64,
}

/// Default of [`DataApiConfig::max_response_bytes`]: 256 MiB, about 2.5 times the largest page
/// songrec reads (50 songs at the 1 MB metadata limit, written as escaped JSON text).
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 256 * 1024 * 1024;

impl DataApiConfig {
    /// A configuration with defaults: Astra path prefix, keyspace `default_keyspace`, request
    /// timeout 10 s, operation timeout 30 s, chunks of 50 with 8 in flight, binary vectors.
    pub fn new(endpoint: impl Into<String>, token: Secret) -> Self {
        Self {
            endpoint: endpoint.into(),
            api_path: ASTRA_API_PATH.to_owned(),
            token,
            // The keyspace Astra creates by default.
            keyspace: "default_keyspace".to_owned(),
            request_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            user_agent: format!("songrec/{}", env!("CARGO_PKG_VERSION")),
            insert_chunk_size: 50,
            insert_concurrency: 8,
            vector_encoding: VectorEncoding::default(),
            allow_http: false,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}
