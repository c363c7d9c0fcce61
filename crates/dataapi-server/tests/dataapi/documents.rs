//! Document commands: inserts, reads, filters, projections, paging,
//! updates and deletes.

use std::collections::HashSet;

use serde_json::{Value, json};
use songrec_dataapi_server::{ServerConfig, Token};
use songrec_testkit::dataapi::*;

mod updates;

fn ids(docs: &[Value]) -> Vec<Value> {
    docs.iter().map(|d| d["_id"].clone()).collect()
}

#[tokio::test]
async fn insert_one_ids_and_duplicates() {
    let api = server().await;
    api.create("c", json!({})).await;
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": "a", "x": 1}}}),
        )
        .await;
    assert_eq!(v, json!({"status": {"insertedIds": ["a"]}}));

    // Generated ids: plain UUIDv4 strings.
    let v = api
        .coll("c", json!({"insertOne": {"document": {"x": 2}}}))
        .await;
    let id = v["status"]["insertedIds"][0]
        .as_str()
        .expect("string id")
        .to_owned();
    assert_eq!(id.len(), 36);
    let v = api
        .coll("c", json!({"findOne": {"filter": {"_id": id}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": id, "x": 2}));

    let v = api
        .coll("c", json!({"insertOne": {"document": {"_id": "a"}}}))
        .await;
    assert_eq!(v["status"], json!({"insertedIds": []}));
    let e = only_error(&v);
    assert_error_shape(e);
    assert_eq!(e["errorCode"], "DOCUMENT_ALREADY_EXISTS");
    assert_eq!(e["scope"], "DOCUMENT");
    assert_eq!(e["documentIds"], json!(["a"]));

    // Id identity: "5" and 5 differ; $uuid shares the string space.
    let u = "6f0a3b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b";
    let v = api
        .coll(
            "c",
            json!({"insertMany": {"documents": [{"_id": 5}, {"_id": "5"}, {"_id": {"$uuid": u}}]}}),
        )
        .await;
    assert_eq!(
        v,
        json!({"status": {"insertedIds": [5, "5", {"$uuid": u}]}})
    );
    let v = api
        .coll("c", json!({"insertOne": {"document": {"_id": u}}}))
        .await;
    assert_eq!(error_code(&v), "DOCUMENT_ALREADY_EXISTS");
    let v = api
        .coll("c", json!({"findOne": {"filter": {"_id": u}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": {"$uuid": u}}));

    for (doc, code) in [
        (json!({"_id": ""}), "SHRED_BAD_DOCID_VALUE"),
        (json!({"_id": [1]}), "SHRED_BAD_DOCID_TYPE"),
        (json!({"$bad": 1}), "SHRED_BAD_FIELD_NAME"),
        (json!({"$vector": [1.0]}), "VECTOR_SEARCH_NOT_SUPPORTED"),
    ] {
        let v = api.coll("c", json!({"insertOne": {"document": doc}})).await;
        assert_eq!(error_code(&v), code, "{doc}");
    }
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": "z"}, "options": {"ordered": true}}}),
        )
        .await;
    assert_eq!(error_code(&v), "COMMAND_ACCEPTS_NO_OPTIONS");
}

#[tokio::test]
async fn default_id_types() {
    let api = server().await;
    for (t, key) in [
        ("objectId", "$objectId"),
        ("uuid", "$uuid"),
        ("uuidv7", "$uuid"),
        ("uuidv6", "$uuid"),
    ] {
        let name = format!("c_{t}");
        api.create(&name, json!({"defaultId": {"type": t}})).await;
        let v = api
            .coll(&name, json!({"insertOne": {"document": {}}}))
            .await;
        let id = &v["status"]["insertedIds"][0];
        assert!(id[key].is_string(), "{t}: {v}");
    }
}

#[tokio::test]
async fn insert_many_unordered_reports_one_error_per_duplicate() {
    let api = server().await;
    api.create("c", json!({})).await;
    api.insert_many("c", vec![json!({"_id": "x"})]).await;
    let docs = vec![
        json!({"_id": "a"}),
        json!({"_id": "b"}),
        json!({"_id": "a"}),
        json!({"_id": "x"}),
        json!({"_id": "c"}),
        json!({"_id": "b"}),
    ];
    let v = api.insert_many("c", docs).await;
    assert_eq!(v["status"], json!({"insertedIds": ["a", "b", "c"]}));
    let errors = v["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 3, "{v}");
    let failed: Vec<&Value> = errors.iter().map(|e| &e["documentIds"][0]).collect();
    assert_eq!(failed, [&json!("a"), &json!("x"), &json!("b")]);
    for e in errors {
        assert_eq!(e["errorCode"], "DOCUMENT_ALREADY_EXISTS");
        assert_error_shape(e);
    }
    let v = api.coll("c", json!({"countDocuments": {}})).await;
    assert_eq!(v["status"]["count"], 4);
}

#[tokio::test]
async fn insert_many_ordered_stops_and_document_responses() {
    let api = server().await;
    api.create("c", json!({"vector": {"dimension": 2}})).await;
    let docs = json!([{"_id": 1}, {"_id": 2}, {"_id": 1}, {"_id": 3}]);
    let v = api
        .coll(
            "c",
            json!({"insertMany": {"documents": docs, "options": {"ordered": true}}}),
        )
        .await;
    assert_eq!(v["status"], json!({"insertedIds": [1, 2]}));
    assert_eq!(error_code(&v), "DOCUMENT_ALREADY_EXISTS");
    let v = api
        .coll("c", json!({"findOne": {"filter": {"_id": 3}}}))
        .await;
    assert_eq!(v["data"]["document"], Value::Null);

    // Ordered with document responses: later documents are SKIPPED.
    let docs = json!([{"_id": 10}, {"_id": 1}, {"_id": 11}]);
    let v = api
        .coll(
            "c",
            json!({"insertMany": {"documents": docs, "options": {"ordered": true, "returnDocumentResponses": true}}}),
        )
        .await;
    assert_eq!(
        v["status"],
        json!({"documentResponses": [
            {"_id": 10, "status": "OK"},
            {"_id": 1, "status": "ERROR", "errorsIdx": 0},
            {"_id": 11, "status": "SKIPPED"}
        ]})
    );
    assert_eq!(error_code(&v), "DOCUMENT_ALREADY_EXISTS");

    // Unordered with document responses: identical errors are shared.
    let docs = json!([
        {"_id": 20, "$vector": [1, 2, 3]},
        {"_id": 21},
        {"_id": 22, "$vector": [1, 2, 3]},
        {"_id": 23, "$vector": [0.5, 0.25]}
    ]);
    let v = api
        .coll(
            "c",
            json!({"insertMany": {"documents": docs, "options": {"returnDocumentResponses": true}}}),
        )
        .await;
    assert_eq!(
        v["status"]["documentResponses"],
        json!([
            {"_id": 20, "status": "ERROR", "errorsIdx": 0},
            {"_id": 21, "status": "OK"},
            {"_id": 22, "status": "ERROR", "errorsIdx": 0},
            {"_id": 23, "status": "OK"}
        ])
    );
    assert!(v["status"].get("insertedIds").is_none());
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "INVALID_VECTOR_LENGTH");
    assert_eq!(e["documentIds"], json!([20, 22]));
}

#[tokio::test]
async fn insert_many_limit_is_100() {
    let api = server().await;
    api.create("c", json!({})).await;
    let docs: Vec<Value> = (0..101).map(|i| json!({"_id": i})).collect();
    let v = api.insert_many("c", docs).await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");
    let v = api.coll("c", json!({"estimatedDocumentCount": {}})).await;
    assert_eq!(v["status"]["count"], 0);
    let docs: Vec<Value> = (0..100).map(|i| json!({"_id": i})).collect();
    let v = api.insert_many("c", docs).await;
    assert_eq!(
        v["status"]["insertedIds"].as_array().map(Vec::len),
        Some(100)
    );
    let v = api
        .coll("c", json!({"insertMany": {"documents": []}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");
}

#[tokio::test]
async fn concurrent_insert_many_chunks() {
    let api = server().await;
    api.create("c", json!({"vector": {"dimension": 8}})).await;
    let mut tasks = Vec::new();
    for chunk in 0..20 {
        let http = api.http.clone();
        let url = format!("{}/v1/default_keyspace/c", api.base);
        tasks.push(tokio::spawn(async move {
            let docs: Vec<Value> = (0..50)
                .map(|i| json!({"_id": format!("{chunk}-{i}"), "$vector": [chunk as f32, i as f32, 1, 1, 1, 1, 1, 1]}))
                .collect();
            let resp = http
                .post(url)
                .header("Token", TOKEN)
                .json(&json!({"insertMany": {"documents": docs, "options": {"returnDocumentResponses": true}}}))
                .send()
                .await
                .expect("sent");
            let v: Value = resp.json().await.expect("json");
            v["status"]["documentResponses"]
                .as_array()
                .map(|a| a.iter().filter(|r| r["status"] == "OK").count())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.expect("task").expect("responses");
    }
    assert_eq!(ok, 1000);
    let v = api.coll("c", json!({"countDocuments": {}})).await;
    assert_eq!(v["status"], json!({"count": 1000}));
}

async fn seed_people(api: &Api) {
    api.create("p", json!({})).await;
    let docs = vec![
        json!({"_id": "ann", "name": "Ann", "age": 30, "tags": ["a", "b"], "addr": {"city": "Oslo", "zip": 1}, "joined": {"$date": 1000}}),
        json!({"_id": "bob", "name": "Bob", "age": 25, "tags": ["b"], "addr": {"city": "Rome"}}),
        json!({"_id": "cat", "name": "Cat", "age": 35, "tags": [], "nick": null}),
        json!({"_id": "dan", "name": "Dan", "age": "old", "joined": {"$date": 5000}}),
        json!({"_id": "eve", "name": "Eve"}),
    ];
    api.insert_many("p", docs).await;
}

async fn find_ids(api: &Api, filter: Value) -> Vec<String> {
    let v = api.coll("p", json!({"find": {"filter": filter}})).await;
    assert!(v.get("errors").is_none(), "{filter}: {v}");
    let mut out: Vec<String> = v["data"]["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn filter_operators() {
    let api = server().await;
    seed_people(&api).await;
    let cases = [
        (json!({}), vec!["ann", "bob", "cat", "dan", "eve"]),
        (json!({"name": "Bob"}), vec!["bob"]),
        (json!({"age": {"$eq": 30}}), vec!["ann"]),
        (
            json!({"age": {"$ne": 30}}),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (json!({"age": {"$in": [25, 35]}}), vec!["bob", "cat"]),
        (
            json!({"age": {"$nin": [25, 35]}}),
            vec!["ann", "dan", "eve"],
        ),
        (json!({"age": {"$in": []}}), vec![]),
        (json!({"age": {"$gt": 25}}), vec!["ann", "cat"]),
        (json!({"age": {"$gte": 25, "$lt": 35}}), vec!["ann", "bob"]),
        (json!({"age": {"$lte": 25}}), vec!["bob"]),
        (json!({"name": {"$gt": "Cat"}}), vec!["dan", "eve"]),
        (json!({"joined": {"$gt": {"$date": 2000}}}), vec!["dan"]),
        (json!({"nick": null}), vec!["cat"]),
        (json!({"nick": {"$exists": true}}), vec!["cat"]),
        (json!({"age": {"$exists": false}}), vec!["eve"]),
        (json!({"tags": "b"}), vec!["ann", "bob"]),
        (json!({"tags": ["b"]}), vec!["bob"]),
        (json!({"tags": {"$all": ["b", "a"]}}), vec!["ann"]),
        (json!({"tags": {"$size": 0}}), vec!["cat"]),
        (json!({"tags.0": "b"}), vec!["bob"]),
        (json!({"addr.city": "Oslo"}), vec!["ann"]),
        (json!({"addr": {"city": "Rome"}}), vec!["bob"]),
        (json!({"addr": {"city": "Oslo"}}), vec![]),
        (
            json!({"$or": [{"name": "Ann"}, {"age": 25}]}),
            vec!["ann", "bob"],
        ),
        (
            json!({"$and": [{"tags": "b"}, {"age": {"$gt": 26}}]}),
            vec!["ann"],
        ),
        (json!({"$not": {"age": {"$gte": 30}}}), vec!["bob"]),
        (
            json!({"$not": {"name": "Ann"}}),
            vec!["bob", "cat", "dan", "eve"],
        ),
        (
            json!({"$not": {"$or": [{"name": "Ann"}, {"name": "Bob"}]}}),
            vec!["cat", "dan", "eve"],
        ),
        (
            json!({"_id": {"$in": ["eve", "bob", "zzz"]}}),
            vec!["bob", "eve"],
        ),
        (json!({"_id": "cat", "age": 35}), vec!["cat"]),
        (json!({"_id": "cat", "age": 36}), vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(find_ids(&api, filter.clone()).await, expected, "{filter}");
    }
    for (filter, code) in [
        (
            json!({"age": {"$regex": "x"}}),
            "FILTER_UNSUPPORTED_OPERATOR",
        ),
        (json!({"$nor": [{"a": 1}]}), "FILTER_UNSUPPORTED_OPERATOR"),
        (json!({"age": {"$in": 5}}), "FILTER_INVALID_EXPRESSION"),
        (json!({"age": {"$exists": 1}}), "FILTER_INVALID_EXPRESSION"),
        (json!({"age": {"$gt": null}}), "FILTER_INVALID_EXPRESSION"),
    ] {
        let v = api.coll("p", json!({"find": {"filter": filter}})).await;
        let e = only_error(&v);
        assert_eq!(e["errorCode"], code, "{filter}");
        assert_eq!(e["scope"], "FILTER");
    }
}

#[tokio::test]
async fn projections() {
    let api = server().await;
    seed_people(&api).await;
    let one = |proj: Value| {
        let api = &api;
        async move {
            let v = api
                .coll(
                    "p",
                    json!({"findOne": {"filter": {"_id": "ann"}, "projection": proj}}),
                )
                .await;
            v["data"]["document"].clone()
        }
    };
    assert_eq!(
        one(json!({"name": 1})).await,
        json!({"_id": "ann", "name": "Ann"})
    );
    assert_eq!(
        one(json!({"addr.city": true, "_id": 0})).await,
        json!({"addr": {"city": "Oslo"}})
    );
    assert_eq!(
        one(json!({"tags": 0, "addr": 0, "joined": 0})).await,
        json!({"_id": "ann", "name": "Ann", "age": 30})
    );
    assert_eq!(one(json!({"*": 0})).await, json!({}));
    assert_eq!(
        one(json!({"tags": {"$slice": -1}, "name": 1})).await,
        json!({"_id": "ann", "name": "Ann", "tags": ["b"]})
    );
    let v = api
        .coll("p", json!({"find": {"projection": {"$similarity": 1}}}))
        .await;
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "UNSUPPORTED_PROJECTION_PARAM");
    assert_eq!(e["scope"], "PROJECTION");
    let v = api
        .coll("p", json!({"find": {"projection": {"name": 1, "age": 0}}}))
        .await;
    assert_eq!(error_code(&v), "UNSUPPORTED_PROJECTION_PARAM");
}

#[tokio::test]
async fn regular_sort_skip_limit() {
    let api = server().await;
    seed_people(&api).await;
    let v = api
        .coll(
            "p",
            json!({"find": {"sort": {"age": -1}, "projection": {"_id": 1}}}),
        )
        .await;
    // Descending by type order: string > number > missing.
    assert_eq!(
        ids(v["data"]["documents"].as_array().expect("docs")),
        [
            json!("dan"),
            json!("cat"),
            json!("ann"),
            json!("bob"),
            json!("eve")
        ]
    );
    assert_eq!(v["data"]["nextPageState"], Value::Null);
    let v = api
        .coll(
            "p",
            json!({"find": {"sort": {"name": 1}, "options": {"skip": 1, "limit": 2}}}),
        )
        .await;
    assert_eq!(
        ids(v["data"]["documents"].as_array().expect("docs")),
        [json!("bob"), json!("cat")]
    );
    let v = api
        .coll(
            "p",
            json!({"findOne": {"sort": {"age": 1}, "filter": {"age": {"$exists": true}}}}),
        )
        .await;
    assert_eq!(v["data"]["document"]["_id"], "bob");
    // pageState with a sort is invalid; skip without a sort is invalid.
    let v = api
        .coll(
            "p",
            json!({"find": {"sort": {"name": 1}, "options": {"pageState": "abc"}}}),
        )
        .await;
    assert_eq!(error_code(&v), "SORT_CLAUSE_INVALID");
    let v = api
        .coll("p", json!({"find": {"options": {"skip": 1}}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");
    let v = api
        .coll("p", json!({"find": {"options": {"limit": 0}}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");
    let v = api.coll("p", json!({"find": {"sort": {"name": 2}}})).await;
    assert_eq!(error_code(&v), "SORT_CLAUSE_VALUE_INVALID");
    let v = api
        .coll("p", json!({"findOne": {"filter": {"_id": "nobody"}}}))
        .await;
    assert_eq!(v, json!({"data": {"document": null}}));
}

#[tokio::test]
async fn paging_through_120_documents_sees_each_once() {
    let api = server().await;
    api.create("c", json!({})).await;
    for chunk in 0..2 {
        let docs: Vec<Value> = (0..60)
            .map(|i| json!({"_id": format!("d{chunk}-{i}"), "n": i}))
            .collect();
        api.insert_many("c", docs).await;
    }
    let (docs, pages) = api.find_all("c", json!({})).await;
    assert_eq!(pages, 3, "page size 50 → 50 + 50 + 20");
    let seen: HashSet<String> = docs.iter().map(|d| d["_id"].to_string()).collect();
    assert_eq!(docs.len(), 120);
    assert_eq!(seen.len(), 120);

    // limit caps the total across pages.
    let v = api
        .coll("c", json!({"find": {"options": {"limit": 70}}}))
        .await;
    assert_eq!(v["data"]["documents"].as_array().map(Vec::len), Some(50));
    let ps = v["data"]["nextPageState"]
        .as_str()
        .expect("page state")
        .to_owned();
    let v = api
        .coll(
            "c",
            json!({"find": {"options": {"limit": 70, "pageState": ps}}}),
        )
        .await;
    assert_eq!(v["data"]["documents"].as_array().map(Vec::len), Some(20));
    assert_eq!(v["data"]["nextPageState"], Value::Null);

    // Filtered paging.
    let (docs, _) = api.find_all("c", json!({"n": {"$lt": 30}})).await;
    assert_eq!(docs.len(), 60);
}

#[tokio::test]
async fn configurable_page_size() {
    let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
    cfg.page_size = 20;
    let api = server_with(cfg).await;
    api.create("c", json!({})).await;
    let docs: Vec<Value> = (0..45).map(|i| json!({"_id": i})).collect();
    api.insert_many("c", docs).await;
    let (docs, pages) = api.find_all("c", json!({})).await;
    assert_eq!((docs.len(), pages), (45, 3));
}

#[tokio::test]
async fn extreme_page_states_and_slices_get_clean_answers() {
    use base64::Engine;
    let api = server().await;
    api.create("c", json!({})).await;
    let docs: Vec<Value> = (0..60)
        .map(|i| json!({"_id": format!("d{i:02}"), "arr": [1, 2, 3]}))
        .collect();
    api.insert_many("c", docs).await;
    // A page state claiming u64::MAX documents returned, with more documents to come: a
    // Data API error, not an overflow.
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for claimed in [
        u64::MAX.to_string(),
        (u64::MAX - 10).to_string(),
        "99999999999999999999".into(),
    ] {
        let ps = b64(&format!("{claimed}|d00"));
        for cmd in [
            json!({"find": {"options": {"pageState": ps}}}),
            json!({"updateMany": {"filter": {}, "update": {"$set": {"u": 1}}, "options": {"pageState": ps}}}),
        ] {
            let v = api.coll("c", cmd).await;
            let e = only_error(&v);
            assert_error_shape(e);
            assert_eq!(e["errorCode"], "COMMAND_FIELD_VALUE_INVALID", "{v}");
        }
    }
    // A real page state still pages.
    let v = api.coll("c", json!({"find": {}})).await;
    let ps = v["data"]["nextPageState"]
        .as_str()
        .expect("page state")
        .to_owned();
    let v = api
        .coll("c", json!({"find": {"options": {"pageState": ps}}}))
        .await;
    assert_eq!(v["data"]["documents"].as_array().map(Vec::len), Some(10));

    // $slice with i64 extremes: "to the end" / "from the start", never an overflow.
    let (max, min) = (i64::MAX, i64::MIN);
    for (slice, want) in [
        (json!([1, max]), json!([2, 3])),
        (json!([-1, max]), json!([3])),
        (json!([min, max]), json!([1, 2, 3])),
        (json!(min), json!([1, 2, 3])),
        (json!([max, 1]), json!([])),
    ] {
        let v = api
            .coll(
                "c",
                json!({"findOne": {"filter": {"_id": "d00"}, "projection": {"arr": {"$slice": slice}}}}),
            )
            .await;
        assert_eq!(v["data"]["document"]["arr"], want, "{slice}: {v}");
    }
}

#[tokio::test]
async fn unindexed_paths_cannot_be_filtered_or_sorted() {
    let api = server().await;
    api.create("c", json!({"indexing": {"deny": ["blob"]}}))
        .await;
    let big = "x".repeat(10_000);
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": 1, "blob": big, "name": "a"}}}),
        )
        .await;
    assert_eq!(v["status"]["insertedIds"], json!([1]));
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": 2, "name": big}}}),
        )
        .await;
    assert_eq!(error_code(&v), "SHRED_DOC_LIMIT_VIOLATION");
    let v = api
        .coll("c", json!({"find": {"filter": {"blob": "x"}}}))
        .await;
    assert_eq!(error_code(&v), "FILTER_PATH_UNINDEXED");
    let v = api
        .coll("c", json!({"find": {"sort": {"blob.x": 1}}}))
        .await;
    assert_eq!(error_code(&v), "SORT_CLAUSE_PATH_UNINDEXED");
}
