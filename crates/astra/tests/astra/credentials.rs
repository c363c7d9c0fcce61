//! Credentials stay with their host: the Data API token and the S3 signature never follow a
//! redirect to another origin, and plain `http://` is refused off this machine unless the
//! configuration allows it. Over real sockets: a scripted server on 127.0.0.1 answers 307 to a
//! second one (another port, so another origin), which records whatever reaches it.

use serde_json::json;
use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig};
use songrec_astra::secret::Secret;

use crate::dataapi_client::support::{Reply, ScriptedServer};

const TOKEN: &str = "AstraCS:redirect-test-token-0123456789";

fn redirect_to(location: String) -> Reply {
    Reply::Raw {
        status: 307,
        content_type: "text/plain",
        body: String::new(),
        headers: vec![("location", location)],
    }
}

#[tokio::test]
async fn data_api_token_does_not_follow_a_redirect_to_another_origin() {
    let elsewhere =
        ScriptedServer::always(Reply::Json(json!({"status": {"collections": []}}))).await;
    let target = format!("{}/api/json/v1/default_keyspace", elsewhere.base);
    let redirecting = ScriptedServer::always(redirect_to(target)).await;
    let client = DataApiClient::new(crate::api_config(&redirecting.base, TOKEN)).expect("client");

    let err = client
        .find_collections(false)
        .await
        .expect_err("a redirect is an error");
    let msg = err.to_string();
    assert!(msg.contains("redirect"), "{msg}");
    assert!(
        msg.contains(&elsewhere.base),
        "names the target origin: {msg}"
    );
    assert!(!msg.contains(TOKEN), "{msg}");
    assert_eq!(redirecting.recorded().len(), 1, "asked once, not retried");
    assert!(
        elsewhere.recorded().is_empty(),
        "the other origin received {:?}",
        elsewhere.recorded()
    );
}

#[tokio::test]
async fn data_api_follows_a_redirect_within_its_own_origin() {
    let server = ScriptedServer::start(|req, _| {
        if req.path.ends_with("/moved") {
            Reply::Json(json!({"status": {"collections": ["songs"]}}))
        } else {
            redirect_to(format!("{}/moved", req.path))
        }
    })
    .await;
    let client = DataApiClient::new(crate::api_config(&server.base, TOKEN)).expect("client");
    let names = client.find_collections(false).await.expect("followed");
    assert_eq!(names.len(), 1);
    let seen = server.recorded();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[1].header("token"),
        Some(TOKEN),
        "same origin keeps the token"
    );
}

#[test]
fn plain_http_to_another_machine_needs_allow_http() {
    let cfg = || DataApiConfig::new("http://db.example.com:8181", Secret::new(TOKEN));
    let err = DataApiClient::new(cfg()).expect_err("refused").to_string();
    assert!(err.contains("allow_http"), "{err}");
    assert!(!err.contains(TOKEN), "{err}");
    DataApiClient::new(cfg().with_allow_http(true)).expect("allowed by the user");
    DataApiClient::new(DataApiConfig::new(
        "https://db.example.com",
        Secret::new(TOKEN),
    ))
    .expect("https");
    DataApiClient::new(DataApiConfig::new("http://127.0.0.1:1", Secret::new(TOKEN)))
        .expect("loopback");

    let s3 = |endpoint: &str| {
        S3Config::new(
            "b",
            "us-east-1",
            "AKIDREDIRECT",
            Secret::new("s3-secret-key"),
        )
        .with_endpoint(endpoint)
    };
    let err = BlobStore::new(s3("http://s3.example.com:9000"))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("allow_http"), "{err}");
    BlobStore::new(s3("http://s3.example.com:9000").with_allow_http(true)).expect("allowed");
    BlobStore::new(s3("http://localhost:9000")).expect("loopback needs no switch");
}

#[tokio::test]
async fn s3_signature_does_not_follow_a_redirect_to_another_origin() {
    let elsewhere = ScriptedServer::always(Reply::raw(200, "application/xml", "")).await;
    let target = elsewhere.base.clone();
    let redirecting =
        ScriptedServer::start(move |req, _| redirect_to(format!("{target}{}", req.path))).await;
    let store = BlobStore::new(
        S3Config::new(
            "bucket",
            "us-east-1",
            "AKIDREDIRECT",
            Secret::new("s3-secret-key"),
        )
        .with_endpoint(&redirecting.base)
        .with_max_retries(0),
    )
    .expect("store");
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("a.bin");
    std::fs::write(&file, b"audio").expect("write");
    let hash = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(b"audio"));

    let exists = store.exists(&hash).await;
    let put = store.put_file(&hash, &file).await;
    assert!(
        exists.is_err() || put.is_err(),
        "a redirect is an error: {exists:?} {put:?}"
    );
    assert!(!redirecting.recorded().is_empty());
    assert!(
        elsewhere.recorded().is_empty(),
        "the other origin received {:?}",
        elsewhere.recorded()
    );
}
