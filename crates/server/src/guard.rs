//! Who may talk to the server, asked of every request: [`guard`] applies the state's
//! [`HostPolicy`], then signs the request in where its [`Access`] requires it (the rules, and
//! why: [`crate::policy`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

pub use crate::policy::{Access, HostPolicy};

use crate::error::ApiError;
use crate::state::AppState;
use crate::subsonic_core::auth::{self, Attempt, Credentials, Denied, Who};
use crate::subsonic_core::error::Fail;

/// The claim and the check of an `Authorization` header (`None` when it has none songrec reads).
fn claim(c: &Credentials, headers: &HeaderMap) -> Option<(Who, Result<(), Fail>)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    let wrong = || Fail::credentials("wrong username or password");
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        let ok = !c.password.is_empty()
            && auth::same(password.as_bytes(), c.password.expose().as_bytes())
                & auth::same(user.as_bytes(), c.user.as_bytes());
        Some((Who::user(user), ok.then_some(()).ok_or_else(wrong)))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        let ok =
            !c.api_key.is_empty() && auth::same(rest.as_bytes(), c.api_key.expose().as_bytes());
        Some((Who::ApiKey, ok.then_some(()).ok_or_else(Fail::api_key)))
    } else {
        None
    }
}

/// A `401` asking for a sign-in (browsers show their password prompt).
fn unauthorised(message: &str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="songrec", charset="UTF-8""#),
    );
    r
}

/// Signs a request in (for [`Access::SignedIn`]): `None` when signed in, else the refusal: `401` without or with wrong credentials,
/// `429` with `Retry-After` while its user (or the key) or its address is locked out (the
/// Subsonic API's limiter: one count for both doors).
fn sign_in(st: &AppState, req: &Request) -> Option<Response> {
    let c = &st.subsonic.options.credentials;
    let ask = "sign in with the Subsonic user and password (HTTP Basic) or the API key (Authorization: Bearer KEY)";
    let Some((who, result)) = claim(c, req.headers()) else {
        return Some(unauthorised(&format!(
            "this server is reachable from other machines and needs a sign-in: {ask}"
        )));
    };
    let attempt = Attempt {
        door: "API",
        who: Some(who),
        ip: req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip()),
        client: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
    };
    match st.subsonic.limiter.attempt(&attempt, || result) {
        Ok(()) => None,
        Err(Denied::Locked(f, seconds)) => {
            let mut r = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_sign_ins",
                f.message,
            )
            .into_response();
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            Some(r)
        }
        Err(Denied::Wrong(f)) => Some(unauthorised(&format!("{}; {ask}", f.message))),
    }
}

/// Middleware applying the state's [`HostPolicy`], then its [`Access`], to every request.
pub async fn guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(e) = st.hosts.check(req.method(), req.headers()) {
        tracing::debug!(
            "refused {} {}: {}",
            req.method(),
            req.uri().path(),
            e.message()
        );
        return e.into_response();
    }
    if st.access.guards(req.uri().path())
        && let Some(refused) = sign_in(&st, &req)
    {
        return refused;
    }
    next.run(req).await
}
