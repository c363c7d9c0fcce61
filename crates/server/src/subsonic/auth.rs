//! Who may use `/rest/`: one user, from `[subsonic] user` and `SONGREC_SUBSONIC_PASSWORD` (or an
//! API key, `SONGREC_SUBSONIC_API_KEY`), checked in the three ways the protocol has: `u` with a
//! token `t` = md5(password + salt `s`), `u` with the password `p` (plain or `enc:` and its hex),
//! or `apiKey` alone (the `apiKeyAuthentication` extension). A client address that fails too
//! often is refused for a while ([`Limiter`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use songrec_storage::Secret;

use super::error::Fail;
use super::params::Params;

/// The user the API answers to. `Debug` never shows the secrets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials {
    /// User name (`u`).
    pub user: String,
    /// Password (token and password authentication).
    pub password: Secret,
    /// API key (the `apiKeyAuthentication` extension).
    pub api_key: Secret,
}

impl Credentials {
    /// Whether any way in is configured.
    pub fn configured(&self) -> bool {
        (!self.user.is_empty() && !self.password.is_empty()) || !self.api_key.is_empty()
    }
}

/// Settings of `/rest/`. The default: no user; 10 failures lock an address out for a minute.
#[derive(Clone, Debug, PartialEq, Eq, smart_default::SmartDefault)]
pub struct SubsonicOptions {
    /// Who may sign in; nobody when empty (every request but `getOpenSubsonicExtensions` is
    /// answered with error 42).
    pub credentials: Credentials,
    /// Failed sign-ins from one address before it is refused for [`SubsonicOptions::lockout`].
    #[default = 10]
    pub max_failures: u32,
    /// How long an address that failed too often is refused.
    #[default(Duration::from_secs(60))]
    pub lockout: Duration,
}

/// Compares without stopping at the first difference.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The password of `p=`: plain, or `enc:` and the hex of its UTF-8 bytes.
fn decode_password(p: &str) -> Result<Vec<u8>, Fail> {
    match p.strip_prefix("enc:") {
        Some(h) => hex::decode(h).map_err(|_| {
            Fail::credentials("wrong username or password (enc: must be followed by hex digits)")
        }),
        None => Ok(p.as_bytes().to_vec()),
    }
}

/// Checks a request's credentials.
pub fn check(c: &Credentials, p: &Params) -> Result<(), Fail> {
    if !c.configured() {
        return Err(Fail::mechanism(
            "no Subsonic user is configured on this server: set [subsonic] user (or SONGREC_SUBSONIC_USER) \
             and SONGREC_SUBSONIC_PASSWORD, then restart songrec serve",
        ));
    }
    if let Some(key) = p.get("apiKey") {
        if p.get("u").is_some() {
            return Err(Fail::conflicting(
                "give either apiKey or u with a password or token, not both",
            ));
        }
        if c.api_key.is_empty() {
            return Err(Fail::mechanism(
                "API keys are not enabled on this server; sign in with a user name and password",
            ));
        }
        let right = same(key.as_bytes(), c.api_key.expose().as_bytes());
        return right.then_some(()).ok_or_else(Fail::api_key);
    }
    let user = p.required("u")?;
    let (password, token) = (p.get("p"), p.get("t"));
    if password.is_some() && token.is_some() {
        return Err(Fail::conflicting(
            "give either p (password) or t and s (token), not both",
        ));
    }
    if c.password.is_empty() {
        return Err(Fail::mechanism(
            "this server has no password configured; sign in with its API key",
        ));
    }
    let given_ok = match (password, token) {
        (Some(pw), None) => same(&decode_password(pw)?, c.password.expose().as_bytes()),
        (None, Some(t)) => {
            let salt = p.required("s")?;
            let mut h = Md5::new();
            h.update(c.password.expose().as_bytes());
            h.update(salt.as_bytes());
            let want = hex::encode(h.finalize());
            same(t.to_ascii_lowercase().as_bytes(), want.as_bytes())
        }
        _ => return Err(Fail::missing("p or t and s")),
    };
    // Both compared every time: which of the two was wrong is not told.
    let user_ok = same(user.as_bytes(), c.user.as_bytes());
    let wrong = || Fail::credentials("wrong username or password");
    (given_ok && user_ok).then_some(()).ok_or_else(wrong)
}

/// Failures of one address.
#[derive(Clone, Copy, Debug)]
struct Strikes {
    count: u32,
    last: Instant,
}

/// Most addresses remembered; beyond, those whose failures are older than the lockout go first,
/// then the oldest.
pub const MAX_TRACKED: usize = 10_000;

