//! Data API client against a scripted HTTP server (canned responses written from the
//! protocol reference; every request is recorded).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::TryStreamExt as _;
use serde_json::{Value, json};
use songrec_astra::dataapi::{
    Collection, DataApiClient, DataApiConfig, DataApiError, DocumentCount, ErrorKind, FindOptions,
    Indexing, RetryPolicy, SimilarityMetric, Sort, SortOrder, UpdateOptions, VectorEncoding,
    decode_vector, document_similarity, document_vector,
};
use songrec_astra::secret::Secret;

const TOKEN: &str = "AstraCS:test-token-0123456789abcdef";

pub(crate) mod support {
    //! A tiny HTTP/1.1 server on 127.0.0.1:0 that hands each request to a script.

    use std::sync::{Arc, Mutex};

    use serde_json::Value;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::{TcpListener, TcpStream};

    #[derive(Debug, Clone)]
    pub struct Recorded {
        pub method: String,
        pub path: String,
        pub headers: Vec<(String, String)>,
        pub body: Value,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        /// The single command name of the body.
        pub fn command(&self) -> String {
            self.body
                .as_object()
                .and_then(|o| o.keys().next().cloned())
                .unwrap_or_default()
        }

        /// The command's payload object.
        pub fn payload(&self) -> &Value {
            let name = self.command();
            self.body.get(name.as_str()).unwrap_or(&Value::Null)
        }
    }

    #[derive(Clone)]
    pub enum Reply {
        /// 200 with a JSON body.
        Json(Value),
        /// Any status with a JSON body.
        Status(u16, Value),
        /// Any status, content type, body and extra headers.
        Raw {
            status: u16,
            content_type: &'static str,
            body: String,
            headers: Vec<(&'static str, String)>,
        },
        /// Close the socket without answering.
        Drop,
        /// Never answer (until the client gives up).
        Hang,
    }

    impl Reply {
        /// Any status, content type and body, no extra headers.
        pub fn raw(status: u16, content_type: &'static str, body: &str) -> Reply {
            Reply::Raw {
                status,
                content_type,
                body: body.to_owned(),
                headers: vec![],
            }
        }
    }

    type Script = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

