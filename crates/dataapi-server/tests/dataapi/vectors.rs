//! Vector collections: storage forms, similarity formulas, vector sort rules.

use base64::Engine;
use serde_json::{Value, json};
use songrec_testkit::dataapi::*;

fn binary(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|x| x.to_be_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sims(v: &Value) -> Vec<(String, f64)> {
    v["data"]["documents"]
        .as_array()
        .unwrap_or_else(|| panic!("no documents: {v}"))
        .iter()
        .map(|d| {
            (
                d["_id"].as_str().unwrap_or_default().to_owned(),
                d["$similarity"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect()
}

/// Independent f64 implementations of the reference formulas.
fn cosine(q: &[f64], v: &[f64]) -> f64 {
    let dot: f64 = q.iter().zip(v).map(|(a, b)| a * b).sum();
    let nq: f64 = q.iter().map(|a| a * a).sum::<f64>().sqrt();
    let nv: f64 = v.iter().map(|a| a * a).sum::<f64>().sqrt();
    (1.0 + dot / (nq * nv)) / 2.0
}

/// Documents of stargate data-api `VectorSearchIntegrationTest`.
fn product_docs() -> Vec<Value> {
    vec![
        json!({"_id": "1", "name": "Coded Cleats", "description": "ChatGPT integrated sneakers that talk to you", "$vector": [0.1, 0.15, 0.3, 0.12, 0.05]}),
        json!({"_id": "2", "name": "Logic Layers", "description": "An AI quilt to help you sleep forever", "$vector": [0.45, 0.09, 0.01, 0.2, 0.11]}),
        json!({"_id": "3", "name": "Vision Vector Frame", "description": "Vision Vector Frame - A deep learning display that controls your mood", "$vector": [0.1, 0.05, 0.08, 0.3, 0.6]}),
    ]
}

#[tokio::test]
async fn cosine_similarity_matches_reference_example() {
    let api = server().await;
    api.create(
        "products",
        json!({"vector": {"dimension": 5, "metric": "cosine"}}),
    )
    .await;
    api.insert_many("products", product_docs()).await;
    let q = [0.15, 0.1, 0.1, 0.35, 0.55];
    let v = api
        .coll(
            "products",
            json!({"find": {"sort": {"$vector": q}, "projection": {"name": 1}, "options": {"includeSimilarity": true}}}),
        )
        .await;
    assert_eq!(v["data"]["nextPageState"], Value::Null);
    let got = sims(&v);
    let ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, ["3", "2", "1"]);
    for ((_, s), expected) in got.iter().zip([0.99445, 0.79671, 0.75364]) {
        assert!((s - expected).abs() < 5e-6, "{s} vs {expected}");
    }
    // And against the formula computed here.
    for (id, s) in &got {
        let doc = product_docs()
            .into_iter()
            .find(|d| d["_id"] == id.as_str())
            .expect("doc");
        let dv: Vec<f64> = doc["$vector"]
            .as_array()
            .expect("vector")
            .iter()
            .map(|x| x.as_f64().unwrap_or_default() as f32 as f64)
            .collect();
        let qv: Vec<f64> = q.iter().map(|x| *x as f32 as f64).collect();
        assert!((s - cosine(&qv, &dv)).abs() < 1e-6, "{id}: {s}");
    }
    // The document itself: projection applied, $similarity added, no $vector.
    assert_eq!(
        v["data"]["documents"][0],
        json!({"_id": "3", "name": "Vision Vector Frame", "$similarity": got[0].1})
    );

    // findOne with vector sort and similarity; includeSortVector.
    let v = api
        .coll(
            "products",
            json!({"findOne": {"sort": {"$vector": q}, "projection": {"_id": 1}, "options": {"includeSimilarity": true, "includeSortVector": true}}}),
        )
        .await;
    assert_eq!(v["data"]["document"]["_id"], "3");
    assert_eq!(v["status"]["sortVector"], json!(q));

    // Filter + vector sort = ANN among matches.
    let v = api
        .coll(
            "products",
            json!({"find": {"filter": {"_id": {"$in": ["1", "2"]}}, "sort": {"$vector": q}, "options": {"includeSimilarity": true, "limit": 1}}}),
        )
        .await;
    let got = sims(&v);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, "2");
}

#[tokio::test]
async fn euclidean_and_dot_product_formulas() {
    let api = server().await;
    api.create(
        "e",
        json!({"vector": {"dimension": 2, "metric": "euclidean"}}),
    )
    .await;
    api.insert_many(
        "e",
        vec![
            json!({"_id": "origin", "$vector": [0, 0]}),
            json!({"_id": "far", "$vector": [3, 4]}),
            json!({"_id": "near", "$vector": [1, 1]}),
        ],
    )
    .await;
    let v = api
        .coll(
            "e",
            json!({"find": {"sort": {"$vector": [0, 0]}, "options": {"includeSimilarity": true}}}),
        )
        .await;
    let got = sims(&v);
    let expected = [("origin", 1.0), ("near", 1.0 / 3.0), ("far", 1.0 / 26.0)];
    assert_eq!(got.len(), 3);
    for ((id, s), (eid, es)) in got.iter().zip(expected) {
        assert_eq!(id, eid);
        assert!((s - es).abs() < 1e-6, "{id}: {s} vs {es}");
    }

    api.create(
        "d",
        json!({"vector": {"dimension": 2, "metric": "dot_product"}}),
    )
    .await;
    api.insert_many(
        "d",
        vec![
            json!({"_id": "x", "$vector": [1, 0]}),
            json!({"_id": "y", "$vector": [0, 1]}),
            json!({"_id": "xy", "$vector": [0.6, 0.8]}),
        ],
    )
    .await;
    let v = api
        .coll("d", json!({"find": {"sort": {"$vector": [0.6, 0.8]}, "options": {"includeSimilarity": true}}}))
        .await;
    let got = sims(&v);
    let expected = [("xy", 1.0), ("y", 0.9), ("x", 0.8)];
    for ((id, s), (eid, es)) in got.iter().zip(expected) {
        assert_eq!(id, eid);
        assert!((s - es).abs() < 1e-6, "{id}: {s} vs {es}");
    }
}

#[tokio::test]
async fn vectors_are_stored_verbatim_and_hidden_by_default() {
    let api = server().await;
    api.create("v", json!({"vector": {"dimension": 3}})).await;
    let b64 = binary(&[0.5, -0.25, 1.0]);
    api.insert_many(
        "v",
        vec![
            json!({"_id": "arr", "k": 1, "$vector": [0.1, 0.2, 0.3]}),
            json!({"_id": "bin", "k": 2, "$vector": {"$binary": b64}}),
            json!({"_id": "none", "k": 3}),
        ],
    )
    .await;
    let one = |filter: Value, proj: Value| {
        let api = &api;
        async move {
            let v = api
                .coll(
                    "v",
                    json!({"findOne": {"filter": filter, "projection": proj}}),
                )
                .await;
            v["data"]["document"].clone()
        }
    };
    assert_eq!(
        one(json!({"_id": "arr"}), json!(null)).await,
        json!({"_id": "arr", "k": 1})
    );
    assert_eq!(
        one(json!({"_id": "arr"}), json!({"$vector": 1})).await,
        json!({"_id": "arr", "k": 1, "$vector": [0.1, 0.2, 0.3]})
    );
    assert_eq!(
        one(json!({"_id": "bin"}), json!({"*": 1})).await,
        json!({"_id": "bin", "k": 2, "$vector": {"$binary": b64}})
    );
    assert_eq!(
        one(
            json!({"_id": "bin"}),
            json!({"$vector": 1, "_id": 0, "k": 0})
        )
        .await,
        json!({"$vector": {"$binary": b64}})
    );

    // $binary query, docs without vectors are not returned.
    let v = api
        .coll("v", json!({"find": {"sort": {"$vector": {"$binary": binary(&[0.5, -0.25, 1.0])}}, "options": {"includeSimilarity": true}}}))
        .await;
    let got = sims(&v);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "bin");
    assert!((got[0].1 - 1.0).abs() < 1e-6);

    let v = api
        .coll(
            "v",
            json!({"countDocuments": {"filter": {"$vector": {"$exists": true}}}}),
        )
        .await;
    assert_eq!(v["status"]["count"], 2);

    // $set/$unset on $vector; other operators rejected.
    let v = api
        .coll("v", json!({"updateOne": {"filter": {"_id": "none"}, "update": {"$set": {"$vector": [1, 1, 1]}}}}))
        .await;
    assert_eq!(v["status"]["modifiedCount"], 1);
    let v = api
        .coll(
            "v",
            json!({"updateOne": {"filter": {"_id": "arr"}, "update": {"$unset": {"$vector": ""}}}}),
        )
        .await;
    assert_eq!(v["status"]["modifiedCount"], 1);
    let v = api
        .coll(
            "v",
            json!({"countDocuments": {"filter": {"$vector": {"$exists": false}}}}),
        )
        .await;
    assert_eq!(v["status"]["count"], 1);
    let v = api
        .coll(
            "v",
            json!({"updateOne": {"filter": {}, "update": {"$push": {"$vector": 1}}}}),
        )
        .await;
    assert_eq!(error_code(&v), "UNSUPPORTED_UPDATE_OPERATOR_FOR_VECTOR");
    let v = api
        .coll(
            "v",
            json!({"updateOne": {"filter": {}, "update": {"$set": {"$vector": [1, 2]}}}}),
        )
        .await;
    assert_eq!(error_code(&v), "INVALID_VECTOR_LENGTH");
}

#[tokio::test]
async fn vector_sort_rules_and_errors() {
    let api = server().await;
    api.create("v", json!({"vector": {"dimension": 2}})).await;
    api.create("plain", json!({})).await;
    for chunk in 0..11 {
        let docs: Vec<Value> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                json!({"_id": n, "g": n % 3, "$vector": [1.0, n as f64 / 1000.0]})
            })
            .collect();
        let v = api.insert_many("v", docs).await;
        assert!(v.get("errors").is_none(), "{v}");
    }
    // Default limit 1000, one page, nextPageState null.
    let v = api
        .coll(
            "v",
            json!({"find": {"sort": {"$vector": [1, 0]}, "projection": {"g": 0}}}),
        )
        .await;
    assert_eq!(v["data"]["documents"].as_array().map(Vec::len), Some(1000));
    assert_eq!(v["data"]["nextPageState"], Value::Null);
    assert_eq!(v["data"]["documents"][0], json!({"_id": 0}));
    let v = api
        .coll(
            "v",
            json!({"find": {"sort": {"$vector": [1, 0]}, "options": {"limit": 1000}}}),
        )
        .await;
    assert_eq!(v["data"]["documents"].as_array().map(Vec::len), Some(1000));

    // Filter + vector sort.
    let v = api
        .coll("v", json!({"find": {"filter": {"g": 2}, "sort": {"$vector": [1, 0]}, "projection": {"g": 0}, "options": {"limit": 3}}}))
        .await;
    assert_eq!(
        v["data"]["documents"],
        json!([{"_id": 2}, {"_id": 5}, {"_id": 8}])
    );

    // includeSortVector forces nextPageState null even for unsorted pages.
    let v = api
        .coll(
            "v",
            json!({"find": {"options": {"includeSortVector": true}}}),
        )
        .await;
    assert_eq!(v["data"]["nextPageState"], Value::Null);
    assert_eq!(v["status"]["sortVector"], Value::Null);

    // Vector sort in write commands: the most similar document is affected.
    let v = api
        .coll("v", json!({"findOneAndUpdate": {"sort": {"$vector": [0, 1]}, "update": {"$set": {"hit": true}}, "projection": {"g": 0}}}))
        .await;
    assert_eq!(v["data"]["document"], json!({"_id": 1099}));
    let v = api
        .coll("v", json!({"deleteOne": {"sort": {"$vector": [0, 1]}}}))
        .await;
    assert_eq!(v["status"]["deletedCount"], 1);
    let v = api
        .coll("v", json!({"findOne": {"filter": {"_id": 1099}}}))
        .await;
    assert_eq!(v["data"]["document"], Value::Null);

    let cases = [
        (
            json!({"sort": {"$vector": [1, 0]}, "options": {"limit": 1001}}),
            "COMMAND_FIELD_VALUE_INVALID",
        ),
        (
            json!({"sort": {"$vector": [1, 0]}, "options": {"skip": 5}}),
            "COMMAND_FIELD_VALUE_INVALID",
        ),
        (
            json!({"sort": {"$vector": [1, 0, 0]}}),
            "INVALID_VECTOR_LENGTH",
        ),
        (
            json!({"sort": {"$vector": [1, 0], "g": 1}}),
            "SORT_CLAUSE_INVALID",
        ),
        (
            json!({"sort": {"$vector": [0, 0]}}),
            "INVALID_DATABASE_QUERY",
        ),
        (
            json!({"sort": {"$vector": [1, 0]}, "options": {"pageState": "x"}}),
            "SORT_CLAUSE_INVALID",
        ),
        (
            json!({"filter": {"$vector": [1, 0]}}),
            "FILTER_INVALID_EXPRESSION",
        ),
    ];
    for (find, code) in cases {
        let v = api.coll("v", json!({ "find": find })).await;
        assert_eq!(error_code(&v), code, "{find}");
    }
    let v = api
        .coll(
            "v",
            json!({"insertOne": {"document": {"_id": "bad", "$vector": [1, 2, 3]}}}),
        )
        .await;
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "INVALID_VECTOR_LENGTH");
    assert_eq!(e["documentIds"], json!(["bad"]));
    let v = api
        .coll("plain", json!({"find": {"sort": {"$vector": [1, 0]}}}))
        .await;
    assert_eq!(error_code(&v), "VECTOR_SEARCH_NOT_SUPPORTED");
}

