//! What the API's handlers share: the song an `{id}` names.

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use songrec_storage::{SongId, SongMetadata, StorageBackend};

use crate::error::{ApiError, ApiResult};

/// Finds a song by full id or unique id prefix (at least 4 hex digits).
pub async fn find_song(b: &dyn StorageBackend, raw: &str) -> ApiResult<SongMetadata> {
    let raw = raw.trim();
    if raw.len() < 4 || raw.len() > 64 || !raw.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            format!(
                "{raw:?} is not a song id: ids are 64 hex digits (a unique prefix of at least 4 works too)"
            ),
        ));
    }
    let prefix = raw.to_ascii_lowercase();
    if prefix.len() == 64 {
        let id = SongId::parse(&prefix)?;
        return b
            .get_metadata(&id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no song with id {prefix}")));
    }
    let ids: Vec<SongId> = b
        .list_versions()
        .await?
        .into_iter()
        .filter(|v| !v.deleted && v.id.as_str().starts_with(&prefix))
        .map(|v| v.id)
        .take(2)
        .collect();
    match ids.as_slice() {
        [] => Err(ApiError::not_found(format!(
            "no song id starts with {prefix}"
        ))),
        [one] => b
            .get_metadata(one)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no song with id {one}"))),
        _ => Err(ApiError::new(
            StatusCode::CONFLICT,
            "ambiguous_id",
            format!("several songs have ids starting with {prefix}; give more digits"),
        )),
    }
}

/// The `{id}` path segment, with a JSON 400 when it cannot be decoded.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(s)| Self(s))
            .map_err(|e| ApiError::bad_request(e.body_text()))
    }
}
