//! The JSON handlers of `/api/v1`, `/healthz` and `/metrics`.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use songrec_app::embedders::model_of;
use songrec_app::similar::{ModelPart, SimilarRequest, Target};
use songrec_audio::Embedder;
use songrec_storage::{
    Filter, ListQuery, Match, Metric, ModelInfo, SongId, SongMetadata, SortKey, StorageBackend,
    StorageBackendExt,
};
use tokio::io::AsyncWriteExt;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::sniff;

/// Largest page of `GET /api/v1/songs`.
pub const MAX_PAGE: usize = 1000;
/// Default page size.
pub const DEFAULT_PAGE: usize = 50;
/// Most songs placed on the library map.
pub const MAX_MAP_POINTS: usize = 10_000;
/// Default songs on the map.
pub const DEFAULT_MAP_POINTS: usize = 2_000;

/// A song in listings and results (metadata without the free-form extras).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SongSummary {
    /// Full id (hex SHA-256 of the audio).
    pub id: String,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: Option<String>,
    /// Album.
    pub album: Option<String>,
    /// Genre.
    pub genre: Option<String>,
    /// Duration in seconds.
    pub duration_secs: f64,
    /// Estimated tempo.
    pub bpm: Option<f32>,
    /// Estimated key.
    pub key: Option<String>,
    /// Tags.
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
    let probe =
        tokio::time::timeout(Duration::from_secs(5), st.backend.count(&Filter::default())).await;
    match probe {
        Ok(Ok(songs)) => Json(serde_json::json!({"status": "ok", "songs": songs})).into_response(),
        Ok(Err(e)) => {
            tracing::warn!("health check: {e}");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "error": {"code": "backend_unavailable", "message": "the storage backend did not answer; see the server log"}})),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({"status": "unavailable", "error": {"code": "backend_timeout", "message": "the storage backend did not answer within 5 s"}})),
        )
            .into_response(),
    }
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
    /// Songs matching the filter (and `q`) in the whole library.
    pub total: u64,
    /// Page size asked for.
    pub limit: usize,
    /// Offset of this page (0 in cursor mode).
    pub offset: usize,
    /// Pass as `cursor` for the next page (cursor mode), if any.
    pub next_cursor: Option<String>,
    /// Pass as `offset` for the next page (offset mode), if any.
    pub next_offset: Option<usize>,
}

fn words_of(q: &str) -> Vec<String> {
    q.to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
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

/// `GET /api/v1/songs`: filters, `q` (words in artist/title/album/file name), sort, and either
/// `offset` or `cursor` paging.
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
    if cursor.is_some() && (offset.is_some() || q.is_some()) {
        return Err(ApiError::bad_request(
            "give either cursor or offset/q, not both (cursors come from next_cursor of a plain listing)",
        ));
    }
    let offset = offset.unwrap_or(0);
    let words = q.as_deref().map(words_of).unwrap_or_default();
    let b = st.backend.as_ref();
    if words.is_empty() && offset == 0 {
        // One backend page; its cursor continues the listing.
        let page = b
            .list(&ListQuery {
                filter: filter.clone(),
                sort,
                descending,
                limit,
                cursor,
            })
            .await?;
        let total = b.count(&filter).await?;
        return Ok(Json(SongPage {
            items: page.items.iter().map(SongSummary::from).collect(),
            total,
            limit,
            offset: 0,
            next_cursor: page.next,
            next_offset: None,
        }));
    }
    // Offset or text search: walk the filtered listing in order.
    let lq = ListQuery {
        filter: filter.clone(),
        sort,
        descending,
        limit: MAX_PAGE,
        cursor: None,
    };
    let (mut seen, mut items) = (0usize, Vec::new());
    b.for_each_page(&lq, |page| {
        for m in page.iter().filter(|m| matches_words(m, &words)) {
            if seen >= offset && items.len() < limit {
                items.push(SongSummary::from(m));
            }
            seen += 1;
        }
        // Without words the total is a count, so walking stops once the page is full; with
        // words the whole listing is walked to count the matches.
        !(words.is_empty() && items.len() >= limit)
    })
    .await?;
    let total = if words.is_empty() {
        b.count(&filter).await?
    } else {
        seen as u64
    };
    let next_offset = (!items.is_empty() && ((offset + items.len()) as u64) < total)
        .then_some(offset + items.len());
    Ok(Json(SongPage {
        items,
        total,
        limit,
        offset,
        next_cursor: None,
        next_offset,
    }))
}

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

