//! The REST API over a real local library on a 127.0.0.1 socket: listings, look-ups,
//! similarity by id and by upload, audio ranges, stats, map, metrics, OpenAPI, errors.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use songrec_storage::StorageBackend;
use songrec_testkit::server::{PER_STYLE, Running, SECONDS, STYLES, library, serve, serve_library};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(url: &str) -> (StatusCode, Value) {
    let r = client().get(url).send().await.unwrap();
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    assert!(
        ct.starts_with("application/json"),
        "{url}: {status} {ct}: {body}"
    );
    (status, serde_json::from_str(&body).unwrap())
}

/// Asserts a JSON error with a status and code.
fn assert_error(got: &(StatusCode, Value), status: StatusCode, code: &str) -> String {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"]["code"], code, "{}", got.1);
    let msg = got.1["error"]["message"].as_str().unwrap().to_owned();
    assert!(!msg.is_empty());
    msg
}

async fn all_ids(base: &str) -> Vec<String> {
    let (s, v) = get(&format!("{base}/api/v1/songs?limit=1000&sort=id")).await;
    assert_eq!(s, StatusCode::OK);
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_filters_sorts_and_pages() {
    let srv = serve_library(|_| {}).await;
    let n = STYLES.len() * PER_STYLE;
    let (s, v) = get(&srv.url("/api/v1/songs")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["total"], n);
    assert_eq!(v["items"].as_array().unwrap().len(), n);

    // Filters are the CLI's: genre, bpm range, where.
    let (_, v) = get(&srv.url("/api/v1/songs?genre=TECHNO")).await;
    assert_eq!(v["total"], PER_STYLE);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["genre"] == "techno")
    );
    let (_, v) = get(&srv.url("/api/v1/songs?where=genre%3Drock&bpm=1..1000")).await;
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["genre"] == "rock" && x["bpm"].as_f64().is_some())
    );

    // Cursor paging covers everything exactly once.
    let mut seen = Vec::new();
    let mut url = srv.url("/api/v1/songs?limit=4&sort=id");
    loop {
        let (s, v) = get(&url).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        for x in v["items"].as_array().unwrap() {
            seen.push(x["id"].as_str().unwrap().to_owned());
        }
        match v["next_cursor"].as_str() {
            Some(c) => url = srv.url(&format!("/api/v1/songs?limit=4&sort=id&cursor={c}")),
            None => break,
        }
    }
    let ids = all_ids(&srv.base).await;
    assert_eq!(seen, ids);

    // Offset paging.
    let (_, v) = get(&srv.url("/api/v1/songs?sort=id&offset=4&limit=10")).await;
    let page: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page,
        ids[4..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(v["next_offset"].is_null());
    let (_, v) = get(&srv.url("/api/v1/songs?sort=id&offset=1&limit=2")).await;
    assert_eq!(v["next_offset"], 3);

    // Text search over artist/title.
    let (_, v) = get(&srv.url("/api/v1/songs?q=warehouse%20PULSE")).await;
    assert_eq!(v["total"], PER_STYLE);
    assert!(
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["title"].as_str().unwrap().starts_with("Warehouse Pulse"))
    );

    // Sorting.
    let (_, v) = get(&srv.url("/api/v1/songs?sort=title&desc=true")).await;
    let titles: Vec<String> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["title"].as_str().unwrap().to_lowercase())
        .collect();
    let mut sorted = titles.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(titles, sorted);

    // Malformed queries are 400s naming the problem.
    for (q, needle) in [
        ("bpm=fast", "bpm"),
        ("limit=0", "limit"),
        ("limit=abc", "limit"),
        ("colour=red", "colour"),
        ("sort=loudness", "sort key"),
        ("key=H%20dorian", "musical key"),
        ("desc=maybe", "desc"),
        ("desc=", "desc"),
        ("cursor=abc&offset=3", "cursor"),
        ("where=nonsense", "FIELD=VALUE"),
    ] {
        let got = get(&srv.url(&format!("/api/v1/songs?{q}"))).await;
        let msg = assert_error(&got, StatusCode::BAD_REQUEST, "bad_request");
        assert!(msg.contains(needle), "{q}: {msg}");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn songs_by_id_and_prefix_with_clear_errors() {
    let srv = serve_library(|_| {}).await;
    let ids = all_ids(&srv.base).await;
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{}", ids[0]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["song"]["id"], ids[0].as_str());
    assert_eq!(v["has_audio"], true);
    let model = v["models"][0].as_str().unwrap();
    assert!(model.starts_with("songrec-dsp@"), "{v}");
    assert_eq!(
        v["audio_url"],
        format!("/api/v1/songs/{}/audio", ids[0]).as_str()
    );
    // A unique prefix works too.
    let (s, v2) = get(&srv.url(&format!("/api/v1/songs/{}", &ids[1][..10]))).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v2["song"]["id"], ids[1].as_str());

    let unknown = "0".repeat(64);
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{unknown}"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&srv.url("/api/v1/songs/not-an-id")).await,
        StatusCode::BAD_REQUEST,
        "invalid_id",
    );
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{unknown}/similar"))).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &get(&srv.url("/api/v1/nothing/here")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = client()
        .delete(srv.url("/api/v1/songs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "method_not_allowed");
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_by_id_ranks_excludes_and_filters() {
    let srv = serve_library(|_| {}).await;
    let ids = all_ids(&srv.base).await;
    let n = ids.len();
    for id in &ids {
        let (s, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=100"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let res = v["results"].as_array().unwrap();
        assert_eq!(res.len(), n - 1, "every other song, never itself");
        assert!(res.iter().all(|r| r["song"]["id"] != id.as_str()));
        let sims: Vec<f64> = res
            .iter()
            .map(|r| r["similarity"].as_f64().unwrap())
            .collect();
        assert!(sims.windows(2).all(|w| w[0] >= w[1]), "{sims:?}");
        assert!(sims.iter().all(|s| (-1.0..=1.0001).contains(s)));
        // Songs of one style sound alike: the nearest song shares the query's genre.
        assert_eq!(res[0]["song"]["genre"], v["query"]["song"]["genre"], "{v}");
    }
    let id = &ids[0];
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=10&genre=ambient"))).await;
    assert!(!v["results"].as_array().unwrap().is_empty());
    assert!(
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["song"]["genre"] == "ambient")
    );
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?metric=l2&k=2"))).await;
    assert_eq!(v["metric"], "l2");
    assert!(v["results"][0]["distance"].as_f64().is_some());
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?threshold=1.5"))).await;
    assert_eq!(v["results"].as_array().unwrap().len(), 0);
    let (_, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=2&offset=1"))).await;
    let (_, all) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3"))).await;
    assert_eq!(
        v["results"][0]["song"]["id"],
        all["results"][1]["song"]["id"]
    );

    // The CLI's choices of vectors, by the same names: auto (the default) is the DSP vectors
    // this library holds; both asks for musicnn's too, which these songs lack (a 404 naming
    // the command that computes them); a blend weight outside 0..1 is a 400.
    let (_, auto) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3"))).await;
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=3&embedder=auto"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), result_ids(&auto));
    assert!(
        v["model"].as_str().unwrap().starts_with("songrec-dsp@"),
        "{v}"
    );
    let msg = assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?embedder=both"))).await,
        StatusCode::NOT_FOUND,
        "no_vector",
    );
    assert!(msg.contains("songrec reembed --embedder musicnn"), "{msg}");
    assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?blend=1.5"))).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    let msg = assert_error(
        &get(&srv.url(&format!("/api/v1/songs/{id}/similar?model=nope@1"))).await,
        StatusCode::BAD_REQUEST,
        "unknown_model",
    );
    assert!(
        msg.contains("songrec-dsp@"),
        "lists the models it has: {msg}"
    );
    // A local library has no search cap of its own (the Data API's 1000 is not its limit):
    // k = 2000 is answered; the API's own cap per response is 10,000.
    let (status, body) = get(&srv.url(&format!("/api/v1/songs/{id}/similar?k=2000"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for q in [
        "k=0",
        "k=20000",
        "metric=manhattan",
        "threshold=x",
        "k=9000&offset=2000",
    ] {
        assert_error(
            &get(&srv.url(&format!("/api/v1/songs/{id}/similar?{q}"))).await,
            StatusCode::BAD_REQUEST,
            "bad_request",
        );
    }
    srv.stop().await;
}

fn form(name: &str, bytes: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
    )
}

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
    let id = songrec_storage::SongId::from_bytes(&bytes);
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
async fn audio_streams_with_ranges() {
    let srv = serve_library(|_| {}).await;
    let wav = library().music.join("rock-2.wav");
    let bytes = std::fs::read(&wav).unwrap();
    let len = bytes.len();
    let id = songrec_storage::SongId::from_bytes(&bytes);
    let url = srv.url(&format!("/api/v1/songs/{id}/audio"));
    let c = client();

    let r = c.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["content-type"], "audio/wav");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_eq!(etag, format!("\"{id}\""));
    assert_eq!(r.bytes().await.unwrap().as_ref(), bytes.as_slice());

    let range = |h: &'static str| c.get(&url).header("range", h).send();
    let r = range("bytes=0-99").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes 0-99/{len}").as_str()
    );
    assert_eq!(r.headers()["content-length"], "100");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[..100]);

    let r = range("bytes=-10").await.unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[len - 10..]);

    let r = c
        .get(&url)
        .header("range", format!("bytes={}-", len - 5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[len - 5..]);

    for bad in [
        format!("bytes={len}-"),
        "bytes=50-10".into(),
        "bytes=x-y".into(),
    ] {
        let r = c
            .get(&url)
            .header("range", bad.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{bad}");
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes */{len}").as_str()
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "range_not_satisfiable");
    }

    // Conditional requests: the id is the ETag.
    let r = c
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = c
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "stale If-Range gets the whole file"
    );
    // HEAD: headers only.
    let r = c.head(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], len.to_string().as_str());
    assert!(r.bytes().await.unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_map_health_and_metrics() {
    let srv = serve_library(|_| {}).await;
    let n = STYLES.len() * PER_STYLE;
    let (s, v) = get(&srv.url("/healthz")).await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("ok")));
    assert_eq!(v["songs"], n);

    let (s, st) = get(&srv.url("/api/v1/stats")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["songs"], n);
    let genres = st["genres"].as_array().unwrap();
    assert_eq!(genres.len(), STYLES.len());
    assert!(genres.iter().all(|g| g["count"] == PER_STYLE));
    assert_eq!(st["models"][0]["count"], n);
    let bytes: u64 = std::fs::read_dir(&library().music)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    assert_eq!(st["total_bytes"], bytes);
    assert!(st["total_secs"].as_f64().unwrap() > n as f64 * (SECONDS as f64 - 0.5));

    let (s, m) = get(&srv.url("/api/v1/map")).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let pts = m["points"].as_array().unwrap();
    assert_eq!(pts.len(), n);
    let got: BTreeSet<&str> = pts.iter().map(|p| p["id"].as_str().unwrap()).collect();
    let want_ids = all_ids(&srv.base).await;
    let want: BTreeSet<&str> = want_ids.iter().map(String::as_str).collect();
    assert_eq!(got, want);
    let ev: f64 = m["explained_variance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!(ev > 0.0 && ev <= 1.0001, "{ev}");
    // Songs of one style lie closer together than songs of different styles.
    let pos = |i: usize| (pts[i]["x"].as_f64().unwrap(), pts[i]["y"].as_f64().unwrap());
    let (mut same, mut diff) = (Vec::new(), Vec::new());
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (pos(i), pos(j));
            let d = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
            if pts[i]["genre"] == pts[j]["genre"] {
                same.push(d)
            } else {
                diff.push(d)
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(mean(&same) < mean(&diff), "same {same:?} diff {diff:?}");
    // The second map comes from the cache: no vector reads.
    let reads = |srv: &Running| {
        srv.state
            .recorder
            .metrics()
            .op("get_embedding")
            .map_or(0, |o| o.calls)
    };
    let before = reads(&srv);
    let (_, m2) = get(&srv.url("/api/v1/map")).await;
    assert_eq!(m2, m);
    assert_eq!(reads(&srv), before);
    let (_, mg) = get(&srv.url("/api/v1/map?genre=rock&limit=1")).await;
    assert_eq!(mg["points"].as_array().unwrap().len(), 1);
    assert_eq!(mg["truncated"], true);

    // Metrics: valid exposition lines, per-route counters, backend operations.
    let ids = all_ids(&srv.base).await;
    for _ in 0..3 {
        get(&srv.url(&format!("/api/v1/songs/{}", ids[0]))).await;
    }
    get(&srv.url("/api/v1/songs/zzzz")).await;
    let text = client()
        .get(srv.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut names = HashSet::new();
    for line in text.lines() {
        if line.starts_with('#') {
            let parts: Vec<&str> = line.splitn(4, ' ').collect();
            assert!(
                matches!(parts.get(1), Some(&"HELP") | Some(&"TYPE")),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(
            value.parse::<f64>().is_ok() || value == "+Inf",
            "bad value: {line}"
        );
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        names.insert(name.to_owned());
    }
    let value = |series: &str| -> f64 {
        text.lines()
            .find_map(|l| {
                l.strip_prefix(series)
                    .map(|v| v.trim().parse::<f64>().unwrap())
            })
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    };
    assert!(
        value(
            r#"songrec_http_requests_total{method="GET",route="/api/v1/songs/{id}",status="200"}"#
        ) >= 3.0
    );
    assert_eq!(
        value(
            r#"songrec_http_requests_total{method="GET",route="/api/v1/songs/{id}",status="400"}"#
        ),
        1.0
    );
    assert!(value(r#"songrec_backend_operations_total{op="list"}"#) >= 1.0);
    assert!(
        value(r#"songrec_http_request_duration_seconds_count{method="GET",route="/api/v1/map"}"#)
            >= 3.0
    );
    for n in [
        "songrec_http_requests_total",
        "songrec_http_request_duration_seconds_bucket",
        "songrec_backend_operations_total",
        "songrec_backend_errors_total",
        "songrec_uptime_seconds",
    ] {
        assert!(names.contains(n), "{n} missing");
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_lists_every_route() {
    let srv = serve_library(|_| {}).await;
    let (s, doc) = get(&srv.url("/api/v1/openapi.json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc, songrec_server::openapi::document());
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let mut in_doc = BTreeSet::new();
    let mut op_ids = HashSet::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let op_id = op["operationId"].as_str().unwrap();
            assert!(
                op_ids.insert(op_id.to_owned()),
                "duplicate operationId {op_id}"
            );
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            in_doc.insert((method.clone(), path.clone(), op_id.to_owned()));
        }
    }
    let in_router: BTreeSet<(String, String, String)> = songrec_server::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.operation_id.to_owned(),
            )
        })
        .collect();
    assert_eq!(in_doc, in_router);

    // Every $ref resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let ptr = r.strip_prefix('#').unwrap();
        assert!(doc.pointer(ptr).is_some(), "dangling {r}");
    }

    // And every route of the table is really served (not the 404/405 fallbacks).
    let ids = all_ids(&srv.base).await;
    for r in songrec_server::ROUTES {
        let path = r.path.replace("{id}", &ids[0]);
        let resp = match r.method {
            "get" => client().get(srv.url(&path)).send().await.unwrap(),
            "post" => client()
                .post(srv.url(&path))
                .multipart(form("x.txt", b"text".to_vec()))
                .send()
                .await
                .unwrap(),
            m => panic!("untested method {m}"),
        };
        let status = resp.status();
        assert!(
            status != StatusCode::NOT_FOUND && status != StatusCode::METHOD_NOT_ALLOWED,
            "{} {path}: {status}",
            r.method
        );
    }
    srv.stop().await;
}

#[tokio::test]
async fn a_panicking_handler_gets_a_json_500_and_the_server_goes_on() {
    use axum::routing::get as route_get;
    async fn boom() -> &'static str {
        let v: Vec<&str> = Vec::new();
        v[3] // an out-of-bounds index: a bug, not input
    }
    let app = axum::Router::new()
        .route("/boom", route_get(boom))
        .route("/fine", route_get(|| async { "fine" }))
        .layer(axum::middleware::from_fn(songrec_server::panic_guard));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (s, v) = get(&format!("http://{addr}/boom")).await;
    assert_error(&(s, v), StatusCode::INTERNAL_SERVER_ERROR, "internal");
    let r = client()
        .get(format!("http://{addr}/fine"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "fine");
}

#[tokio::test]
async fn refuses_non_loopback_addresses_unless_public() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(songrec_local::LocalBackend::open(dir.path()).unwrap());
    let opts = songrec_server::ServerOptions::new("0.0.0.0:0".parse().unwrap());
    let err = songrec_server::Server::bind(backend, opts)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("--public"), "{err}");
}

#[tokio::test]
async fn the_metrics_wrapper_passes_the_conformance_suite() {
    use songrec_storage::layers::{LayerExt, MetricsRecorder, testing::MemoryBackend};
    let rec = MetricsRecorder::new();
    let shared: Arc<dyn songrec_storage::StorageBackend> = Arc::new(MemoryBackend::new());
    let b = shared.layer(rec.clone());
    assert_eq!(b.to_string(), "Metrics(Memory)");
    songrec_storage::conformance::run_all(&b).await;
    assert!(rec.metrics().op("search").unwrap().calls > 0);
}

/// On the cloud backend (the local Data API server and s3s-fs), audio is a redirect to a
/// presigned S3 URL that serves the song's bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn astra_audio_is_a_redirect_to_a_presigned_url() {
    let cloud = songrec_testkit::LocalCloud::start().await;
    let cfg = cloud.cfg();
    let embedders = songrec_app::embedders::parse_list("dsp").unwrap();
    let model = songrec_app::embedders::model_of(embedders[0].as_ref());
    songrec_astra::AstraBackend::init(&cloud.options(), &[model])
        .await
        .unwrap();
    let backend = songrec_factory::build(&cfg).unwrap();
    let wav = library().music.join("ambient-1.wav");
    let opts = songrec_app::ingest::IngestOptions {
        jobs: 1,
        embedders,
        batch_size: 8,
        state_file: None,
    };
    let s = songrec_app::ingest::ingest(
        backend.as_ref(),
        std::slice::from_ref(&wav),
        &opts,
        Arc::new(songrec_app::ingest::NoProgress),
    )
    .await
    .unwrap();
    assert_eq!(s.added(), 1);
    let bytes = std::fs::read(&wav).unwrap();
    let id = songrec_storage::SongId::from_bytes(&bytes);

    let srv = serve(backend, |_| {}).await;
    let r = client()
        .get(srv.url(&format!("/api/v1/songs/{id}/audio")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FOUND);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&cloud.s3_url()), "{location}");
    let fetched = client().get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Everything else works the same on this backend.
    let (s, v) = get(&srv.url(&format!("/api/v1/songs/{}", &id.as_str()[..8]))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = get(&srv.url("/api/v1/songs?genre=ambient")).await;
    assert_eq!((s, v["total"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, body) = get(&srv.url("/api/v1/stats")).await;
    assert!(!body.to_string().contains(cloud.token()));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_cross_site_writes_are_refused() {
    let srv = serve_library(|o| o.allowed_hosts = vec!["music.home".into()]).await;
    let port = srv.addr.port();
    let c = client();
    let send = |method: reqwest::Method, path: &str, headers: Vec<(&'static str, String)>| {
        let mut r = c.request(method, srv.url(path));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let r = r.send().await.unwrap();
            let s = r.status();
            let text = r.text().await.unwrap();
            (
                s,
                serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)),
            )
        }
    };
    let id = all_ids(&srv.base).await.remove(0);
    // DNS rebinding: the browser sends the attacker's name as Host. Every route refuses it,
    // the page, the API and the audio alike.
    for path in [
        "/".to_owned(),
        "/api/v1/songs".to_owned(),
        format!("/api/v1/songs/{id}/audio"),
        "/metrics".to_owned(),
        "/no/such/route".to_owned(),
    ] {
        for host in [
            format!("attacker.example:{port}"),
            format!("localhost.attacker.example:{port}"),
            format!("localhost:{}", port.wrapping_add(1)),
        ] {
            let got = send(reqwest::Method::GET, &path, vec![("host", host.clone())]).await;
            let msg = assert_error(&got, StatusCode::MISDIRECTED_REQUEST, "unknown_host");
            assert!(msg.contains("--allow-host"), "{path} {host}: {msg}");
        }
    }
    // The server's own names, and the one allowed explicitly.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "music.home".to_owned(),
    ] {
        let (s, v) = send(
            reqwest::Method::GET,
            "/api/v1/songs",
            vec![("host", host.clone())],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{host}: {v}");
    }

    // Cross-site writes: a form posted by another page (no preflight needed) is refused
    // before its body is read, whatever it carries.
    // A small body: the refusal comes before the body is read, and a large one could still be
    // in flight when the server answers and closes (the client would then see a broken pipe).
    let wav = std::fs::read(library().music.join("techno-1.wav")).unwrap();
    let small = wav[..2048.min(wav.len())].to_vec();
    let own = format!("http://127.0.0.1:{port}");
    let post = |headers: Vec<(&'static str, String)>, body: &Vec<u8>| {
        let mut r = c
            .post(srv.url("/api/v1/similar?k=2"))
            .multipart(form("clip.wav", body.clone()));
        for (k, v) in headers {
            r = r.header(k, v);
        }
        async move {
            let r = r.send().await.unwrap();
            let s = r.status();
            (s, r.json::<Value>().await.unwrap())
        }
    };
    for headers in [
        vec![("origin", "http://attacker.example".to_owned())],
        vec![("origin", "null".to_owned())],
        vec![(
            "origin",
            format!("http://localhost:{}", port.wrapping_add(1)),
        )],
        vec![
            ("origin", own.clone()),
            ("sec-fetch-site", "cross-site".to_owned()),
        ],
        vec![("sec-fetch-site", "same-site".to_owned())],
    ] {
        let got = post(headers.clone(), &small).await;
        assert_error(&got, StatusCode::FORBIDDEN, "cross_site_request");
    }
    // Embedding the API in another site's page (an <audio>, a fetch in no-cors mode) too.
    let got = send(
        reqwest::Method::GET,
        &format!("/api/v1/songs/{id}/audio"),
        vec![
            ("sec-fetch-site", "cross-site".to_owned()),
            ("sec-fetch-mode", "no-cors".to_owned()),
        ],
    )
    .await;
    assert_error(&got, StatusCode::FORBIDDEN, "cross_site_request");
    // A link from another site to the page still opens it.
    let r = c
        .get(srv.url("/"))
        .header("sec-fetch-site", "cross-site")
        .header("sec-fetch-mode", "navigate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The server's own page, and clients that are not browsers, may post.
    let (s, v) = post(
        vec![
            ("origin", own.clone()),
            ("sec-fetch-site", "same-origin".to_owned()),
        ],
        &wav,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = post(vec![], &wav).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Refusals show in the metrics like any other answer.
    let r = c.get(srv.url("/metrics")).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("status=\"421\""), "{text}");
    assert!(text.contains("status=\"403\""), "{text}");
    srv.stop().await;
}

/// Search by words: `GET /api/v1/similar?text=` ranks by the stored style tags; `text=` on a
/// song's neighbours moves them towards the words; words that name no tag are a 400 listing
/// the tags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn words_rank_by_style_tags_and_steer_neighbours() {
    use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord};
    let dir = tempfile::tempdir().unwrap();
    let lib = songrec_local::LocalBackend::open(dir.path()).unwrap();
    let model = ModelInfo::new("musicnn", "1", 4);
    // Song 0 is the seed; 1 and 2 sound closest to it and are jazz; 3, 4, 5 are metal, less
    // close. The last song has no style tags (no neural analysis): never a word match.
    let jazz = [0.0, 0.9, 0.6, 0.0, 0.0, 0.0, 0.0];
    let metal = [0.0, 0.0, 0.0, 0.8, 0.5, 0.2, 0.0];
    let off = [0.0f32, 0.14, 0.2, 0.48, 0.51, 0.54, 0.3];
    let mut records = Vec::new();
    for i in 0..7 {
        let id = SongId::from_bytes(format!("song {i}").as_bytes());
        let mut m = SongMetadata::new(id, format!("Song {i}"));
        // The last song has no genre either: no word of its text is "metal".
        m.genre = (i < 6).then(|| if i < 3 { "Jazz" } else { "Metal" }.to_owned());
        if i < 6 {
            m.extra.insert(
                "style_tags".into(),
                serde_json::json!([["jazz", jazz[i]], ["metal", metal[i]], ["rock", 0.1]]),
            );
        }
        let v = vec![1.0, off[i], 0.0, 0.0];
        records.push(SongRecord {
            metadata: m,
            embeddings: vec![Embedding::new(model.clone(), v).unwrap()],
        });
    }
    assert!(lib.put_songs(&records).await.unwrap().is_complete());
    let ids: Vec<String> = records
        .iter()
        .map(|r| r.metadata.id.as_str().to_owned())
        .collect();
    let srv = serve(Arc::new(lib), |_| {}).await;

    // Words alone: "jazzy" is read as the tag jazz; songs ranked by their jazz probability.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=something%20jazzy")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), [ids[1].clone(), ids[2].clone()], "{v}");
    assert_eq!(v["words"]["tags"][0]["tag"], "jazz", "{v}");
    assert_eq!(v["query"]["text"], "something jazzy", "{v}");
    assert_eq!(v["results"][0]["tag_score"], v["results"][0]["similarity"]);
    assert!((v["results"][0]["tag_score"].as_f64().unwrap() - 0.9).abs() < 1e-6);
    // With a filter, and avoiding a tag: metal songs, least metal first.
    let (_, v) = get(&srv.url("/api/v1/similar?k=3&text=no%20metal&genre=metal")).await;
    assert_eq!(
        result_ids(&v),
        [ids[5].clone(), ids[4].clone(), ids[3].clone()],
        "{v}"
    );
    // Listener words map onto the tags ("swing" → jazz), and the answer says which words
    // were used and which ignored.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=the%20swing%20kazoo")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v), [ids[1].clone(), ids[2].clone()], "{v}");
    assert_eq!(
        v["words"]["used_words"],
        serde_json::json!(["swing"]),
        "{v}"
    );
    assert_eq!(
        v["words"]["ignored_words"],
        serde_json::json!(["the", "kazoo"]),
        "{v}"
    );
    // Nothing matches (no tag, no title holds the words): 404, suggesting the nearest words
    // and the words that match songs here rather than listing every tag.
    let msg = assert_error(
        &get(&srv.url("/api/v1/similar?text=orchestrall%20kazoo")).await,
        StatusCode::NOT_FOUND,
        "no_match",
    );
    assert!(
        msg.contains("did you mean: orchestral")
            && msg.contains(
                "words that match songs here: rock (6 songs), metal (3 songs), jazz (2 songs)"
            )
            && !msg.contains("female vocalists"),
        "{msg}"
    );
    // Words that name no tag find titles.
    let (s, v) = get(&srv.url("/api/v1/similar?k=2&text=song%203")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["results"][0]["song"]["title"], "Song 3", "{v}");
    // No word at all: a 400.
    assert_error(
        &get(&srv.url("/api/v1/similar?text=the%20music")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    assert_error(
        &get(&srv.url("/api/v1/similar?k=3")).await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );

    // A song's neighbours: by sound the jazz songs come first; "but more metal" lifts the most
    // metal song over them, and the audio similarity reported is unchanged.
    let seed = &ids[0];
    let (_, plain) = get(&srv.url(&format!("/api/v1/songs/{seed}/similar?k=3"))).await;
    assert_eq!(result_ids(&plain)[0], ids[1], "{plain}");
    let (s, v) = get(&srv.url(&format!(
        "/api/v1/songs/{seed}/similar?k=3&text=but%20more%20metal"
    )))
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(result_ids(&v)[0], ids[3], "{v}");
    // Its tag (0.8) and its genre, "Metal", holding the word (1).
    assert!((v["results"][0]["tag_score"].as_f64().unwrap() - 1.8).abs() < 1e-6);
    let sim_of = |v: &Value, id: &str| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["song"]["id"] == id)
            .map(|r| r["similarity"].as_f64().unwrap())
    };
    let (_, wide) = get(&srv.url(&format!("/api/v1/songs/{seed}/similar?k=6"))).await;
    assert_eq!(sim_of(&v, &ids[3]), sim_of(&wide, &ids[3]));
    assert_error(
        &get(&srv.url(&format!(
            "/api/v1/songs/{seed}/similar?text=metal&distinct=true"
        )))
        .await,
        StatusCode::BAD_REQUEST,
        "bad_request",
    );
    srv.stop().await;
}

/// The song ids of a similarity response, best first.
fn result_ids(v: &Value) -> Vec<String> {
    v["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["song"]["id"].as_str().unwrap().to_owned())
        .collect()
}

/// A `q=` search reads the listing only until its page is full (one match more shows there are
/// more): a bounded total and a cursor that continues the same search, each match once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_pages_continue_with_a_cursor() {
    let srv = serve_library(|_| {}).await;
    let (s, v) = get(&srv.url("/api/v1/songs?q=warehouse")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["total"].as_u64(), v["total_exact"].as_bool()),
        (Some(PER_STYLE as u64), Some(true))
    );
    assert!(v["next_cursor"].is_null());

    let mut seen = Vec::new();
    let mut url = srv.url("/api/v1/songs?q=warehouse&limit=1&sort=title");
    for round in 0.. {
        let (s, v) = get(&url).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let items = v["items"].as_array().unwrap();
        seen.extend(
            items
                .iter()
                .map(|x| x["title"].as_str().unwrap().to_owned()),
        );
        if round == 0 {
            assert_eq!(items.len(), 1);
            assert_eq!(v["total_exact"], false, "stopped before the end: {v}");
            assert!(v["total"].as_u64().unwrap() >= 2);
        }
        match v["next_cursor"].as_str() {
            Some(c) => {
                url = srv.url(&format!(
                    "/api/v1/songs?q=warehouse&limit=1&sort=title&cursor={c}"
                ))
            }
            None => break,
        }
        assert!(round < 10, "the search does not end");
    }
    assert_eq!(seen.len(), PER_STYLE, "{seen:?}");
    assert!(seen.iter().all(|t| t.starts_with("Warehouse Pulse")));
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in title order");
    let (s, v) = get(&srv.url("/api/v1/songs?q=warehouse&cursor=nonsense")).await;
    assert_error(&(s, v), StatusCode::BAD_REQUEST, "bad_request");
}

