//! A server that answers with a body that never ends (`songrec_testkit::flood::Flood`, on
//! 127.0.0.1) costs the clients at most their cap: the Data API client and the S3 store stop
//! reading there, with an error naming the endpoint (never the token or a signature), at once,
//! and the server manages to send little more than the cap (what the sockets buffer).

use std::time::{Duration, Instant};

use futures::StreamExt as _;
use object_store::ObjectStore as _;
use serde_json::json;
use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::capped::{BodyTooLarge, S3_BODY_CAP, STATUS_BODY_CAP};
use songrec_astra::dataapi::{DataApiClient, DataApiError, FindOptions};
use songrec_astra::secret::Secret;
use songrec_testkit::flood::Flood;

/// The server gives up here (a client without a cap reads this much, then fails otherwise).
const GIVE_UP: u64 = 96 << 20;
/// Slack over a cap for what the loopback sockets and the HTTP stack hold in flight.
const IN_FLIGHT: u64 = 24 << 20;
const TOKEN: &str = "AstraCS:flood-test-token-0123456789";

fn client(url: &str, documents_cap: Option<u64>) -> DataApiClient {
    let mut cfg = crate::api_config(url, TOKEN);
    if let Some(cap) = documents_cap {
        cfg = cfg.with_max_response_bytes(cap);
    }
    DataApiClient::new(cfg).expect("client")
}

fn assert_bounded(flood: &Flood, cap: u64, started: Instant, what: &str) {
    let sent = flood.sent();
    assert!(
        sent < cap + IN_FLIGHT,
        "{what}: the server sent {sent} bytes for a cap of {cap}: reading did not stop"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what}: took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_data_api_answer_stops_at_the_cap_with_an_error_naming_the_endpoint() {
    // A count: the small cap, with the default settings.
    let flood = Flood::start(
        "application/json",
        b"{\"status\":{\"count\":",
        b"1111111111",
        GIVE_UP,
    )
    .await;
    let started = Instant::now();
    let err = client(&flood.url(), None)
        .collection("songs")
        .count_documents(json!({}))
        .await
        .expect_err("an endless answer fails");
    let text = format!("{err} {err:?}");
    match &err {
        DataApiError::ResponseTooLarge {
            endpoint,
            command,
            limit,
        } => {
            assert_eq!(command, "countDocuments");
            assert_eq!(*limit, STATUS_BODY_CAP);
            assert!(endpoint.starts_with(&flood.url()), "{endpoint}");
            assert!(endpoint.ends_with("/songs"), "{endpoint}");
        }
        other => panic!("not ResponseTooLarge: {other:?}"),
    }
    assert!(text.contains(&flood.url()), "{text}");
    assert!(
        !text.contains(TOKEN) && !text.contains("flood-test"),
        "{text}"
    );
    assert!(!err.is_transient(), "a flood is not retried: {text}");
    assert_eq!(flood.requests(), 1, "not retried");
    assert_bounded(&flood, STATUS_BODY_CAP, started, "countDocuments");

    // A find: the documents cap (lowered here so the test stays small).
    let flood = Flood::start(
        "application/json",
        b"{\"data\":{\"documents\":[",
        b"{\"_id\":\"x\",\"meta\":\"aaaaaaaaaaaaaaaa\"},",
        GIVE_UP,
    )
    .await;
    let cap = 2 << 20;
    let started = Instant::now();
    let err = client(&flood.url(), Some(cap))
        .collection("songs")
        .find(json!({}), FindOptions::default())
        .next_page()
        .await
        .expect_err("an endless page fails");
    assert!(
        matches!(&err, DataApiError::ResponseTooLarge { command, limit, .. } if command == "find" && *limit == cap),
        "{err:?}"
    );
    assert!(err.to_string().contains("ASTRA_DB_API_ENDPOINT"), "{err}");
    assert_bounded(&flood, cap, started, "find");
}

/// The S3 store: a listing (object_store's list path, through songrec's HTTP client) stops at
/// [`S3_BODY_CAP`]; an object's bytes are read only with a `Content-Length` (object_store
/// requires it and hyper reads exactly that many), so an endless object body is never read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_s3_answer_stops_at_the_cap() {
    let flood = Flood::start(
        "application/xml",
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>music</Name>",
        b"<Contents><Key>audio/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa</Key><Size>1</Size></Contents>",
        GIVE_UP,
    )
    .await;
    let secret = "flood-secret-key-0123456789";
    let store = BlobStore::new(
        S3Config::new("music", "us-east-1", "AKIDFLOOD", Secret::new(secret))
            .with_endpoint(flood.url())
            .with_allow_http(true)
            .with_max_retries(0),
    )
    .expect("store");
    let started = Instant::now();
    let mut listing = store.object_store().list(None);
    let err = loop {
        match listing.next().await {
            Some(Ok(_)) => {}
            Some(Err(e)) => break e,
            None => panic!("an endless listing ended"),
        }
    };
    let chain: Vec<String> =
        std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |c| {
            c.source()
        })
        .map(ToString::to_string)
        .collect();
    let too_large = std::iter::successors(Some(&err as &(dyn std::error::Error + 'static)), |c| {
        c.source()
    })
    .find_map(|c| c.downcast_ref::<BodyTooLarge>())
    .unwrap_or_else(|| panic!("no BodyTooLarge in {chain:?}"));
    assert_eq!(too_large.limit, S3_BODY_CAP);
    assert!(
        too_large
            .what
            .starts_with(&format!("GET {}/music", flood.url())),
        "{too_large}"
    );
    assert!(
        !err.to_string().contains(secret) && !too_large.what.contains('?'),
        "{err}"
    );
    drop(listing);
    assert_bounded(&flood, S3_BODY_CAP, started, "S3 listing");

    // An audio download from the same server: no Content-Length, so nothing is read.
    let before = flood.sent();
    let dir = tempfile::tempdir().expect("dir");
    let started = Instant::now();
    let got = store
        .get_to_file(&"ab".repeat(32), &dir.path().join("song"))
        .await;
    assert!(got.is_err(), "an endless object is refused");
    assert!(
        flood.sent() - before < IN_FLIGHT,
        "the object's body was read: {} bytes",
        flood.sent() - before
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        std::fs::read_dir(dir.path()).expect("dir").next().is_none(),
        "no partial file"
    );
}
