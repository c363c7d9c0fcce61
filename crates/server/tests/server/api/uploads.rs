//! Uploads to the REST API: similarity by an uploaded file (as by id, bad files refused), and
//! uploads bounded in number, disk and time (raw sockets that stall or send less than declared).

use reqwest::StatusCode;
use serde_json::Value;
use songrec_testkit::server::{PER_STYLE, STYLES, library, serve_library};

use super::{assert_error, client, form, get, result_ids};

async fn upload(url: &str, form: reqwest::multipart::Form) -> (StatusCode, Value) {
    let r = client().post(url).multipart(form).send().await.unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

/// A multipart upload over a raw socket declaring a `file` of `declared` bytes and sending
/// `sent` of them, reading the answer even if the server stops reading early (a real client
/// such as reqwest reports the write error instead of the early answer).
async fn raw_upload(
    addr: std::net::SocketAddr,
    declared: usize,
    sent: usize,
) -> (StatusCode, Value) {
    use tokio::io::AsyncWriteExt;
    let head = "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.wav\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let tail = "\r\n--BOUNDARY--\r\n";
    let len = head.len() + declared + tail.len();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let req = format!(
            "POST /api/v1/similar HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{head}"
        );
        wr.write_all(req.as_bytes()).await?;
        let chunk = vec![0x42u8; 64 * 1024];
        let mut left = sent;
        while left > 0 {
            let n = left.min(chunk.len());
            wr.write_all(&chunk[..n]).await?;
            left -= n;
        }
        if sent == declared {
            wr.write_all(tail.as_bytes()).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let (status, _, json) = read_answer(&mut rd).await;
    writer.abort();
    (status, json)
}

/// Reads a raw HTTP answer to its end: status, head (lowercase) and JSON body.
async fn read_answer(rd: &mut (impl tokio::io::AsyncRead + Unpin)) -> (StatusCode, String, Value) {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(30),
        rd.read_to_end(&mut answer),
    )
    .await
    .expect("the server answers")
    .ok();
    let text = String::from_utf8_lossy(&answer);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    // The body may be chunked: take the JSON object inside.
    let json = &body[body.find('{').unwrap_or(0)..=body.rfind('}').unwrap_or(0)];
    (
        StatusCode::from_u16(status).unwrap(),
        head.to_ascii_lowercase(),
        serde_json::from_str(json).unwrap_or(Value::Null),
    )
}

/// Starts a multipart upload over a raw socket that sends its head and the first `sent`
/// bytes of a `declared`-byte file, then one byte every `drip` (if any) while the
/// connection is open. Returns the reading half and the writer task (abort it to hang up).
async fn stalled_upload(
    addr: std::net::SocketAddr,
    declared: usize,
    sent: usize,
    drip: Option<std::time::Duration>,
) -> (
    tokio::net::tcp::OwnedReadHalf,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    use tokio::io::AsyncWriteExt;
    let head = "--BOUNDARY\r\nContent-Disposition: form-data; name=\"file\"; filename=\"slow.wav\"\r\nContent-Type: application/octet-stream\r\n\r\n";
    let len = head.len() + declared + "\r\n--BOUNDARY--\r\n".len();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let req = format!(
            "POST /api/v1/similar HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary=BOUNDARY\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{head}"
        );
        wr.write_all(req.as_bytes()).await?;
        wr.write_all(&vec![0x42u8; sent]).await?;
        let mut left = declared - sent;
        while let Some(every) = drip.filter(|_| left > 0) {
            tokio::time::sleep(every).await;
            wr.write_all(b"B").await?;
            left -= 1;
        }
        // Keep the connection open (a stalled client) until aborted.
        std::future::pending::<()>().await;
        drop(wr);
        Ok(())
    });
    (rd, writer)
}

