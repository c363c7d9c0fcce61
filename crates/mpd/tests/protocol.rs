//! Odd servers: a stand-in for MPD on a Unix socket that greets and answers as a test says,
//! so every odd answer becomes a typed error naming the address, never a panic.

use std::path::PathBuf;

use songrec_mpd::client::Mpd;
use songrec_mpd::{Address, MpdError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;

/// Serves one client on a socket in `dir`: sends `greeting`, then answers `status` with
/// `status` and ends an `idle` when `noidle` comes, as MPD does.
fn serve(dir: &tempfile::TempDir, greeting: &'static [u8], status: &'static [u8]) -> PathBuf {
    let path = dir.path().join("socket");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let (r, mut w) = conn.into_split();
        w.write_all(greeting).await.unwrap();
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let answer: &[u8] = match line.as_str() {
                "idle" => continue,
                "noidle" => b"OK\n",
                "status" => status,
                _ => b"OK\n",
            };
            if w.write_all(answer).await.is_err() {
                break;
            }
        }
    });
    path
}

async fn open(greeting: &'static [u8], status: &'static [u8]) -> (String, MpdError) {
    let dir = tempfile::tempdir().unwrap();
    let path = serve(&dir, greeting, status);
    let addr = Address::parse(path.to_str().unwrap(), None).unwrap();
    let e = Mpd::open(&addr).await.expect_err("an odd server");
    (addr.to_string(), e)
}

#[tokio::test]
async fn a_server_that_is_not_mpd_is_unreachable() {
    let (addr, e) = open(b"SSH-2.0-OpenSSH_9.2\r\n", b"OK\n").await;
    assert!(matches!(e, MpdError::Unreachable { .. }), "{e:?}");
    let m = e.to_string();
    assert!(
        m.contains(&addr) && m.contains("did not answer as MPD does"),
        "{m}"
    );
}

#[tokio::test]
async fn a_value_songrec_cannot_read_is_a_protocol_error() {
    let (addr, e) = open(
        b"OK MPD 0.23.5\n",
        b"state: dancing\nrepeat: 0\nrandom: 0\nconsume: 0\nOK\n",
    )
    .await;
    assert!(e.is_passing(), "{e:?}");
    let m = e.to_string();
    assert!(m.contains(&addr) && m.contains("cannot read"), "{m}");
}

#[tokio::test]
async fn an_error_answer_is_named_with_its_command() {
    let (addr, e) = open(
        b"OK MPD 0.23.5\n",
        b"ACK [5@0] {status} unknown command \"status\"\n",
    )
    .await;
    assert!(matches!(e, MpdError::Refused { code: 5, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!("MPD at {addr} refused `status`: unknown command \"status\"")
    );
}

#[tokio::test]
async fn garbage_ends_the_connection_without_a_panic() {
    for status in [
        &b"\xff\xfe\x00binary\n\n\n"[..],
        b"no colon here\nOK\n",
        b"binary: 99999999999\n",
        b"ACK [x@y] nonsense\n",
    ] {
        // A leaked answer is fine for a test; `serve` takes 'static bytes.
        let status: &'static [u8] = Box::leak(status.to_vec().into_boxed_slice());
        let (addr, e) = open(b"OK MPD 0.23.5\n", status).await;
        assert!(e.to_string().contains(&addr), "{e}");
    }
}
