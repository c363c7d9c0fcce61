//! The server's guards: a panicking handler gets a JSON 500 and the server goes on, addresses
//! other than loopback are refused unless public, and foreign hosts and cross-site writes are
//! refused.

use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;
use songrec_testkit::server::{library, serve_library};

use super::{all_ids, assert_error, client, form, get};

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
