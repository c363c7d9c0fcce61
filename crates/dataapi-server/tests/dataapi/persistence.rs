//! Data survives a restart of the server on the same data directory.

use serde_json::{Value, json};
use songrec_testkit::dataapi::*;

#[tokio::test]
async fn data_survives_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b64 = {
        use base64::Engine;
        let bytes: Vec<u8> = [0.25f32, 0.5]
            .iter()
            .flat_map(|x| x.to_be_bytes())
            .collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    {
        let api = server_in(dir.path()).await;
        api.create("songs", json!({"vector": {"dimension": 2, "metric": "dot_product"}, "indexing": {"deny": ["raw"]}}))
            .await;
        api.create("plain", json!({"defaultId": {"type": "objectId"}}))
            .await;
        let (_, v) = api
            .post("/v1", &json!({"createKeyspace": {"name": "extra"}}))
            .await;
        assert_eq!(v["status"]["ok"], 1);
        let docs: Vec<Value> = (0..150)
            .map(
                |i| json!({"_id": i, "title": format!("t{i}"), "$vector": [1.0, i as f64 / 150.0]}),
            )
            .collect();
        for chunk in docs.chunks(100) {
            api.insert_many("songs", chunk.to_vec()).await;
        }
        api.coll(
            "songs",
            json!({"insertOne": {"document": {"_id": "b", "$vector": {"$binary": b64}}}}),
        )
        .await;
        api.coll(
            "songs",
            json!({"updateOne": {"filter": {"_id": 7}, "update": {"$set": {"edited": true}}}}),
        )
        .await;
        api.coll("songs", json!({"deleteOne": {"filter": {"_id": 8}}}))
            .await;
        api.server.shutdown().await.expect("clean shutdown");
    }
    let api = server_in(dir.path()).await;
    let v = api
        .ks(json!({"findCollections": {"options": {"explain": true}}}))
        .await;
    assert_eq!(
        v["status"]["collections"],
        json!([
            {"name": "plain", "options": {"defaultId": {"type": "objectId"}}},
            {"name": "songs", "options": {
                "vector": {"dimension": 2, "metric": "dot_product", "sourceModel": "other"},
                "indexing": {"deny": ["raw"]}
            }}
        ])
    );
    let (_, v) = api.post("/v1", &json!({"findKeyspaces": {}})).await;
    assert_eq!(
        v["status"]["keyspaces"],
        json!(["default_keyspace", "extra"])
    );
    let v = api.coll("songs", json!({"countDocuments": {}})).await;
    assert_eq!(v["status"]["count"], 150);
    let v = api
        .coll(
            "songs",
            json!({"findOne": {"filter": {"_id": 7}, "projection": {"*": 1}}}),
        )
        .await;
    // The server stores f32 and writes its shortest decimal form.
    let second: f64 = format!("{}", (7.0f64 / 150.0) as f32)
        .parse()
        .expect("f32 prints");
    assert_eq!(
        v["data"]["document"],
        json!({"_id": 7, "title": "t7", "edited": true, "$vector": [1.0, second]})
    );
    let v = api
        .coll("songs", json!({"findOne": {"filter": {"_id": 8}}}))
        .await;
    assert_eq!(v["data"]["document"], Value::Null);
    let v = api
        .coll(
            "songs",
            json!({"findOne": {"filter": {"_id": "b"}, "projection": {"$vector": 1}}}),
        )
        .await;
    assert_eq!(
        v["data"]["document"],
        json!({"_id": "b", "$vector": {"$binary": b64}})
    );
    // Vector search works on reloaded vectors.
    let v = api
        .coll("songs", json!({"find": {"sort": {"$vector": [0.0, 1.0]}, "projection": {"_id": 1}, "options": {"limit": 2, "includeSimilarity": true}}}))
        .await;
    assert_eq!(v["data"]["documents"][0]["_id"], 149);
    // Paging is unchanged.
    let (docs, _) = api.find_all("songs", json!({})).await;
    assert_eq!(docs.len(), 150);
    let v = api
        .coll("plain", json!({"insertOne": {"document": {}}}))
        .await;
    assert!(
        v["status"]["insertedIds"][0]["$objectId"].is_string(),
        "{v}"
    );
}

