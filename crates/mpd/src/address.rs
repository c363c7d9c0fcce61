//! Where MPD listens: `[password@]host[:port]` or a socket path, with `MPD_HOST` / `MPD_PORT`
//! as defaults, read the way `mpc` (libmpdclient) reads them. Pure: the environment is passed in.

use std::fmt;
use std::path::PathBuf;

use crate::error::MpdError;

/// MPD's port when none is given.
pub const DEFAULT_PORT: u16 = 6600;
const BAD_PORT: &str = "the port is not a number from 1 to 65535";

/// A port number (not 0).
fn port_of(p: &str) -> Option<u16> {
    p.parse().ok().filter(|&n| n > 0)
}

/// The transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Socket(PathBuf),
    Tcp { host: String, port: u16 },
}

/// An MPD server to talk to, with its password if it has one.
#[derive(Clone, PartialEq, Eq)]
pub struct Address {
    pub endpoint: Endpoint,
    pub password: Option<String>,
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Address")
            .field("endpoint", &self.endpoint)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.endpoint {
            Endpoint::Socket(p) => write!(f, "{}", p.display()),
            Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

impl Address {
    /// Parses `[password@]host[:port]`, `[password@]/path/to/socket` or `[password@][v6]:port`;
    /// `port` (from `MPD_PORT`) applies when the text names none.
    pub fn parse(spec: &str, port: Option<u16>) -> Result<Address, MpdError> {
        let bad = |why: &str| MpdError::Address {
            spec: spec.to_owned(),
            why: why.to_owned(),
        };
        let spec_t = spec.trim();
        if spec_t.is_empty() {
            return Err(bad("it is empty"));
        }
        if spec_t.starts_with('/') {
            return Ok(Address {
                endpoint: Endpoint::Socket(PathBuf::from(spec_t)),
                password: None,
            });
        }
        if spec_t.starts_with('@') {
            return Err(bad(
                "abstract sockets are not supported; give a socket path",
            ));
        }
        let (password, rest) = match spec_t.rsplit_once('@') {
            Some((p, r)) => (Some(p.to_owned()), r),
            None => (None, spec_t),
        };
        if rest.is_empty() {
            return Err(bad("no host after the password"));
        }
        if rest.starts_with('/') {
            return Ok(Address {
                endpoint: Endpoint::Socket(PathBuf::from(rest)),
                password,
            });
        }
        let parse_port = |p: &str| port_of(p).ok_or_else(|| bad(BAD_PORT));
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let (host, after) = v6
                .split_once(']')
                .ok_or_else(|| bad("no ']' after an IPv6 address"))?;
            match after.strip_prefix(':') {
                Some(p) => (host.to_owned(), Some(parse_port(p)?)),
                None if after.is_empty() => (host.to_owned(), port),
                None => return Err(bad("unexpected text after ']'")),
            }
        } else if rest.matches(':').count() == 1 {
            let (h, p) = rest.split_once(':').ok_or_else(|| bad("no port"))?;
            (h.to_owned(), Some(parse_port(p)?))
        } else {
            (rest.to_owned(), port)
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        if port == Some(0) {
            return Err(bad(BAD_PORT));
        }
        Ok(Address {
            endpoint: Endpoint::Tcp {
                host,
                port: port.unwrap_or(DEFAULT_PORT),
            },
            password,
        })
    }

    /// The address a user means: `given` (the `--mpd` value) when not empty, else `mpd_host`
    /// (`MPD_HOST`), else `localhost`; `mpd_port` (`MPD_PORT`) is the port when neither names
    /// one, as in `mpc`.
    pub fn from_env(
        given: Option<&str>,
        mpd_host: Option<&str>,
        mpd_port: Option<&str>,
    ) -> Result<Address, MpdError> {
        let port = mpd_port.map(str::trim).filter(|p| !p.is_empty());
        let port = port.map(|p| {
            port_of(p).ok_or_else(|| MpdError::Address {
                spec: format!("MPD_PORT={p}"),
                why: BAD_PORT.into(),
            })
        });
        let spec = [given, mpd_host]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|s| !s.is_empty())
            .unwrap_or("localhost");
        Address::parse(spec, port.transpose()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Endpoint {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn reads_every_form_mpc_reads() {
        let cases: &[(&str, Option<u16>, Endpoint, Option<&str>)] = &[
            ("localhost", None, tcp("localhost", 6600), None),
            ("localhost", Some(6700), tcp("localhost", 6700), None),
            ("127.0.0.1:6601", Some(6700), tcp("127.0.0.1", 6601), None),
            ("pw@host", None, tcp("host", 6600), Some("pw")),
            ("p@ss@host:1", None, tcp("host", 1), Some("p@ss")),
            (
                "/run/mpd/socket",
                None,
                Endpoint::Socket("/run/mpd/socket".into()),
                None,
            ),
            (
                "pw@/tmp/s",
                None,
                Endpoint::Socket("/tmp/s".into()),
                Some("pw"),
            ),
            ("[::1]:6602", None, tcp("::1", 6602), None),
            ("[::1]", Some(7), tcp("::1", 7), None),
            ("::1", None, tcp("::1", 6600), None),
        ];
        for (spec, port, endpoint, password) in cases {
            let a = Address::parse(spec, *port).unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(&a.endpoint, endpoint, "{spec}");
            assert_eq!(a.password.as_deref(), *password, "{spec}");
        }
    }

    #[test]
    fn refuses_what_names_no_server() {
        for spec in [
            "",
            "  ",
            "pw@",
            "host:port",
            "host:0",
            "host:70000",
            "[::1",
            "[::1]x",
            "@abstract",
            ":6600",
        ] {
            let e = Address::parse(spec, None).expect_err(spec).to_string();
            assert!(e.contains("MPD address"), "{spec}: {e}");
        }
    }

    #[test]
    fn the_flag_wins_over_the_environment() {
        let a = Address::from_env(Some("127.0.0.1:1"), Some("/s"), Some("2")).unwrap();
        assert_eq!(a.to_string(), "127.0.0.1:1");
        let a = Address::from_env(None, Some("pw@127.0.0.1"), Some("2")).unwrap();
        assert_eq!(
            (a.to_string(), a.password),
            ("127.0.0.1:2".into(), Some("pw".into()))
        );
        assert!(Address::from_env(None, None, Some("x")).is_err());
        let a = Address::from_env(None, Some("pw@/run/mpd/socket"), None).unwrap();
        assert_eq!(a.to_string(), "/run/mpd/socket");
        let a = Address::from_env(Some(""), None, Some("6700")).unwrap();
        assert_eq!(a.to_string(), "localhost:6700");
        let a = Address::parse("secret@[::1]:6601", None).unwrap();
        assert_eq!(a.to_string(), "[::1]:6601", "the password is never shown");
        assert_eq!(
            format!("{:?}", a_with_pw()),
            format!("{:?}", a_with_pw()).replace("secret", "…")
        );
    }

    fn a_with_pw() -> Address {
        Address::parse("secret@h", None).unwrap()
    }
}
