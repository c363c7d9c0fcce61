//! Data survives a restart of the server on the same data directory.

mod common;

use common::*;
use serde_json::{Value, json};

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
