//! The similarity endpoints: neighbours of a stored song and of an uploaded file, moved
//! towards words with `text=`, and songs for words alone (`GET /api/v1/similar?text=`). Each
//! answers with [`SimilarAnswer`], what `songrec similar --json` prints.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use songrec_app::similar::{Choice, QueryInfo, SimilarAnswer, SimilarAsk, Target};
use songrec_storage::Ranking;
use tokio::io::AsyncWriteExt;

use super::common::{IdPath, find_song};
use crate::error::{ApiError, ApiResult, vector_error};
use crate::params::{MAX_RESPONSE_RESULTS, Params};
use crate::sniff;
use crate::state::AppState;

// ---- similarity ---------------------------------------------------------------------------

/// The ask of a similarity endpoint's query (each endpoint names its target). What is not given
/// is [`Ranking::default`]'s, as on the command line; k + offset reach at most the backend's
/// limit ([`StorageBackend::max_results`](songrec_storage::StorageBackend::max_results), 1000 on the cloud) and [`MAX_RESPONSE_RESULTS`].
async fn similar_ask(st: &AppState, raw: Option<&str>) -> ApiResult<SimilarAsk> {
    let max = st.backend.max_results().min(MAX_RESPONSE_RESULTS);
    let mut p = Params::parse(raw);
    let d = Ranking::default();
    let k = p.number("k", 1, max)?.unwrap_or(d.k);
    let offset = p.number("offset", 0, max)?.unwrap_or(d.offset);
    let metric = p.one("metric")?.map_or(Ok(d.metric), |m| m.parse())?;
    let threshold = p.float("threshold")?;
    let choice = p.vectors()?.unwrap_or(Choice::Auto);
    let filter = p.filter()?.to_filter()?;
    let ranking = Ranking {
        k,
        offset,
        metric,
        threshold,
        filter,
        ..d
    };
    // The limit on k + offset, in its one wording (the use case checks the backend's again).
    ranking.reach(max)?;
    let distinct = p.flag("distinct")?;
    // Capped and parsed off the async workers (the phrase look-ups and, for a query of
    // unknown words only, the suggestions).
    let words = match p.one("text")? {
        Some(t) => Some(songrec_app::words::parse_off_workers(t).await?),
        None => None,
    };
    p.finish()?;
    Ok(SimilarAsk {
        words,
        distinct,
        choice,
        ranking,
        ..SimilarAsk::default()
    })
}

/// `GET /api/v1/songs/{id}/similar`.
pub async fn similar_to_song(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SimilarAnswer>> {
    let mut ask = similar_ask(&st, raw.as_deref()).await?;
    let b = st.backend.as_ref();
    ask.target = Some(Target::Song(Box::new(find_song(b, &id).await?)));
    let answer = songrec_app::similar::answer(b, &ask, &st.embedders).await;
    Ok(Json(answer.map_err(vector_error)?))
}

/// `GET /api/v1/similar?text=`: songs for words alone, ranked by their style tags.
pub async fn similar_to_text(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SimilarAnswer>> {
    let ask = similar_ask(&st, raw.as_deref()).await?;
    let answer = songrec_app::similar::answer(st.backend.as_ref(), &ask, &st.embedders).await?;
    if let Some(why) = answer.nothing_matched {
        // As `songrec similar --text`: why nothing matched, and which words would.
        return Err(ApiError::new(StatusCode::NOT_FOUND, "no_match", why));
    }
    Ok(Json(answer))
}

/// `Retry-After` of a `503` for a busy upload slot or a full spool.
pub const UPLOAD_RETRY_AFTER_SECS: u32 = 5;

/// Bytes of the spool budget held by one upload; given back when dropped.
struct SpoolReservation<'a> {
    used: &'a AtomicU64,
    bytes: u64,
}

impl SpoolReservation<'_> {
    /// Reserves `more` bytes unless the total would exceed `budget`.
    fn grow(&mut self, more: u64, budget: u64) -> bool {
        let reserved = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(more).filter(|&total| total <= budget)
            })
            .is_ok();
        if reserved {
            self.bytes += more;
        }
        reserved
    }
}

impl Drop for SpoolReservation<'_> {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

fn multipart_error(e: MultipartError, limit: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::too_large(limit)
    } else {
        ApiError::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}

