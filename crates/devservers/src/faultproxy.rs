//! A fault-injecting HTTP/1.1 proxy for tests: put it in front of the Data API server or the
//! S3 server and it fails a configurable, seeded share of requests, or specific requests by
//! rule, or holds every request after the first N (so a test can kill a client at an exact
//! point).
//!
//! Faults are applied either **before** forwarding (the upstream never sees the request) or
//! **after** forwarding (the upstream applied the request, its answer is replaced by the fault:
//! the "lost acknowledgement" case a client must survive by retrying idempotently).
//!
//! Each forwarded request uses a fresh upstream connection (`Connection: close`), so a request
//! is forwarded whole and its response relayed whole. Request bodies may be `Content-Length`
//! or `chunked`. Only plain HTTP on loopback; no TLS.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

use crate::error::DevServerError;

/// How a request fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// `429 Too Many Requests` with `Retry-After: <secs>`.
    TooManyRequests {
        /// Value of the `Retry-After` header, in seconds.
        retry_after_secs: u32,
    },
    /// `503 Service Unavailable`.
    ServiceUnavailable,
    /// No answer: the connection is held open (until the client gives up or the plan's
    /// `hold` ends, then closed). Exercises the client's request timeout.
    Timeout,
    /// The connection is reset (TCP RST) without an answer.
    Reset,
}

/// When a fault strikes relative to forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum When {
    /// The upstream never sees the request.
    Before,
    /// The upstream processes the request; its answer is lost and replaced by the fault.
    After,
}

/// One fault: what and when.
///
/// ```
/// use songrec_devservers::{Fault, FaultKind, When};
/// let f = Fault::new(FaultKind::Reset, When::After);
/// assert_eq!(f.to_string(), "reset after forwarding");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// Before or after forwarding.
    pub when: When,
}

impl Fault {
    /// A fault.
    pub fn new(kind: FaultKind, when: When) -> Self {
        Self { kind, when }
    }

    /// Every kind, before and after forwarding (429 with `Retry-After: 0`).
    pub fn all() -> Vec<Fault> {
        let kinds = [
            FaultKind::TooManyRequests {
                retry_after_secs: 0,
            },
            FaultKind::ServiceUnavailable,
            FaultKind::Timeout,
            FaultKind::Reset,
        ];
        [When::Before, When::After]
            .into_iter()
            .flat_map(|w| kinds.into_iter().map(move |k| Fault::new(k, w)))
            .collect()
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            FaultKind::TooManyRequests { .. } => "429",
            FaultKind::ServiceUnavailable => "503",
            FaultKind::Timeout => "timeout",
            FaultKind::Reset => "reset",
        };
        let when = match self.when {
            When::Before => "before",
            When::After => "after",
        };
        write!(f, "{kind} {when} forwarding")
    }
}

/// A deterministic rule: apply `fault` to the `nth` (0-based) request whose head or body
/// contains `needle`.
///
/// ```
/// use songrec_devservers::{Fault, FaultKind, FaultPlan, Rule, When};
/// // The 2nd insertMany is applied by the server, but the client's connection is reset.
/// let plan = FaultPlan::rules(vec![Rule::new("insertMany", 1, Fault::new(FaultKind::Reset, When::After))]);
/// assert_eq!(plan.ratio(), 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct Rule {
    /// Bytes to look for in the request line, headers or body.
    pub needle: String,
    /// Which matching request (0 = the first).
    pub nth: usize,
    /// What to do with it.
    pub fault: Fault,
}

impl Rule {
    /// A rule.
    pub fn new(needle: impl Into<String>, nth: usize, fault: Fault) -> Self {
        Self {
            needle: needle.into(),
            nth,
            fault,
        }
    }
}

/// What the proxy does. Rules are checked first, then the random share.
///
/// ```
/// use std::time::Duration;
/// use songrec_devservers::{Fault, FaultKind, FaultPlan, When};
/// let plan = FaultPlan::random(7, 0.2)
///     .with_faults(Fault::all())
///     .with_hold(Duration::from_secs(5));
/// assert_eq!(plan.ratio(), 0.2);
/// let none = FaultPlan::none().freeze_after(10, When::After);
/// assert_eq!(none.ratio(), 0.0);
/// ```
#[derive(Clone, Debug)]
pub struct FaultPlan {
    seed: u64,
    ratio: f64,
    faults: Vec<Fault>,
    rules: Vec<Rule>,
    hold: Duration,
    freeze: Option<(Trigger, When)>,
    only: Option<String>,
}

