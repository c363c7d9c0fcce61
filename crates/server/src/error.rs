//! JSON errors: every failure is `{"error": {"code": "...", "message": "..."}}` with a fitting
//! status. Server-side failures are logged in full and answered with a message that names
//! what failed but carries no paths, endpoints or credentials.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use songrec_app::AppError;
use songrec_app::similar::AskError;
use songrec_storage::StorageError;

/// The code of a song whose referenced file changed or moved since it was analysed (`409`):
/// the bytes there are not the song's. The Subsonic door answers it as a gone file.
pub const AUDIO_CHANGED: &str = "audio_changed";

/// An API error: HTTP status, a stable machine-readable code and a human message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// `Retry-After` seconds (503 when busy).
    retry_after: Option<u32>,
    /// Close the connection after answering (the request body was not read to its end).
    close: bool,
    /// Where the request can continue (`error.next_cursor` in the body).
    pub(crate) next_cursor: Option<String>,
}

impl ApiError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            close: false,
            next_cursor: None,
        }
    }

    /// 503 `server_busy` with a `Retry-After` of `secs` seconds.
    pub fn busy(message: impl Into<String>, secs: u32) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message);
        e.retry_after = Some(secs);
        e.close = true;
        e
    }
    /// 408 `request_timeout`: the body did not arrive in time (the connection is closed).
    pub fn request_timeout(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message);
        e.close = true;
        e
    }
    /// The `Retry-After` seconds, if any.
    pub fn retry_after(&self) -> Option<u32> {
        self.retry_after
    }
    /// 400 `bad_request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 413 `payload_too_large`.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!(
                "the upload is larger than the limit of {limit} bytes ({:.1} MB); send a shorter clip",
                limit as f64 / 1e6
            ),
        )
    }
    /// 415 `unsupported_media_type`.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        Self::new(status, "unsupported_media_type", message)
    }
    /// 500 `internal`, with the detail logged and not sent.
    pub fn internal(what: &str, detail: impl std::fmt::Display) -> Self {
        tracing::error!("{what}: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("{what} failed on the server; the server log has the details"),
        )
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = serde_json::json!({"code": self.code, "message": self.message});
        if let Some(c) = self.next_cursor {
            error["next_cursor"] = c.into();
        }
        let mut r = (self.status, Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.close {
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        r
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match &e {
            StorageError::NotFound(what) => Self::not_found(format!("not found: {what}")),
            StorageError::InvalidInput(m) => Self::bad_request(m.clone()),
            StorageError::SongLimit(l) => Self::new(
                StatusCode::BAD_REQUEST,
                "song_limit",
                format!(
                    "{l} (field {:?}: limit {}, the song has {})",
                    l.field, l.limit, l.actual
                ),
            ),
            StorageError::DimensionMismatch { .. } => Self::bad_request(e.to_string()),
            StorageError::Stale { .. } => {
                tracing::warn!("{e}");
                Self::new(
                    StatusCode::CONFLICT,
                    AUDIO_CHANGED,
                    "the song's file changed or moved since songrec analysed it; run `songrec ingest` on its folder to follow the change",
                )
            }
            StorageError::Unsupported(m) => Self::new(
                StatusCode::NOT_IMPLEMENTED,
                "not_supported",
                format!("not supported by this library's storage backend: {m}"),
            ),
            StorageError::Unavailable {
                backend, transient, ..
            } => {
                tracing::error!("storage unavailable: {e}");
                let mut out = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "backend_unavailable",
                    format!("the {backend} storage backend is unavailable; try again later"),
                );
                // A passing condition (a busy library, a network blip): retry in a second.
                out.retry_after = transient.then_some(1);
                out
            }
            StorageError::Locked { .. } => {
                tracing::warn!("{e}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "library_locked",
                    "the library is being written by another songrec process; try again shortly",
                )
            }
            StorageError::Unauthorized(_) => {
                tracing::error!("{e}");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "backend_unauthorized",
                    "the storage backend rejected the server's credentials; the operator must fix the configuration",
                )
            }
            _ => Self::internal("a storage operation", &e),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Storage(s) => s.into(),
            AppError::Audio(a) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecodable_audio",
                a.to_string(),
            ),
            AppError::Neural(n) => Self::internal("starting the neural embedder", &n),
            AppError::Resolve(m) => Self::not_found(m),
            AppError::Invalid(m) => Self::bad_request(m),
            AppError::UnknownModel(m) => Self::new(StatusCode::BAD_REQUEST, "unknown_model", m),
            AppError::Ask(e) => ask_error(e),
        }
    }
}

/// An ask that names no answer, in the parameters' words (400).
pub fn ask_error(e: AskError) -> ApiError {
    ApiError::bad_request(match e {
        AskError::Nothing => {
            "text is required: the words to search by (e.g. text=mellow acoustic guitar); \
             to find songs like a file, POST it here"
        }
        AskError::DistinctWithWords => "distinct cannot be combined with text",
        AskError::ExplainNeedsSong => "explanations need a song of the library",
        AskError::VectorsWithWordsAlone => {
            "model, embedder, blend and threshold apply to a song's or a file's neighbours, not to words alone"
        }
        AskError::BlendNeedsCosine => {
            "a blend mixes cosine similarities; use metric=cosine (or dot)"
        }
    })
}

/// An error of choosing vectors for a song: "has no vector of this model" is about the song
/// (404 `no_vector`), not the server.
pub fn vector_error(e: AppError) -> ApiError {
    match e {
        AppError::Resolve(m) => ApiError::new(StatusCode::NOT_FOUND, "no_vector", m),
        other => other.into(),
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_side_details_stay_in_the_log() {
        let e: ApiError = StorageError::corrupt("/secret/place/metadata.json", "bad json").into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message().contains("/secret"), "{e}");
        let e: ApiError = StorageError::Unavailable {
            backend: "astra".into(),
            message: "https://db.example/api token=abc".into(),
            transient: true,
        }
        .into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(!e.message().contains("token"), "{e}");
        assert_eq!(e.retry_after(), Some(1), "a passing condition: retry");
        let e: ApiError = StorageError::Unavailable {
            backend: "astra".into(),
            message: "the endpoint is not configured".into(),
            transient: false,
        }
        .into();
        assert_eq!(e.retry_after(), None);
        let e: ApiError = StorageError::NotFound("song 1234".into()).into();
        assert_eq!((e.status(), e.code()), (StatusCode::NOT_FOUND, "not_found"));
    }
}
