//! Who may talk to the server: the rules, applied to every request by [`crate::guard`].
//!
//! **Sign-in** ([`Access`]): on loopback the web page and `/api/v1` are open to whoever can reach
//! loopback. Listening beyond loopback (`--public`), they require the Subsonic user's password
//! (HTTP Basic) or the API key (`Authorization: Bearer`) when either is set; with neither set the
//! server starts only when told that anyone reachable may read the library (`--public-read`).
//! `/healthz` and `/rest/` (which signs in its own way) need none here.
//!
//! **Browsers**: two browser attacks matter even on loopback:
//!
//! - **DNS rebinding**: a web page on `attacker.example` makes its name resolve to
//!   127.0.0.1, and the browser then lets the page read this server's answers as its own.
//!   The browser still sends `Host: attacker.example`, so every request whose `Host` does not
//!   name this server is refused with `421 unknown_host`.
//! - **Cross-site requests**: any page may send a form POST (a multipart upload needs no CORS
//!   preflight) or embed API URLs. Requests that the browser marks as coming from another site
//!   (`Sec-Fetch-Site: cross-site` or `same-site`, except following a link to a page), and
//!   writes whose `Origin` is not the server's own, are refused with `403 cross_site_request`.
//!
//! Clients other than browsers (curl, scripts) send neither `Origin` nor `Sec-Fetch-Site`
//! and a `Host` naming the address they connected to, so they are not affected.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, Method, StatusCode};

use crate::error::ApiError;
use crate::options::{ServerError, ServerOptions};
use crate::subsonic_core::auth::Credentials;

/// Who may use the web page and `/api/v1` (not `/rest/`: Subsonic signs in its own way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Listening on loopback only: open to whoever can reach loopback (this machine, an SSH
    /// tunnel, a reverse proxy on this machine).
    Local,
    /// Listening beyond loopback with the Subsonic password or API key set: every route but
    /// `/healthz` and `/rest/` requires one of them.
    SignedIn,
    /// Listening beyond loopback, open to anyone who can reach it (`--public-read`, the stated
    /// choice).
    PublicRead,
}

impl Access {
    /// The access the options give, or why the server refuses to start: beyond loopback
    /// without `--public`, or with `--public` but no credentials to require and no
    /// `--public-read`.
    pub fn of(o: &ServerOptions) -> Result<Self, ServerError> {
        if o.bind.ip().is_loopback() {
            return Ok(Self::Local);
        }
        if !(o.public || o.public_read) {
            return Err(ServerError::NotLoopback(o.bind));
        }
        if o.public_read {
            Ok(Self::PublicRead)
        } else if o.subsonic.credentials.configured() {
            Ok(Self::SignedIn)
        } else {
            Err(ServerError::OpenWithoutCredentials(o.bind))
        }
    }

    /// Whether a request for `path` needs a sign-in here.
    pub fn guards(self, path: &str) -> bool {
        self == Self::SignedIn && path != "/healthz" && !path.starts_with("/rest/")
    }

    /// What is open to whom, in a line for the start-up message.
    pub fn describe(self, c: &Credentials) -> String {
        let rest = if c.configured() {
            "Subsonic apps (/rest/) sign in as its user"
        } else {
            "no Subsonic app (/rest/) can sign in: no user is configured"
        };
        match self {
            Self::Local => format!(
                "open to this machine only (loopback): the web page, /api/v1 (songs, audio, uploads) and /metrics need no password; {rest}"
            ),
            Self::SignedIn => {
                let how = match (c.password.is_empty(), c.api_key.is_empty()) {
                    (false, false) => {
                        "the Subsonic user and password (HTTP Basic) or the API key (Authorization: Bearer)"
                    }
                    (false, true) => "the Subsonic user and password (HTTP Basic)",
                    _ => "the API key (Authorization: Bearer)",
                };
                format!(
                    "reachable from other machines: the web page, /api/v1 (songs, audio, uploads) and /metrics require {how}; /healthz is open; {rest}"
                )
            }
            Self::PublicRead => format!(
                "reachable from other machines and OPEN TO ANYONE WHO CAN REACH IT (--public-read): the web page, /api/v1 (every song's metadata and audio, uploads) and /metrics, with no password; /healthz is open; {rest}"
            ),
        }
    }
}