/// `POST /api/v1/similar`: multipart form with a `file` field; the file is analysed with the
/// configured embedder and compared with the library. Nothing is stored.
pub async fn similar_to_upload(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Json<SimilarAnswer>> {
    let mut ask = similar_ask(&st, raw.as_deref()).await?;
    let limit = st.opts.max_upload_bytes;
    if let Some(n) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && n > limit.saturating_add(1 << 20)
    {
        return Err(ApiError::too_large(limit));
    }
    // A slot before anything is read or spooled: uploads in progress are bounded, and so is
    // their disk use (each at most `limit`, all together at most `max_spool_bytes`).
    let _upload_slot = st.uploads.try_acquire().map_err(|_| {
        ApiError::busy(
            "the server is handling as many uploads as it allows; try again shortly",
            UPLOAD_RETRY_AFTER_SECS,
        )
    })?;
    let deadline = tokio::time::Instant::now() + st.opts.upload_timeout;
    let timed_out = || {
        ApiError::request_timeout(format!(
            "the upload did not arrive within {} s; send it again over a faster connection, or a shorter clip",
            st.opts.upload_timeout.as_secs_f64()
        ))
    };
    let mut multipart = multipart.map_err(|e| {
        ApiError::unsupported_media(format!(
            "send the audio as multipart/form-data with a field named \"file\" ({})",
            e.body_text()
        ))
    })?;
    // The spool file: the reservation is declared before it so it is released after the file
    // is removed.
    let mut reserved = SpoolReservation {
        used: &st.spool_bytes,
        bytes: 0,
    };
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(st.scratch.path())
        .map_err(|e| ApiError::internal("creating a spool file for the upload", e))?;
    // The vectors (and their embedders, started once per server) before anything is spooled.
    ask.target = Some(Target::File(tmp.path().to_path_buf()));
    let prepared = songrec_app::similar::prepare(st.backend.as_ref(), &ask, &st.embedders)
        .await
        .map_err(vector_error)?;

    // Spool the `file` field to disk, counting bytes against the limit and the budget.
    let mut got: Option<(Option<String>, u64, Vec<u8>)> = None;
    while let Some(mut field) = tokio::time::timeout_at(deadline, multipart.next_field())
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| multipart_error(e, limit))?
    {
        if field.name() != Some("file") {
            // Other fields are ignored (drained by the next call).
            continue;
        }
        if got.is_some() {
            return Err(ApiError::bad_request(
                "send exactly one field named \"file\"",
            ));
        }
        let file_name = field.file_name().map(str::to_owned);
        let writing = |e| ApiError::internal("writing the upload", e);
        let mut out = tokio::fs::File::create(tmp.path()).await.map_err(writing)?;
        let (mut n, mut head) = (0u64, Vec::with_capacity(sniff::SNIFF_LEN));
        while let Some(chunk) = tokio::time::timeout_at(deadline, field.chunk())
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| multipart_error(e, limit))?
        {
            n += chunk.len() as u64;
            if n > limit {
                return Err(ApiError::too_large(limit));
            }
            if !reserved.grow(chunk.len() as u64, st.opts.max_spool_bytes) {
                return Err(ApiError::busy(
                    "the server's space for uploads in progress is full; try again shortly",
                    UPLOAD_RETRY_AFTER_SECS,
                ));
            }
            let take = (sniff::SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            out.write_all(&chunk).await.map_err(writing)?;
        }
        out.flush().await.map_err(writing)?;
        got = Some((file_name, n, head));
    }
    let (file_name, bytes, head) = got.ok_or_else(|| {
        ApiError::bad_request("the form has no field named \"file\"; send the audio in it")
    })?;
    if bytes == 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "empty_file",
            "the uploaded file is empty",
        ));
    }
    let Some(content_type) = sniff::audio_mime(&head) else {
        return Err(ApiError::unsupported_media(format!(
            "the upload looks like {}, not audio; send mp3, flac, wav, ogg/vorbis, m4a (aac/alac) or aiff (recognised by content, not by name)",
            sniff::describe(&head)
        )));
    };

    let _slot = st
        .analysis
        .acquire()
        .await
        .map_err(|e| ApiError::internal("waiting for an analysis slot", e))?;
    let spool = tmp.path().display().to_string();
    let mut answer = prepared
        .run(st.backend.as_ref())
        .await
        .map_err(|e| match e {
            songrec_app::AppError::Audio(a) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "undecodable_audio",
                // The spool path means nothing to the client.
                a.to_string().replace(&spool, "the uploaded file"),
            ),
            other => other.into(),
        })?;
    answer.query = QueryInfo::Upload {
        file_name,
        bytes,
        content_type: content_type.to_owned(),
    };
    Ok(Json(answer))
}