    pub struct ScriptedServer {
        pub base: String,
        pub requests: Arc<Mutex<Vec<Recorded>>>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for ScriptedServer {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    impl ScriptedServer {
        /// Answers every request with `reply`.
        pub async fn always(reply: Reply) -> Self {
            Self::start(move |_, _| reply.clone()).await
        }

        /// `script(request, index)` decides the reply; `index` counts requests from 0.
        pub async fn start(
            script: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
        ) -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            let requests = Arc::new(Mutex::new(Vec::new()));
            let script: Arc<Script> = Arc::new(script);
            let reqs = requests.clone();
            let task = tokio::spawn(async move {
                loop {
                    let Ok((sock, _)) = listener.accept().await else {
                        return;
                    };
                    let reqs = reqs.clone();
                    let script = script.clone();
                    tokio::spawn(async move {
                        let _ = serve(sock, reqs, script).await;
                    });
                }
            });
            Self {
                base: format!("http://{addr}"),
                requests,
                task,
            }
        }

        /// Answers the first `failures` requests with `failure`, then every one with `then`.
        pub async fn fails_then(failures: usize, failure: Reply, then: Reply) -> Self {
            Self::start(move |_, i| {
                if i < failures {
                    failure.clone()
                } else {
                    then.clone()
                }
            })
            .await
        }

        pub fn recorded(&self) -> Vec<Recorded> {
            self.requests.lock().expect("lock").clone()
        }
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    async fn serve(
        mut sock: TcpStream,
        reqs: Arc<Mutex<Vec<Recorded>>>,
        script: Arc<Script>,
    ) -> std::io::Result<()> {
        let mut buf = Vec::new();
        loop {
            // Read the head.
            let head_end = loop {
                if let Some(i) = find(&buf, b"\r\n\r\n") {
                    break i;
                }
                let mut tmp = [0u8; 8192];
                let n = sock.read(&mut tmp).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&tmp[..n]);
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_string();
            let mut parts = request_line.split(' ');
            let method = parts.next().unwrap_or_default().to_string();
            let path = parts.next().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let body_start = head_end + 4;
            while buf.len() < body_start + len {
                let mut tmp = [0u8; 65536];
                let n = sock.read(&mut tmp).await?;
                if n == 0 {
                    return Ok(());
                }
                buf.extend_from_slice(&tmp[..n]);
            }
            let body_bytes = buf[body_start..body_start + len].to_vec();
            buf.drain(..body_start + len);
            let body = serde_json::from_slice(&body_bytes).unwrap_or(Value::Null);
            let rec = Recorded {
                method,
                path,
                headers,
                body,
            };
            let index = {
                let mut g = reqs.lock().expect("lock");
                g.push(rec.clone());
                g.len() - 1
            };
            let (status, ctype, body, extra) = match script(&rec, index) {
                Reply::Json(v) => (200, "application/json", v.to_string(), vec![]),
                Reply::Status(s, v) => (s, "application/json", v.to_string(), vec![]),
                Reply::Raw {
                    status,
                    content_type,
                    body,
                    headers,
                } => (status, content_type, body, headers),
                Reply::Drop => return Ok(()),
                Reply::Hang => {
                    tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                    return Ok(());
                }
            };
            let mut resp = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\n",
                body.len()
            );
            for (k, v) in extra {
                resp.push_str(&format!("{k}: {v}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&body);
            sock.write_all(resp.as_bytes()).await?;
        }
    }
}

use support::{Recorded, Reply, ScriptedServer};

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(4)
        .with_delays(Duration::from_millis(1), Duration::from_millis(5))
}

fn config(server: &ScriptedServer) -> DataApiConfig {
    DataApiConfig::new(&server.base, Secret::new(TOKEN))
        .with_keyspace("ks")
        .with_retry(fast_retry())
        .with_request_timeout(Duration::from_secs(5))
        .with_operation_timeout(Duration::from_secs(20))
}

/// The error `find_collections` gets from a server that always answers `reply`.
async fn listing_error(reply: Reply) -> DataApiError {
    let server = ScriptedServer::always(reply).await;
    client(&server)
        .find_collections(false)
        .await
        .expect_err("should fail")
}

fn client(server: &ScriptedServer) -> DataApiClient {
    DataApiClient::new(config(server)).expect("client")
}

/// The error of an `update_one` of document "a" that must fail.
async fn update_a_error(c: &DataApiClient, update: Value, options: UpdateOptions) -> DataApiError {
    c.collection("songs")
        .update_one(json!({"_id": "a"}), update, options)
        .await
        .expect_err("should fail")
}

/// `count_documents` of all songs, which must succeed (`what` names the case).
async fn count_all(c: &DataApiClient, what: &str) -> DocumentCount {
    c.collection("songs")
        .count_documents(json!({}))
        .await
        .expect(what)
}

/// `estimated_document_count` of the songs.
async fn estimate(c: &DataApiClient) -> Result<u64, DataApiError> {
    c.collection("songs").estimated_document_count().await
}

fn err(code: &str) -> Value {
    json!({"id": "e-1", "family": "REQUEST", "scope": "SCHEMA", "errorCode": code,
           "title": "t", "message": format!("{code} happened")})
}

// ---------------------------------------------------------------------------------------
// request shape

#[tokio::test]
async fn request_shape_headers_paths_and_bodies() {
    let server = ScriptedServer::start(|r, _| match r.command().as_str() {
        "createCollection" | "deleteCollection" => Reply::Json(json!({"status": {"ok": 1}})),
        "findCollections" => Reply::Json(json!({"status": {"collections": [
            {"name": "songs", "options": {"vector": {"dimension": 4, "metric": "dot_product", "sourceModel": "other"}, "indexing": {"deny": ["lyrics"]}}},
            {"name": "plain", "options": {}}
        ]}})),
        "findOne" => Reply::Json(json!({"data": {"document": {"_id": "t1", "title": "A"}}})),
        "updateOne" => Reply::Json(json!({"status": {"matchedCount": 0, "modifiedCount": 0, "upsertedId": "t9"}})),
        "deleteOne" => Reply::Json(json!({"status": {"deletedCount": 1}})),
        "countDocuments" => Reply::Json(json!({"status": {"count": 7}})),
        "estimatedDocumentCount" => Reply::Json(json!({"status": {"count": 1234}})),
        _ => Reply::Status(500, json!({})),
    })
    .await;
    let c = DataApiClient::new(config(&server).with_vector_encoding(VectorEncoding::Array))
        .expect("client");

    let songs = c
        .create_collection(
            "songs",
            4,
            SimilarityMetric::DotProduct,
            Some(Indexing::Deny(vec!["lyrics".into()])),
        )
        .await
        .expect("create");
    let infos = c.find_collections(true).await.expect("find collections");
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].name, "songs");
    assert_eq!(infos[0].dimension, Some(4));
    assert_eq!(infos[0].metric, Some(SimilarityMetric::DotProduct));
    assert_eq!(infos[1].dimension, None);

    let doc = songs
        .find_one(
            json!({"_id": "t1"}),
            FindOptions::default().projection(json!({"title": 1})),
        )
        .await
        .expect("find one");
    assert_eq!(doc, Some(json!({"_id": "t1", "title": "A"})));

    let up = songs
        .update_one(
            json!({"_id": "t9"}),
            json!({"$set": {"title": "Z", "$vector": [1.0, 0.0, 0.0, 0.0]}}),
            UpdateOptions::upsert(),
        )
        .await
        .expect("update");
    assert_eq!(up.upserted_id, Some(json!("t9")));
    assert_eq!(up.matched_count, 0);
    assert_eq!(
        songs
            .delete_one(json!({"_id": "t1"}))
            .await
            .expect("delete"),
        1
    );
    assert_eq!(
        songs
            .count_documents(json!({"genre": "jazz"}))
            .await
            .expect("count"),
        DocumentCount::Exact(7)
    );
    assert_eq!(songs.estimated_document_count().await.expect("est"), 1234);
    c.delete_collection("songs").await.expect("delete coll");

