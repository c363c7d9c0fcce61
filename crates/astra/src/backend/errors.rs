//! `DataApiError` / `BlobError` → `StorageError`, with messages that say what to do.
//!
//! Both source errors are already scrubbed of secrets by the client and the blob store; the
//! messages built here never format a secret either.

use songrec_storage::{SongId, StorageError};

use crate::blobs::BlobError;
use crate::dataapi::{DataApiError, ErrorKind};

pub(crate) const BACKEND: &str = "astra";

/// A definite failure of the astra backend, described by `message`.
pub(crate) fn backend(message: impl Into<String>) -> StorageError {
    StorageError::backend(BACKEND, message)
}
const S3: &str = "S3";

/// Maps a Data API error; `what` names the operation / collection for context.
pub(crate) fn api(e: DataApiError, what: &str) -> StorageError {
    match &e {
        DataApiError::Unauthorized { .. } => StorageError::Unauthorized(format!("{what}: {e}")),
        DataApiError::CollectionNotFound(_) => StorageError::backend(
            BACKEND,
            format!(
                "{what}: the collection does not exist; run `songrec init-astra` to create the schema ({e})"
            ),
        ),
        DataApiError::KeyspaceNotFound(_) => StorageError::backend(
            BACKEND,
            format!(
                "{what}: the keyspace does not exist; create it in the Astra console or set ASTRA_DB_KEYSPACE ({e})"
            ),
        ),
        // An unavailable database's error says what to do (resume it, or check the endpoint):
        // once.
        DataApiError::DatabaseUnavailable { .. }
        | DataApiError::RateLimited { .. }
        | DataApiError::Gateway { .. }
        | DataApiError::Transport { .. }
        | DataApiError::Timeout { .. } => StorageError::Unavailable {
            backend: BACKEND.into(),
            message: format!("{what}: {e}"),
            transient: true,
        },
        DataApiError::Config(_) | DataApiError::InvalidArgument(_) => {
            StorageError::InvalidInput(format!("{what}: {e}"))
        }
        DataApiError::Http {
            http_status: 404, ..
        } => StorageError::backend(
            BACKEND,
            format!(
                "{what}: {e} (check ASTRA_DB_API_ENDPOINT and the API path: /api/json/v1 on Astra, /v1 on self-hosted servers)"
            ),
        ),
        _ if e.kind() == Some(ErrorKind::SortRowLimit) => StorageError::InvalidInput(format!(
            "{what}: the Data API sorts at most 10000 matching documents in memory; narrow the filter or list by id ({e})"
        )),
        _ => StorageError::Backend {
            backend: BACKEND.into(),
            transient: e.is_transient(),
            message: format!("{what}: {e}"),
        },
    }
}

/// Maps a Data API error of a vector write/search: dimension errors become
/// [`StorageError::DimensionMismatch`].
pub(crate) fn api_vector(
    e: DataApiError,
    what: &str,
    model: &str,
    expected: usize,
    got: usize,
) -> StorageError {
    if e.kind() == Some(ErrorKind::VectorDimensionMismatch) {
        StorageError::DimensionMismatch {
            model: model.to_owned(),
            expected,
            got,
        }
    } else {
        api(e, what)
    }
}

/// Maps a blob-store error for a song's audio.
pub(crate) fn blob(e: BlobError, id: &SongId) -> StorageError {
    match e {
        BlobError::InvalidHash(_) | BlobError::Config(_) => {
            StorageError::InvalidInput(e.to_string())
        }
        BlobError::NotFound { .. } => StorageError::NotFound(format!("audio of song {id}")),
        BlobError::HashMismatch { actual, .. } | BlobError::LocalHashMismatch { actual, .. } => {
            StorageError::HashMismatch {
                id: id.to_string(),
                actual,
            }
        }
        BlobError::Unauthorized { .. } => StorageError::Unauthorized(format!(
            "{e}; the key comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        )),
        BlobError::ConditionalPutUnsupported(_) => StorageError::Unsupported(e.to_string()),
        BlobError::ResponseTooLarge(_) => StorageError::backend(S3, e.to_string()),
        BlobError::Io { path, source } => StorageError::io(path, source),
        BlobError::Unreachable { .. } => StorageError::Unavailable {
            backend: S3.into(),
            message: e.to_string(),
            transient: true,
        },
        _ => StorageError::Unavailable {
            backend: S3.into(),
            message: format!("{e} (check SONGREC_S3_ENDPOINT, SONGREC_S3_BUCKET and the network)"),
            transient: true,
        },
    }
}
