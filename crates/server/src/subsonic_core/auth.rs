//! Who may use `/rest/`: one user, from `[subsonic] user` and `SONGREC_SUBSONIC_PASSWORD` (or an
//! API key, `SONGREC_SUBSONIC_API_KEY`), checked in the three ways the protocol has: `u` with a
//! token `t` = md5(password + salt `s`), `u` with the password `p` (plain or `enc:` and its hex),
//! or `apiKey` alone (the `apiKeyAuthentication` extension). A user (or the API key) that fails
//! too often from one address is refused there for a while, and so is an address that fails
//! too often in all ([`Limiter`]).

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

/// Settings of `/rest/`. The default: no user; 10 failed sign-ins of one user (or of the API
/// key) from one address lock that user out there for a minute, 50 from one address lock the
/// address out.
#[derive(Clone, Debug, PartialEq, Eq, smart_default::SmartDefault)]
pub struct SubsonicOptions {
    /// Who may sign in; nobody when empty (every request but `getOpenSubsonicExtensions` is
    /// answered with error 42).
    pub credentials: Credentials,
    /// Failed sign-ins of one user name (or of the API key) from one address before that
    /// claim is refused there for [`SubsonicOptions::lockout`].
    #[default = 10]
    pub max_failures: u32,
    /// Failed sign-ins from one address, whatever the user names, before every sign-in from it
    /// is refused (at least `max_failures`).
    #[default = 50]
    pub max_address_failures: u32,
    /// How long a claim or an address that failed too often is refused.
    #[default(Duration::from_secs(60))]
    pub lockout: Duration,
    /// Writes (`scrobble`, `star`, `unstar`, playlist changes) one client (address and `c`) may
    /// make at once ([`super::writes`]).
    #[default = 100]
    pub write_burst: u32,
    /// Writes one client regains per second (0: none; for tests).
    #[default = 10]
    pub writes_per_second: u32,
}

/// Compares without stopping at the first difference.
pub fn same(a: &[u8], b: &[u8]) -> bool {
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

/// Who a sign-in claims to be: a user name (`u`, or HTTP Basic's user) or the API key. Failures
/// are counted per claim and address, so one client's wrong password does not lock out another
/// user (or the API key) at the same address.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Who {
    /// A user name, cut to [`MAX_NAME_CHARS`] characters (only for counting and logging).
    User(String),
    /// The API key (`apiKey`, or `Authorization: Bearer`).
    ApiKey,
}

/// Longest user name kept in the table and the log (a longer one is cut: the table's memory
/// stays bounded).
pub const MAX_NAME_CHARS: usize = 64;

impl Who {
    /// The claim of a Subsonic request: `apiKey` when given, else `u`; `None` without either
    /// (that request fails with error 10, not counted as a failed sign-in).
    pub fn of(p: &Params) -> Option<Self> {
        if p.get("apiKey").is_some() {
            return Some(Self::ApiKey);
        }
        p.get("u").map(Self::user)
    }

    /// A user name's claim.
    pub fn user(name: &str) -> Self {
        Self::User(name.chars().take(MAX_NAME_CHARS).collect())
    }
}

impl std::fmt::Display for Who {
    /// `user "ann"` (quoted and escaped: a name is the client's text and may hold anything) or
    /// `the API key`; never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(u) => write!(f, "user {u:?}"),
            Self::ApiKey => f.write_str("the API key"),
        }
    }
}

/// Failures of one claim at one address, or of one address in all.
#[derive(Clone, Copy, Debug)]
struct Strikes {
    count: u32,
    last: Instant,
}

/// Most entries remembered in each table (claims at addresses; addresses); beyond, those whose
/// failures are older than the lockout go first, then the oldest.
pub const MAX_TRACKED: usize = 10_000;

/// Why sign-ins are refused for a while.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// This claim failed too often at this address.
    Claim,
    /// The address failed too often in all (any claim): against guessing user names.
    Address,
}

/// A refusal: which lockout, and the seconds left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    pub seconds: u64,
}

impl Locked {
    /// The words a client sees.
    pub fn message(&self, who: &Who) -> String {
        match self.scope {
            Scope::Claim => format!(
                "too many failed sign-ins for {who} from this address; try again in {} s",
                self.seconds
            ),
            Scope::Address => format!(
                "too many failed sign-ins from this address; try again in {} s",
                self.seconds
            ),
        }
    }
}

#[derive(Default)]
struct Tables {
    claims: HashMap<(Who, IpAddr), Strikes>,
    addresses: HashMap<IpAddr, Strikes>,
}