/// `GET /api/v1/songs/{id}`.
#[derive(Debug, Serialize)]
pub struct SongDetail {
    /// All metadata, including free-form fields.
    pub song: SongMetadata,
    /// Models with a stored vector for this song (`name@version`).
    pub models: Vec<String>,
    /// Whether the audio is stored.
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
    let has_audio = b.has_audio(&m.id).await?;
    let id = m.id.as_str().to_owned();
    Ok(Json(SongDetail {
        audio_url: format!("/api/v1/songs/{id}/audio"),
        similar_url: format!("/api/v1/songs/{id}/similar"),
        song: m,
        models,
        has_audio,
    }))
}

// ---- similarity ---------------------------------------------------------------------------

/// Parameters shared by both similarity endpoints.
struct SimilarParams {
    k: usize,
    offset: usize,
    metric: Metric,
    threshold: Option<f32>,
    model: Option<String>,
    embedder: Option<String>,
    filter: Filter,
    distinct: bool,
}

impl SimilarParams {
    /// The query these parameters ask for: `target`'s neighbours by one model.
    fn request(
        &self,
        target: Target,
        model: ModelInfo,
        embedder: Option<Arc<dyn Embedder>>,
    ) -> SimilarRequest {
        SimilarRequest {
            target,
            parts: vec![ModelPart {
                model,
                embedder,
                weight: 1.0,
            }],
            k: self.k,
            metric: self.metric,
            threshold: self.threshold,
            offset: self.offset,
            filter: self.filter.clone(),
        }
    }
}

/// Most results one response of the API carries, whatever the backend allows.
pub const MAX_RESPONSE_RESULTS: usize = 10_000;

/// How far a similarity request may reach: the backend's limit ([`StorageBackend::max_results`],
/// the Data API's 1000 on the cloud), at most [`MAX_RESPONSE_RESULTS`].
fn search_limit(st: &AppState) -> usize {
    st.backend.max_results().min(MAX_RESPONSE_RESULTS)
}

/// `max`: the search limit ([`search_limit`]).
fn similar_params(p: &mut Params, max: usize) -> ApiResult<SimilarParams> {
    let k = p.number("k", 1, max)?.unwrap_or(10);
    let offset = p.number("offset", 0, max - 1)?.unwrap_or(0);
    if k.checked_add(offset).is_none_or(|r| r > max) {
        return Err(ApiError::bad_request(format!(
            "k + offset must be at most {max}"
        )));
    }
    let metric: Metric = p.one("metric")?.as_deref().unwrap_or("cosine").parse()?;
    let threshold = p.float("threshold")?;
    let model = p.one("model")?;
    let embedder = p.one("embedder")?;
    if model.is_some() && embedder.is_some() {
        return Err(ApiError::bad_request(
            "give either model (NAME@VERSION of stored vectors) or embedder, not both",
        ));
    }
    let filter = p.filter()?.to_filter()?;
    let distinct = p.flag("distinct")?;
    Ok(SimilarParams {
        k,
        offset,
        metric,
        threshold,
        model,
        embedder,
        filter,
        distinct,
    })
}

/// Picks the model to compare and, when available, the embedder that makes its vectors:
/// `model=NAME@VERSION` (stored vectors), `embedder=NAME`, or by default the first configured
/// embedder whose model the library has, else the library's model with the most vectors.
pub async fn choose_model(
    st: &AppState,
    model: Option<&str>,
    embedder: Option<&str>,
) -> ApiResult<(ModelInfo, Option<Arc<dyn Embedder>>)> {
    let stored = st.backend.models().await?;
    let embedder_for = |m: &ModelInfo| {
        st.embedders
            .iter()
            .find(|e| model_of(e.as_ref()) == *m)
            .cloned()
    };
    if let Some(key) = model {
        let m = stored
            .iter()
            .map(|s| s.model.clone())
            .find(|m| m.key() == key)
            .ok_or_else(|| {
                let have: Vec<String> = stored.iter().map(|s| s.model.key()).collect();
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "unknown_model",
                    format!(
                        "the library has no vectors of model {key:?}; it has: {}",
                        if have.is_empty() {
                            "none".to_owned()
                        } else {
                            have.join(", ")
                        }
                    ),
                )
            })?;
        let e = embedder_for(&m);
        return Ok((m, e));
    }
    if let Some(name) = embedder {
        let wanted = songrec_app::embedders::by_name(name)?;
        let m = model_of(wanted.as_ref());
        let e = embedder_for(&m).unwrap_or(wanted);
        return Ok((m, Some(e)));
    }
    for e in &st.embedders {
        let m = model_of(e.as_ref());
        if stored.iter().any(|s| s.model == m) {
            return Ok((m, Some(e.clone())));
        }
    }
    if let Some(best) = stored.iter().max_by_key(|s| s.count) {
        return Ok((best.model.clone(), embedder_for(&best.model)));
    }
    match st.embedders.first() {
        Some(e) => Ok((model_of(e.as_ref()), Some(e.clone()))),
        None => Err(ApiError::bad_request(
            "the library has no vectors and the server has no embedder",
        )),
    }
}

