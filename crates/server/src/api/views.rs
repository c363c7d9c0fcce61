//! Whole-library views: statistics and the 2-D map.

use super::*;

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
    let space = library_space(&st, &choice, None).await?;
    let key = format!("{}|{limit}|{filter:?}", space.key());
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

    let set = songrec_discover::load_songs(b, &space, &filter)
        .await
        .map_err(songrec_app::AppError::from)?;
    let total = (set.len() + set.without_vector.len()) as u64;
    let shown = set.len().min(limit);
    let metas: Vec<SongMetadata> = set.songs[..shown].to_vec();
    let vectors: Vec<Vec<f32>> = (0..shown).map(|i| set.vectors.row(i).to_vec()).collect();
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
        model: space.key(),
        projection: st.projector.name().to_owned(),
        explained_variance: projection.explained,
        total,
        truncated: set.len() > limit,
        points,
    });
    let mut cache = st.map_cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= 16 {
        cache.clear();
    }
    cache.insert(key, (fp, resp.clone()));
    Ok(Json(resp.as_ref()).into_response())
}

/// The space a whole-library view compares around `seed` (or over the library): the CLI's
/// choice ([`songrec_app::similar::choose_space`]).
pub async fn library_space(
    st: &AppState,
    choice: &songrec_app::similar::Choice,
    seed: Option<&SongMetadata>,
) -> ApiResult<songrec_discover::Space> {
    Ok(
        songrec_app::similar::choose_space(
            st.backend.as_ref(),
            choice,
            seed,
            st.embedders.config(),
        )
        .await?,
    )
}