/// Makes room for one more key: drops entries older than `lockout`, then the oldest.
fn make_room<K: Clone + Eq + std::hash::Hash>(
    t: &mut HashMap<K, Strikes>,
    key: &K,
    lockout: Duration,
) {
    if t.len() < MAX_TRACKED || t.contains_key(key) {
        return;
    }
    t.retain(|_, s| s.last.elapsed() < lockout);
    if t.len() >= MAX_TRACKED
        && let Some(oldest) = t.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| k.clone())
    {
        t.remove(&oldest);
    }
}

/// Adds a failure; the count starts again once `lockout` has passed since the last one.
fn strike<K: Clone + Eq + std::hash::Hash>(
    t: &mut HashMap<K, Strikes>,
    key: K,
    lockout: Duration,
) -> u32 {
    make_room(t, &key, lockout);
    let now = Instant::now();
    let s = t.entry(key).or_insert(Strikes {
        count: 0,
        last: now,
    });
    if s.last.elapsed() >= lockout {
        s.count = 0;
    }
    s.count = s.count.saturating_add(1);
    s.last = now;
    s.count
}

/// Counts failed sign-ins per claim ([`Who`]) and address, and per address in all. A claim
/// that failed `per_claim` times at an address is refused there (even with the right secret)
/// until `lockout` has passed since its last failure; an address that failed `per_address`
/// times, whatever the claims, is refused for every claim (a guesser trying user names). Other
/// claims at the same address (another user, the API key) are not affected below the address's
/// ceiling. Behind a reverse proxy every client has the proxy's address: the per-address ceiling
/// is the only limit they share. Bounded: at most [`MAX_TRACKED`] entries per table.
pub struct Limiter {
    per_claim: u32,
    per_address: u32,
    lockout: Duration,
    tables: Mutex<Tables>,
}

impl Limiter {
    /// A limiter with the options' thresholds.
    pub fn new(o: &SubsonicOptions) -> Self {
        let per_claim = o.max_failures.max(1);
        Self {
            per_claim,
            per_address: o.max_address_failures.max(per_claim),
            lockout: o.lockout,
            tables: Mutex::new(Tables::default()),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        // The tables hold counters only: one left by a panicking thread is still usable.
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn left(&self, s: Option<&Strikes>, max: u32) -> Option<u64> {
        let s = s?;
        let since = s.last.elapsed();
        (s.count >= max && since < self.lockout).then(|| (self.lockout - since).as_secs().max(1))
    }

    /// `Some` when `who` at `ip` is refused for now.
    pub fn locked(&self, who: &Who, ip: IpAddr) -> Option<Locked> {
        let t = self.tables();
        let key = (who.clone(), ip);
        if let Some(seconds) = self.left(t.addresses.get(&ip), self.per_address) {
            return Some(Locked {
                scope: Scope::Address,
                seconds,
            });
        }
        let seconds = self.left(t.claims.get(&key), self.per_claim)?;
        Some(Locked {
            scope: Scope::Claim,
            seconds,
        })
    }

    /// Records a failure of `who` at `ip`; `Some` when this failure starts a lockout.
    pub fn fail(&self, who: &Who, ip: IpAddr) -> Option<Scope> {
        let lockout = self.lockout;
        let mut t = self.tables();
        let claim = strike(&mut t.claims, (who.clone(), ip), lockout);
        let address = strike(&mut t.addresses, ip, lockout);
        if address == self.per_address {
            Some(Scope::Address)
        } else if claim == self.per_claim {
            Some(Scope::Claim)
        } else {
            None
        }
    }

    /// Forgets the failures of `who` at `ip` (it signed in). The address's count stays: other
    /// claims' failures there still count towards its ceiling.
    pub fn succeed(&self, who: &Who, ip: IpAddr) {
        self.tables().claims.remove(&(who.clone(), ip));
    }

    /// The failures allowed per claim and address, and per address.
    pub fn limits(&self) -> (u32, u32) {
        (self.per_claim, self.per_address)
    }

    /// How long a lockout lasts.
    pub fn lockout(&self) -> Duration {
        self.lockout
    }
}

/// One sign-in, for the limiter and the log: which door (`"Subsonic"`, `"API"`), the claim, the
/// peer's address and the client's name (Subsonic's `c`; the `User-Agent` on the API).
pub struct Attempt<'a> {
    pub door: &'static str,
    pub who: Option<Who>,
    pub ip: Option<IpAddr>,
    pub client: Option<&'a str>,
}

/// A refused sign-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denied {
    /// Locked out for this many seconds (the secret was not even checked).
    Locked(Fail, u64),
    /// Wrong, missing or unsupported credentials.
    Wrong(Fail),
}