    let reqs = server.recorded();
    assert_eq!(reqs.len(), 8);
    assert_eq!(c.requests_sent(), 8);
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("token"), Some(TOKEN));
        assert_eq!(r.header("content-type"), Some("application/json"));
        let n_ctype = r
            .headers
            .iter()
            .filter(|(k, _)| k == "content-type")
            .count();
        assert_eq!(n_ctype, 1);
        assert_eq!(r.header("accept"), Some("application/json"));
        assert!(
            r.header("user-agent")
                .is_some_and(|ua| ua.starts_with("songrec/")),
            "{:?}",
            r.header("user-agent")
        );
        assert_eq!(
            r.body.as_object().map(|o| o.len()),
            Some(1),
            "one command per body"
        );
    }
    let keyspace_cmds = ["createCollection", "findCollections", "deleteCollection"];
    for r in &reqs {
        let want = if keyspace_cmds.contains(&r.command().as_str()) {
            "/api/json/v1/ks"
        } else {
            "/api/json/v1/ks/songs"
        };
        assert_eq!(r.path, want, "{}", r.command());
    }
    assert_eq!(
        reqs[0].body,
        json!({"createCollection": {"name": "songs", "options": {
            "vector": {"dimension": 4, "metric": "dot_product"}, "indexing": {"deny": ["lyrics"]}}}})
    );
    assert_eq!(
        reqs[1].body,
        json!({"findCollections": {"options": {"explain": true}}})
    );
    assert_eq!(
        reqs[2].body,
        json!({"findOne": {"filter": {"_id": "t1"}, "projection": {"title": 1}}})
    );
    assert_eq!(
        reqs[3].body,
        json!({"updateOne": {"filter": {"_id": "t9"},
            "update": {"$set": {"title": "Z", "$vector": [1.0, 0.0, 0.0, 0.0]}},
            "options": {"upsert": true}}})
    );
    assert_eq!(
        reqs[4].body,
        json!({"deleteOne": {"filter": {"_id": "t1"}}})
    );
    assert_eq!(
        reqs[5].body,
        json!({"countDocuments": {"filter": {"genre": "jazz"}}})
    );
    assert_eq!(reqs[6].body, json!({"estimatedDocumentCount": {}}));
    assert_eq!(reqs[7].body, json!({"deleteCollection": {"name": "songs"}}));
}

#[tokio::test]
async fn self_hosted_path_prefix() {
    let server =
        ScriptedServer::start(|_, _| Reply::Json(json!({"status": {"collections": ["a", "b"]}})))
            .await;
    let c = DataApiClient::new(config(&server).with_api_path("/v1")).expect("client");
    let names: Vec<String> = c
        .find_collections(false)
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["a", "b"]);
    let reqs = server.recorded();
    assert_eq!(reqs[0].path, "/v1/ks");
    assert_eq!(reqs[0].body, json!({"findCollections": {}}));
}

#[tokio::test]
async fn debug_output_never_contains_token() {
    let server = ScriptedServer::start(|_, _| Reply::Json(json!({}))).await;
    let cfg = config(&server);
    let c = DataApiClient::new(cfg.clone()).expect("client");
    let coll = c.collection("songs");
    for s in [
        format!("{cfg:?}"),
        format!("{cfg:#?}"),
        format!("{c:?}"),
        format!("{coll:?}"),
    ] {
        assert!(!s.contains("test-token"), "{s}");
        assert!(s.contains("Secret(***)") || s.contains("Collection"), "{s}");
    }
}

// ---------------------------------------------------------------------------------------
// errors

type Check = fn(&DataApiError) -> bool;

#[tokio::test]
async fn soft_errors_map_old_and_new_codes_to_the_same_variant() {
    // Each old code and its new spelling must map to the same variant.
    let cases: [([&str; 2], Check); 4] = [
        (
            ["UNKNOWN_COLLECTION_OR_TABLE", "COLLECTION_NOT_EXIST"],
            |e| matches!(e, DataApiError::CollectionNotFound(_)),
        ),
        (["INVALID_VECTOR_LENGTH", "VECTOR_SIZE_MISMATCH"], |e| {
            matches!(e, DataApiError::VectorDimensionMismatch(_))
        }),
        (["UNKNOWN_KEYSPACE", "KEYSPACE_DOES_NOT_EXIST"], |e| {
            matches!(e, DataApiError::KeyspaceNotFound(_))
        }),
        (["OVERLOADED_SORT_ROW_LIMIT", "DATASET_TOO_BIG"], |e| {
            e.kind() == Some(ErrorKind::SortRowLimit)
        }),
    ];
    let cases = cases
        .into_iter()
        .flat_map(|(codes, check)| codes.map(|code| (code, check)));
    for (code, check) in cases {
        let code_owned = code.to_string();
        let server = ScriptedServer::start(move |_, _| {
            // Reads with errors omit `data`.
            Reply::Json(json!({"errors": [err(&code_owned)]}))
        })
        .await;
        let c = client(&server);
        let e = c
            .collection("songs")
            .find_one(json!({}), FindOptions::default())
            .await
            .expect_err("should fail");
        assert!(check(&e), "{code}: {e:?}");
        assert_eq!(e.failure().and_then(|f| f.code()), Some(code));
        assert!(e.to_string().contains(code), "{e}");
        // Not transient: exactly one request.
        assert_eq!(c.requests_sent(), 1, "{code}");
    }
}

#[tokio::test]
async fn existing_collection_with_different_settings() {
    let server = ScriptedServer::always(Reply::Json(
        json!({"errors": [err("EXISTING_COLLECTION_DIFFERENT_SETTINGS")]}),
    ))
    .await;
    let c = client(&server);
    let e = c
        .create_collection("songs", 8, SimilarityMetric::Cosine, None)
        .await
        .expect_err("should fail");
    assert!(
        matches!(e, DataApiError::ExistingCollectionDifferentSettings(_)),
        "{e:?}"
    );
}

