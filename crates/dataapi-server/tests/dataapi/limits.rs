//! The real service's limits that the local server keeps, each with its upstream source
//! (stargate/data-api, `src/main/java/io/stargate/sgv2/jsonapi/`).

use serde_json::{Value, json};
use songrec_dataapi_server::{DEFAULT_MAX_SORT_COUNT, ServerConfig, Token};
use songrec_testkit::dataapi::*;

fn ids(v: &Value) -> Vec<String> {
    v["data"]["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("no documents in {v}"))
        .iter()
        .map(|d| d["_id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Inserts documents `{_id: "d00000", n: i}` for `i` in `0..n`, 100 per insertMany.
async fn seed(api: &Api, coll: &str, n: usize) {
    let docs: Vec<Value> = (0..n)
        .map(|i| json!({"_id": format!("d{i:05}"), "n": i}))
        .collect();
    for chunk in docs.chunks(100) {
        let v = api.insert_many(coll, chunk.to_vec()).await;
        assert!(v.get("errors").is_none(), "{v}");
    }
}

async fn sorted_find(api: &Api, filter: Value) -> Value {
    api.coll(
        "c",
        json!({"find": {"filter": filter, "sort": {"n": 1}, "options": {"limit": 3}}}),
    )
    .await
}

/// `config/OperationsConfig.java` `maxDocumentSortCount` (10,000) and
/// `service/operation/collections/CollectionReadOperation.java`: a regular sort fails once
/// the number of matching documents *reaches* the cap. Here with a lowered cap (as CI uses).
#[tokio::test]
async fn regular_sort_fails_once_matches_reach_the_cap() {
    let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
    cfg.max_sort_count = 40;
    let api = server_with(cfg).await;
    api.create("c", json!({})).await;
    seed(&api, "c", 40).await;
    let v = sorted_find(&api, json!({})).await;
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "OVERLOADED_SORT_ROW_LIMIT", "{v}");
    assert_eq!(e["scope"], "SORT");
    assert!(v.get("data").is_none(), "{v}");
    // findOne and the sorted *One commands obey the same cap.
    let v = api.coll("c", json!({"findOne": {"sort": {"n": -1}}})).await;
    assert_eq!(error_code(&v), "OVERLOADED_SORT_ROW_LIMIT");
    let v = api
        .coll(
            "c",
            json!({"findOneAndUpdate": {"sort": {"n": -1}, "update": {"$set": {"x": 1}}}}),
        )
        .await;
    assert_eq!(error_code(&v), "OVERLOADED_SORT_ROW_LIMIT");
    // 39 matches (one below the cap) sort fine.
    let v = sorted_find(&api, json!({"n": {"$gt": 0}})).await;
    assert_eq!(ids(&v), ["d00001", "d00002", "d00003"]);
    // Unsorted finds are not capped.
    let (all, _) = api.find_all("c", json!({})).await;
    assert_eq!(all.len(), 40);
}

/// The real value once: 9,999 matches sort, 10,000 fail.
#[tokio::test]
async fn the_real_sort_cap_is_10000_matches() {
    assert_eq!(DEFAULT_MAX_SORT_COUNT, 10_000);
    let api = server().await;
    api.create("c", json!({})).await;
    seed(&api, "c", 10_000).await;
    let v = sorted_find(&api, json!({})).await;
    assert_eq!(error_code(&v), "OVERLOADED_SORT_ROW_LIMIT", "{v}");
    let v = sorted_find(&api, json!({"n": {"$gte": 1}})).await;
    assert_eq!(ids(&v), ["d00001", "d00002", "d00003"]);
}

/// In-memory sorts compare strings by UTF-16 code units (`util/JsonNodeComparator.java`,
/// Java `String.compareTo`); range filters on indexed strings are answered by the storage
/// index in UTF-8 byte order. U+10000 (surrogates D800 DC00) and U+FFFD order differently.
#[tokio::test]
async fn in_memory_sort_uses_utf16_order_and_range_filters_byte_order() {
    let api = server().await;
    api.create("c", json!({})).await;
    let v = api
        .insert_many(
            "c",
            vec![
                json!({"_id": "astral", "t": "\u{10000}"}),
                json!({"_id": "private", "t": "\u{E000}"}),
                json!({"_id": "bmp", "t": "\u{D7FF}"}),
            ],
        )
        .await;
    assert!(v.get("errors").is_none(), "{v}");
    let v = api.coll("c", json!({"find": {"sort": {"t": 1}}})).await;
    assert_eq!(ids(&v), ["bmp", "astral", "private"], "UTF-16 order");
    let v = api.coll("c", json!({"find": {"sort": {"t": -1}}})).await;
    assert_eq!(ids(&v), ["private", "astral", "bmp"]);
    // Byte order: U+E000 (EE 80 80) < U+10000 (F0 90 80 80).
    let v = api
        .coll(
            "c",
            json!({"find": {"filter": {"t": {"$gt": "\u{E000}"}}, "sort": {"t": 1}}}),
        )
        .await;
    assert_eq!(ids(&v), ["astral"], "$gt is byte order");
    let v = api
        .coll(
            "c",
            json!({"find": {"filter": {"t": {"$lt": "\u{10000}"}}, "sort": {"t": 1}}}),
        )
        .await;
    assert_eq!(ids(&v), ["bmp", "private"]);
}

/// Unsorted finds come back in token (hash) order, as Cassandra returns partitions, not in
/// `_id` order; paging still sees every document once.
#[tokio::test]
async fn unsorted_finds_are_in_token_order_not_id_order() {
    let api = server().await;
    api.create("c", json!({})).await;
    seed(&api, "c", 120).await;
    let (docs, pages) = api.find_all("c", json!({})).await;
    assert_eq!(pages, 3);
    let got: Vec<&str> = docs.iter().filter_map(|d| d["_id"].as_str()).collect();
    let mut sorted = got.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 120, "each document once");
    assert_ne!(got, sorted, "not in _id order");
    // The order is stable: the same listing again gives the same sequence.
    let (again, _) = api.find_all("c", json!({})).await;
    assert_eq!(docs, again);
}

/// `config/DocumentLimitsConfig.java` `maxNumberLength` (100), enforced while parsing the
/// request (`api/configuration/ObjectMapperConfiguration.java`): the whole request fails.
#[tokio::test]
async fn a_number_longer_than_100_characters_fails_the_whole_request() {
    let api = server().await;
    api.create("c", json!({})).await;
    // Raw text: serde_json would turn a 101-digit integer into a short float.
    let body = format!(
        r#"{{"insertMany":{{"documents":[{{"_id":"ok","n":1}},{{"_id":"long","n":{}}}]}}}}"#,
        "9".repeat(101)
    );
    let resp = post_raw(&api, "c", body).await;
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(error_code(&v), "SHRED_DOC_LIMIT_VIOLATION", "{v}");
    let (docs, _) = api.find_all("c", json!({})).await;
    assert!(docs.is_empty(), "nothing inserted: {docs:?}");
    let ok = format!("1{}", "0".repeat(99));
    let body = format!(r#"{{"insertOne":{{"document":{{"_id":"ok","n":{ok}}}}}}}"#);
    let resp = post_raw(&api, "c", body).await;
    let v: Value = resp.json().await.expect("json");
    assert!(v.get("errors").is_none(), "{v}");
}

/// `config/DocumentLimitsConfig.java` `maxObjectProperties` (1000) binds indexed objects only.
#[tokio::test]
async fn the_property_limit_binds_indexed_objects_only() {
    let api = server().await;
    api.create("c", json!({"indexing": {"deny": ["raw"]}}))
        .await;
    let wide: Value = (0..1001)
        .map(|i| (format!("k{i}"), json!(i)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": "a", "raw": wide.clone()}}}),
        )
        .await;
    assert!(v.get("errors").is_none(), "{v}");
    let v = api
        .coll(
            "c",
            json!({"insertOne": {"document": {"_id": "b", "idx": wide}}}),
        )
        .await;
    assert_eq!(error_code(&v), "SHRED_DOC_LIMIT_VIOLATION", "{v}");
}

/// Collections per database: 5 on older Astra databases (`application.yaml`), 10 on newer
/// ones (`config/DatabaseLimitsConfig.java`): the budget is configurable.
#[tokio::test]
async fn the_collection_budget_is_configurable() {
    for budget in [5, 10] {
        let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
        cfg.max_collections = budget;
        let api = server_with(cfg).await;
        for i in 0..budget {
            api.create(&format!("c{i}"), json!({})).await;
        }
        let v = api
            .ks(json!({"createCollection": {"name": "one_more"}}))
            .await;
        assert_eq!(error_code(&v), "TOO_MANY_COLLECTIONS", "budget {budget}");
    }
}

/// POSTs a raw JSON text to collection `coll` (for bodies serde_json would rewrite).
async fn post_raw(api: &Api, coll: &str, body: String) -> reqwest::Response {
    api.http
        .post(format!("{}/v1/default_keyspace/{coll}", api.base))
        .header("Token", TOKEN)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("sent")
}
