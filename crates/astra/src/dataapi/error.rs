//! Typed Data API errors.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};

/// One error object from a Data API response (`errors[]` or `status.warnings[]`).
///
/// All fields are optional on the wire (legacy bodies may carry only a `message`); `id`,
/// `family` and `scope` are not read.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiError {
    /// Machine-readable code (old or new name).
    pub error_code: Option<String>,
    pub title: Option<String>,
    /// Human-readable message (templated; do not branch on it).
    pub message: String,
    /// Ids of the documents the error applies to (recent servers).
    pub document_ids: Option<Vec<Value>>,
}

impl ApiError {
    /// The canonical kind of this error (old and new code names map to the same kind).
    pub fn kind(&self) -> ErrorKind {
        self.error_code
            .as_deref()
            .map_or(ErrorKind::Other, ErrorKind::from_code)
    }
}

/// Canonical error kinds; each groups the legacy (≤ v1.0.34) and current code names.
///
/// ```
/// use songrec_astra::dataapi::ErrorKind;
///
/// assert_eq!(ErrorKind::from_code("INVALID_VECTOR_LENGTH"), ErrorKind::VectorDimensionMismatch);
/// assert_eq!(ErrorKind::from_code("VECTOR_SIZE_MISMATCH"), ErrorKind::VectorDimensionMismatch);
/// assert!(ErrorKind::from_code("TIMEOUT_READING_DATA").is_transient());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `UNKNOWN_COLLECTION_OR_TABLE` / `COLLECTION_NOT_EXIST`.
    CollectionNotFound,
    /// `UNKNOWN_KEYSPACE` / `KEYSPACE_DOES_NOT_EXIST`.
    KeyspaceNotFound,
    /// `DOCUMENT_ALREADY_EXISTS`.
    DocumentAlreadyExists,
    /// `INVALID_VECTOR_LENGTH` / `VECTOR_SIZE_MISMATCH`.
    VectorDimensionMismatch,
    /// `EXISTING_COLLECTION_DIFFERENT_SETTINGS`.
    ExistingCollectionDifferentSettings,
    /// `MISSING_AUTHENTICATION_TOKEN`, `UNAUTHENTICATED_REQUEST`, `UNAUTHORIZED_ACCESS`.
    Unauthorized,
    /// `TIMEOUT_READING_DATA`, `TIMEOUT_WRITING_DATA`.
    DatabaseTimeout,
    /// `UNAVAILABLE_DATABASE`.
    DatabaseUnavailable,
    /// `FAILED_CONCURRENT_OPERATIONS`.
    ConcurrentOperationsFailed,
    /// `TOO_MANY_COLLECTIONS`.
    TooManyCollections,
    /// `OVERLOADED_SORT_ROW_LIMIT` / `DATASET_TOO_BIG`.
    SortRowLimit,
    /// `SHRED_*` document problems (bad vector, bad id, size limits, bad field names).
    InvalidDocument,
    /// Anything else.
    Other,
}

impl ErrorKind {
    /// Maps an `errorCode` (old or new name) to its kind.
    pub fn from_code(code: &str) -> Self {
        match code {
            "UNKNOWN_COLLECTION_OR_TABLE" | "COLLECTION_NOT_EXIST" => Self::CollectionNotFound,
            "UNKNOWN_KEYSPACE" | "KEYSPACE_DOES_NOT_EXIST" => Self::KeyspaceNotFound,
            "DOCUMENT_ALREADY_EXISTS" => Self::DocumentAlreadyExists,
            "INVALID_VECTOR_LENGTH" | "VECTOR_SIZE_MISMATCH" => Self::VectorDimensionMismatch,
            "EXISTING_COLLECTION_DIFFERENT_SETTINGS" => Self::ExistingCollectionDifferentSettings,
            "MISSING_AUTHENTICATION_TOKEN" | "UNAUTHENTICATED_REQUEST" | "UNAUTHORIZED_ACCESS" => {
                Self::Unauthorized
            }
            "TIMEOUT_READING_DATA" | "TIMEOUT_WRITING_DATA" => Self::DatabaseTimeout,
            "UNAVAILABLE_DATABASE" => Self::DatabaseUnavailable,
            "FAILED_CONCURRENT_OPERATIONS" => Self::ConcurrentOperationsFailed,
            "TOO_MANY_COLLECTIONS" => Self::TooManyCollections,
            "OVERLOADED_SORT_ROW_LIMIT" | "DATASET_TOO_BIG" => Self::SortRowLimit,
            c if c.starts_with("SHRED_") || c == "VECTOR_SEARCH_NOT_SUPPORTED" => {
                Self::InvalidDocument
            }
            _ => Self::Other,
        }
    }

