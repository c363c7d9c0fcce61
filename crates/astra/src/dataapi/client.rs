//! HTTP transport: one POST per command, response classification, retries, deadlines.

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use backon::Retryable as _;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;

use super::config::DataApiConfig;
use super::error::{ApiError, ApiFailure, DataApiError, ErrorKind, TransportKind};

/// A command response: `data` and `status` (and, until [`Self::into_result`], `errors`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct CommandResponse {
    /// `data` (reads).
    pub data: Option<Map<String, Value>>,
    /// `status` (writes, counts, admin commands).
    pub status: Option<Map<String, Value>>,
    pub(crate) errors: Option<Vec<ApiError>>,
}

impl CommandResponse {
    /// `status.<key>`, if present.
    pub fn status_value(&self, key: &str) -> Option<&Value> {
        self.status.as_ref()?.get(key)
    }

    /// Reads an unsigned integer from `status`.
    pub fn status_u64(&self, key: &str) -> Option<u64> {
        self.status_value(key)?.as_u64()
    }

    /// True if `status.<key>` is `true`.
    pub fn status_flag(&self, key: &str) -> bool {
        self.status_value(key).and_then(Value::as_bool) == Some(true)
    }

    /// The response, or its `errors` as the error.
    pub(crate) fn into_result(mut self, http_status: u16) -> Result<Self, DataApiError> {
        match self.errors.take() {
            Some(errors) if !errors.is_empty() => Err(DataApiError::from_failure(ApiFailure {
                http_status,
                errors,
                status: self.status,
            })),
            _ => Ok(self),
        }
    }
}

struct ClientInner {
    http: reqwest::Client,
    config: DataApiConfig,
    token_header: HeaderValue,
    keyspace_url: Url,
    endpoint_display: String,
    requests: AtomicU64,
}

/// A Data API client bound to one keyspace. Cheap to clone (shared connection pool and
/// request counter).
#[derive(Clone)]
pub struct DataApiClient {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for DataApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataApiClient")
            .field("config", &self.inner.config)
            .field("keyspace_url", &self.inner.keyspace_url.as_str())
            .field("requests_sent", &self.requests_sent())
            .finish_non_exhaustive()
    }
}

const BODY_SNIPPET: usize = 300;

