//! `GET /api/v1/songs/{id}/audio`: streams a song's audio with HTTP range support.
//!
//! Where the backend hands out a URL a browser can fetch itself (a presigned S3 URL on the
//! Astra backend), the answer is a `302` to it. Local files (`file://` URLs) are streamed with
//! `Range` support (`206`, `Content-Range`, `416`). A backend without URLs has its audio
//! downloaded through `get_audio` to a spool file first.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use songrec_storage::{SongMetadata, StorageError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use crate::api::{IdPath, find_song};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::range::{RangeAnswer, answer};
use crate::sniff;
use crate::state::AppState;

/// How long a presigned URL handed out in a redirect stays valid.
pub const PRESIGNED_FOR: Duration = Duration::from_secs(3600);

/// `GET /api/v1/songs/{id}/audio`.
pub async fn get_audio(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> ApiResult<Response> {
    Params::parse(raw.as_deref()).finish()?;
    let m = find_song(st.backend.as_ref(), &id).await?;
    song_audio(&st, &m, &headers).await
}

/// A song's audio (what `get_audio` answers, also the Subsonic API's `stream` and `download`):
/// a `302` to a URL the client can fetch itself, or the bytes with `Range` support.
pub async fn song_audio(
    st: &AppState,
    m: &SongMetadata,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let no_audio = || ApiError::not_found(format!("song {} has no stored audio", m.id.short()));
    let audio = match locate(st, m, true).await? {
        None => return Err(no_audio()),
        Some(Err(u)) => {
            let headers = [
                (header::LOCATION, header_value(u.as_str())?),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ];
            return Ok((StatusCode::FOUND, headers).into_response());
        }
        Some(Ok(audio)) => audio,
    };
    // The open handle keeps a spooled copy's bytes readable after it is removed.
    let file = tokio::fs::File::open(audio.path()).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            no_audio()
        } else {
            reading(e)
        }
    })?;
    serve_file(file, m, headers).await
}

/// A song's audio as a file on this machine: where the library keeps it, or a download into the
/// server's scratch folder (removed when dropped).
pub enum LocalAudio {
    Kept(PathBuf),
    Spooled(tempfile::NamedTempFile),
}

impl LocalAudio {
    pub fn path(&self) -> &Path {
        match self {
            Self::Kept(p) => p,
            Self::Spooled(t) => t.path(),
        }
    }
}

/// Where a song's audio is (`None`: not stored): with `redirect`, an `http(s)` URL the backend
/// hands out (`Err`, for the client to fetch itself); else a file on this machine, downloaded
/// through the backend where it has no `file:` URL.
pub async fn locate(
    st: &AppState,
    m: &SongMetadata,
    redirect: bool,
) -> ApiResult<Option<Result<LocalAudio, url::Url>>> {
    let b = st.backend.as_ref();
    let key = m.audio_key();
    let url = match b.audio_url(&key, PRESIGNED_FOR).await {
        Ok(u) => url::Url::parse(&u).ok(),
        Err(StorageError::NotFound(_)) => return Ok(None),
        Err(StorageError::Unsupported(_)) => None,
        Err(e) => return Err(e.into()),
    };
    if let Some(u) = url {
        if redirect && matches!(u.scheme(), "http" | "https") {
            return Ok(Some(Err(u)));
        }
        if let (Ok(p), "file") = (u.to_file_path(), u.scheme()) {
            return Ok(Some(Ok(LocalAudio::Kept(p))));
        }
    }
    let tmp = tempfile::Builder::new()
        .prefix("audio-")
        .tempfile_in(st.scratch.path())
        .map_err(|e| ApiError::internal("spooling the audio", e))?;
    match b.get_audio(&key, tmp.path()).await {
        Ok(_) => Ok(Some(Ok(LocalAudio::Spooled(tmp)))),
        Err(StorageError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn reading(e: std::io::Error) -> ApiError {
    ApiError::internal("reading the audio", e)
}

fn header_value(s: &str) -> ApiResult<HeaderValue> {
    HeaderValue::from_str(s).map_err(|e| ApiError::internal("building a header", e))
}

/// The file name's extension, lower case.
pub fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The audio type a file name suggests.
pub fn mime_from_name(name: &str) -> &'static str {
    match extension(name).as_str() {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "wav" | "wave" => "audio/wav",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "m4a" | "mp4" | "alac" => "audio/mp4",
        "aac" => "audio/aac",
        "aif" | "aiff" | "aifc" => "audio/aiff",
        "webm" | "mka" => "audio/webm",
        _ => "application/octet-stream",
    }
}

/// Answers with the file (whole, a range, 304 or 416).
async fn serve_file(
    mut file: tokio::fs::File,
    m: &SongMetadata,
    headers: &HeaderMap,
) -> ApiResult<Response> {
    let len = file.metadata().await.map_err(reading)?.len();
    let mut head = vec![0u8; sniff::SNIFF_LEN.min(len as usize)];
    file.read_exact(&mut head).await.map_err(reading)?;
    let mime = sniff::audio_mime(&head).unwrap_or_else(|| mime_from_name(&m.file_name));
    // Content-addressed: the id is a strong validator that never changes.
    let etag = format!("\"{}\"", m.id.as_str());
    let common = |mut r: Response| {
        let h = r.headers_mut();
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=86400"),
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        r
    };
    let header_str = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if header_str(header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        return Ok(common(StatusCode::NOT_MODIFIED.into_response()));
    }
    // A Range is only honoured when If-Range (if any) still names this content.
    let range = match header_str(header::IF_RANGE) {
        Some(v) if v.trim() != etag => None,
        _ => header_str(header::RANGE),
    };
    let (status, start, n) = match answer(range, len) {
        RangeAnswer::Full => (StatusCode::OK, 0, len),
        RangeAnswer::Partial { start, end } => {
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut r = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!(
                    "the requested range {:?} is malformed or outside the {len} bytes of this audio",
                    range.unwrap_or("")
                ),
            )
            .into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}"))?,
            );
            return Ok(common(r));
        }
    };
    file.seek(SeekFrom::Start(start)).await.map_err(reading)?;
    let body = Body::from_stream(ReaderStream::with_capacity(file.take(n), 64 * 1024));
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::CONTENT_LENGTH, header_value(&n.to_string())?);
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            header_value(&format!("bytes {start}-{}/{len}", start + n - 1))?,
        );
    }
    Ok(common(r))
}
