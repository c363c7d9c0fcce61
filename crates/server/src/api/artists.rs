//! `GET /api/v1/artists/{name}/similar`: the artists that sound most like an artist, the use
//! case `songrec similar --artists` and Subsonic's `getArtistInfo` ask
//! (`songrec_app::similar::artists`).

use axum::Json;
use axum::extract::{RawQuery, State};
use songrec_app::similar::artists::{self, ArtistsError, SimilarArtists};

use super::common::IdPath;
use crate::error::{ApiError, ApiResult};
use crate::params::{DEFAULT_SIMILAR_ARTISTS, MAX_SIMILAR_ARTISTS, Params};
use crate::state::AppState;

/// `GET /api/v1/artists/{name}/similar?k=N`: the artist matched case-insensitively (songs
/// without an artist are `[Unknown Artist]`); 404 when no song has it.
pub async fn similar_artists(
    State(st): State<AppState>,
    IdPath(name): IdPath,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<SimilarArtists>> {
    let mut p = Params::parse(raw.as_deref());
    let k = p
        .number("k", 1, MAX_SIMILAR_ARTISTS)?
        .unwrap_or(DEFAULT_SIMILAR_ARTISTS);
    p.finish()?;
    let answer = artists::similar_artists(st.backend.as_ref(), &st.embedders, &name, k).await;
    match answer {
        Ok(a) => Ok(Json(a)),
        Err(ArtistsError::UnknownArtist { name, near }) => {
            let near = match near.as_slice() {
                [] => String::new(),
                some => format!("; artists with a name like it: {}", some.join(", ")),
            };
            Err(ApiError::not_found(format!(
                "no artist named {name:?} in the library{near}"
            )))
        }
        Err(ArtistsError::App(e)) => Err(e.into()),
    }
}
