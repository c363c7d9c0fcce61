//! Whole-library views: statistics and the 2-D map.

use std::sync::Arc;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;

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

/// Most songs placed on the library map.
pub const MAX_MAP_POINTS: usize = 10_000;
pub const DEFAULT_MAP_POINTS: usize = 2_000;

/// `GET /api/v1/map`: [`songrec_app::views::MapView`], what `songrec map --json` prints.
pub use songrec_app::views::{MapPoint, MapView as MapResponse};

/// `GET /api/v1/map`: the songs' vectors projected to 2-D (cached until the library changes).
/// The vectors are those `songrec map` draws: `embedder`/`blend`/`model` chosen as in the CLI,
/// `auto` by default (musicnn and DSP blended where the library holds both).
pub async fn map(State(st): State<AppState>, RawQuery(raw): RawQuery) -> ApiResult<Response> {
    let mut p = Params::parse(raw.as_deref());
    let spec = p.filter()?;
    let filter = spec.to_filter()?;
    let limit = p
        .number("limit", 1, MAX_MAP_POINTS)?
        .unwrap_or(DEFAULT_MAP_POINTS);
    let choice = p.vectors()?.unwrap_or(songrec_app::similar::Choice::Auto);
    p.finish()?;
    let b = st.backend.as_ref();
    // The vectors `auto` chooses depend on what the library holds: the fingerprint covers it.
    let key = format!("{choice:?}|{limit}|{filter:?}");
    let fp = crate::fingerprint::fingerprint(b).await?;
    let cache = || st.map_cache.lock().unwrap_or_else(|e| e.into_inner());
    let cached = cache().get(&key).filter(|(f, _)| *f == fp).cloned();
    if let Some((_, r)) = cached {
        return Ok(Json(r.as_ref()).into_response());
    }
    // The songs and the projection of `songrec map --json`: one code path.
    let set = songrec_app::views::song_set(b, &choice, &filter).await?;
    let projector = st.opts.projector.clone();
    let resp = tokio::task::spawn_blocking(move || {
        songrec_app::views::map(&set, limit, projector.as_ref())
    })
    .await
    .map_err(|e| ApiError::internal("computing the map", e))??;
    let resp = Arc::new(resp);
    let mut cache = cache();
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.insert(key, (fp, resp.clone()));
    Ok(Json(resp.as_ref()).into_response())
}
