//! Shared test support for the `backend_*` tests: the local Data API server and s3s-fs
//! (SigV4 on), both in-process on 127.0.0.1 sockets, plus a fault-injecting HTTP proxy.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use songrec_astra::AstraBackend;
use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig, RetryPolicy};
use songrec_astra::secret::Secret;
use songrec_dataapi_server::{ServerConfig, ServerHandle, Token};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub const TOKEN: &str = "AstraCS:test-token-0123456789abcdef";
pub const BUCKET: &str = "songrec-test";
pub const ACCESS_KEY: &str = "AKIDSONGRECTEST";
pub const SECRET_KEY: &str = "s3cr3t-Key-For-Tests-0123456789";

/// An s3s-fs server with one bucket.
pub struct S3Server {
    pub endpoint: String,
    _root: tempfile::TempDir,
    _server: songrec_devservers::S3Server,
}

impl S3Server {
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let server = songrec_devservers::S3Server::start(
            "127.0.0.1:0".parse().expect("addr"),
            root.path(),
            &[BUCKET],
            ACCESS_KEY,
            SECRET_KEY,
        )
        .await
        .expect("s3s-fs");
        Self {
            endpoint: server.endpoint(),
            _root: root,
            _server: server,
        }
    }

    pub fn store(&self) -> BlobStore {
        BlobStore::new(
            S3Config::new(BUCKET, "us-east-1", ACCESS_KEY, Secret::new(SECRET_KEY))
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_prefix("lib")
                .with_max_retries(0),
        )
        .expect("blob store")
    }
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(6)
        .with_delays(Duration::from_millis(5), Duration::from_millis(50))
}

pub fn api_config(base_url: &str, token: &str) -> DataApiConfig {
    DataApiConfig::new(base_url, Secret::new(token))
        .with_api_path("/v1")
        .with_retry(fast_retry())
        .with_request_timeout(Duration::from_secs(10))
        .with_operation_timeout(Duration::from_secs(60))
        .with_insert_chunk_size(100)
}

/// Both servers and a backend on them.
pub struct Env {
    pub api: ServerHandle,
    pub s3: S3Server,
    pub backend: AstraBackend,
}

impl Env {
    /// Fresh servers; the schema is created unless `init` is false.
    pub async fn start(init: bool) -> Self {
        let api = songrec_dataapi_server::start(ServerConfig::ephemeral(Token::new(TOKEN)))
            .await
            .expect("data api server");
        let s3 = S3Server::start().await;
        let backend = backend_at(&api.base_url(), TOKEN, &s3);
        if init {
            backend.init_schema(&[]).await.expect("init");
        }
        Self { api, s3, backend }
    }

    pub fn base_url(&self) -> String {
        self.api.base_url()
    }
}

pub fn backend_at(base_url: &str, token: &str, s3: &S3Server) -> AstraBackend {
    backend_with(api_config(base_url, token), s3)
}

pub fn backend_with(cfg: DataApiConfig, s3: &S3Server) -> AstraBackend {
    let client = DataApiClient::new(cfg).expect("client");
    AstraBackend::from_parts(client, s3.store(), "songrec").expect("backend")
}

// ---- fault-injecting HTTP proxy ------------------------------------------------------------

/// What the proxy does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer `429 Too Many Requests` (`Retry-After: 0`) without forwarding.
    TooManyRequests,
    /// Forward the request, let the server process it, then close the client's connection
    /// without any answer.
    DropAfterForward,
}

/// A rule: apply `fault` to the `nth` (0-based) request whose body contains `needle`.
#[derive(Clone, Debug)]
pub struct Rule {
    pub needle: &'static str,
    pub nth: usize,
    pub fault: Fault,
}

struct ProxyState {
    upstream: SocketAddr,
    rules: Mutex<VecDeque<(Rule, usize)>>,
    injected: AtomicUsize,
    requests: AtomicUsize,
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of `upstream` that injects faults by rule. Each
/// forwarded request uses a fresh upstream connection (`Connection: close`), so a request
/// is forwarded whole and its response relayed whole.
pub struct Proxy {
    pub base_url: String,
    state: Arc<ProxyState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr, rules: Vec<Rule>) -> Self {
        let state = Arc::new(ProxyState {
            upstream,
            rules: Mutex::new(rules.into_iter().map(|r| (r, 0)).collect()),
            injected: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr");
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
        Self {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.state.injected.load(Ordering::SeqCst)
    }

    /// Requests seen so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request (headers + Content-Length body); `None` at EOF.
async fn read_request(sock: &mut TcpStream) -> std::io::Result<Option<(String, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())
                .flatten()
        })
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Some((head, body)))
}

fn pick_fault(st: &ProxyState, body: &[u8]) -> Option<Fault> {
    let mut rules = st.rules.lock().expect("rules");
    for (rule, seen) in rules.iter_mut() {
        if find(body, rule.needle.as_bytes()).is_some() {
            let n = *seen;
            *seen += 1;
            if n == rule.nth {
                st.injected.fetch_add(1, Ordering::SeqCst);
                return Some(rule.fault);
            }
        }
    }
    None
}

async fn serve(mut client: TcpStream, st: Arc<ProxyState>) -> std::io::Result<()> {
    while let Some((head, body)) = read_request(&mut client).await? {
        st.requests.fetch_add(1, Ordering::SeqCst);
        let fault = pick_fault(&st, &body);
        if fault == Some(Fault::TooManyRequests) {
            let resp = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 0\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nslow";
            client.write_all(resp.as_bytes()).await?;
            continue;
        }
        // Rewrite the request to close the upstream connection after the response.
        let mut new_head = String::new();
        for line in head.split("\r\n").filter(|l| !l.is_empty()) {
            if line.to_ascii_lowercase().starts_with("connection:") {
                continue;
            }
            new_head.push_str(line);
            new_head.push_str("\r\n");
        }
        new_head.push_str("Connection: close\r\n\r\n");
        let mut up = TcpStream::connect(st.upstream).await?;
        up.write_all(new_head.as_bytes()).await?;
        up.write_all(&body).await?;
        let mut resp = Vec::new();
        up.read_to_end(&mut resp).await?;
        if fault == Some(Fault::DropAfterForward) {
            return Ok(()); // the server did the work; the client never hears about it
        }
        client.write_all(&resp).await?;
        // The upstream answered with `connection: close`; the client reconnects next time.
        return Ok(());
    }
    Ok(())
}

// ---- data --------------------------------------------------------------------------------

/// Deterministic pseudo-random vector.
pub fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A song with varied metadata.
pub fn song(n: usize) -> songrec_storage::SongMetadata {
    use songrec_storage::{SongId, SongMetadata};
    let id = SongId::from_bytes(format!("backend test song {n}").as_bytes());
    let mut m = SongMetadata::new(id, format!("Track {n:05}"));
    m.artist = Some(format!("Artist {}", n % 7));
    m.genre = Some(["Rock", "Jazz", "Pop"][n % 3].to_owned());
    m.bpm = (!n.is_multiple_of(5)).then_some(70.0 + (n % 90) as f32);
    m.duration_secs = 100.0 + n as f64;
    m.tags = vec![format!("tag{}", n % 4)];
    m.file_name = format!("t{n}.flac");
    m
}

/// A record with one vector of `model`.
pub fn record(n: usize, model: &songrec_storage::ModelInfo) -> songrec_storage::SongRecord {
    songrec_storage::SongRecord {
        metadata: song(n),
        embeddings: vec![
            songrec_storage::Embedding::new(model.clone(), vector(n as u64 + 1, model.dim))
                .expect("embedding"),
        ],
    }
}