    /// True for the DATABASE-scope codes the server says are safe to retry.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::DatabaseTimeout | Self::DatabaseUnavailable | Self::ConcurrentOperationsFailed
        )
    }
}

/// The `errors` (and any partial `status`) of a failed command.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiFailure {
    /// HTTP status of the response (usually 200).
    pub http_status: u16,
    /// The errors, in server order (never empty when built by the client).
    pub errors: Vec<ApiError>,
    /// `status` returned alongside the errors (partial success of a write).
    pub status: Option<Map<String, Value>>,
}

impl ApiFailure {
    /// The kind of the first error.
    pub fn kind(&self) -> ErrorKind {
        self.errors.first().map_or(ErrorKind::Other, ApiError::kind)
    }

    /// True if any error is a transient DATABASE-scope error.
    pub fn is_transient(&self) -> bool {
        self.errors.iter().any(|e| e.kind().is_transient())
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.first() {
            Some(ApiError {
                error_code: Some(code),
                message,
                ..
            }) => write!(f, "{code}: {message}")?,
            Some(e) => f.write_str(&e.message)?,
            None => f.write_str("unknown error")?,
        }
        if self.errors.len() > 1 {
            write!(f, " (and {} more)", self.errors.len() - 1)?;
        }
        Ok(())
    }
}

/// Where a transport failure happened (a failure to connect is
/// [`DataApiError::DatabaseUnavailable`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// The per-request timeout elapsed.
    Timeout,
    /// The connection failed after it was established (reset, closed mid-response, ...).
    Other,
}

/// Errors of the Data API client.
///
/// Never contains the application token (server-provided text is scrubbed, the token is
/// never formatted).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataApiError {
    #[error("collection not found ({0})")]
    CollectionNotFound(Box<ApiFailure>),
    #[error("keyspace not found ({0})")]
    KeyspaceNotFound(Box<ApiFailure>),
    /// A `$vector` length differs from the collection's dimension.
    #[error("vector dimension mismatch ({0})")]
    VectorDimensionMismatch(Box<ApiFailure>),
    /// `createCollection` for an existing collection with different settings.
    #[error("collection exists with different settings ({0})")]
    ExistingCollectionDifferentSettings(Box<ApiFailure>),
    /// Duplicate `_id`.
    #[error("document already exists ({0})")]
    DocumentAlreadyExists(Box<ApiFailure>),
    /// Any other command error (HTTP 200 with `errors`, or JSON errors on a non-2xx).
    #[error("Data API command failed: {0}")]
    Api(Box<ApiFailure>),
    /// HTTP 401/403 or an authentication error code.
    #[error(
        "Data API rejected the credentials (HTTP {http_status}{}): check that ASTRA_DB_APPLICATION_TOKEN holds a valid token with access to this database",
        code.as_deref().map(|c| format!(", {c}")).unwrap_or_default()
    )]
    Unauthorized {
        /// HTTP status (401, 403, or 200 for a soft error).
        http_status: u16,
        /// The error code, if the body had one.
        code: Option<String>,
    },
    /// HTTP 429.
    #[error("Data API rate limit hit (HTTP 429){}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// HTTP 502/504 from a gateway (503 becomes [`DataApiError::DatabaseUnavailable`] once
    /// retries are exhausted).
    #[error("Data API gateway error (HTTP {http_status}): {body}")]
    Gateway {
        http_status: u16,
        /// Parsed `Retry-After`.
        retry_after: Option<Duration>,
        /// Start of the (often HTML) body.
        body: String,
    },
    /// The database cannot be reached: connection refused, DNS failure or repeated 503.
    #[error(
        "the Astra database at {endpoint} is unreachable or hibernated ({reason}); if it is hibernated, resume it in the Astra console, otherwise check ASTRA_DB_API_ENDPOINT and your network"
    )]
    DatabaseUnavailable {
        /// Scheme, host and port of the endpoint.
        endpoint: String,
        /// What was observed.
        reason: String,
    },
    /// A non-2xx status without a usable error body.
    #[error("unexpected HTTP {http_status} from the Data API: {body}")]
    Http {
        http_status: u16,
        /// Start of the body.
        body: String,
    },
    #[error("Data API request failed ({kind:?}): {message}")]
    Transport {
        kind: TransportKind,
        /// The error and its causes.
        message: String,
    },
    /// The operation deadline elapsed (including retries).
    #[error("Data API {command} did not complete within {after:?}{}", last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default())]
    Timeout {
        command: String,
        after: Duration,
        /// The last retried error, if any.
        last_error: Option<String>,
    },
    /// The answer was larger than songrec reads for that command (an endless or runaway body:
    /// a misbehaving server or proxy, or an endpoint that is not the Data API). Not retried.
    #[error(
        "the Data API at {endpoint} answered {command} with more than {limit} bytes, far more than any answer songrec asks for; stopped reading it (a misbehaving server or proxy, or an endpoint that is not the Data API: check ASTRA_DB_API_ENDPOINT)"
    )]
    ResponseTooLarge {
        /// Scheme, host, port and path of the request (no query, no token).
        endpoint: String,
        command: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The response was not the expected JSON.
    #[error("unexpected Data API response: {0}")]
    Decode(String),
    /// A caller-side argument problem.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Bad configuration (endpoint URL, token characters, ...).
    #[error("invalid Data API configuration: {0}")]
    Config(String),
}

