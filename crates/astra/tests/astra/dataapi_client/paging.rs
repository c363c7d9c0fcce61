//! Data API client paging and loops (page states, `moreData`, capped counts) and binary
//! vectors, against the scripted server.

use std::sync::{Arc, Mutex};

use futures::TryStreamExt as _;
use serde_json::{Value, json};
use songrec_astra::dataapi::{
    DataApiError, DocumentCount, FindOptions, Sort, SortOrder, decode_vector, document_vector,
};

use super::support::{Reply, ScriptedServer};
use super::{client, count_all};

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
    let near = FindOptions::default()
        .sort(Sort::Vector(vec![1.0, -2.0]))
        .limit(2)
        .include_similarity(true);
    let hits = c
        .collection("songs")
        .find(json!({"genre": "jazz"}), near)
        .collect_all()
        .await
        .expect("search");
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["$similarity"].as_f64(), Some(0.99445));
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
async fn field_sort_and_limit_are_sent() {
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
                .limit(5)
                .projection(json!({"$vector": 1})),
        )
        .collect_all()
        .await
        .expect("find");
    assert!(docs.is_empty());
    let reqs = server.recorded();
    assert_eq!(
        reqs[0].body,
        json!({"find": {"filter": {}, "projection": {"$vector": 1},
            "sort": {"year": -1, "title": 1}, "options": {"limit": 5}}})
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
            FindOptions::default().projection(json!({"$vector": 1})),
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
