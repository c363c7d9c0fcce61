//! Subsonic's errors: a numeric code and a message, answered with HTTP 200 and
//! `status="failed"`. Messages are for people; they never carry a path, a stack or a type name
//! (storage and use-case errors go through the REST API's [`ApiError`], which keeps server-side
//! details in the log).

use axum::http::StatusCode;
use songrec_app::AppError;
use songrec_storage::StorageError;

use crate::error::ApiError;

/// A failed Subsonic request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("Subsonic error {code}: {message}")]
pub struct Fail {
    /// The protocol's error code (0, 10, 40, 42, 43, 44, 50, 70).
    pub code: u16,
    /// What went wrong, for people.
    pub message: String,
}

impl Fail {
    fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
    /// 0: any other error.
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(0, message)
    }
    /// 10: a parameter is wrong (a number out of its range, not a number): the code Subsonic
    /// clients read as "fix the request" (as Navidrome answers).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(10, message)
    }
    /// 10: a required parameter is missing.
    pub fn missing(name: &str) -> Self {
        Self::new(10, format!("required parameter is missing: {name}"))
    }
    /// 40: wrong user name or password.
    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(40, message)
    }
    /// 42: this way of authenticating is not supported (or none is configured).
    pub fn mechanism(message: impl Into<String>) -> Self {
        Self::new(42, message)
    }
    /// 43: several ways of authenticating in one request.
    pub fn conflicting(message: impl Into<String>) -> Self {
        Self::new(43, message)
    }
    /// 44: the API key is not valid.
    pub fn api_key() -> Self {
        Self::new(44, "invalid API key")
    }
    /// 50: the user may not do this.
    pub fn not_authorised(message: impl Into<String>) -> Self {
        Self::new(50, message)
    }
    /// 70: the requested data was not found.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(70, message)
    }
    /// 70: no `what` (song, album...) has the id `id`.
    pub fn no_such(what: &str, id: &str) -> Self {
        Self::not_found(format!("no {what} with id {id:?}"))
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        let code = if e.status() == StatusCode::NOT_FOUND {
            70
        } else {
            0
        };
        Self::new(code, e.message())
    }
}

impl From<StorageError> for Fail {
    fn from(e: StorageError) -> Self {
        ApiError::from(e).into()
    }
}

impl From<AppError> for Fail {
    fn from(e: AppError) -> Self {
        crate::error::vector_error(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_details_stay_in_the_log() {
        let f: Fail = StorageError::corrupt("/secret/place/metadata.json", "bad json").into();
        assert_eq!(f.code, 0);
        assert!(!f.message.contains("/secret"), "{f}");
        let f: Fail = StorageError::NotFound("song 1234".into()).into();
        assert_eq!(f.code, 70);
    }
}