impl DataApiError {
    /// Builds the variant matching the first error's kind.
    pub(crate) fn from_failure(failure: ApiFailure) -> Self {
        match failure.kind() {
            ErrorKind::CollectionNotFound => Self::CollectionNotFound(Box::new(failure)),
            ErrorKind::KeyspaceNotFound => Self::KeyspaceNotFound(Box::new(failure)),
            ErrorKind::VectorDimensionMismatch => Self::VectorDimensionMismatch(Box::new(failure)),
            ErrorKind::ExistingCollectionDifferentSettings => {
                Self::ExistingCollectionDifferentSettings(Box::new(failure))
            }
            ErrorKind::DocumentAlreadyExists => Self::DocumentAlreadyExists(Box::new(failure)),
            ErrorKind::Unauthorized => Self::Unauthorized {
                http_status: failure.http_status,
                code: failure.errors.first().and_then(|e| e.error_code.clone()),
            },
            _ => Self::Api(Box::new(failure)),
        }
    }

    /// The server's errors, if this is a command error.
    pub fn failure(&self) -> Option<&ApiFailure> {
        match self {
            Self::CollectionNotFound(f)
            | Self::KeyspaceNotFound(f)
            | Self::VectorDimensionMismatch(f)
            | Self::ExistingCollectionDifferentSettings(f)
            | Self::DocumentAlreadyExists(f)
            | Self::Api(f) => Some(f),
            _ => None,
        }
    }

    /// The canonical kind of a command error.
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Self::Unauthorized { .. } => Some(ErrorKind::Unauthorized),
            _ => self.failure().map(ApiFailure::kind),
        }
    }

    /// True if repeating the same request may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::RateLimited { .. } | Self::Gateway { .. } | Self::Transport { .. } => true,
            Self::Api(f) => f.is_transient(),
            _ => false,
        }
    }

    /// Whether the other requests of a multi-request batch (`insertMany`'s chunks) are
    /// pointless after this answer. A request-level question of the client; whether a run over
    /// many songs ends is the contract's one rule, `StorageError::is_fatal`, on the mapped error.
    pub(crate) fn aborts_batch(&self) -> bool {
        matches!(
            self,
            Self::Unauthorized { .. }
                | Self::CollectionNotFound(_)
                | Self::KeyspaceNotFound(_)
                | Self::DatabaseUnavailable { .. }
                | Self::Config(_)
        )
    }

    /// Server-requested delay before a retry.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::RateLimited { retry_after } | Self::Gateway { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_its_first_error_and_how_many_more() {
        let dup = ApiError {
            error_code: Some("DOCUMENT_ALREADY_EXISTS".into()),
            message: "dup".into(),
            ..ApiError::default()
        };
        let mut f = ApiFailure {
            http_status: 200,
            errors: vec![dup.clone()],
            status: None,
        };
        assert_eq!(f.to_string(), "DOCUMENT_ALREADY_EXISTS: dup");
        f.errors.push(dup);
        assert_eq!(f.to_string(), "DOCUMENT_ALREADY_EXISTS: dup (and 1 more)");
    }
}
