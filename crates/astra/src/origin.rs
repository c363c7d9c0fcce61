//! Where credentials may go: the rules both remote clients (the Data API client and the S3
//! store) apply before a request carries the token or a signature.
//!
//! - **Plain `http://` only to this machine** ([`is_loopback`]) unless the configuration allows
//!   it (`[astra] allow_http`, `[s3] allow_http`): elsewhere the token would cross the network
//!   in clear text.
//! - **No redirects to another origin**: a client following one would carry the credential
//!   headers to whatever host the answer names. Same-origin redirects are followed (at most
//!   [`MAX_REDIRECTS`]); any other is the answer, reported as an error naming the target.

use std::net::IpAddr;

use url::{Position, Url};

/// Same-origin redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;

/// True when `url`'s host is this machine: a loopback address or the name `localhost` itself
/// (not `*.localhost` nor `localhost.`, which a resolver may send to another machine).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(a)) => IpAddr::V4(a).is_loopback(),
        Some(url::Host::Ipv6(a)) => IpAddr::V6(a).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Why `url` may not carry credentials, or `None` when it may: `https://` anywhere, `http://`
/// to this machine, or `http://` anywhere when `allow_http` is set. `setting` names the switch
/// for the message (e.g. `[astra] allow_http = true`).
pub fn plain_http_refusal(url: &Url, allow_http: bool, setting: &str) -> Option<String> {
    (url.scheme() == "http" && !allow_http && !is_loopback(url)).then(|| {
        format!(
            "{} is plain http:// to another machine: the credentials would cross the network \
             unencrypted. Use https://, or set {setting} if this network is yours",
            display_origin(url)
        )
    })
}

/// `scheme://host[:port]` of a URL (no path, no query: those may carry signatures).
pub fn display_origin(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[Position::BeforeHost..Position::AfterPort]
    )
}

/// `host[:port]` of an endpoint (the port only when it is not the scheme's default); `?` when
/// it is not a URL with a host.
pub fn host_of(endpoint: &str) -> String {
    match Url::parse(endpoint.trim()) {
        Ok(u) if u.has_host() => u[Position::BeforeHost..Position::AfterPort].to_owned(),
        _ => "?".into(),
    }
}

/// True when `a` and `b` share scheme, host and port.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The redirect policy of every client that carries songrec's credentials: same-origin hops
/// only, at most [`MAX_REDIRECTS`]; a cross-origin one is not followed (the 3xx is the answer).
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let crosses = attempt
            .previous()
            .first()
            .is_some_and(|first| !same_origin(first, attempt.url()));
        if crosses {
            attempt.stop()
        } else if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error("too many redirects")
        } else {
            attempt.follow()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_http_is_refused_off_this_machine_unless_allowed() {
        assert!(plain_http_refusal(&u("https://db.example.com"), false, "x").is_none());
        assert!(plain_http_refusal(&u("http://127.0.0.1:8181"), false, "x").is_none());
        assert!(plain_http_refusal(&u("http://127.9.9.9"), false, "x").is_none());
        assert!(plain_http_refusal(&u("http://[::1]:1"), false, "x").is_none());
        assert!(plain_http_refusal(&u("http://LOCALHOST:1"), false, "x").is_none());
        let msg = plain_http_refusal(
            &u("http://10.0.0.5:8181/api?x=1"),
            false,
            "[astra] allow_http = true",
        )
        .expect("refused");
        assert!(msg.contains("http://10.0.0.5:8181"), "{msg}");
        assert!(!msg.contains("x=1"), "{msg}");
        assert!(msg.contains("[astra] allow_http = true"), "{msg}");
        assert!(plain_http_refusal(&u("http://10.0.0.5:8181"), true, "x").is_none());
        assert!(plain_http_refusal(&u("http://localhost.evil.com"), false, "x").is_some());
    }

    /// Only loopback addresses and the name `localhost` itself are this machine: a name under
    /// `.localhost` goes to the resolver like any other, which may answer with another host,
    /// so the token would cross the network in clear text.
    #[test]
    fn names_under_localhost_are_not_this_machine() {
        for host in [
            "http://db.localhost:8181",
            "http://x.y.LOCALHOST",
            "http://localhost.:8181",
            "http://localhost.localdomain",
        ] {
            assert!(!is_loopback(&u(host)), "{host}");
            let why = plain_http_refusal(&u(host), false, "[astra] allow_http = true")
                .unwrap_or_else(|| panic!("{host} is refused"));
            assert!(why.contains("[astra] allow_http = true"), "{why}");
        }
        for host in [
            "http://localhost:1",
            "http://LocalHost",
            "http://127.0.0.2",
            "http://[::1]",
        ] {
            assert!(is_loopback(&u(host)), "{host}");
        }
    }

    #[test]
    fn hosts_keep_a_port_that_is_not_the_default() {
        assert_eq!(
            host_of(" https://db.example.com:8443/api "),
            "db.example.com:8443"
        );
        assert_eq!(host_of("https://db.example.com:443"), "db.example.com");
        assert_eq!(host_of("http://user:pw@[::1]:80/x"), "[::1]");
        assert_eq!(host_of("not a url"), "?");
        assert_eq!(
            display_origin(&u("http://u@h.com:81/p?q")),
            "http://h.com:81"
        );
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            &u("https://a.com/x"),
            &u("https://a.com:443/y")
        ));
        assert!(!same_origin(&u("https://a.com"), &u("http://a.com")));
        assert!(!same_origin(
            &u("http://127.0.0.1:1"),
            &u("http://127.0.0.1:2")
        ));
        assert!(!same_origin(&u("http://a.com"), &u("http://b.a.com")));
    }
}
