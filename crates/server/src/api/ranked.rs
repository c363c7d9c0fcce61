//! Playlists and clusters: the answers of `songrec playlist --json` and `songrec clusters
//! --json`, by the same code ([`songrec_app::views`]) with the same defaults (`auto`).

use axum::Json;
use axum::extract::{RawQuery, State};
use songrec_app::similar::Choice;
use songrec_app::views::{PlaylistAsk, PlaylistShape};
use songrec_discover::playlist::{Constraints, Playlist};

use super::common::find_song;
use crate::error::{ApiError, ApiResult, vector_error};
use crate::params::Params;
use crate::state::AppState;

/// Most songs of one playlist.
pub const MAX_PLAYLIST: usize = 1000;
/// Default playlist length (as `songrec playlist`).
pub const DEFAULT_PLAYLIST: usize = 25;
/// Default candidates per step of a path (as `songrec playlist --candidates`).
pub const DEFAULT_CANDIDATES: usize = 30;
pub const MAX_CLUSTERS: usize = 100;
/// Default clusters (as `songrec clusters`).
pub const DEFAULT_CLUSTERS: usize = 12;

/// `GET /api/v1/playlist`: `seed=ID` (repeatable) or `from=ID&to=ID`; `n`, `no_repeat_artist`,
/// `no_repeat_album`, `candidates`, the filters, and `embedder`/`blend`/`model`.
pub async fn playlist(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Playlist>> {
    let mut p = Params::parse(raw.as_deref());
    let seeds = p.all("seed");
    let from = p.one("from")?;
    let to = p.one("to")?;
    let n = p.number("n", 1, MAX_PLAYLIST)?.unwrap_or(DEFAULT_PLAYLIST);
    let candidates = p
        .number("candidates", 1, MAX_PLAYLIST)?
        .unwrap_or(DEFAULT_CANDIDATES);
    let no_repeat_artist = p.flag("no_repeat_artist")?;
    let no_repeat_album = p.flag("no_repeat_album")?;
    let filter = p.filter()?.to_filter()?;
    let choice = p.vectors()?.unwrap_or(Choice::Auto);
    p.finish()?;
    let b = st.backend.as_ref();
    let shape = match (seeds.is_empty(), from, to) {
        (true, Some(f), Some(t)) => PlaylistShape::Path {
            from: Box::new(find_song(b, &f).await?),
            to: Box::new(find_song(b, &t).await?),
            candidates,
        },
        (false, None, None) => {
            let mut songs = Vec::with_capacity(seeds.len());
            for s in &seeds {
                songs.push(find_song(b, s).await?);
            }
            PlaylistShape::Seeds(songs)
        }
        _ => {
            return Err(ApiError::bad_request(
                "give seed=ID (repeatable) or from=ID and to=ID, not both",
            ));
        }
    };
    let ask = PlaylistAsk {
        shape,
        n,
        constraints: Constraints {
            no_repeat_artist,
            no_repeat_album,
            filter,
            ..Constraints::default()
        },
        choice,
    };
    let list = songrec_app::views::playlist(b, &ask)
        .await
        .map_err(vector_error)?;
    Ok(Json(list))
}

/// `GET /api/v1/clusters`: `k`, `seed` (of k-means++), the filters, and `embedder`/`blend`/`model`.
pub async fn clusters(
    State(st): State<AppState>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<songrec_discover::clusters::ClusterReport>> {
    let mut p = Params::parse(raw.as_deref());
    let k = p.number("k", 1, MAX_CLUSTERS)?.unwrap_or(DEFAULT_CLUSTERS);
    let seed = p.number("seed", 0, u64::MAX)?.unwrap_or(42);
    let filter = p.filter()?.to_filter()?;
    let choice = p.vectors()?.unwrap_or(Choice::Auto);
    p.finish()?;
    let set = songrec_app::views::song_set(st.backend.as_ref(), &choice, &filter).await?;
    // k-means is CPU work: off the async threads.
    let report = tokio::task::spawn_blocking(move || songrec_app::views::clusters(&set, k, seed))
        .await
        .map_err(|e| ApiError::internal("clustering", e))??;
    Ok(Json(report))
}
