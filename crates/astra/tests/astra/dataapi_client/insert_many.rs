//! Data API client `insertMany` against a scripted collection: chunking, per-document
//! failures, retries without duplicates; and the client's futures are `Send`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use songrec_astra::dataapi::{
    Collection, DataApiClient, DataApiError, ErrorKind, FindOptions, UpdateOptions, decode_vector,
};

use super::support::{Recorded, Reply, ScriptedServer};
use super::{client, config, err};

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
