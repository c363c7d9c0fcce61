//! A stand-in for songrec-server's API surface: the same 13 routes on axum 0.8, the response
//! types of api.rs, and either today's hand-kept document (crates/server/src/openapi.rs,
//! verbatim) or, with `--features utoipa`, a derived one. Prints the document.
#![allow(dead_code)]
#[path = "../../../../../crates/server/src/openapi.rs"]
mod hand;
#[cfg(feature = "utoipa")]
mod derived;

use axum::{Json, Router, extract::RawQuery, routing::{get, post}};
use serde::Serialize;

#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize)]
pub struct SongSummary {
    pub id: String, pub title: String, pub artist: Option<String>, pub album: Option<String>,
    pub genre: Option<String>, pub duration_secs: f64, pub bpm: Option<f32>, pub key: Option<String>,
    pub tags: Vec<String>, pub file_name: String, pub file_size: u64, pub created_at: String, pub version: u64,
}
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct SongPage { pub items: Vec<SongSummary>, pub total: u64, pub limit: usize, pub offset: usize,
    pub next_cursor: Option<String>, pub next_offset: Option<usize> }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct SimilarItem { pub similarity: f32, #[serde(skip_serializing_if = "Option::is_none")] pub distance: Option<f32>,
    pub song: SongSummary, #[serde(skip_serializing_if = "Option::is_none")] pub copies_folded: Option<usize> }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryInfo { Song(SongSummary), Upload { file_name: Option<String>, bytes: u64, content_type: String } }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric { Cosine, Dot, L2 }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct SimilarResponse { pub query: QueryInfo, pub model: String, pub metric: Metric, pub k: usize, pub offset: usize,
    #[serde(skip_serializing_if = "Option::is_none")] pub copies_folded: Option<usize>, pub results: Vec<SimilarItem> }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct MapPoint { pub id: String, pub x: f32, pub y: f32, pub title: String, pub artist: Option<String>, pub genre: Option<String> }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct MapResponse { pub model: String, pub projection: String, pub explained_variance: [f32; 2], pub total: u64, pub truncated: bool, pub points: Vec<MapPoint> }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct ErrorBody { pub error: ErrorDetail }
#[cfg_attr(feature = "utoipa", derive(utoipa::ToSchema))]
#[derive(Debug, Serialize)]
pub struct ErrorDetail { pub code: String, pub message: String }

pub async fn text() -> &'static str { "" }
pub async fn list_songs(RawQuery(_q): RawQuery) -> Json<SongPage> { Json(SongPage { items: vec![], total: 0, limit: 50, offset: 0, next_cursor: None, next_offset: None }) }
pub async fn get_song() -> Json<serde_json::Value> { Json(serde_json::json!({})) }
pub async fn similar(RawQuery(_q): RawQuery) -> Json<serde_json::Value> { Json(serde_json::json!({})) }
pub async fn map(RawQuery(_q): RawQuery) -> Json<serde_json::Value> { Json(serde_json::json!({})) }
pub async fn openapi() -> Json<serde_json::Value> { Json(document()) }

#[cfg(not(feature = "utoipa"))]
fn document() -> serde_json::Value { hand::document() }
#[cfg(feature = "utoipa")]
fn document() -> serde_json::Value { derived::document() }

fn router() -> Router {
    Router::new()
        .route("/", get(text)).route("/static/app.js", get(text)).route("/static/style.css", get(text))
        .route("/healthz", get(get_song)).route("/metrics", get(text)).route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/songs", get(list_songs)).route("/api/v1/songs/{id}", get(get_song))
        .route("/api/v1/songs/{id}/similar", get(similar)).route("/api/v1/songs/{id}/audio", get(text))
        .route("/api/v1/similar", post(similar)).route("/api/v1/stats", get(get_song)).route("/api/v1/map", get(map))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _ = router();
    println!("{}", serde_json::to_string_pretty(&document()).unwrap());
}