#[tokio::test]
async fn write_errors_keep_partial_status_and_warnings_do_not_fail() {
    let server = ScriptedServer::start(|r, _| match r.command().as_str() {
        "updateOne" => Reply::Json(json!({
            "status": {"matchedCount": 1, "modifiedCount": 0},
            "errors": [err("SHRED_DOC_LIMIT_VIOLATION")]
        })),
        _ => Reply::Json(json!({
            "status": {"count": 3, "warnings": [{"scope": "WARNING", "errorCode": "DEPRECATED_COMMAND", "message": "old"}]}
        })),
    })
    .await;
    let c = client(&server);
    let songs = c.collection("songs");
    let e = update_a_error(&c, json!({"$set": {"x": 1}}), UpdateOptions::default()).await;
    assert_eq!(e.kind(), Some(ErrorKind::InvalidDocument));
    let status = e.partial_status().expect("partial status kept");
    assert_eq!(status.get("matchedCount"), Some(&json!(1)));
    assert_eq!(
        songs
            .count_documents(json!({}))
            .await
            .expect("warning only"),
        DocumentCount::Exact(3)
    );
}

#[tokio::test]
async fn unauthorized_mentions_env_var_but_never_the_token() {
    for (status, body) in [
        (
            401,
            json!({"errors": [{"errorCode": "UNAUTHENTICATED_REQUEST", "message": format!("bad token {TOKEN}")}]}),
        ),
        (403, json!({"message": "Forbidden"})),
    ] {
        let server =
            ScriptedServer::always(Reply::raw(status, "application/json", &body.to_string())).await;
        let c = client(&server);
        let e = estimate(&c).await.expect_err("should fail");
        assert!(matches!(e, DataApiError::Unauthorized { .. }), "{e:?}");
        let text = format!("{e} / {e:?}");
        assert!(text.contains("ASTRA_DB_APPLICATION_TOKEN"), "{text}");
        assert!(!text.contains("test-token"), "{text}");
        assert_eq!(c.requests_sent(), 1, "auth failures are not retried");
    }
    // A soft (HTTP 200) auth error maps to the same variant.
    let e = listing_error(Reply::Json(
        json!({"errors": [err("MISSING_AUTHENTICATION_TOKEN")]}),
    ))
    .await;
    assert!(
        matches!(
            e,
            DataApiError::Unauthorized {
                http_status: 200,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn token_echoed_in_error_message_is_scrubbed() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({"errors": [{"errorCode": "FILTER_INVALID_EXPRESSION", "message": format!("weird {TOKEN} echo")}]}))
    })
    .await;
    let e = client(&server)
        .collection("songs")
        .find_one(json!({"a": 1}), FindOptions::default())
        .await
        .expect_err("should fail");
    let text = format!("{e} / {e:?}");
    assert!(!text.contains("test-token"), "{text}");
    assert!(text.contains("weird *** echo"), "{text}");
}

// ---------------------------------------------------------------------------------------
// retries

#[tokio::test]
async fn rate_limit_then_success_is_retried_and_counted() {
    let server = ScriptedServer::fails_then(
        1,
        Reply::Raw {
            status: 429,
            content_type: "text/plain",
            body: "Too Many Requests".into(),
            headers: vec![("retry-after", "0".into())],
        },
        Reply::Json(json!({"status": {"count": 5}})),
    )
    .await;
    let c = client(&server);
    let n = estimate(&c).await.expect("retried");
    assert_eq!(n, 5);
    assert_eq!(c.requests_sent(), 2);
    assert_eq!(server.recorded().len(), 2);
}

#[tokio::test]
async fn gateway_html_503_then_success() {
    let server = ScriptedServer::fails_then(
        2,
        Reply::raw(
            503,
            "text/html",
            "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
        ),
        Reply::Json(json!({"data": {"documents": [{"_id": 1}], "nextPageState": null}})),
    )
    .await;
    let c = client(&server);
    let docs = c
        .collection("songs")
        .find(json!({}), FindOptions::default())
        .collect_all()
        .await
        .expect("retried");
    assert_eq!(docs, vec![json!({"_id": 1})]);
    assert_eq!(c.requests_sent(), 3);
}

#[tokio::test]
async fn database_scope_soft_errors_are_retried() {
    let server = ScriptedServer::fails_then(
        1,
        Reply::Json(json!({"errors": [{"family": "SERVER", "scope": "DATABASE",
            "errorCode": "TIMEOUT_READING_DATA", "message": "safe to retry"}]})),
        Reply::Json(json!({"status": {"count": 2}})),
    )
    .await;
    let c = client(&server);
    let n = count_all(&c, "retried").await;
    assert_eq!(n, DocumentCount::Exact(2));
    assert_eq!(c.requests_sent(), 2);
}