/// One similarity result.
#[derive(Debug, Serialize)]
pub struct SimilarItem {
    /// Similarity under the metric (higher is closer).
    pub similarity: f32,
    /// Euclidean distance, for `l2`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
    /// The song.
    pub song: SongSummary,
    /// With `distinct`: other copies of this recording folded into it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies_folded: Option<usize>,
}

/// What a similarity query was about.
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryInfo {
    /// A song of the library.
    Song(SongSummary),
    /// An uploaded file.
    Upload {
        /// File name the client gave (informational).
        file_name: Option<String>,
        /// Bytes received.
        bytes: u64,
        /// Media type recognised from the content.
        content_type: String,
    },
}

/// Response of both similarity endpoints.
#[derive(Debug, Serialize)]
pub struct SimilarResponse {
    /// The query.
    pub query: QueryInfo,
    /// Compared model, `name@version`.
    pub model: String,
    /// Metric.
    pub metric: Metric,
    /// Results asked for.
    pub k: usize,
    /// Results skipped.
    pub offset: usize,
    /// With `distinct`: copies folded into the results, in all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copies_folded: Option<usize>,
    /// With `distinct`: copies of the query left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_copies_excluded: Option<usize>,
    /// Results, best first.
    pub results: Vec<SimilarItem>,
}

impl SimilarResponse {
    fn new(query: QueryInfo, model: &ModelInfo, sp: (Metric, usize, usize), found: Found) -> Self {
        let (metric, k, offset) = sp;
        Self {
            query,
            model: model.key(),
            metric,
            k,
            offset,
            copies_folded: found.copies_folded,
            query_copies_excluded: found.query_copies,
            results: found.items,
        }
    }
}

/// Results of a query, with what `distinct` folded.
struct Found {
    items: Vec<SimilarItem>,
    copies_folded: Option<usize>,
    query_copies: Option<usize>,
}

fn item(m: &Match, copies_folded: Option<usize>) -> SimilarItem {
    SimilarItem {
        similarity: m.similarity,
        distance: m.distance,
        song: SongSummary::from(&m.metadata),
        copies_folded,
    }
}

/// Runs a query; with `distinct`, one song per recording.
async fn find_similar(
    b: &dyn StorageBackend,
    req: &SimilarRequest,
    distinct: bool,
) -> songrec_app::AppResult<Found> {
    if !distinct {
        let ms = songrec_app::similar::similar(b, req).await?;
        return Ok(Found {
            items: ms.iter().map(|m| item(m, None)).collect(),
            copies_folded: None,
            query_copies: None,
        });
    }
    let d = songrec_app::similar::similar_distinct(b, req).await?;
    Ok(Found {
        items: d
            .matches
            .iter()
            .zip(&d.copies_folded)
            .map(|(m, &c)| item(m, Some(c)))
            .collect(),
        copies_folded: Some(d.total_copies_folded()),
        query_copies: Some(d.query_copies),
    })
}

