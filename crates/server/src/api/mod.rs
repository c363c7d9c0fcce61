//! The JSON handlers of `/api/v1`, `/healthz` and `/metrics`.

use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use songrec_storage::{Filter, ListQuery, SongCount, SongMetadata, SortKey, StorageBackendExt};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;

/// Largest page of `GET /api/v1/songs`.
pub const MAX_PAGE: usize = 1000;
pub const DEFAULT_PAGE: usize = 50;

/// A song in listings and results (metadata without the free-form extras).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SongSummary {
    /// Full id (hex SHA-256 of the audio).
    pub id: String,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    pub duration_secs: f64,
    /// Estimated tempo.
    pub bpm: Option<f32>,
    /// Estimated key.
    pub key: Option<String>,
    pub tags: Vec<String>,
    /// Original file name.
    pub file_name: String,
    /// Audio size in bytes.
    pub file_size: u64,
    /// Added.
    pub created_at: DateTime<Utc>,
    /// Sync version.
    pub version: u64,
}

impl From<&SongMetadata> for SongSummary {
    fn from(m: &SongMetadata) -> Self {
        Self {
            id: m.id.as_str().to_owned(),
            title: m.title.clone(),
            artist: m.artist.clone(),
            album: m.album.clone(),
            genre: m.genre.clone(),
            duration_secs: m.duration_secs,
            bpm: m.bpm,
            key: m.key.clone(),
            tags: m.tags.clone(),
            file_name: m.file_name.clone(),
            file_size: m.file_size,
            created_at: m.created_at,
            version: m.version,
        }
    }
}

// ---- health and metrics ---------------------------------------------------------------