/// A `q=` search asked for an offset beyond what one request reads (10,000 songs) never points
/// at itself: on 12,000 songs, `offset=11000` is refused with a 400 that carries a
/// `next_cursor`, and following cursors from there reaches the songs at 11,000 and on, in
/// order; a page cut short by the budget continues where it stopped, by cursor or by offset
/// (issue 31).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_past_its_scan_budget_never_points_at_itself() {
    use songrec_storage::SongRecord;
    const N: usize = 12_000;
    let dir = tempfile::tempdir().unwrap();
    let lib = songrec_local::LocalBackend::open(dir.path()).unwrap();
    let records: Vec<SongRecord> = (0..N)
        .map(|n| SongRecord {
            metadata: songrec_testkit::data::song(n),
            embeddings: Vec::new(),
        })
        .collect();
    assert!(lib.put_songs(&records).await.unwrap().is_complete());
    lib.flush().await.unwrap();
    let srv = serve(Arc::new(lib), |_| {}).await;
    let title = |n: usize| format!("Track {n:05}");
    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let base = "/api/v1/songs?q=track&sort=title&limit=3";

    // Far past the budget: a 400 that says to follow next_cursor, and carries one.
    let got = get(&srv.url(&format!("{base}&offset=11000"))).await;
    let msg = assert_error(&got, StatusCode::BAD_REQUEST, "search_offset_beyond_scan");
    assert!(msg.contains("next_cursor"), "{msg}");
    let mut cursor = got.1["error"]["next_cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("no next_cursor in {}", got.1))
        .to_owned();
    // Following it reaches match 11,000 (pages on the way may be empty), then goes on.
    let mut seen = Vec::new();
    for round in 0.. {
        let (s, v) = get(&srv.url(&format!("{base}&cursor={cursor}"))).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert!(v["next_offset"].is_null(), "cursor mode: {v}");
        seen.extend(titles(&v));
        if seen.len() >= 6 {
            break;
        }
        cursor = v["next_cursor"].as_str().expect("more to come").to_owned();
        assert!(round < 5, "the cursor does not get there: {seen:?}");
    }
    assert_eq!(seen, (11_000..11_006).map(title).collect::<Vec<_>>());

    // A page the budget cuts short: the one match found, then the cursor and the offset both
    // continue right after it; neither points back at the request.
    let (s, v) = get(&srv.url(&format!("{base}&offset=9999"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(titles(&v), [title(9999)]);
    assert_eq!(v["next_offset"], 10_000, "{v}");
    let c = v["next_cursor"].as_str().expect("a cursor").to_owned();
    let (s, v) = get(&srv.url(&format!("{base}&cursor={c}"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(titles(&v), (10_000..10_003).map(title).collect::<Vec<_>>());
    // Exactly at the budget: nothing found yet, so no next_offset (it would be the same).
    let (s, v) = get(&srv.url(&format!("{base}&offset=10000"))).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_ne!(v["next_offset"], 10_000, "{v}");
    let c = v["next_cursor"].as_str().expect("a cursor").to_owned();
    let (_, v2) = get(&srv.url(&format!("{base}&cursor={c}"))).await;
    let mut got = titles(&v);
    got.extend(titles(&v2));
    assert_eq!(
        got[..3],
        (10_000..10_003).map(title).collect::<Vec<_>>()[..]
    );
}