impl Denied {
    /// The Subsonic error to answer.
    pub fn into_fail(self) -> Fail {
        match self {
            Self::Locked(f, _) | Self::Wrong(f) => f,
        }
    }
}

/// The client's name as the log shows it: quoted, escaped, at most 64 characters.
fn client_name(c: Option<&str>) -> String {
    match c {
        Some(c) => format!("{:?}", c.chars().take(MAX_NAME_CHARS).collect::<String>()),
        None => "unnamed".to_owned(),
    }
}

impl Limiter {
    /// Refuses `a` while its claim or address is locked out; otherwise runs `check`, counts a
    /// failure (error 40 or 44: a wrong secret, not a missing parameter) and logs it as one line
    /// (door, claim, address, client; never a secret), and one more line when the failure starts
    /// a lockout. A success forgets the claim's failures at that address.
    pub fn attempt(
        &self,
        a: &Attempt<'_>,
        check: impl FnOnce() -> Result<(), Fail>,
    ) -> Result<(), Denied> {
        let counted = a.who.as_ref().zip(a.ip);
        if let Some((who, ip)) = counted
            && let Some(l) = self.locked(who, ip)
        {
            return Err(Denied::Locked(Fail::credentials(l.message(who)), l.seconds));
        }
        let result = check();
        let Some((who, ip)) = counted else {
            return result.map_err(Denied::Wrong);
        };
        match &result {
            Ok(()) => self.succeed(who, ip),
            Err(f) if matches!(f.code, 40 | 44) => {
                let client = client_name(a.client);
                let door = a.door;
                tracing::warn!(
                    "{door}: failed sign-in of {who} from {ip} (client {client}): {}",
                    f.message
                );
                let secs = self.lockout.as_secs();
                match self.fail(who, ip) {
                    Some(Scope::Claim) => tracing::warn!(
                        "{door}: {who} locked out at {ip} for {secs} s after {} failed sign-ins (client {client}); other users and the API key still sign in from there",
                        self.per_claim
                    ),
                    Some(Scope::Address) => tracing::warn!(
                        "{door}: every sign-in from {ip} refused for {secs} s after {} failed sign-ins from that address (last: {who}, client {client})",
                        self.per_address
                    ),
                    None => {}
                }
            }
            Err(_) => {}
        }
        result.map_err(Denied::Wrong)
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
    fn lockout_per_claim_and_address_and_bounds() {
        let o = SubsonicOptions {
            max_failures: 3,
            max_address_failures: 7,
            ..Default::default()
        };
        let l = Limiter::new(&o);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        let ann = Who::user("ann");
        for _ in 0..2 {
            assert_eq!(l.fail(&ann, ip), None);
        }
        assert_eq!(l.locked(&ann, ip), None);
        assert_eq!(l.fail(&ann, ip), Some(Scope::Claim));
        let locked = l.locked(&ann, ip).expect("locked");
        assert!(locked.scope == Scope::Claim && locked.seconds <= 60);
        // Another claim at that address, and the same user elsewhere, are not affected.
        assert_eq!(l.locked(&Who::ApiKey, ip), None);
        assert_eq!(l.locked(&Who::user("bob"), ip), None);
        assert_eq!(l.locked(&ann, other), None);
        l.succeed(&ann, ip);
        assert_eq!(l.locked(&ann, ip), None);
        // Names guessed at one address: the address's ceiling locks every claim there.
        for i in 0..3 {
            assert_eq!(l.fail(&Who::user(&format!("x{i}")), ip), None);
        }
        assert_eq!(l.fail(&Who::user("x9"), ip), Some(Scope::Address));
        assert_eq!(
            l.locked(&Who::ApiKey, ip).map(|l| l.scope),
            Some(Scope::Address)
        );
        assert_eq!(l.locked(&ann, other), None);
        // Long names are cut: the table holds bounded keys.
        assert_eq!(Who::user(&"n".repeat(1000)), Who::user(&"n".repeat(64)));
        for i in 0..(MAX_TRACKED as u32 + 50) {
            l.fail(&ann, IpAddr::from(i.to_be_bytes()));
        }
        let t = l.tables();
        assert!(t.claims.len() <= MAX_TRACKED && t.addresses.len() <= MAX_TRACKED);
    }
}