/// Waits until `cond` holds, polling the server's state.
async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..3000 {
        if cond() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_by_upload_matches_similar_by_id_and_refuses_bad_files() {
    let srv = serve_library(|o| o.max_upload_bytes = 2_000_000).await;
    let lib = library();
    // A file that is in the library: same vector, so the same ranking as by id.
    let wav = lib.music.join("techno-1.wav");
    let bytes = std::fs::read(&wav).unwrap();
    // The song a file holds is named by its audio identity.
    let id =
        songrec_storage::SongId::from_raw(&songrec_audio::identity::identify(&wav).unwrap().audio);
    let (s, up) = upload(
        &srv.url("/api/v1/similar?k=5"),
        form("clip.mp3", bytes.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{up}");
    assert_eq!(up["query"]["upload"]["content_type"], "audio/wav");
    assert_eq!(up["query"]["upload"]["bytes"], bytes.len());
    let (_, by_id) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=5"))).await;
    assert_eq!(result_ids(&up), result_ids(&by_id));
    assert!(!result_ids(&up).contains(&id.as_str().to_owned()));

    // A new song (not in the library) of a known style finds that style first.
    let dir = tempfile::tempdir().unwrap();
    songrec_testkit::audio::write_songs(dir.path(), &["ambient"], 1, 5.0, 77);
    let fresh = std::fs::read(dir.path().join("ambient-77.wav")).unwrap();
    let (s, v) = upload(&srv.url("/api/v1/similar?k=3"), form("new.wav", fresh)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["song"]["genre"], "ambient", "{v}");
    let before = srv.state.backend.count(&Default::default()).await.unwrap();
    assert_eq!(
        before as usize,
        STYLES.len() * PER_STYLE,
        "uploads are not stored"
    );

    // Not audio: refused by content, whatever the name says.
    let (s, v) = upload(
        &srv.url("/api/v1/similar"),
        form("song.mp3", b"\x89PNG\r\n\x1a\n0000000000000000".to_vec()),
    )
    .await;
    assert_error(
        &(s, v.clone()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(v["error"]["message"].as_str().unwrap().contains("PNG"));
    // Looks like WAV, is not decodable.
    let mut fake = b"RIFF\x24\x00\x00\x00WAVEfmt ".to_vec();
    fake.extend(std::iter::repeat_n(0x55u8, 3000));
    let (s, v) = upload(&srv.url("/api/v1/similar"), form("x.wav", fake)).await;
    let msg = assert_error(
        &(s, v),
        StatusCode::UNPROCESSABLE_ENTITY,
        "undecodable_audio",
    );
    assert!(
        !msg.contains(srv.state.scratch.path().to_str().unwrap()),
        "{msg}"
    );
    // Empty.
    let (s, v) = upload(&srv.url("/api/v1/similar"), form("e.wav", Vec::new())).await;
    assert_error(&(s, v), StatusCode::UNPROCESSABLE_ENTITY, "empty_file");
    // Too large: 413, and the server goes on. Checked while streaming (the declared length is
    // within the slack) and up front (the declared length alone is too large).
    let (s, v) = raw_upload(srv.addr, 2_500_000, 2_500_000).await;
    assert_error(&(s, v), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    let (s, v) = raw_upload(srv.addr, 4_000_000, 10_000).await;
    assert_error(&(s, v), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    // Not multipart, or no file field.
    let r = client()
        .post(srv.url("/api/v1/similar"))
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let other = reqwest::multipart::Form::new().text("note", "no file");
    let (s, v) = upload(&srv.url("/api/v1/similar"), other).await;
    assert_error(&(s, v), StatusCode::BAD_REQUEST, "bad_request");
    // Bad query parameters are refused before the body is read.
    let (s, v) = upload(&srv.url("/api/v1/similar?k=-1"), form("a.wav", bytes)).await;
    assert_error(&(s, v), StatusCode::BAD_REQUEST, "bad_request");
    let (s, _) = get(&srv.url("/healthz")).await;
    assert_eq!(s, StatusCode::OK);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_bounded_in_number_disk_and_time() {
    use std::sync::atomic::Ordering;
    let srv = serve_library(|o| {
        o.max_upload_bytes = 2_000_000;
        o.max_uploads = Some(1);
        o.max_spool_bytes = 1_000_000;
    })
    .await;
    let st = srv.state.clone();
    let wav = std::fs::read(library().music.join("techno-1.wav")).unwrap();
    assert!(wav.len() < 1_000_000);

    // One upload stalls mid-body: it holds the only slot, and a second one is answered 503
    // with Retry-After at once, before its body is read.
    let (_rd, writer) = stalled_upload(srv.addr, 100_000, 1000, None).await;
    until("the stalled upload holds the slot", || {
        st.uploads.available_permits() == 0
    })
    .await;
    let (mut rd2, w2) = stalled_upload(srv.addr, 10, 10, None).await;
    let (s, head, v) = read_answer(&mut rd2).await;
    w2.abort();
    assert_error(&(s, v), StatusCode::SERVICE_UNAVAILABLE, "server_busy");
    assert!(head.contains("retry-after: 5"), "{head}");
    // The stalled client hangs up: its slot and spool space come back.
    writer.abort();
    until("the slot is free again", || {
        st.uploads.available_permits() == 1 && st.spool_bytes.load(Ordering::Acquire) == 0
    })
    .await;

    // Within the per-file limit (2 MB) but over the spool budget (1 MB): 503, nothing left
    // reserved, and a file that fits is analysed.
    let (s, v) = raw_upload(srv.addr, 1_500_000, 1_500_000).await;
    assert_error(&(s, v), StatusCode::SERVICE_UNAVAILABLE, "server_busy");
    until("the spool budget is given back", || {
        st.spool_bytes.load(Ordering::Acquire) == 0 && st.uploads.available_permits() == 1
    })
    .await;
    let (s, v) = upload(
        &srv.url("/api/v1/similar?k=2"),
        form("clip.wav", wav.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    srv.stop().await;

    // Slow loris: a body that keeps trickling in is cut off at the upload timeout with 408
    // (a short one here), and the slot is free again afterwards.
    let srv = serve_library(|o| {
        o.max_uploads = Some(1);
        o.upload_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let st = srv.state.clone();
    let (mut rd, writer) = stalled_upload(
        srv.addr,
        1_000_000,
        100,
        Some(std::time::Duration::from_millis(20)),
    )
    .await;
    let (s, head, v) = read_answer(&mut rd).await;
    writer.abort();
    assert_error(&(s, v), StatusCode::REQUEST_TIMEOUT, "request_timeout");
    assert!(head.contains("connection: close"), "{head}");
    until("the slot is free again", || {
        st.uploads.available_permits() == 1 && st.spool_bytes.load(Ordering::Acquire) == 0
    })
    .await;
    let (s, v) = upload(&srv.url("/api/v1/similar?k=2"), form("clip.wav", wav)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    srv.stop().await;
}