/// What starts a freeze.
#[derive(Clone, Debug)]
enum Trigger {
    /// The request after the first `n`.
    AfterRequests(usize),
    /// The `nth` (0-based) request containing `needle`.
    OnMatch { needle: String, nth: usize },
}

impl Default for FaultPlan {
    fn default() -> Self {
        Self::none()
    }
}

impl FaultPlan {
    /// Forwards everything untouched.
    pub fn none() -> Self {
        Self {
            seed: 0,
            ratio: 0.0,
            faults: Fault::all(),
            rules: Vec::new(),
            hold: Duration::from_secs(60),
            freeze: None,
            only: None,
        }
    }

    /// Fails a share `ratio` (0..=1) of requests with faults drawn uniformly from
    /// [`Fault::all`] (change with [`Self::with_faults`]); `seed` makes the draws reproducible.
    pub fn random(seed: u64, ratio: f64) -> Self {
        Self {
            seed,
            ratio: ratio.clamp(0.0, 1.0),
            ..Self::none()
        }
    }

    /// Deterministic rules only.
    pub fn rules(rules: Vec<Rule>) -> Self {
        Self {
            rules,
            ..Self::none()
        }
    }

    /// The faults random draws pick from (uniformly; repeat an entry to weight it).
    pub fn with_faults(mut self, faults: Vec<Fault>) -> Self {
        if !faults.is_empty() {
            self.faults = faults;
        }
        self
    }

    /// Adds a deterministic rule.
    pub fn with_rule(mut self, rule: Rule) -> Self {
        self.rules.push(rule);
        self
    }

    /// How long a [`FaultKind::Timeout`] holds a connection at most (default 60 s).
    pub fn with_hold(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Random faults only hit requests containing `needle` (e.g. `"PUT "`).
    pub fn only_matching(mut self, needle: impl Into<String>) -> Self {
        self.only = Some(needle.into());
        self
    }

    /// Lets the first `n` requests through (subject to the other faults), then holds every
    /// later one forever, before or after forwarding it. A test waits for
    /// [`FaultProxy::frozen`] and kills the client: the crash happens after exactly `n`
    /// requests were answered.
    pub fn freeze_after(mut self, n: usize, when: When) -> Self {
        self.freeze = Some((Trigger::AfterRequests(n), when));
        self
    }

    /// Like [`Self::freeze_after`], but the freeze starts at the `nth` (0-based) request whose
    /// line, headers or body contain `needle` (e.g. the 2nd `insertMany`), and then holds that
    /// request and every later one.
    pub fn freeze_on(mut self, needle: impl Into<String>, nth: usize, when: When) -> Self {
        self.freeze = Some((
            Trigger::OnMatch {
                needle: needle.into(),
                nth,
            },
            when,
        ));
        self
    }

    /// The random share.
    pub fn ratio(&self) -> f64 {
        self.ratio
    }
}

/// Counters of a running proxy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Requests received.
    pub requests: usize,
    /// Requests forwarded to the upstream.
    pub forwarded: usize,
    /// Faults injected (rules and random).
    pub injected: usize,
    /// Requests held by `freeze_after`.
    pub frozen: usize,
}

struct State {
    upstream: SocketAddr,
    plan: FaultPlan,
    rng: Mutex<u64>,
    rules: Mutex<VecDeque<(Rule, usize)>>,
    requests: AtomicUsize,
    forwarded: AtomicUsize,
    injected: AtomicUsize,
    frozen: AtomicUsize,
    log: Mutex<Vec<Fault>>,
    freeze_matches: AtomicUsize,
    triggered: std::sync::atomic::AtomicBool,
    disarmed: std::sync::atomic::AtomicBool,
}