#[tokio::test]
async fn repeated_503_gives_one_clear_unavailable_error() {
    let server = ScriptedServer::always(Reply::raw(
        503,
        "text/html",
        "<html>upstream unavailable</html>",
    ))
    .await;
    let c = client(&server);
    let e = estimate(&c).await.expect_err("should fail");
    assert!(
        matches!(e, DataApiError::DatabaseUnavailable { .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(msg.contains("hibernated") && msg.contains("503"), "{msg}");
    assert_eq!(c.requests_sent(), 5, "1 attempt + 4 retries");
}

#[tokio::test]
async fn connection_refused_gives_the_same_unavailable_error() {
    // Reserve a port, then close it so nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let c = DataApiClient::new(
        DataApiConfig::new(format!("http://{addr}"), Secret::new(TOKEN)).with_retry(fast_retry()),
    )
    .expect("client");
    let e = c.find_collections(false).await.expect_err("should fail");
    assert!(
        matches!(e, DataApiError::DatabaseUnavailable { .. }),
        "{e:?}"
    );
    let text = format!("{e} {e:?}");
    assert!(text.contains("hibernated"), "{text}");
    assert!(!text.contains("test-token"), "{text}");
}

#[tokio::test]
async fn non_idempotent_update_is_not_retried() {
    let server =
        ScriptedServer::always(Reply::raw(502, "text/html", "<html>bad gateway</html>")).await;
    let c = client(&server);
    let e = update_a_error(&c, json!({"$inc": {"plays": 1}}), UpdateOptions::default()).await;
    assert!(
        matches!(
            e,
            DataApiError::Gateway {
                http_status: 502,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(c.requests_sent(), 1);
    // An idempotent upsert by id is retried.
    let e = update_a_error(&c, json!({"$set": {"x": 1}}), UpdateOptions::upsert()).await;
    assert!(matches!(e, DataApiError::Gateway { .. }), "{e:?}");
    assert_eq!(c.requests_sent(), 1 + 5);
}

#[tokio::test]
async fn operation_deadline_bounds_retries_of_hanging_requests() {
    let server = ScriptedServer::start(|_, _| Reply::Hang).await;
    let c = DataApiClient::new(
        config(&server)
            .with_request_timeout(Duration::from_millis(200))
            .with_operation_timeout(Duration::from_millis(700))
            .with_retry(fast_retry().with_max_retries(100)),
    )
    .expect("client");
    let e = estimate(&c).await.expect_err("should time out");
    assert!(matches!(e, DataApiError::Timeout { .. }), "{e:?}");
    assert!(e.to_string().contains("last error"), "{e}");
    assert!(c.requests_sent() >= 2, "request timeouts were retried");
}

#[tokio::test]
async fn wrong_path_prefix_404_hints_at_api_path() {
    let e = listing_error(Reply::raw(404, "text/plain", "Not Found")).await;
    assert!(
        matches!(
            e,
            DataApiError::Http {
                http_status: 404,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("api_path"), "{e}");
}

#[tokio::test]
async fn non_json_200_is_a_decode_error() {
    let e = listing_error(Reply::raw(200, "text/html", "<html>captive portal</html>")).await;
    assert!(matches!(e, DataApiError::Decode(_)), "{e:?}");
    assert!(e.to_string().contains("captive portal"), "{e}");
}

// ---------------------------------------------------------------------------------------
// paging and loops

#[tokio::test]
async fn find_follows_next_page_state_until_null() {
    let server = ScriptedServer::start(|r, _| {
        let ps = r.payload()["options"]["pageState"]
            .as_str()
            .map(str::to_owned);
        let (ids, next) = match ps.as_deref() {
            None => (0..20, json!("cGFnZTI=")),
            Some("cGFnZTI=") => (20..40, json!("cGFnZTM=")),
            Some("cGFnZTM=") => (40..45, Value::Null),
            Some(_) => (0..0, Value::Null),
        };
        let docs: Vec<Value> = ids.map(|i| json!({"_id": i})).collect();
        Reply::Json(json!({"data": {"documents": docs, "nextPageState": next}}))
    })
    .await;
    let c = client(&server);
    let songs = c.collection("songs");
    let docs: Vec<Value> = songs
        .find(json!({"genre": "jazz"}), FindOptions::default())
        .into_stream()
        .try_collect()
        .await
        .expect("find");
    assert_eq!(docs.len(), 45);
    let ids: Vec<i64> = docs.iter().filter_map(|d| d["_id"].as_i64()).collect();
    assert_eq!(ids, (0..45).collect::<Vec<_>>());
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 3);
    assert_eq!(
        reqs[0].body,
        json!({"find": {"filter": {"genre": "jazz"}}}),
        "first page: no options, no projection (server default hides $vector)"
    );
    assert_eq!(reqs[1].payload()["options"]["pageState"], json!("cGFnZTI="));
    assert_eq!(reqs[2].payload()["options"]["pageState"], json!("cGFnZTM="));
    for r in &reqs {
        assert!(
            r.payload()
                .get("options")
                .and_then(|o| o.get("includeSortVector"))
                .is_none()
        );
        assert_eq!(r.payload()["filter"], json!({"genre": "jazz"}));
    }

    // A limit stops paging early (20-doc pages, limit 25 → 2 requests).
    let before = c.requests_sent();
    let docs = songs
        .find(json!({"genre": "jazz"}), FindOptions::default().limit(25))
        .collect_all()
        .await
        .expect("find");
    assert_eq!(docs.len(), 25);
    assert_eq!(c.requests_sent() - before, 2);
}

#[tokio::test]
async fn vector_search_is_one_request_with_similarity() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({"data": {"documents": [
            {"_id": "t3", "title": "C", "$similarity": 0.99445},
            {"_id": "t2", "title": "B", "$similarity": 0.79671}
        ], "nextPageState": null}}))
    })
    .await;
    let c = client(&server);
    let hits = c
        .collection("songs")
        .find_similar(&[1.0, -2.0], 2, json!({"genre": "jazz"}), None)
        .await
        .expect("search");
    assert_eq!(hits.len(), 2);
    assert_eq!(document_similarity(&hits[0]), Some(0.99445));
    assert_eq!(c.requests_sent(), 1);
    let reqs = server.recorded();
    assert_eq!(
        reqs[0].body,
        json!({"find": {"filter": {"genre": "jazz"},
            "sort": {"$vector": {"$binary": "P4AAAMAAAAA="}},
            "options": {"limit": 2, "includeSimilarity": true}}})
    );
}

#[tokio::test]
async fn field_sort_and_skip_are_sent() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({"data": {"documents": [], "nextPageState": null}}))
    })
    .await;
    let c = client(&server);
    let docs = c
        .collection("songs")
        .find(
            json!({}),
            FindOptions::default()
                .sort(Sort::Fields(vec![
                    ("year".into(), SortOrder::Descending),
                    ("title".into(), SortOrder::Ascending),
                ]))
                .skip(10)
                .limit(5)
                .include_vector(),
        )
        .collect_all()
        .await
        .expect("find");
    assert!(docs.is_empty());
    let reqs = server.recorded();
    assert_eq!(
        reqs[0].body,
        json!({"find": {"filter": {}, "projection": {"$vector": 1},
            "sort": {"year": -1, "title": 1}, "options": {"limit": 5, "skip": 10}}})
    );
}