/// `GET /api/v1/songs/{id}/similar`.
pub async fn similar_to_song(
    State(st): State<AppState>,
    IdPath(id): IdPath,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SimilarResponse>> {
    let mut p = Params::parse(raw.as_deref());
    let sp = similar_params(&mut p, search_limit(&st))?;
    p.finish()?;
    let b = st.backend.as_ref();
    let song = find_song(b, &id).await?;
    let (model, embedder) = choose_model(&st, sp.model.as_deref(), sp.embedder.as_deref()).await?;
    let req = sp.request(
        Target::Song(Box::new(song.clone())),
        model.clone(),
        embedder,
    );
    let found = find_similar(b, &req, sp.distinct)
        .await
        .map_err(|e| match e {
            // "has no vector of this model" is about the song, not the server.
            songrec_app::AppError::Resolve(m) => {
                ApiError::new(StatusCode::NOT_FOUND, "no_vector", m)
            }
            other => other.into(),
        })?;
    let query = QueryInfo::Song(SongSummary::from(&song));
    Ok(Json(SimilarResponse::new(
        query,
        &model,
        (sp.metric, sp.k, sp.offset),
        found,
    )))
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
) -> ApiResult<Json<SimilarResponse>> {
    let mut p = Params::parse(raw.as_deref());
    let sp = similar_params(&mut p, search_limit(&st))?;
    p.finish()?;
    let limit = st.max_upload_bytes;
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
    let deadline = tokio::time::Instant::now() + st.upload_timeout;
    let timed_out = || {
        ApiError::request_timeout(format!(
            "the upload did not arrive within {} s; send it again over a faster connection, or a shorter clip",
            st.upload_timeout.as_secs_f64()
        ))
    };
    let mut multipart = multipart.map_err(|e| {
        ApiError::unsupported_media(format!(
            "send the audio as multipart/form-data with a field named \"file\" ({})",
            e.body_text()
        ))
    })?;
    let (model, embedder) = choose_model(&st, sp.model.as_deref(), sp.embedder.as_deref()).await?;
    let embedder = embedder.ok_or_else(|| {
        ApiError::bad_request(format!(
            "the server has no embedder for model {}, so it cannot analyse an upload for it; pick a model it has an embedder for",
            model.key()
        ))
    })?;

    // Spool the `file` field to disk, counting bytes against the limit and the budget. The
    // reservation is declared before the file so it is released after the file is removed.
    let mut reserved = SpoolReservation {
        used: &st.spool_bytes,
        bytes: 0,
    };
    let tmp = tempfile::Builder::new()
        .prefix("upload-")
        .tempfile_in(st.scratch.path())
        .map_err(|e| ApiError::internal("creating a spool file for the upload", e))?;
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
        let mut out = tokio::fs::File::create(tmp.path())
            .await
            .map_err(|e| ApiError::internal("writing the upload", e))?;
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
            if !reserved.grow(chunk.len() as u64, st.max_spool_bytes) {
                return Err(ApiError::busy(
                    "the server's space for uploads in progress is full; try again shortly",
                    UPLOAD_RETRY_AFTER_SECS,
                ));
            }
            if head.len() < sniff::SNIFF_LEN {
                let take = (sniff::SNIFF_LEN - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            out.write_all(&chunk)
                .await
                .map_err(|e| ApiError::internal("writing the upload", e))?;
        }
        out.flush()
            .await
            .map_err(|e| ApiError::internal("writing the upload", e))?;
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
    let req = sp.request(
        Target::File(tmp.path().to_path_buf()),
        model.clone(),
        Some(embedder),
    );
    let spool = tmp.path().display().to_string();
    let found = find_similar(st.backend.as_ref(), &req, sp.distinct)
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
    let query = QueryInfo::Upload {
        file_name,
        bytes,
        content_type: content_type.to_owned(),
    };
    Ok(Json(SimilarResponse::new(
        query,
        &model,
        (sp.metric, sp.k, sp.offset),
        found,
    )))
}

// ---- stats ----------------------------------------------------------------------------------

/// `GET /api/v1/stats`.
pub async fn stats(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<serde_json::Value>> {
    Params::parse(raw.as_deref()).finish()?;
    let s = songrec_app::stats::library_stats(st.backend.as_ref()).await?;
    let models: Vec<serde_json::Value> = s
        .models
        .iter()
        .map(|m| {
            serde_json::json!({
                "model": m.model.key(), "name": m.model.name, "version": m.model.version,
                "dim": m.model.dim, "count": m.count
            })
        })
        .collect();
    Ok(Json(serde_json::json!({
        "songs": s.songs,
        "total_secs": s.total_secs,
        "total_bytes": s.total_bytes,
        "genres": s.genres,
        "models": models,
        "tombstones": s.tombstones,
        "backend": st.backend.to_string(),
    })))
}

// ---- map ------------------------------------------------------------------------------------

/// One song on the map.
#[derive(Debug, Serialize)]
pub struct MapPoint {
    /// Song id.
    pub id: String,
    /// First axis.
    pub x: f32,
    /// Second axis.
    pub y: f32,
    /// Title.
    pub title: String,
    /// Artist.
    pub artist: Option<String>,
    /// Genre.
    pub genre: Option<String>,
}

/// `GET /api/v1/map`.
#[derive(Debug, Serialize)]
pub struct MapResponse {
    /// Model whose vectors were projected.
    pub model: String,
    /// Projection name (`pca`).
    pub projection: String,
    /// Share of variance along x and y.
    pub explained_variance: [f32; 2],
    /// Songs matching the filter.
    pub total: u64,
    /// Whether only the first `limit` songs (in id order, which is effectively random) are shown.
    pub truncated: bool,
    /// The points.
    pub points: Vec<MapPoint>,
}

/// A fingerprint of the library's state: changes whenever a song is added, changed or deleted.
async fn fingerprint(b: &dyn StorageBackend) -> ApiResult<u64> {
    let mut v = b.list_versions().await?;
    v.sort_by(|a, b| a.id.cmp(&b.id));
    let mut h = DefaultHasher::new();
    for e in &v {
        (e.id.as_str(), e.version, e.deleted).hash(&mut h);
    }
    Ok(h.finish())
}

/// `GET /api/v1/map`: the songs' vectors projected to 2-D (cached until the library changes).
pub async fn map(State(st): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let mut p = Params::parse(raw.as_deref());
    let spec = p.filter()?;
    let filter = spec.to_filter()?;
    let limit = p
        .number("limit", 1, MAX_MAP_POINTS)?
        .unwrap_or(DEFAULT_MAP_POINTS);
    let model_key = p.one("model")?;
    let embedder = p.one("embedder")?;
    p.finish()?;
    let (model, _) = choose_model(&st, model_key.as_deref(), embedder.as_deref()).await?;
    let b = st.backend.as_ref();
    let key = format!("{}|{limit}|{filter:?}", model.key());
    let fp = fingerprint(b).await?;
    let cached = {
        let cache = st.map_cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(&key)
            .filter(|(f, _)| *f == fp)
            .map(|(_, r)| r.clone())
    };
    if let Some(r) = cached {
        return Ok(Json(r.as_ref()).into_response());
    }

    let mut songs = Vec::new();
    let q = ListQuery {
        filter: filter.clone(),
        limit: MAX_PAGE,
        ..ListQuery::default()
    };
    let mut total = 0u64;
    b.for_each_page(&q, |page| {
        total += page.len() as u64;
        songs.extend(page.into_iter().take(limit.saturating_sub(songs.len())));
        true
    })
    .await?;
    // Vectors, 16 requests at a time.
    let mut fetched: Vec<(SongMetadata, Option<Vec<f32>>)> = Vec::with_capacity(songs.len());
    let mut songs = songs.into_iter().peekable();
    while songs.peek().is_some() {
        let chunk: Vec<SongMetadata> = songs.by_ref().take(16).collect();
        let vectors =
            futures::future::try_join_all(chunk.iter().map(|m| b.get_embedding(&m.id, &model)))
                .await?;
        fetched.extend(
            chunk
                .into_iter()
                .zip(vectors.into_iter().map(|e| e.map(|e| e.vector))),
        );
    }
    let (metas, vectors): (Vec<SongMetadata>, Vec<Vec<f32>>) = fetched
        .into_iter()
        .filter_map(|(m, v)| v.map(|v| (m, v)))
        .unzip();
    let projector = st.projector.clone();
    let projection = tokio::task::spawn_blocking(move || projector.project(&vectors))
        .await
        .map_err(|e| ApiError::internal("computing the map", e))?;
    let points = metas
        .iter()
        .zip(&projection.points)
        .map(|(m, pt)| MapPoint {
            id: m.id.as_str().to_owned(),
            x: pt[0],
            y: pt[1],
            title: m.title.clone(),
            artist: m.artist.clone(),
            genre: m.genre.clone(),
        })
        .collect();
    let resp = Arc::new(MapResponse {
        model: model.key(),
        projection: st.projector.name().to_owned(),
        explained_variance: projection.explained,
        total,
        truncated: total as usize > limit,
        points,
    });
    let mut cache = st.map_cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.insert(key, (fp, resp.clone()));
    Ok(Json(resp.as_ref()).into_response())
}