/// `GET /healthz`: 200 when the backend answers a count within 5 s, else 503.
pub async fn healthz(State(st): State<AppState>) -> Response {
    let probe = tokio::time::timeout(
        Duration::from_secs(5),
        st.backend.quick_count(&Filter::default()),
    )
    .await;
    let (code, message) = match probe {
        Ok(Ok(songs)) => {
            let health = serde_json::json!({"status": "ok", "songs": songs.value(), "songs_exact": songs.is_exact()});
            return Json(health).into_response();
        }
        Ok(Err(e)) => {
            tracing::warn!("health check: {e}");
            let message = "the storage backend did not answer; see the server log";
            ("backend_unavailable", message)
        }
        Err(_) => (
            "backend_timeout",
            "the storage backend did not answer within 5 s",
        ),
    };
    let body =
        serde_json::json!({"status": "unavailable", "error": {"code": code, "message": message}});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

/// `GET /metrics`: Prometheus text.
pub async fn metrics(State(st): State<AppState>) -> Response {
    let body = st.http.render(Some(&st.recorder.metrics()));
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    Json(crate::openapi::document()).into_response()
}

// ---- songs ------------------------------------------------------------------------------

/// A page of `GET /api/v1/songs`.
#[derive(Debug, Serialize)]
pub struct SongPage {
    /// Songs on this page.
    pub items: Vec<SongSummary>,
    /// Songs matching the filter (and `q`) in the whole library: exact when `total_exact`,
    /// otherwise a lower bound (counting more would cost many requests on the cloud).
    pub total: u64,
    /// Whether `total` is the exact count.
    pub total_exact: bool,
    /// Page size asked for.
    pub limit: usize,
    /// Offset of this page (0 in cursor mode).
    pub offset: usize,
    /// Pass as `cursor` for the next page (cursor mode), if any.
    pub next_cursor: Option<String>,
    /// Pass as `offset` for the next page (offset mode), if any.
    pub next_offset: Option<usize>,
}

/// The words of a `q=` search, each once: lower case, split at white space, under the words query's
/// caps (`songrec_app::words::MAX_QUERY_BYTES` and `MAX_QUERY_WORDS`: an error naming them beyond).
fn words_of(q: &str) -> ApiResult<Vec<String>> {
    songrec_app::words::check_query(q)?;
    let mut seen = std::collections::HashSet::new();
    Ok(q.to_lowercase()
        .split_whitespace()
        .filter(|w| seen.insert(w.to_string()))
        .map(str::to_owned)
        .collect())
}

fn matches_words(m: &SongMetadata, words: &[String]) -> bool {
    if words.is_empty() {
        return true;
    }
    let hay = format!(
        "{} {} {} {}",
        m.artist.as_deref().unwrap_or(""),
        m.title,
        m.album.as_deref().unwrap_or(""),
        m.file_name
    )
    .to_lowercase();
    words.iter().all(|w| hay.contains(w.as_str()))
}

/// Songs a `q=` search reads per request at most before answering with what it found and a
/// cursor to continue (about 200 Data API requests on the cloud).
const SEARCH_SCAN_BUDGET: usize = 10_000;

/// Where a `q=` search continues: the listing page (its size and the backend cursor that
/// produced it), how many of its songs are already behind, and how many matches are still to
/// be passed over before the page starts (`pending`: an `offset` the scan budget did not reach).
struct SearchCursor {
    page: usize,
    skip: usize,
    pending: usize,
    inner: Option<String>,
}

impl SearchCursor {
    /// `q.PAGE.SKIP.INNER`, or `p.PENDING.PAGE.SKIP.INNER` while matches are still to be passed.
    fn encode(&self) -> String {
        let inner = self.inner.as_deref().unwrap_or("-");
        if self.pending == 0 {
            format!("q.{}.{}.{inner}", self.page, self.skip)
        } else {
            format!("p.{}.{}.{}.{inner}", self.pending, self.page, self.skip)
        }
    }

    fn decode(s: &str) -> ApiResult<Self> {
        let bad = || {
            ApiError::bad_request(
                "bad search cursor: pass the next_cursor of the previous page of the same q unchanged",
            )
        };
        let number = |x: Option<&str>| x.and_then(|x| x.parse::<usize>().ok()).ok_or_else(bad);
        let (pending, rest) = match s.split_once('.') {
            Some(("q", rest)) => (0, rest),
            Some(("p", rest)) => {
                let (n, rest) = rest.split_once('.').ok_or_else(bad)?;
                (number(Some(n))?, rest)
            }
            _ => return Err(bad()),
        };
        let mut parts = rest.splitn(3, '.');
        let page = number(parts.next())?;
        let skip = number(parts.next())?;
        let inner = parts.next().ok_or_else(bad)?;
        if page == 0 || page > MAX_PAGE || skip > page {
            return Err(bad());
        }
        Ok(Self {
            page,
            skip,
            pending,
            inner: (inner != "-").then(|| inner.to_owned()),
        })
    }
}

/// `GET /api/v1/songs`: filters, `q` (words in artist/title/album/file name), sort, and either
/// `offset` or `cursor` paging. A `q=` search reads the listing only until its page is full (at
/// most [`SEARCH_SCAN_BUDGET`] songs per request), answering with a `next_cursor` to continue.
pub async fn list_songs(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SongPage>> {
    let mut p = Params::parse(raw.as_deref());
    let filter = p.filter()?.to_filter()?;
    let q = p.text("q")?;
    let sort: SortKey = p.one("sort")?.as_deref().unwrap_or("artist").parse()?;
    let descending = p.flag("desc")?;
    let limit = p.number("limit", 1, MAX_PAGE)?.unwrap_or(DEFAULT_PAGE);
    let offset = p.number("offset", 0, usize::MAX / 2)?;
    let cursor = p.one("cursor")?;
    p.finish()?;
    if cursor.is_some() && offset.is_some() {
        return Err(ApiError::bad_request(
            "give either cursor or offset, not both (cursors come from next_cursor of the previous page)",
        ));
    }
    let offset = offset.unwrap_or(0);
    let words = q.as_deref().map(words_of).transpose()?.unwrap_or_default();
    let b = st.backend.as_ref();
    let answer = |items, total: SongCount, offset, next_cursor, next_offset| {
        Ok(Json(SongPage {
            items,
            total: total.value(),
            total_exact: total.is_exact(),
            limit,
            offset,
            next_cursor,
            next_offset,
        }))
    };
    if words.is_empty() && offset == 0 {
        // One backend page; its cursor continues the listing.
        let first = cursor.is_none();
        let page = b
            .list(&ListQuery {
                filter: filter.clone(),
                sort,
                descending,
                limit,
                cursor,
            })
            .await?;
        let total = if first && page.next.is_none() {
            SongCount::Exact(page.items.len() as u64)
        } else {
            b.quick_count(&filter)
                .await?
                .at_least(page.items.len() as u64)
        };
        let items = page.items.iter().map(SongSummary::from).collect();
        return answer(items, total, 0, page.next, None);
    }
    if words.is_empty() {
        // Offset paging: walk the filtered listing up to the page.
        let (items, total) = b
            .list_window(&filter, sort, descending, offset, limit)
            .await?;
        let items: Vec<SongSummary> = items.iter().map(SongSummary::from).collect();
        let next_offset = (!items.is_empty() && ((offset + items.len()) as u64) < total.value())
            .then_some(offset + items.len());
        return answer(items, total, offset, None, next_offset);
    }
    // Text search: read the filtered listing in order from the start (offset) or the cursor
    // until the page is full and one more match shows there are more, the listing ends, or the
    // scan budget is spent.
    let resumed = cursor.is_some();
    let mut at = match cursor.as_deref() {
        Some(c) => SearchCursor::decode(c)?,
        None => SearchCursor {
            page: offset
                .saturating_add(limit)
                .saturating_add(1)
                .clamp(50, MAX_PAGE),
            skip: 0,
            pending: 0,
            inner: None,
        },
    };
    // Matches to pass over before the page starts: the offset, or what a cursor still owes.
    let start = if resumed { at.pending } else { offset };
    let (mut matched, mut scanned, mut items) = (0usize, 0usize, Vec::new());
    let (mut more, mut ended) = (false, false);
    'walk: while scanned < SEARCH_SCAN_BUDGET {
        let page = b
            .list(&ListQuery {
                filter: filter.clone(),
                sort,
                descending,
                limit: at.page,
                cursor: at.inner.clone(),
            })
            .await?;
        // The words against each song's text, on the blocking pool (never an async worker).
        let (ws, items_in, from) = (words.clone(), page.items, at.skip);
        let (page_items, hits) = tokio::task::spawn_blocking(move || {
            let hits: Vec<bool> = items_in
                .iter()
                .skip(from)
                .map(|m| matches_words(m, &ws))
                .collect();
            (items_in, hits)
        })
        .await
        .map_err(|e| ApiError::internal("matching the words", e))?;
        for ((i, m), hit) in page_items.iter().enumerate().skip(at.skip).zip(hits) {
            scanned += 1;
            if !hit {
                continue;
            }
            if matched >= start && items.len() >= limit {
                // One match beyond the page: continue from it.
                at.skip = i;
                more = true;
                break 'walk;
            }
            if matched >= start {
                items.push(SongSummary::from(m));
            }
            matched += 1;
        }
        match page.next {
            Some(c) => {
                // Pages grow while the search goes on: few matches read more per request.
                at.inner = Some(c);
                at.skip = 0;
                at.page = (at.page * 2).min(MAX_PAGE);
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    // The budget ran out before the page started: the cursor owes the matches not yet passed.
    at.pending = start.saturating_sub(matched);
    if !ended && at.pending > 0 && !resumed {
        // An offset beyond what one request reads: say so, with the cursor that gets there
        // (an empty page would read as "nothing at this offset", and pointing next_offset at
        // the same offset would send a client round for ever).
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "search_offset_beyond_scan",
            format!(
                "offset {offset} is beyond what one q= search request reads: it reads at most \
                 {SEARCH_SCAN_BUDGET} songs, and the {scanned} read so far hold {matched} matches. \
                 Follow next_cursor (in this answer, it carries on toward offset {offset}; the \
                 page it answers may still be empty, then follow its own next_cursor), or page \
                 through the search with next_cursor from the first page"
            ),
        );
        e.next_cursor = Some(at.encode());
        return Err(e);
    }
    let total = if ended && !resumed {
        SongCount::Exact(matched as u64)
    } else {
        SongCount::AtLeast((matched + usize::from(more)) as u64)
    };
    let next_cursor = (!ended).then(|| at.encode());
    // Never the request's own offset: a page that found nothing continues by its cursor only.
    let next_offset = (!ended && !resumed && !items.is_empty()).then_some(offset + items.len());
    answer(items, total, offset, next_cursor, next_offset)
}

/// `GET /api/v1/songs/{id}`.
#[derive(Debug, Serialize)]
pub struct SongDetail {
    /// All metadata, including free-form fields.
    pub song: SongMetadata,
    /// Models with a stored vector for this song (`name@version`).
    pub models: Vec<String>,
    pub has_audio: bool,
    /// Where to stream the audio from.
    pub audio_url: String,
    /// Where to find similar songs.
    pub similar_url: String,
}

/// `GET /api/v1/songs/{id}`.
pub async fn get_song(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SongDetail>> {
    Params::parse(raw.as_deref()).finish()?;
    let b = st.backend.as_ref();
    let m = find_song(b, &id).await?;
    let mut models = Vec::new();
    for s in b.models().await? {
        if b.get_embedding(&m.id, &s.model).await?.is_some() {
            models.push(s.model.key());
        }
    }
    let has_audio = b.has_audio(&m.audio_key()).await?;
    let id = m.id.as_str().to_owned();
    Ok(Json(SongDetail {
        audio_url: format!("/api/v1/songs/{id}/audio"),
        similar_url: format!("/api/v1/songs/{id}/similar"),
        song: m,
        models,
        has_audio,
    }))
}

mod artists;
mod common;
mod ranked;
mod similar;
mod views;

pub use crate::error::vector_error;
pub use artists::*;
pub use common::{IdPath, find_song};
pub use ranked::*;
pub use similar::*;
pub use views::*;