/// Counts failed sign-ins by address and refuses an address after `max` failures until
/// `lockout` has passed since its last one. Bounded: at most [`MAX_TRACKED`] addresses.
pub struct Limiter {
    max: u32,
    lockout: Duration,
    strikes: Mutex<HashMap<IpAddr, Strikes>>,
}

impl Limiter {
    /// A limiter with the options' thresholds.
    pub fn new(o: &SubsonicOptions) -> Self {
        Self {
            max: o.max_failures.max(1),
            lockout: o.lockout,
            strikes: Mutex::new(HashMap::new()),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Strikes>> {
        // The table holds counters only: one left by a panicking thread is still usable.
        self.strikes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Some(seconds to wait)` when `ip` is locked out.
    pub fn locked(&self, ip: IpAddr) -> Option<u64> {
        let t = self.table();
        let s = t.get(&ip)?;
        let since = s.last.elapsed();
        (s.count >= self.max && since < self.lockout)
            .then(|| (self.lockout - since).as_secs().max(1))
    }

    /// Records a failure of `ip`.
    pub fn fail(&self, ip: IpAddr) {
        let mut t = self.table();
        let now = Instant::now();
        if t.len() >= MAX_TRACKED && !t.contains_key(&ip) {
            let lockout = self.lockout;
            t.retain(|_, s| s.last.elapsed() < lockout);
            if t.len() >= MAX_TRACKED
                && let Some(oldest) = t.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k)
            {
                t.remove(&oldest);
            }
        }
        let s = t.entry(ip).or_insert(Strikes {
            count: 0,
            last: now,
        });
        if s.last.elapsed() >= self.lockout {
            s.count = 0;
        }
        s.count = s.count.saturating_add(1);
        s.last = now;
    }

    /// Forgets the failures of `ip` (it signed in).
    pub fn succeed(&self, ip: IpAddr) {
        self.table().remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials {
            user: "ann".into(),
            password: Secret::new("sesame"),
            api_key: Secret::new("key-123"),
        }
    }

    #[test]
    fn every_way_in_and_out() {
        let c = creds();
        let code = |q: &str| check(&c, &Params::parse(Some(q))).err().map(|f| f.code);
        assert_eq!(code("apiKey=key-123"), None);
        assert_eq!(code("u=ann&p=sesame"), None);
        assert_eq!(code("u=ann&p=enc:736573616d65"), None);
        // md5("sesame" + "c19b2d")
        let t = hex::encode(Md5::digest(b"sesamec19b2d"));
        assert_eq!(code(&format!("u=ann&s=c19b2d&t={t}")), None);
        assert_eq!(
            code(&format!("u=ann&s=c19b2d&t={}", t.to_uppercase())),
            None
        );
        assert_eq!(code("u=ann&p=nope"), Some(40));
        assert_eq!(code("p=sesame"), Some(10));
        assert_eq!(code("apiKey=key-124"), Some(44));
        assert_eq!(code("apiKey=key-123&u=ann"), Some(43));
        assert_eq!(code("u=ann&p=sesame&t=abc&s=x"), Some(43));
        assert_eq!(code("u=ann&p=enc:zz"), Some(40));
        assert_eq!(code("u=bob&p=sesame"), Some(40));
        assert_eq!(code("u=ann&t=abc"), Some(10));
        assert_eq!(code("u=ann"), Some(10));
        assert_eq!(code(""), Some(10));
        let none = Credentials::default();
        assert_eq!(
            check(&none, &Params::parse(Some("u=ann&p=x")))
                .unwrap_err()
                .code,
            42
        );
        let e = check(&c, &Params::parse(Some("u=ann&p=sesamf"))).unwrap_err();
        assert!(!e.message.contains("sesame"), "{e}");
        assert!(!format!("{c:?}").contains("sesame"));
        assert!(!format!("{c:?}").contains("key-123"));
    }

    #[test]
    fn lockout_and_bounds() {
        let o = SubsonicOptions {
            max_failures: 3,
            ..Default::default()
        };
        let l = Limiter::new(&o);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..2 {
            l.fail(ip);
        }
        assert_eq!(l.locked(ip), None);
        l.fail(ip);
        assert!(l.locked(ip).is_some_and(|s| s <= 60));
        l.succeed(ip);
        assert_eq!(l.locked(ip), None);
        for i in 0..(MAX_TRACKED as u32 + 50) {
            l.fail(IpAddr::from(i.to_be_bytes()));
        }
        assert!(l.table().len() <= MAX_TRACKED);
    }
}
