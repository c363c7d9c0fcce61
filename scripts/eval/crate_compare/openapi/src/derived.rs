//! What deriving with utoipa 6 takes for songrec's API. The query parameters cannot come from a
//! derive (handlers parse RawQuery with params.rs), so each is declared again in the attribute.
use utoipa::OpenApi;
use crate::*;

#[utoipa::path(get, path = "/api/v1/songs", operation_id = "listSongs", tag = "songs",
    params(
        ("q" = Option<String>, Query, description = "Words that must all occur in artist, title, album or file name (case-insensitive)."),
        ("sort" = Option<String>, Query, description = "Order of the listing."),
        ("desc" = Option<bool>, Query, description = "Reverse the order."),
        ("limit" = Option<u32>, Query, description = "Page size (1..=1000)."),
        ("offset" = Option<u32>, Query, description = "Songs to skip."),
        ("cursor" = Option<String>, Query, description = "Cursor from next_cursor."),
        ("genre" = Option<String>, Query, description = "Genre (case-insensitive)."),
        ("artist" = Option<String>, Query, description = "Artist."),
        ("album" = Option<String>, Query, description = "Album."),
        ("key" = Option<String>, Query, description = "Key, e.g. A minor."),
        ("bpm" = Option<String>, Query, description = "Tempo range LO..HI."),
        ("duration" = Option<String>, Query, description = "Duration range in seconds LO..HI."),
        ("tag" = Option<String>, Query, description = "Tag."),
        ("where" = Option<String>, Query, description = "Filter expression."),
    ),
    responses((status = 200, description = "A page of songs", body = SongPage),
              (status = 400, description = "Bad parameter", body = ErrorBody)))]
fn list_songs_doc() {}

#[utoipa::path(get, path = "/api/v1/songs/{id}/similar", operation_id = "similarToSong", tag = "songs",
    params(("id" = String, Path, description = "Song id or unique prefix"),
        ("k" = Option<u32>, Query), ("offset" = Option<u32>, Query), ("metric" = Option<Metric>, Query),
        ("threshold" = Option<f32>, Query), ("model" = Option<String>, Query), ("embedder" = Option<String>, Query),
        ("distinct" = Option<bool>, Query), ("genre" = Option<String>, Query), ("artist" = Option<String>, Query),
        ("album" = Option<String>, Query), ("key" = Option<String>, Query), ("bpm" = Option<String>, Query),
        ("duration" = Option<String>, Query), ("tag" = Option<String>, Query), ("where" = Option<String>, Query)),
    responses((status = 200, description = "Similar songs", body = SimilarResponse),
              (status = 404, description = "No such song", body = ErrorBody)))]
fn similar_doc() {}

#[utoipa::path(get, path = "/api/v1/map", operation_id = "getMap", tag = "songs",
    params(("limit" = Option<u32>, Query), ("model" = Option<String>, Query)),
    responses((status = 200, description = "The map", body = MapResponse)))]
fn map_doc() {}

#[derive(OpenApi)]
#[openapi(paths(list_songs_doc, similar_doc, map_doc),
    components(schemas(SongSummary, SongPage, SimilarItem, QueryInfo, Metric, SimilarResponse, MapPoint, MapResponse, ErrorBody, ErrorDetail)))]
struct ApiDoc;

pub fn document() -> serde_json::Value { serde_json::to_value(ApiDoc::openapi()).unwrap() }