/// Numbers are kept bit for bit: parsed to the nearest float, stored, reloaded after a restart
/// and written back unchanged, whatever decimal text the client sent (shortest forms, long
/// texts just either side of the midpoint between two floats, subnormals, the extremes);
/// vectors sent as arrays of f32 values come back as the same f32 values.
#[tokio::test]
async fn numbers_survive_bit_for_bit_across_a_restart() {
    use songrec_conformance::floats::{f32_cases, f64_cases, halfway_decimals};
    use songrec_storage::metadata::narrow_f32;

    let dir = tempfile::tempdir().expect("tempdir");
    // (decimal text sent, the f64 it stands for)
    let mut numbers: Vec<(String, f64)> = Vec::new();
    for x in f64_cases(31, 120) {
        numbers.push((serde_json::to_string(&x).expect("finite"), x));
        // Texts longer than 100 characters fail the whole request, as on the real service
        // (`maxNumberLength`; see limits.rs).
        numbers.extend(
            halfway_decimals(x)
                .into_iter()
                .filter(|(text, _)| text.len() <= 100)
                .take(3),
        );
    }
    let vectors: Vec<Vec<f32>> = f32_cases(37, 4 * 200)
        .into_iter()
        // Moderate magnitudes, so a vector's norm stays finite.
        .filter(|x| x.abs() < 1e15)
        .collect::<Vec<_>>()
        .chunks_exact(4)
        .map(<[f32]>::to_vec)
        .filter(|v| v.iter().any(|x| *x != 0.0))
        .collect();
    let docs: Vec<String> = numbers
        .iter()
        .enumerate()
        .map(|(i, (text, _))| {
            let v = &vectors[i % vectors.len()];
            let arr: Vec<String> = v
                .iter()
                .map(|x| serde_json::to_string(&f64::from(*x)).expect("finite"))
                .collect();
            format!(
                r#"{{"_id": {i}, "x": {text}, "xs": [{text}, -1.5], "$vector": [{}]}}"#,
                arr.join(",")
            )
        })
        .collect();

    let check = |docs: &[Value]| {
        assert_eq!(docs.len(), numbers.len(), "every document");
        for d in docs {
            let i = d["_id"].as_u64().expect("id") as usize;
            let (text, want) = &numbers[i];
            for got in [&d["x"], &d["xs"][0]] {
                let got = got.as_f64().expect("number");
                assert_eq!(got.to_bits(), want.to_bits(), "{text} came back as {got:?}");
            }
            let v: Vec<f32> = d["$vector"]
                .as_array()
                .expect("vector")
                .iter()
                .map(|x| narrow_f32(x.as_f64().expect("component")))
                .collect();
            let want_v = &vectors[i % vectors.len()];
            assert_eq!(
                v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want_v.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "vector of {i}"
            );
        }
    };
    {
        let api = server_in(dir.path()).await;
        api.create(
            "nums",
            json!({"vector": {"dimension": 4, "metric": "cosine"}}),
        )
        .await;
        for chunk in docs.chunks(50) {
            let body = format!(
                r#"{{"insertMany": {{"documents": [{}]}}}}"#,
                chunk.join(",")
            );
            let resp = api
                .http
                .post(format!("{}/v1/default_keyspace/nums", api.base))
                .header("Token", TOKEN)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("sent");
            let v: Value = serde_json::from_str(&resp.text().await.expect("body")).expect("json");
            assert!(v.get("errors").is_none(), "{v}");
        }
        check(&every_document(&api, "nums").await);
        // A filter on an exact value finds its document.
        for (text, x) in numbers.iter().take(40) {
            let v = api
                .coll(
                    "nums",
                    json!({"find": {"filter": {"x": x}, "projection": {"x": 1}}}),
                )
                .await;
            let found = v["data"]["documents"].as_array().expect("documents");
            assert!(
                !found.is_empty()
                    && found
                        .iter()
                        .all(|d| d["x"].as_f64().map(f64::to_bits) == Some(x.to_bits())
                            || (*x == 0.0 && d["x"].as_f64() == Some(0.0))),
                "filter x == {text}: {found:?}"
            );
        }
        api.server.shutdown().await.expect("clean shutdown");
    }
    let api = server_in(dir.path()).await;
    check(&every_document(&api, "nums").await);
}

/// Every document of a collection with every field (`$vector` included), page by page.
async fn every_document(api: &Api, coll: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut options = json!({});
    loop {
        let v = api
            .coll(
                coll,
                json!({"find": {"projection": {"*": 1}, "options": options}}),
            )
            .await;
        out.extend(
            v["data"]["documents"]
                .as_array()
                .cloned()
                .unwrap_or_default(),
        );
        match &v["data"]["nextPageState"] {
            Value::String(s) => options = json!({"pageState": s}),
            _ => return out,
        }
        assert!(out.len() < 100_000, "paging does not end");
    }
}
