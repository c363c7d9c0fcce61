//! HTTP layer: routes, token check, content type, body limit, and running
//! commands on the blocking pool.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::post;

use crate::commands::{self, Limits, Response, Target};
use crate::error::{Code, err};
use crate::store::Store;
use crate::token::Token;

/// Largest accepted request body.
pub(crate) const MAX_BODY_BYTES: usize = 20 * 1024 * 1024;

pub(crate) struct AppState {
    pub(crate) store: Arc<Store>,
    pub(crate) limits: Limits,
    pub(crate) token: Token,
}

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1", post(database))
        .route("/api/json/v1", post(database))
        .route("/v1/{keyspace}", post(keyspace))
        .route("/api/json/v1/{keyspace}", post(keyspace))
        .route("/v1/{keyspace}/{collection}", post(collection))
        .route("/api/json/v1/{keyspace}/{collection}", post(collection))
        .with_state(state)
}

async fn database(State(st): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> HttpResponse {
    handle(st, Target::Database, headers, body).await
}

async fn keyspace(
    State(st): State<Arc<AppState>>,
    Path(ks): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> HttpResponse {
    handle(st, Target::Keyspace(ks), headers, body).await
}

async fn collection(
    State(st): State<Arc<AppState>>,
    Path((ks, coll)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> HttpResponse {
    handle(st, Target::Collection(ks, coll), headers, body).await
}

fn json_response(resp: &Response) -> HttpResponse {
    let status = StatusCode::from_u16(resp.http_status()).unwrap_or(StatusCode::OK);
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        resp.to_json().to_string(),
    )
        .into_response()
}

/// Constant-time comparison so the token cannot be guessed byte by byte.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

async fn handle(st: Arc<AppState>, target: Target, headers: HeaderMap, body: Body) -> HttpResponse {
    let started = Instant::now();
    match headers.get("token").map(|v| v.as_bytes()) {
        None | Some(b"") => {
            return json_response(&Response::from_error(err(
                Code::MISSING_AUTHENTICATION_TOKEN,
                "The command did not include an authorization token. Add the token as the 'Token' header and resend the command.",
            )));
        }
        Some(t) if !token_matches(t, st.token.expose().as_bytes()) => {
            return json_response(&Response::from_error(err(
                Code::UNAUTHENTICATED_REQUEST,
                "Authentication failed for request due to invalid token. Resend with valid authentication token.",
            )));
        }
        Some(_) => {}
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type.split(';').next().unwrap_or("").trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return json_response(&Response::from_error(err(
            Code::UNSUPPORTED_CONTENT_TYPE,
            format!(
                "Request sent with unsupported 'Content-Type' header: '{content_type}'. Resend with supported 'Content-Type' header (application/json)."
            ),
        )));
    }
    let bytes = match to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            // Too large (the usual reason) or the client went away.
            tracing::debug!(error = %e, "could not read request body");
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        }
    };
    let log_target = format!("{target:?}");
    let state = st.clone();
    // Parsing and executing are CPU work: keep them off the async workers.
    let joined = tokio::task::spawn_blocking(move || {
        let parsed = crate::json::parse_request(&bytes).and_then(commands::split_command);
        match parsed {
            Ok((name, cmd)) => {
                let resp = commands::execute(&state.store, &state.limits, &target, &name, &cmd);
                (name, resp)
            }
            Err(e) => (String::new(), Response::from_error(e)),
        }
    })
    .await;
    let (log_name, resp) = joined.unwrap_or_else(|e| {
        tracing::error!(error = %e, "command task failed");
        (
            String::new(),
            Response::from_error(err(
                Code::INTERNAL_SERVER_ERROR,
                "An unexpected internal server error occurred while processing the request.",
            )),
        )
    });
    tracing::debug!(
        command = %log_name,
        target = %log_target,
        errors = resp.errors.len(),
        micros = started.elapsed().as_micros() as u64,
        "command"
    );
    json_response(&resp)
}