/// A host name (lowercase, brackets kept for IPv6) and an optional port.
#[derive(Clone, Debug, PartialEq, Eq)]
struct HostPort {
    name: String,
    port: Option<u16>,
}

/// Splits `name[:port]` / `[v6]:port`; `None` when it is not a plausible host.
fn split_host(s: &str) -> Option<HostPort> {
    let s = s.trim();
    let (name, port) = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        inner.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{}]", inner.to_ascii_lowercase()), port)
    } else {
        let (name, port) = s.split_once(':').map_or((s, None), |(n, p)| (n, Some(p)));
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'.' || c == b'_');
        if !ok {
            return None;
        }
        (name, port)
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    Some(HostPort { name, port })
}

fn ip_of(name: &str) -> Option<IpAddr> {
    match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(v6) => v6.parse().ok(),
        None => name.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// The `Host` values the server answers to.
///
/// - `localhost`, loopback addresses (`127.0.0.1`, `[::1]`) and the bound address, on the
///   bound port;
/// - when serving publicly (`--public`), any IP address on the bound port (an address, unlike
///   a name, cannot be rebound);
/// - names given with `--allow-host NAME` (any port) or `NAME:PORT` (that port only), e.g.
///   the name of the machine or of a reverse proxy, or `localhost:9000` behind an SSH tunnel.
#[derive(Clone, Debug)]
pub struct HostPolicy {
    bound: SocketAddr,
    public: bool,
    extra: Vec<HostPort>,
}

impl HostPolicy {
    /// The policy for a server bound at `bound` (its real port), with extra names.
    pub fn new(bound: SocketAddr, public: bool, extra: &[String]) -> Result<Self, String> {
        let bad =
            |h| format!("{h:?} is not a host name; give NAME or NAME:PORT, e.g. music.home:8080");
        let extra = extra
            .iter()
            .map(|h| split_host(h).ok_or_else(|| bad(h)))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            bound,
            public,
            extra,
        })
    }

    /// Whether a `Host` header value names this server.
    pub fn allows(&self, host: &str) -> bool {
        let Some(h) = split_host(host) else {
            return false;
        };
        // Browsers leave out the default port.
        let port = h.port.unwrap_or(80);
        let named = |a: &HostPort| a.name == h.name && a.port.is_none_or(|p| p == port);
        self.extra.iter().any(named)
            || port == self.bound.port()
                && (h.name == "localhost"
                    || ip_of(&h.name)
                        .is_some_and(|ip| ip.is_loopback() || ip == self.bound.ip() || self.public))
    }

    /// Checks a request's `Host`, `Origin` and `Sec-Fetch-*` headers.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), ApiError> {
        let text = |name: &'static str| header_text(headers, name);
        let host = text("host")?;
        if let Some(host) = host
            && !self.allows(host)
        {
            let shown: String = host.chars().take(100).collect();
            return Err(ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                "unknown_host",
                format!(
                    "this server does not answer to the host {shown:?}; use http://{}/ (or localhost), or start it with --allow-host NAME to accept another name",
                    self.bound
                ),
            ));
        }
        let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
        let site = text("sec-fetch-site")?;
        let mode = text("sec-fetch-mode")?;
        let foreign_site = matches!(site, Some(s) if s.eq_ignore_ascii_case("cross-site") || s.eq_ignore_ascii_case("same-site"));
        // Following a link from another site to a page is fine; anything else from another
        // site (scripts, forms, embedded API URLs) is not.
        if foreign_site && !(safe && mode.is_some_and(|m| m.eq_ignore_ascii_case("navigate"))) {
            return Err(cross_site("the request comes from another web site"));
        }
        if !safe && let Some(origin) = text("origin")? {
            let own = host.is_some_and(|h| {
                ["http://", "https://"].iter().any(|scheme| {
                    origin
                        .strip_prefix(scheme)
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(h.trim()))
                })
            });
            if !own {
                let shown: String = origin.chars().take(100).collect();
                return Err(cross_site(&format!(
                    "a {method} from the page {shown:?}, which is not this server's own page"
                )));
            }
        }
        Ok(())
    }
}

/// A header's value as text (`None` when absent); a 400 when it is not visible ASCII.
fn header_text<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, ApiError> {
    let unreadable = || ApiError::bad_request(format!("the {name} header is not readable text"));
    let text = headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| unreadable()));
    text.transpose()
}