#[tokio::test]
async fn huge_and_non_finite_vectors_are_refused_with_a_data_api_error() {
    let api = server().await;
    for metric in ["cosine", "dot_product", "euclidean"] {
        api.create(
            metric,
            json!({"vector": {"dimension": 2, "metric": metric}}),
        )
        .await;
        let v = api
            .insert_many(
                metric,
                vec![
                    json!({"_id": "a", "$vector": [1.0, 0.0]}),
                    json!({"_id": "b", "$vector": [0.5, 0.5]}),
                ],
            )
            .await;
        assert!(v.get("errors").is_none(), "{v}");
        // The sum of squares of [3e38, 3e38] overflows f32: refused, in both forms and in
        // documents, updates and sorts, with the documented error shape.
        let huge = [3e38f32, 3e38];
        let bad_values = [
            json!([3e38, 3e38]),
            json!({"$binary": binary(&huge)}),
            json!([1e300, 1.0]),
            json!([-1e39, 1.0]),
        ];
        for bad in &bad_values {
            let v = api
                .coll(
                    metric,
                    json!({"insertOne": {"document": {"_id": "huge", "$vector": bad}}}),
                )
                .await;
            let e = only_error(&v);
            assert_error_shape(e);
            assert!(
                e["errorCode"] == "SHRED_BAD_VECTOR_VALUE"
                    || e["errorCode"] == "SHRED_BAD_BINARY_VECTOR_VALUE",
                "{metric} {bad}: {v}"
            );
            let v = api
                .coll(
                    metric,
                    json!({"updateOne": {"filter": {"_id": "a"}, "update": {"$set": {"$vector": bad}}}}),
                )
                .await;
            assert!(v.get("errors").is_some(), "{metric} {bad}: {v}");
            let v = api
                .coll(
                    metric,
                    json!({"find": {"sort": {"$vector": bad}, "options": {"includeSimilarity": true}}}),
                )
                .await;
            let e = only_error(&v);
            assert_error_shape(e);
            assert!(v.get("data").is_none(), "{metric} {bad}: {v}");
            let msg = e["message"].as_str().unwrap_or_default();
            assert!(
                msg.contains("32-bit float") || msg.contains("NaN or infinite"),
                "{metric} {bad}: {msg}"
            );
        }
        // Nothing was written; every similarity returned is a finite number.
        let v = api
            .coll(
                metric,
                json!({"find": {"sort": {"$vector": [1.0, 0.25]}, "options": {"includeSimilarity": true}}}),
            )
            .await;
        let got = sims(&v);
        assert_eq!(got.len(), 2, "{v}");
        assert!(got.iter().all(|(_, s)| s.is_finite()), "{v}");
        let v = api
            .coll(
                metric,
                json!({"findOne": {"filter": {"_id": "a"}, "projection": {"$vector": 1}}}),
            )
            .await;
        let stored: Option<Vec<Option<f64>>> = v["data"]["document"]["$vector"]
            .as_array()
            .map(|a| a.iter().map(Value::as_f64).collect());
        assert_eq!(stored, Some(vec![Some(1.0), Some(0.0)]), "{v}");
    }
}