#[tokio::test]
async fn delete_many_loops_while_more_data() {
    let server = ScriptedServer::start(|_, i| match i {
        0 | 1 => Reply::Json(json!({"status": {"deletedCount": 20, "moreData": true}})),
        _ => Reply::Json(json!({"status": {"deletedCount": 5}})),
    })
    .await;
    let c = client(&server);
    let r = c
        .collection("songs")
        .delete_many(json!({"genre": "polka"}))
        .await
        .expect("delete");
    assert_eq!(r.deleted_count, 45);
    assert_eq!(r.requests, 3);
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 3);
    for r in reqs {
        assert_eq!(
            r.body,
            json!({"deleteMany": {"filter": {"genre": "polka"}}})
        );
    }
    let e = c
        .collection("songs")
        .delete_many(json!({}))
        .await
        .expect_err("empty filter refused");
    assert!(matches!(e, DataApiError::InvalidArgument(_)));
}

#[tokio::test]
async fn count_documents_reports_at_least_when_capped() {
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({"status": {"count": 1000, "moreData": true}}))
    })
    .await;
    let c = client(&server);
    let n = count_all(&c, "count").await;
    assert_eq!(n, DocumentCount::AtLeast(1000));
    assert!(!n.is_exact());
    assert_eq!(c.requests_sent(), 1);
}

// ---------------------------------------------------------------------------------------
// vectors

#[tokio::test]
async fn binary_vectors_round_trip_big_endian() {
    // The script stores what it receives and returns it verbatim (as the server does).
    let stored: Arc<Mutex<Option<Value>>> = Arc::new(Mutex::new(None));
    let s2 = stored.clone();
    let server = ScriptedServer::start(move |r, _| match r.command().as_str() {
        "insertMany" => {
            let doc = r.payload()["documents"][0].clone();
            *s2.lock().expect("lock") = Some(doc.clone());
            Reply::Json(
                json!({"status": {"documentResponses": [{"_id": doc["_id"], "status": "OK"}]}}),
            )
        }
        _ => {
            let doc = s2.lock().expect("lock").clone().unwrap_or(Value::Null);
            Reply::Json(json!({"data": {"document": doc}}))
        }
    })
    .await;
    let c = client(&server);
    let songs = c.collection("songs");
    let v = vec![1.0f32, -2.0, 0.15625, f32::MAX];
    let report = songs
        .insert_many(vec![json!({"_id": "t1", "$vector": v})])
        .await
        .expect("insert");
    assert!(report.is_complete());
    // On the wire: base64 of big-endian float32.
    let wire = stored.lock().expect("lock").clone().unwrap_or(Value::Null);
    let b64 = wire["$vector"]["$binary"].as_str().expect("binary form");
    let bytes = base64_decode(b64);
    assert_eq!(&bytes[..8], &[0x3F, 0x80, 0, 0, 0xC0, 0, 0, 0]);
    assert_eq!(&bytes[8..12], &0.15625f32.to_be_bytes());
    // Read back (the server returns the form written) and decode.
    let doc = songs
        .find_one(
            json!({"_id": "t1"}),
            FindOptions::default().include_vector(),
        )
        .await
        .expect("find")
        .expect("doc");
    assert_eq!(document_vector(&doc).expect("decode"), Some(v.clone()));
    // Array form decodes too.
    assert_eq!(
        decode_vector(&json!([1.0, -2.0, 0.15625])).expect("decode"),
        vec![1.0, -2.0, 0.15625]
    );
}