fn cross_site(why: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "cross_site_request",
        format!(
            "refused: {why}; the API answers its own web page and clients that are not browsers"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(bind: &str, public: bool, extra: &[&str]) -> HostPolicy {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        HostPolicy::new(bind.parse().expect("address"), public, &extra).expect("policy")
    }

    #[test]
    fn hosts() {
        let p = policy("127.0.0.1:8080", false, &[]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "localhost.:8080",
            "[::1]:8080",
            "127.0.0.2:8080",
        ] {
            assert!(p.allows(ok), "{ok}");
        }
        for bad in [
            "attacker.example:8080",
            "localhost.attacker.example:8080",
            "127.0.0.1.nip.io:8080",
            "192.168.1.2:8080",
            "localhost:8081",
            "localhost",
            "127.0.0.1",
            "",
            "localhost:8080:8080",
            "[::1",
            "[::1]x",
            "local host:8080",
            "localhost:",
            "localhost:99999",
        ] {
            assert!(!p.allows(bad), "{bad}");
        }
        let p = policy("127.0.0.1:80", false, &[]);
        assert!(p.allows("localhost"));
        let p = policy("0.0.0.0:8080", true, &["music.home", "proxy.example:443"]);
        assert!(p.allows("192.168.1.2:8080"));
        assert!(p.allows("[fe80::1]:8080"));
        assert!(!p.allows("192.168.1.2:8081"));
        assert!(p.allows("music.home"));
        assert!(p.allows("music.home:1234"));
        assert!(p.allows("proxy.example:443"));
        assert!(!p.allows("proxy.example"));
        assert!(!p.allows("evil.example:8080"));
        assert!(!p.allows("music.home.attacker.example:8080"));
        let p = policy("192.168.1.5:8080", true, &[]);
        assert!(p.allows("192.168.1.5:8080"));
        assert!(
            HostPolicy::new(
                "127.0.0.1:1".parse().expect("address"),
                false,
                &["bad name".into()]
            )
            .is_err()
        );
    }

    #[test]
    fn origins_and_fetch_metadata() {
        let p = policy("127.0.0.1:8080", false, &[]);
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(*k, v.parse().expect("header value"));
            }
            m
        };
        let host = ("host", "127.0.0.1:8080");
        let ok = [
            (Method::GET, h(&[host])),
            (Method::POST, h(&[host])),
            (
                Method::POST,
                h(&[host, ("origin", "http://127.0.0.1:8080")]),
            ),
            (
                Method::POST,
                h(&[
                    host,
                    ("origin", "http://127.0.0.1:8080"),
                    ("sec-fetch-site", "same-origin"),
                ]),
            ),
            (
                Method::GET,
                h(&[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("sec-fetch-mode", "navigate"),
                ]),
            ),
            (
                Method::GET,
                h(&[host, ("origin", "https://elsewhere.example")]),
            ),
        ];
        for (m, headers) in ok {
            assert!(p.check(&m, &headers).is_ok(), "{m} {headers:?}");
        }
        let refused = [
            (
                Method::POST,
                h(&[host, ("origin", "http://attacker.example")]),
            ),
            (Method::POST, h(&[host, ("origin", "null")])),
            (
                Method::DELETE,
                h(&[host, ("origin", "http://127.0.0.1:9999")]),
            ),
            (Method::POST, h(&[host, ("sec-fetch-site", "cross-site")])),
            (Method::POST, h(&[host, ("sec-fetch-site", "same-site")])),
            (
                Method::GET,
                h(&[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("sec-fetch-mode", "no-cors"),
                ]),
            ),
            (
                Method::POST,
                h(&[
                    host,
                    ("sec-fetch-site", "cross-site"),
                    ("sec-fetch-mode", "navigate"),
                ]),
            ),
        ];
        for (m, headers) in refused {
            let e = p.check(&m, &headers).expect_err("refused");
            assert_eq!(e.status(), StatusCode::FORBIDDEN, "{m} {headers:?}");
            assert_eq!(e.code(), "cross_site_request");
        }
        let e = p
            .check(&Method::GET, &h(&[("host", "attacker.example:8080")]))
            .expect_err("refused");
        assert_eq!(
            (e.status(), e.code()),
            (StatusCode::MISDIRECTED_REQUEST, "unknown_host")
        );
    }
}