impl State {
    /// Whether request number `n` (1-based) is to be held, and how.
    fn freeze(&self, n: usize, head: &[u8], body: &[u8]) -> Option<When> {
        if self.disarmed.load(Ordering::SeqCst) {
            return None;
        }
        let (trigger, when) = self.plan.freeze.as_ref()?;
        if self.triggered.load(Ordering::SeqCst) {
            return Some(*when);
        }
        let fire = match trigger {
            Trigger::AfterRequests(after) => n > *after,
            Trigger::OnMatch { needle, nth } => {
                let hit = find(head, needle.as_bytes()).is_some()
                    || find(body, needle.as_bytes()).is_some();
                hit && self.freeze_matches.fetch_add(1, Ordering::SeqCst) == *nth
            }
        };
        if fire {
            self.triggered.store(true, Ordering::SeqCst);
            Some(*when)
        } else {
            None
        }
    }

    fn new(upstream: SocketAddr, plan: FaultPlan) -> Self {
        State {
            upstream,
            rng: Mutex::new(plan.seed ^ 0x9E37_79B9_7F4A_7C15),
            rules: Mutex::new(plan.rules.iter().cloned().map(|r| (r, 0)).collect()),
            plan,
            requests: AtomicUsize::new(0),
            forwarded: AtomicUsize::new(0),
            injected: AtomicUsize::new(0),
            frozen: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
            freeze_matches: AtomicUsize::new(0),
            triggered: std::sync::atomic::AtomicBool::new(false),
            disarmed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Uniform in [0, 1) from a 64-bit LCG (Knuth's MMIX constants).
    fn next(&self) -> f64 {
        let mut r = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *r = r
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (*r >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick(&self, head: &[u8], body: &[u8]) -> Option<Fault> {
        let matches = |needle: &str| {
            find(head, needle.as_bytes()).is_some() || find(body, needle.as_bytes()).is_some()
        };
        {
            // Every matching rule counts the request (so each rule's `nth` refers to the same
            // sequence of requests), then the first rule whose turn it is fires.
            let mut rules = self.rules.lock().unwrap_or_else(|p| p.into_inner());
            let mut hit = None;
            for (rule, seen) in rules.iter_mut() {
                if matches(&rule.needle) {
                    let n = *seen;
                    *seen += 1;
                    if n == rule.nth && hit.is_none() {
                        hit = Some(rule.fault);
                    }
                }
            }
            if hit.is_some() {
                return hit;
            }
        }
        if self.plan.ratio <= 0.0 || self.plan.only.as_deref().is_some_and(|n| !matches(n)) {
            return None;
        }
        if self.next() >= self.plan.ratio {
            return None;
        }
        let i = (self.next() * self.plan.faults.len() as f64) as usize;
        self.plan
            .faults
            .get(i.min(self.plan.faults.len().saturating_sub(1)))
            .copied()
    }
}

/// A running fault proxy on 127.0.0.1; stops when dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), songrec_devservers::DevServerError> {
/// use songrec_devservers::{FaultPlan, FaultProxy};
/// let proxy = FaultProxy::start("127.0.0.1:8181".parse().unwrap(), FaultPlan::random(1, 0.2)).await?;
/// println!("point the client at {}", proxy.base_url());
/// # Ok(()) }
/// ```
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .field("upstream", &self.state.upstream)
            .field("stats", &self.stats())
            .finish()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`.
    pub async fn start(upstream: SocketAddr, plan: FaultPlan) -> Result<Self, DevServerError> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(|_| bad_addr())?,
            upstream,
            plan,
        )
        .await
    }

    /// Starts a proxy listening on `listen`.
    pub async fn start_on(
        listen: SocketAddr,
        upstream: SocketAddr,
        plan: FaultPlan,
    ) -> Result<Self, DevServerError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| DevServerError::Io {
                what: format!("binding the proxy port {listen}"),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| DevServerError::Io {
            what: "reading the bound address".into(),
            source,
        })?;
        let state = Arc::new(State::new(upstream, plan));
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let _ = serve(sock, st).await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.state;
        ProxyStats {
            requests: s.requests.load(Ordering::SeqCst),
            forwarded: s.forwarded.load(Ordering::SeqCst),
            injected: s.injected.load(Ordering::SeqCst),
            frozen: s.frozen.load(Ordering::SeqCst),
        }
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.stats().requests
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.stats().injected
    }

    /// Requests currently or ever held by `freeze_after`.
    pub fn frozen(&self) -> usize {
        self.stats().frozen
    }

    /// Ends the freeze: requests from now on are forwarded again (held ones stay held until
    /// their client goes away). Lets a test rerun a killed client against the same address.
    pub fn unfreeze(&self) {
        self.state.disarmed.store(true, Ordering::SeqCst);
    }

    /// Every fault injected so far, in order.
    pub fn injected_faults(&self) -> Vec<Fault> {
        self.state
            .log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn bad_addr() -> DevServerError {
    DevServerError::Io {
        what: "parsing the listen address".into(),
        source: std::io::Error::other("bad address"),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads more bytes into `buf`; `false` at EOF.
async fn fill(sock: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = sock.read(&mut chunk).await?;
    buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
    Ok(n > 0)
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Reads one request: its head (through the blank line) and its decoded body. `buf` keeps
/// bytes already read past the request. `None` at a clean EOF.
async fn read_request(
    sock: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if !fill(sock, buf).await? {
            return Ok(None);
        }
    };
    let head = String::from_utf8_lossy(buf.get(..head_end).unwrap_or_default()).into_owned();
    buf.drain(..head_end);
    let eof = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "request cut short");
    let chunked = header(&head, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                if !fill(sock, buf).await? {
                    return Err(eof());
                }
            };
            let line = String::from_utf8_lossy(buf.get(..line_end).unwrap_or_default());
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| std::io::Error::other("bad chunk size"))?;
            buf.drain(..line_end + 2);
            if size == 0 {
                // Trailers (ignored) end with an empty line.
                loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        let empty = i == 0;
                        buf.drain(..i + 2);
                        if empty {
                            break;
                        }
                    } else if !fill(sock, buf).await? {
                        return Err(eof());
                    }
                }
                break;
            }
            while buf.len() < size + 2 {
                if !fill(sock, buf).await? {
                    return Err(eof());
                }
            }
            body.extend_from_slice(buf.get(..size).unwrap_or_default());
            buf.drain(..size + 2);
        }
        return Ok(Some((head, body)));
    }
    let len = header(&head, "content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < len {
        if !fill(sock, buf).await? {
            return Err(eof());
        }
    }
    let body = buf.drain(..len).collect();
    Ok(Some((head, body)))
}

/// The request as sent upstream: same line and headers, a `Content-Length` body, and
/// `Connection: close`.
fn upstream_request(head: &str, body: &[u8]) -> Vec<u8> {
    let mut out = String::new();
    for line in head.split("\r\n").filter(|l| !l.is_empty()) {
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("connection:")
            || lower.starts_with("transfer-encoding:")
            || lower.starts_with("content-length:")
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    let method = head.split(' ').next().unwrap_or("");
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Waits until the client closes its side or `max` passes.
async fn hold(client: &mut TcpStream, max: Duration) {
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(max, async {
        loop {
            match client.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
}

/// Sends the fault's answer (or none). `true` if the connection can serve another request.
async fn deliver(client: &mut TcpStream, fault: Fault, st: &State) -> std::io::Result<bool> {
    match fault.kind {
        FaultKind::TooManyRequests { retry_after_secs } => {
            let resp = format!(
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retry_after_secs}\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow"
            );
            client.write_all(resp.as_bytes()).await?;
            Ok(true)
        }
        FaultKind::ServiceUnavailable => {
            let resp = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nunavailable";
            client.write_all(resp.as_bytes()).await?;
            Ok(true)
        }
        FaultKind::Timeout => {
            hold(client, st.plan.hold).await;
            Ok(false)
        }
        FaultKind::Reset => {
            let _ = client.set_zero_linger();
            Ok(false)
        }
    }
}

async fn serve(mut client: TcpStream, st: Arc<State>) -> std::io::Result<()> {
    let mut buf = Vec::new();
    while let Some((head, body)) = read_request(&mut client, &mut buf).await? {
        let n = st.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let freeze = st.freeze(n, head.as_bytes(), &body);
        if freeze == Some(When::Before) {
            st.frozen.fetch_add(1, Ordering::SeqCst);
            hold(&mut client, Duration::from_secs(24 * 3600)).await;
            return Ok(());
        }
        let fault = if freeze.is_some() {
            None
        } else {
            st.pick(head.as_bytes(), &body)
        };
        if let Some(f) = fault {
            st.injected.fetch_add(1, Ordering::SeqCst);
            st.log.lock().unwrap_or_else(|p| p.into_inner()).push(f);
            if f.when == When::Before {
                if deliver(&mut client, f, &st).await? {
                    continue;
                }
                return Ok(());
            }
        }
        let mut up = TcpStream::connect(st.upstream).await?;
        st.forwarded.fetch_add(1, Ordering::SeqCst);
        up.write_all(&upstream_request(&head, &body)).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        if freeze == Some(When::After) {
            st.frozen.fetch_add(1, Ordering::SeqCst);
            hold(&mut client, Duration::from_secs(24 * 3600)).await;
            return Ok(());
        }
        if let Some(f) = fault {
            // The upstream did the work; the client hears the fault instead.
            if deliver(&mut client, f, &st).await? {
                continue;
            }
            return Ok(());
        }
        client.write_all(&resp).await?;
        // The upstream answered and closed (`Connection: close`); the client reconnects.
        return Ok(());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_request_rewrites_framing() {
        let head = "PUT /b/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n";
        let out = upstream_request(head, b"abc");
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("PUT /b/k HTTP/1.1\r\nHost: x\r\n"));
        assert!(text.contains("Content-Length: 3\r\n"));
        assert!(text.ends_with("Connection: close\r\n\r\nabc"));
        assert!(!text.to_ascii_lowercase().contains("chunked"));
        assert!(!text.contains("keep-alive"));
    }

    #[test]
    fn random_share_is_seeded_and_near_the_ratio() {
        let draw = |seed| {
            let st = State::new("127.0.0.1:1".parse().unwrap(), FaultPlan::random(seed, 0.2));
            (0..10_000)
                .map(|_| st.pick(b"GET / HTTP/1.1", b""))
                .collect::<Vec<_>>()
        };
        let a = draw(3);
        assert_eq!(a, draw(3), "same seed, same faults");
        assert_ne!(a, draw(4));
        let hits = a.iter().filter(|f| f.is_some()).count();
        assert!((1800..2200).contains(&hits), "{hits} of 10000");
        // Every kind and both timings are drawn.
        let kinds: std::collections::HashSet<_> = a.iter().flatten().collect();
        assert_eq!(kinds.len(), Fault::all().len());
    }

    #[test]
    fn rules_hit_the_nth_match_only() {
        let f = Fault::new(FaultKind::ServiceUnavailable, When::Before);
        let st = State::new(
            "127.0.0.1:1".parse().unwrap(),
            FaultPlan::rules(vec![Rule::new("insertMany", 1, f)]),
        );
        assert_eq!(st.pick(b"POST /", b"{\"insertMany\":1}"), None);
        assert_eq!(st.pick(b"POST /", b"{\"find\":1}"), None);
        assert_eq!(st.pick(b"POST /", b"{\"insertMany\":2}"), Some(f));
        assert_eq!(st.pick(b"POST /", b"{\"insertMany\":3}"), None);
    }

    #[test]
    fn several_rules_on_one_needle_count_the_same_requests() {
        let reset = Fault::new(FaultKind::Reset, When::After);
        let hang = Fault::new(FaultKind::Timeout, When::Before);
        let st = State::new(
            "127.0.0.1:1".parse().unwrap(),
            FaultPlan::rules(vec![
                Rule::new("PUT ", 0, reset),
                Rule::new("PUT ", 1, hang),
                Rule::new("PUT ", 3, reset),
            ]),
        );
        let seq: Vec<_> = (0..5).map(|_| st.pick(b"PUT /a", b"")).collect();
        assert_eq!(seq, vec![Some(reset), Some(hang), None, Some(reset), None]);
    }
}