fn base64_decode(s: &str) -> Vec<u8> {
    // Independent minimal decoder (so the test does not reuse the client's codec).
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = alphabet.iter().position(|&a| a == c).expect("base64 char") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// insertMany

/// A scripted collection: keeps inserted ids, answers insertMany with documentResponses,
/// reports DOCUMENT_ALREADY_EXISTS for known ids, and can misbehave per request.
struct FakeCollection {
    ids: Mutex<HashSet<String>>,
    duplicate_writes: AtomicUsize,
}

impl FakeCollection {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            ids: Mutex::new(HashSet::new()),
            duplicate_writes: AtomicUsize::new(0),
        })
    }

    fn insert_many(&self, r: &Recorded, dimension: usize) -> Value {
        let docs = r.payload()["documents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut errors: Vec<Value> = Vec::new();
        let mut err_idx: HashMap<&str, usize> = HashMap::new();
        let mut responses = Vec::new();
        let mut ids = self.ids.lock().expect("lock");
        for d in &docs {
            let id = d["_id"].as_str().unwrap_or_default().to_string();
            let vec_len = decode_vector(&d["$vector"]).map(|v| v.len()).unwrap_or(0);
            let code = if vec_len != dimension {
                Some("INVALID_VECTOR_LENGTH")
            } else if ids.contains(&id) {
                self.duplicate_writes.fetch_add(1, Ordering::SeqCst);
                Some("DOCUMENT_ALREADY_EXISTS")
            } else {
                ids.insert(id.clone());
                None
            };
            match code {
                None => responses.push(json!({"_id": id, "status": "OK"})),
                Some(code) => {
                    let idx = *err_idx.entry(code).or_insert_with(|| {
                        errors
                            .push(json!({"errorCode": code, "scope": "DOCUMENT", "message": code}));
                        errors.len() - 1
                    });
                    responses.push(json!({"_id": id, "status": "ERROR", "errorsIdx": idx}));
                }
            }
        }
        let mut body = json!({"status": {"documentResponses": responses}});
        if !errors.is_empty() {
            body["errors"] = Value::Array(errors);
        }
        body
    }
}

fn docs(n: usize, dimension: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"_id": format!("doc-{i:04}"), "title": format!("t{i}"), "$vector": vec![0.5f32; dimension]}))
        .collect()
}

fn chunk_client(server: &ScriptedServer, chunk: usize, conc: usize) -> Collection {
    DataApiClient::new(
        config(server)
            .with_insert_chunk_size(chunk)
            .with_insert_concurrency(conc),
    )
    .expect("client")
    .collection("songs")
}

#[tokio::test]
async fn insert_many_chunks_250_docs_into_3_requests() {
    let fake = FakeCollection::new();
    let f2 = fake.clone();
    let server = ScriptedServer::start(move |r, _| Reply::Json(f2.insert_many(r, 4))).await;
    let songs = chunk_client(&server, 100, 2);
    let report = songs.insert_many(docs(250, 4)).await.expect("insert");
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!(report.inserted_ids.len(), 250);
    assert_eq!(report.inserted_ids[0], json!("doc-0000"));
    assert_eq!(report.inserted_ids[249], json!("doc-0249"));
    assert_eq!(songs.client().requests_sent(), 3);
    let reqs = server.recorded();
    let mut sizes: Vec<usize> = reqs
        .iter()
        .map(|r| r.payload()["documents"].as_array().map_or(0, Vec::len))
        .collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
    for r in &reqs {
        assert_eq!(r.path, "/api/json/v1/ks/songs");
        assert_eq!(
            r.payload()["options"],
            json!({"ordered": false, "returnDocumentResponses": true})
        );
    }
    assert_eq!(fake.ids.lock().expect("lock").len(), 250);

    // Requests per 1k inserts with the default chunk size (50) → 20.
    let fake = FakeCollection::new();
    let f2 = fake.clone();
    let server = ScriptedServer::start(move |r, _| Reply::Json(f2.insert_many(r, 4))).await;
    let c = client(&server);
    let report = c
        .collection("songs")
        .insert_many(docs(1000, 4))
        .await
        .expect("insert");
    assert_eq!(report.inserted_ids.len(), 1000);
    assert_eq!(c.requests_sent(), 20);
}

#[tokio::test]
async fn insert_many_reports_per_document_failures_without_retrying_them() {
    let fake = FakeCollection::new();
    fake.ids.lock().expect("lock").insert("doc-0003".into());
    let f2 = fake.clone();
    let server = ScriptedServer::start(move |r, _| Reply::Json(f2.insert_many(r, 4))).await;
    let songs = chunk_client(&server, 100, 4);
    let mut input = docs(10, 4);
    input[7]["$vector"] = json!([1.0, 2.0, 3.0]);
    let report = songs.insert_many(input).await.expect("insert");
    assert_eq!(report.inserted_ids.len(), 8);
    assert_eq!(report.failures.len(), 2);
    assert_eq!(report.failures[0].index, 3);
    assert!(
        report.failures[0].is_already_exists(),
        "first attempt: reported"
    );
    assert_eq!(report.failures[1].index, 7);
    assert_eq!(report.failures[1].id, Some(json!("doc-0007")));
    assert_eq!(report.failures[1].kind, ErrorKind::VectorDimensionMismatch);
    assert_eq!(
        report.failures[1].code.as_deref(),
        Some("INVALID_VECTOR_LENGTH")
    );
    assert_eq!(
        songs.client().requests_sent(),
        1,
        "permanent errors are not retried"
    );
}

