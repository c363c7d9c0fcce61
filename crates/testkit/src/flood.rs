//! A misbehaving HTTP server on 127.0.0.1: it answers every request with `200 OK` and a
//! chunked body that never ends (a prefix, then one filler repeated), and counts the bytes it
//! managed to write. A client that caps what it reads drops the connection early, so the count
//! stays near its cap; one that does not keeps reading until the server gives up at
//! `give_up_after` bytes (so that a test of a client without a cap ends, with a bounded cost).
//!
//! ```no_run
//! # async fn demo() {
//! use songrec_testkit::flood::Flood;
//! let flood = Flood::start("application/json", b"{\"status\":{\"count\":", b"1111", 64 << 20).await;
//! // ... point a client at flood.url() ...
//! assert!(flood.sent() < 32 << 20);
//! # }
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The server; stops when dropped.
pub struct Flood {
    addr: std::net::SocketAddr,
    sent: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Flood {
    /// Starts the server on the current runtime: every answer is `content_type`, `prefix`, then
    /// `filler` over and over; a connection is closed once `give_up_after` body bytes went out.
    pub async fn start(
        content_type: &'static str,
        prefix: &'static [u8],
        filler: &'static [u8],
        give_up_after: u64,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the flood server");
        let addr = listener.local_addr().expect("its address");
        let sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (s, r) = (Arc::clone(&sent), Arc::clone(&requests));
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let (s, r) = (Arc::clone(&s), Arc::clone(&r));
                tokio::spawn(async move {
                    let _ = serve(sock, content_type, prefix, filler, give_up_after, &s, &r).await;
                });
            }
        });
        Self {
            addr,
            sent,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Body bytes written so far, over every connection.
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// Requests answered so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Reads one request (head and `Content-Length` body) and floods the answer.
async fn serve(
    mut sock: TcpStream,
    content_type: &str,
    prefix: &[u8],
    filler: &[u8],
    give_up_after: u64,
    sent: &AtomicU64,
    requests: &AtomicU64,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let text = String::from_utf8_lossy(&head[..body_start]).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = head.len() - body_start;
    while have < length {
        let n = sock.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        have += n;
    }
    requests.fetch_add(1, Ordering::Relaxed);
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    sock.write_all(answer.as_bytes()).await?;
    let mut chunk = prefix.to_vec();
    while chunk.len() < 64 * 1024 {
        chunk.extend_from_slice(filler);
    }
    let rest = filler.repeat((64 * 1024 / filler.len().max(1)).max(1));
    let mut written = 0u64;
    while written < give_up_after {
        let data = if written == 0 { &chunk } else { &rest };
        sock.write_all(format!("{:x}\r\n", data.len()).as_bytes())
            .await?;
        sock.write_all(data).await?;
        sock.write_all(b"\r\n").await?;
        written += data.len() as u64;
        sent.fetch_add(data.len() as u64, Ordering::Relaxed);
    }
    // Give up: close without the last chunk (the body is cut short).
    Ok(())
}
