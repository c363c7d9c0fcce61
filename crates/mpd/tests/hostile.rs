//! A hostile server in MPD's place (a tokio `TcpListener` that greets as MPD 0.23 does, then
//! answers the first command with an endless line, a huge binary answer or garbage): the client
//! ends each with [`MpdError::Malformed`] naming the address, in bounded memory (this process's
//! peak resident memory, `VmHWM`, reset before each case) and without waiting for a timeout.
//!
//! One test, the cases in turn: the memory peak is the process's, so nothing else may run
//! beside them.

use std::time::Duration;

use songrec_mpd::client::Mpd;
use songrec_mpd::{Address, MpdError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What a case's client may add to the process's peak memory. Before the limits, an endless
/// line reached 136 MB in the 10 s a command may take.
const MEMORY_BOUND_KB: u64 = 48 * 1024;
/// A deadline on each case, only so that a failure ends (the limits end a case in well under a
/// second; today's client waited 10 s for a timeout and reported an unreachable server).
const DEADLINE: Duration = Duration::from_secs(60);

/// This process's peak resident memory in kB.
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Resets the peak to the memory in use now (Linux: `5` to `clear_refs`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset VmHWM");
}

/// What the server sends after the greeting, once the client has sent a command.
#[derive(Clone, Copy, Debug)]
enum Payload {
    /// `x` without end and no line break.
    EndlessLine,
    /// A binary answer announcing 4 GiB, then bytes without end.
    HugeBinary,
    /// Raw bytes 0 to 255 (line breaks among them, not text) without end.
    RawBinary,
    /// `key: value` lines without end and never `OK`.
    EndlessFields,
    /// Short lines that are not `key: value`.
    Garbage,
}

impl Payload {
    /// The first bytes, then the chunk sent over and over.
    fn bytes(self) -> (Vec<u8>, Vec<u8>) {
        match self {
            Payload::EndlessLine => (Vec::new(), vec![b'x'; 64 * 1024]),
            Payload::HugeBinary => (
                b"binary: 4294967296\n".to_vec(),
                (0..=255u8).cycle().take(64 * 1024).collect(),
            ),
            Payload::RawBinary => (Vec::new(), (0..=255u8).cycle().take(64 * 1024).collect()),
            Payload::EndlessFields => (Vec::new(), b"k: v\n".repeat(8 * 1024)),
            Payload::Garbage => (Vec::new(), b"garbage\n".repeat(8 * 1024)),
        }
    }
}

/// Serves `payload` to every client until it hangs up; returns the address.
async fn hostile(payload: Payload) -> Address {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                conn.write_all(b"OK MPD 0.23.0\n").await?;
                let mut first = [0u8; 64];
                let _ = conn.read(&mut first).await?;
                let (head, chunk) = payload.bytes();
                conn.write_all(&head).await?;
                loop {
                    conn.write_all(&chunk).await?;
                }
                #[allow(unreachable_code)]
                Ok::<_, std::io::Error>(())
            });
        }
    });
    Address::parse(&format!("127.0.0.1:{port}"), None).expect("an address")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_ends_in_a_clear_error_and_bounded_memory() {
    for payload in [
        Payload::EndlessLine,
        Payload::HugeBinary,
        Payload::RawBinary,
        Payload::EndlessFields,
        Payload::Garbage,
    ] {
        let addr = hostile(payload).await;
        reset_peak();
        let before = peak_kb();
        let e = tokio::time::timeout(DEADLINE, Mpd::open(&addr))
            .await
            .unwrap_or_else(|_| panic!("{payload:?}: no end in {DEADLINE:?}"))
            .expect_err("a hostile server");
        let grew = peak_kb().saturating_sub(before);
        assert!(
            matches!(e, MpdError::Malformed { .. }),
            "{payload:?}: {e:?}"
        );
        let m = e.to_string();
        assert!(
            m.contains(&addr.to_string()) && m.contains("broke MPD's protocol"),
            "{payload:?}: {m}"
        );
        assert!(
            !e.is_disconnect() && !e.is_passing(),
            "{payload:?}: ends the radio"
        );
        assert!(
            grew < MEMORY_BOUND_KB,
            "{payload:?}: the peak grew by {grew} kB"
        );
    }
}