impl DataApiClient {
    /// Builds a client. Fails on a malformed endpoint or a token that is not a valid header value.
    pub fn new(config: DataApiConfig) -> Result<Self, DataApiError> {
        let mut endpoint = Url::parse(config.endpoint.trim())
            .map_err(|e| DataApiError::Config(format!("endpoint is not a valid URL: {e}")))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(DataApiError::Config(
                "endpoint must be an http:// or https:// URL with a host".into(),
            ));
        }
        if let Some(why) = crate::origin::plain_http_refusal(
            &endpoint,
            config.allow_http,
            "[astra] allow_http = true (or ASTRA_DB_ALLOW_HTTP=1)",
        ) {
            return Err(DataApiError::Config(why));
        }
        if config.keyspace.is_empty() {
            return Err(DataApiError::Config("keyspace is empty".into()));
        }
        if config.token.is_empty() {
            return Err(DataApiError::Config(
                "the application token is empty: set ASTRA_DB_APPLICATION_TOKEN".into(),
            ));
        }
        endpoint.set_query(None);
        endpoint.set_fragment(None);
        let endpoint_display = crate::origin::display_origin(&endpoint);
        let mut keyspace_url = endpoint;
        {
            let mut segs = keyspace_url
                .path_segments_mut()
                .map_err(|()| DataApiError::Config("endpoint cannot be a base URL".into()))?;
            segs.pop_if_empty();
            segs.extend(config.api_path.split('/').filter(|s| !s.is_empty()));
            segs.push(&config.keyspace);
        }
        let mut token_header = HeaderValue::from_str(config.token.expose()).map_err(|_| {
            DataApiError::Config(
                "the application token contains characters not allowed in an HTTP header".into(),
            )
        })?;
        token_header.set_sensitive(true);

        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .default_headers(headers)
            .connect_timeout(config.request_timeout)
            .redirect(crate::origin::redirect_policy())
            .build()
            .map_err(|e| DataApiError::Config(format!("cannot build HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(ClientInner {
                http,
                config,
                token_header,
                keyspace_url,
                endpoint_display,
                requests: AtomicU64::new(0),
            }),
        })
    }

    pub fn config(&self) -> &DataApiConfig {
        &self.inner.config
    }

    /// Number of HTTP requests sent so far (every attempt counts).
    pub fn requests_sent(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Deletes a collection (succeeds if it does not exist).
    pub async fn delete_collection(&self, name: &str) -> Result<(), DataApiError> {
        let body = json!({"deleteCollection": {"name": name}});
        self.execute(&self.url_for(None), "deleteCollection", &body, true)
            .await?;
        Ok(())
    }

    /// Sends an arbitrary command to the keyspace (`collection: None`) or a collection.
    /// `retry_safe` allows retries of transient failures; only pass `true` for commands
    /// whose repetition is harmless.
    pub async fn run_command(
        &self,
        collection: Option<&str>,
        command: &Value,
        retry_safe: bool,
    ) -> Result<CommandResponse, DataApiError> {
        let name = command_name(command).unwrap_or("command");
        self.execute(&self.url_for(collection), name, command, retry_safe)
            .await
    }

    pub(crate) fn url_for(&self, collection: Option<&str>) -> Url {
        let mut url = self.inner.keyspace_url.clone();
        if let Some(c) = collection
            && let Ok(mut segs) = url.path_segments_mut()
        {
            segs.push(c);
        }
        url
    }

    /// One HTTP attempt. Returns the envelope (possibly with `errors`) for 2xx responses and
    /// for non-2xx JSON error bodies; classifies everything else.
    pub(crate) async fn send_once(
        &self,
        url: &Url,
        body: &Value,
    ) -> Result<(u16, CommandResponse), DataApiError> {
        let inner = &self.inner;
        inner.requests.fetch_add(1, Ordering::Relaxed);
        let resp = inner
            .http
            .post(url.clone())
            .header("Token", inner.token_header.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .timeout(inner.config.request_timeout)
            .json(body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            return Err(self.redirect_error(url, &resp));
        }
        let retry_after = parse_retry_after(resp.headers());
        let command = command_name(body).unwrap_or("a command");
        // The most bytes read: the configured cap for commands that return documents.
        let documents = self.inner.config.max_response_bytes;
        let limit = match command {
            "find" | "findOne" | "findOneAndUpdate" | "findOneAndReplace" | "findOneAndDelete" => {
                documents
            }
            _ => documents.min(crate::capped::STATUS_BODY_CAP),
        };
        let bytes = match crate::capped::read_capped(resp, limit).await {
            Ok(b) => b,
            Err(crate::capped::ReadError::Http(e)) => return Err(self.transport_error(&e)),
            Err(crate::capped::ReadError::TooLarge) => {
                return Err(DataApiError::ResponseTooLarge {
                    endpoint: format!("{}{}", self.inner.endpoint_display, url.path()),
                    command: command.to_owned(),
                    limit,
                });
            }
        };
        let parsed: Option<CommandResponse> = serde_json::from_slice(&bytes).ok();

        match status {
            401 | 403 => Err(DataApiError::Unauthorized {
                http_status: status,
                code: parsed
                    .and_then(|e| e.errors)
                    .and_then(|errs| errs.into_iter().find_map(|e| e.error_code)),
            }),
            429 => Err(DataApiError::RateLimited { retry_after }),
            502..=504 => Err(DataApiError::Gateway {
                http_status: status,
                retry_after,
                body: self.snippet(&bytes),
            }),
            200..=299 => match parsed {
                Some(env) => {
                    self.log_warnings(&env);
                    Ok((status, env))
                }
                None => Err(DataApiError::Decode(format!(
                    "HTTP {status} with a body that is not a JSON object: {}",
                    self.snippet(&bytes)
                ))),
            },
            _ => match parsed {
                Some(env) if env.errors.as_ref().is_some_and(|e| !e.is_empty()) => {
                    Ok((status, env))
                }
                _ if status == 404 => Err(DataApiError::Http {
                    http_status: status,
                    body: format!(
                        "no Data API at {url} (check the endpoint and api_path: Astra uses {}, self-hosted servers {}): {}",
                        super::config::ASTRA_API_PATH,
                        super::config::SELF_HOSTED_API_PATH,
                        self.snippet(&bytes)
                    ),
                }),
                _ => Err(DataApiError::Http {
                    http_status: status,
                    body: self.snippet(&bytes),
                }),
            },
        }
    }

    /// Sends a command with retries (if `retry_safe`) under the operation deadline.
    pub(crate) async fn execute(
        &self,
        url: &Url,
        command: &str,
        body: &Value,
        retry_safe: bool,
    ) -> Result<CommandResponse, DataApiError> {
        let attempts = AtomicUsize::new(0);
        let last_error: Mutex<Option<String>> = Mutex::new(None);
        let attempt = || async {
            attempts.fetch_add(1, Ordering::Relaxed);
            let (status, env) = self.send_once(url, body).await?;
            self.scrub(env.into_result(status))
        };
        let policy = &self.inner.config.retry;
        let fut = attempt
            .retry(policy.backoff())
            .when(|e: &DataApiError| retry_safe && e.is_transient())
            .adjust(|e, d| retry_delay(e, d, policy.max_retry_after))
            .notify(|e, d| self.note_retry(command, e, d, &last_error));
        match tokio::time::timeout(self.inner.config.operation_timeout, fut).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) => Err(self.finalize(e, attempts.load(Ordering::Relaxed))),
            Err(_) => Err(DataApiError::Timeout {
                command: command.to_owned(),
                after: self.inner.config.operation_timeout,
                last_error: last_error.lock().ok().and_then(|g| g.clone()),
            }),
        }
    }

    pub(crate) fn note_retry(
        &self,
        command: &str,
        err: &DataApiError,
        delay: Duration,
        last_error: &Mutex<Option<String>>,
    ) {
        tracing::warn!(command, error = %err, ?delay, "transient Data API failure; retrying");
        if let Ok(mut g) = last_error.lock() {
            *g = Some(err.to_string());
        }
    }

    /// Turns the last error of an exhausted retry loop into its final form.
    pub(crate) fn finalize(&self, err: DataApiError, attempts: usize) -> DataApiError {
        let reason = match &err {
            DataApiError::Gateway {
                http_status: 503, ..
            } => "HTTP 503 Service Unavailable".into(),
            e if e.kind() == Some(ErrorKind::DatabaseUnavailable) => e.to_string(),
            _ => return err,
        };
        let plural = if attempts == 1 { "" } else { "s" };
        DataApiError::DatabaseUnavailable {
            endpoint: self.inner.endpoint_display.clone(),
            reason: format!("{reason} after {attempts} attempt{plural}"),
        }
    }

    /// Removes any accidental echo of the token from server-provided error text.
    pub(crate) fn scrub<T>(&self, r: Result<T, DataApiError>) -> Result<T, DataApiError> {
        r.map_err(|mut e| {
            let token = &self.inner.config.token;
            if let DataApiError::CollectionNotFound(f)
            | DataApiError::KeyspaceNotFound(f)
            | DataApiError::VectorDimensionMismatch(f)
            | DataApiError::ExistingCollectionDifferentSettings(f)
            | DataApiError::DocumentAlreadyExists(f)
            | DataApiError::Api(f) = &mut e
            {
                for err in &mut f.errors {
                    err.message = token.redact(&err.message);
                    err.title = err.title.as_deref().map(|t| token.redact(t));
                }
            }
            e
        })
    }

    fn transport_error(&self, e: &reqwest::Error) -> DataApiError {
        let chain: Vec<String> =
            std::iter::successors(Some(e as &dyn std::error::Error), |c| c.source())
                .map(ToString::to_string)
                .collect();
        let message = self.inner.config.token.redact(&chain.join(": "));
        if e.is_connect() {
            // The HTTP client's chain of causes is for the log; the user gets its gist.
            tracing::debug!("connecting to the Data API failed: {message}");
            return DataApiError::DatabaseUnavailable {
                endpoint: self.inner.endpoint_display.clone(),
                reason: format!("cannot connect: {}", connect_failure(e)),
            };
        }
        let kind = if e.is_timeout() {
            TransportKind::Timeout
        } else {
            TransportKind::Other
        };
        DataApiError::Transport { kind, message }
    }

    /// A redirect the client did not follow (to another origin, see [`crate::origin`]): an
    /// error naming where it pointed, so the user can check the endpoint.
    fn redirect_error(&self, url: &Url, resp: &reqwest::Response) -> DataApiError {
        let target = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|l| url.join(l).ok())
            .map(|t| crate::origin::display_origin(&t))
            .unwrap_or_else(|| "an unnamed location".into());
        DataApiError::Http {
            http_status: resp.status().as_u16(),
            body: format!(
                "the endpoint {} answered with a redirect to {target}, which songrec does not \
                 follow: the application token goes only to the configured endpoint. If that \
                 address is the right one, set it as the endpoint",
                self.inner.endpoint_display
            ),
        }
    }

    fn snippet(&self, bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes);
        let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut cut: String = collapsed.chars().take(BODY_SNIPPET).collect();
        if collapsed.chars().count() > BODY_SNIPPET {
            cut.push('…');
        }
        self.inner.config.token.redact(&cut)
    }

    fn log_warnings(&self, env: &CommandResponse) {
        let Some(warnings) = env.status_value("warnings").and_then(Value::as_array) else {
            return;
        };
        for w in warnings {
            let code = w.get("errorCode").and_then(Value::as_str).unwrap_or("");
            let message = w.get("message").and_then(Value::as_str).unwrap_or("");
            tracing::warn!(code, message = %self.inner.config.token.redact(message), "Data API warning");
        }
    }
}