#[tokio::test]
async fn dropped_connection_mid_batch_is_retried_without_duplicates() {
    let fake = FakeCollection::new();
    let f2 = fake.clone();
    let dropped = Arc::new(AtomicUsize::new(0));
    let d2 = dropped.clone();
    let server = ScriptedServer::start(move |r, _| {
        let first_id = r.payload()["documents"][0]["_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let body = f2.insert_many(r, 4);
        // The chunk starting at doc-0100 is written, then the socket dies before the
        // answer: the client cannot know the outcome and must re-send it.
        if first_id == "doc-0100" && d2.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::Drop;
        }
        Reply::Json(body)
    })
    .await;
    let songs = chunk_client(&server, 100, 1);
    let report = songs.insert_many(docs(250, 4)).await.expect("insert");
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!(report.inserted_ids.len(), 250);
    let unique: HashSet<String> = report
        .inserted_ids
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(unique.len(), 250);
    assert_eq!(report.already_present_on_retry, 100);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        2,
        "the chunk was sent twice"
    );
    assert_eq!(songs.client().requests_sent(), 4);
    assert_eq!(
        fake.ids.lock().expect("lock").len(),
        250,
        "nothing stored twice"
    );
    assert_eq!(fake.duplicate_writes.load(Ordering::SeqCst), 100);
}

#[tokio::test]
async fn insert_many_resends_only_failed_and_skipped_documents() {
    let fake = FakeCollection::new();
    let f2 = fake.clone();
    let server = ScriptedServer::start(move |r, i| {
        if i == 0 {
            // First attempt: doc 0 OK, doc 1 transient DB timeout, doc 2 skipped.
            let d = r.payload()["documents"].as_array().cloned().unwrap_or_default();
            f2.ids.lock().expect("lock").insert(d[0]["_id"].as_str().unwrap_or_default().into());
            return Reply::Json(json!({
                "status": {"documentResponses": [
                    {"_id": d[0]["_id"], "status": "OK"},
                    {"_id": d[1]["_id"], "status": "ERROR", "errorsIdx": 0},
                    {"_id": d[2]["_id"], "status": "SKIPPED"}
                ]},
                "errors": [{"family": "SERVER", "scope": "DATABASE", "errorCode": "TIMEOUT_WRITING_DATA", "message": "retry"}]
            }));
        }
        Reply::Json(f2.insert_many(r, 4))
    })
    .await;
    let songs = chunk_client(&server, 100, 1);
    let report = songs.insert_many(docs(3, 4)).await.expect("insert");
    assert!(report.is_complete(), "{:?}", report.failures);
    assert_eq!(
        report.inserted_ids,
        vec![json!("doc-0000"), json!("doc-0001"), json!("doc-0002")]
    );
    let reqs = server.recorded();
    assert_eq!(reqs.len(), 2);
    let resent: Vec<&str> = reqs[1].payload()["documents"]
        .as_array()
        .map(|d| d.iter().filter_map(|x| x["_id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(resent, ["doc-0001", "doc-0002"]);
}

#[tokio::test]
async fn insert_many_without_ids_is_not_retried() {
    let server = ScriptedServer::start(|_, _| Reply::Drop).await;
    let songs = chunk_client(&server, 100, 1);
    let report = songs
        .insert_many(vec![
            json!({"title": "no id", "$vector": [0.1, 0.2, 0.3, 0.4]}),
        ])
        .await
        .expect("report");
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].id, None);
    assert_eq!(
        songs.client().requests_sent(),
        1,
        "a retry could duplicate the document"
    );
}

#[tokio::test]
async fn insert_many_fatal_errors_abort() {
    let server =
        ScriptedServer::start(|_, _| Reply::Json(json!({"errors": [err("COLLECTION_NOT_EXIST")]})))
            .await;
    let songs = chunk_client(&server, 10, 1);
    let e = songs
        .insert_many(docs(30, 4))
        .await
        .expect_err("should fail");
    assert!(matches!(e, DataApiError::CollectionNotFound(_)), "{e:?}");
    assert_eq!(
        songs.client().requests_sent(),
        1,
        "later chunks are not sent"
    );
}

#[tokio::test]
async fn insert_many_legacy_inserted_ids_response() {
    // A server that ignores returnDocumentResponses and reports insertedIds + errors.
    let server = ScriptedServer::start(|_, _| {
        Reply::Json(json!({
            "status": {"insertedIds": ["doc-0000", "doc-0002"]},
            "errors": [{"errorCode": "DOCUMENT_ALREADY_EXISTS", "message": "dup", "documentIds": ["doc-0001"]}]
        }))
    })
    .await;
    let songs = chunk_client(&server, 100, 1);
    let report = songs.insert_many(docs(3, 4)).await.expect("insert");
    assert_eq!(
        report.inserted_ids,
        vec![json!("doc-0000"), json!("doc-0002")]
    );
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].index, 1);
    assert!(report.failures[0].is_already_exists());
}

#[tokio::test]
async fn client_futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let server = ScriptedServer::start(|_, _| Reply::Json(json!({"status": {"count": 0}}))).await;
    let c = client(&server);
    let songs = c.collection("songs");
    let f = songs.insert_many(vec![]);
    assert_send(&f);
    let report = f.await.expect("empty insert");
    assert!(report.is_complete() && report.inserted_ids.is_empty());
    assert_eq!(c.requests_sent(), 0, "nothing to send");
    assert_send(&songs.find(json!({}), FindOptions::default()).into_stream());
    assert_send(&songs.count_documents(json!({})));
    assert_send(&songs.update_one(json!({}), json!({}), UpdateOptions::default()));
    assert_send(&c.find_collections(true));
    // spawnable
    let handle = tokio::spawn(async move { songs.estimated_document_count().await });
    assert_eq!(handle.await.expect("join").expect("count"), 0);
}
