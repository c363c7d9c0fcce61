//! Data API client against a scripted HTTP server (canned responses written from the
//! protocol reference; every request is recorded).

use std::time::Duration;

use serde_json::{Value, json};
use songrec_astra::dataapi::{
    DataApiClient, DataApiConfig, DataApiError, DocumentCount, FindOptions, RetryPolicy,
    UpdateOptions, VectorEncoding,
};
use songrec_astra::secret::Secret;

mod errors;
mod insert_many;
mod paging;

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

use support::{Reply, ScriptedServer};

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

    let create = json!({"createCollection": {"name": "songs", "options": {
        "vector": {"dimension": 4, "metric": "dot_product"}, "indexing": {"deny": ["lyrics"]}}}});
    c.run_command(None, &create, true).await.expect("create");
    let songs = c.collection("songs");
    let infos = c.find_collections(true).await.expect("find collections");
    assert_eq!(infos.len(), 2);
    assert_eq!(infos[0].name, "songs");
    assert_eq!(infos[0].dimension, Some(4));
    assert_eq!(infos[0].metric.as_deref(), Some("dot_product"));
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