/// Backoff adjustment: honour `Retry-After` (capped), stop when the backoff is exhausted.
pub(crate) fn retry_delay(
    err: &DataApiError,
    backoff: Option<Duration>,
    cap: Duration,
) -> Option<Duration> {
    let backoff = backoff?;
    Some(err.retry_after().map_or(backoff, |ra| ra.min(cap)))
}

fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    // Only the delay-seconds form; HTTP-date values fall back to the backoff.
    v.parse::<u64>().ok().map(Duration::from_secs)
}

/// The name of a command: the key of its body (`{"find": {...}}`).
fn command_name(body: &Value) -> Option<&str> {
    body.as_object()?.keys().next().map(String::as_str)
}

/// Why a connection failed, in a few words: the OS's reason (`connection refused`), or the
/// resolver's message for a name that does not resolve; "no connection" when neither is known.
fn connect_failure(e: &reqwest::Error) -> String {
    std::iter::successors(std::error::Error::source(e), |c| c.source())
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map_or_else(
            || "no connection".to_owned(),
            |io| match io.raw_os_error() {
                Some(_) => io.kind().to_string(),
                None => io.to_string(),
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_overrides_backoff_and_is_capped() {
        let cap = Duration::from_secs(10);
        let e = DataApiError::RateLimited {
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            retry_delay(&e, Some(Duration::from_millis(5)), cap),
            Some(Duration::from_secs(3))
        );
        let e = DataApiError::RateLimited {
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(
            retry_delay(&e, Some(Duration::from_millis(5)), cap),
            Some(cap)
        );
        // exhausted backoff stops even with Retry-After
        assert_eq!(retry_delay(&e, None, cap), None);
        let e = DataApiError::RateLimited { retry_after: None };
        assert_eq!(
            retry_delay(&e, Some(Duration::from_millis(5)), cap),
            Some(Duration::from_millis(5))
        );
    }

    #[test]
    fn parses_retry_after_seconds_only() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(7)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn builds_urls_for_both_prefixes() {
        use crate::secret::Secret;
        let cfg = DataApiConfig::new("http://127.0.0.1:8181/", Secret::new("tok-123456"))
            .with_keyspace("ks");
        let c = DataApiClient::new(cfg.clone()).map_err(|e| e.to_string());
        let c = c.as_ref().map(|c| c.url_for(Some("songs")).to_string());
        assert_eq!(
            c.as_deref(),
            Ok("http://127.0.0.1:8181/api/json/v1/ks/songs")
        );
        let c = DataApiClient::new(cfg.with_api_path("/v1")).map_err(|e| e.to_string());
        let c = c.as_ref().map(|c| c.url_for(None).to_string());
        assert_eq!(c.as_deref(), Ok("http://127.0.0.1:8181/v1/ks"));
    }

    #[test]
    fn rejects_bad_config_without_echoing_token() {
        use crate::secret::Secret;
        let cfg = DataApiConfig::new("http://127.0.0.1:1", Secret::new("bad\ntoken-xyz"));
        let err = DataApiClient::new(cfg).err().map(|e| format!("{e} {e:?}"));
        let err = err.unwrap_or_default();
        assert!(err.contains("header"), "{err}");
        assert!(!err.contains("token-xyz"), "{err}");
        let cfg = DataApiConfig::new("ftp://x", Secret::new("t"));
        assert!(matches!(
            DataApiClient::new(cfg),
            Err(DataApiError::Config(_))
        ));
    }
}
