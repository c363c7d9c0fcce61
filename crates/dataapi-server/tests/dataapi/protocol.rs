//! Transport-level behaviour: auth, content type, body limits, routing,
//! keyspaces and collection management.

use serde_json::{Value, json};
use songrec_dataapi_server::{ServerConfig, Token};
use songrec_testkit::dataapi::*;

#[tokio::test]
async fn missing_and_wrong_token_are_401_with_json_errors() {
    let api = server().await;
    let url = format!("{}/v1/default_keyspace", api.base);
    let body = json!({"findCollections": {}});

    let resp = api.http.post(&url).json(&body).send().await.expect("sent");
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.expect("json");
    let e = only_error(&v);
    assert_error_shape(e);
    assert_eq!(e["errorCode"], "MISSING_AUTHENTICATION_TOKEN");
    assert_eq!(e["scope"], "SECURITY");
    assert_eq!(e["family"], "REQUEST");

    let resp = api
        .http
        .post(&url)
        .header("Token", "nope")
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 401);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(error_code(&v), "UNAUTHENTICATED_REQUEST");
    assert!(!v.to_string().contains(TOKEN), "token leaked into the body");
}

#[tokio::test]
async fn content_type_size_and_json_errors() {
    let api = server().await;
    let url = format!("{}/v1/default_keyspace", api.base);

    let resp = api
        .http
        .post(&url)
        .header("Token", TOKEN)
        .header("Content-Type", "text/plain")
        .body(r#"{"findCollections":{}}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 415);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(error_code(&v), "UNSUPPORTED_CONTENT_TYPE");

    // charset parameter is fine.
    let resp = api
        .http
        .post(&url)
        .header("Token", TOKEN)
        .header("Content-Type", "application/json; charset=utf-8")
        .body(r#"{"findCollections":{}}"#)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);

    for bad in [
        r#"{"findCollections": "#,
        "not json",
        r#"{"findCollections":{},"findCollections":{}}"#,
    ] {
        let resp = api
            .http
            .post(&url)
            .header("Token", TOKEN)
            .header("Content-Type", "application/json")
            .body(bad)
            .send()
            .await
            .expect("sent");
        assert_eq!(resp.status().as_u16(), 200);
        let v: Value = resp.json().await.expect("json");
        assert_eq!(error_code(&v), "REQUEST_NOT_JSON", "{bad}");
    }

    let big = format!(
        r#"{{"findCollections":{{"x":"{}"}}}}"#,
        "a".repeat(21 * 1024 * 1024)
    );
    let resp = api
        .http
        .post(&url)
        .header("Token", TOKEN)
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test]
async fn routes_methods_and_unknown_commands() {
    let api = server().await;
    // Both URL layouts.
    for prefix in ["/v1", "/api/json/v1"] {
        let (s, v) = api
            .post(
                &format!("{prefix}/default_keyspace"),
                &json!({"findCollections": {}}),
            )
            .await;
        assert_eq!((s, v), (200, json!({"status": {"collections": []}})));
    }
    let resp = api
        .http
        .get(format!("{}/v1/default_keyspace", api.base))
        .header("Token", TOKEN)
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 405);
    let (s, _) = api.post("/v2/default_keyspace", &json!({})).await;
    assert_eq!(s, 404);

    let v = api.ks(json!({"dropEverything": {}})).await;
    assert_eq!(error_code(&v), "COMMAND_UNKNOWN");
    // A collection command at keyspace level is unknown there.
    let v = api.ks(json!({"find": {}})).await;
    assert_eq!(error_code(&v), "COMMAND_UNKNOWN");
    let v = api
        .ks(json!({"createCollection": {"name": "a", "bogus": 1}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_UNKNOWN");
    assert_error_shape(only_error(&v));
    let v = api
        .ks(json!({"findCollections": {}, "createCollection": {}}))
        .await;
    assert_eq!(error_code(&v), "REQUEST_STRUCTURE_MISMATCH");
}

#[tokio::test]
async fn keyspaces_exist_by_config_or_create_keyspace() {
    let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
    cfg.keyspaces = vec!["configured".into()];
    let api = server_with(cfg).await;
    let (_, v) = api.post("/v1/nope", &json!({"findCollections": {}})).await;
    assert_eq!(error_code(&v), "UNKNOWN_KEYSPACE");
    let (_, v) = api.post("/v1/nope/c", &json!({"find": {}})).await;
    assert_eq!(error_code(&v), "UNKNOWN_KEYSPACE");
    let (_, v) = api
        .post("/v1/configured", &json!({"findCollections": {}}))
        .await;
    assert_eq!(v, json!({"status": {"collections": []}}));

    let (_, v) = api
        .post("/v1", &json!({"createKeyspace": {"name": "made"}}))
        .await;
    assert_eq!(v, json!({"status": {"ok": 1}}));
    let (_, v) = api.post("/v1", &json!({"findKeyspaces": {}})).await;
    assert_eq!(
        v,
        json!({"status": {"keyspaces": ["configured", "default_keyspace", "made"]}})
    );
    let (_, v) = api
        .post("/v1/made", &json!({"createCollection": {"name": "c"}}))
        .await;
    assert_eq!(v, json!({"status": {"ok": 1}}));
    let (_, v) = api
        .post("/v1", &json!({"dropKeyspace": {"name": "made"}}))
        .await;
    assert_eq!(v, json!({"status": {"ok": 1}}));
    let (_, v) = api.post("/v1/made/c", &json!({"find": {}})).await;
    assert_eq!(error_code(&v), "UNKNOWN_KEYSPACE");
}

#[tokio::test]
async fn create_find_delete_collections() {
    let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
    cfg.max_collections = 3;
    let api = server_with(cfg).await;
    api.create("plain", json!({})).await;
    api.create(
        "vec",
        json!({"vector": {"size": 5, "function": "euclidean"}, "indexing": {"deny": ["raw"]}}),
    )
    .await;
    // Same settings again (with canonical names) → ok.
    api.create(
        "vec",
        json!({"vector": {"dimension": 5, "metric": "euclidean"}, "indexing": {"deny": ["raw"]}}),
    )
    .await;
    let v = api
        .ks(json!({"createCollection": {"name": "vec", "options": {"vector": {"dimension": 6}}}}))
        .await;
    assert_eq!(error_code(&v), "EXISTING_COLLECTION_DIFFERENT_SETTINGS");

    let v = api.ks(json!({"findCollections": {}})).await;
    assert_eq!(v, json!({"status": {"collections": ["plain", "vec"]}}));
    let v = api
        .ks(json!({"findCollections": {"options": {"explain": true}}}))
        .await;
    assert_eq!(
        v,
        json!({"status": {"collections": [
            {"name": "plain", "options": {}},
            {"name": "vec", "options": {
                "vector": {"dimension": 5, "metric": "euclidean", "sourceModel": "other"},
                "indexing": {"deny": ["raw"]}
            }}
        ]}})
    );

    for (options, code) in [
        (
            json!({"vector": {"dimension": 5, "metric": "manhattan"}}),
            "COMMAND_FIELD_VALUE_INVALID",
        ),
        (
            json!({"vector": {"dimension": 5000}}),
            "VECTOR_SEARCH_TOO_BIG_VALUE",
        ),
        (
            json!({"vector": {"dimension": 0}}),
            "COMMAND_FIELD_VALUE_INVALID",
        ),
        (
            json!({"indexing": {"allow": ["a"], "deny": ["b"]}}),
            "INVALID_INDEXING_DEFINITION",
        ),
        (
            json!({"indexing": {"allow": ["a", "a"]}}),
            "INVALID_INDEXING_DEFINITION",
        ),
        (
            json!({"defaultId": {"type": "serial"}}),
            "COMMAND_FIELD_VALUE_INVALID",
        ),
    ] {
        let v = api
            .ks(json!({"createCollection": {"name": "bad", "options": options}}))
            .await;
        assert_eq!(error_code(&v), code, "{options}");
    }
    let v = api
        .ks(json!({"createCollection": {"name": "bad-name!"}}))
        .await;
    assert_eq!(error_code(&v), "COMMAND_FIELD_VALUE_INVALID");

    api.create("third", json!({})).await;
    let v = api
        .ks(json!({"createCollection": {"name": "fourth"}}))
        .await;
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "TOO_MANY_COLLECTIONS");
    assert_eq!(e["family"], "SERVER");

    let v = api.ks(json!({"deleteCollection": {"name": "third"}})).await;
    assert_eq!(v, json!({"status": {"ok": 1}}));
    let v = api.ks(json!({"deleteCollection": {"name": "never"}})).await;
    assert_eq!(v, json!({"status": {"ok": 1}}));
    let v = api.coll("third", json!({"find": {}})).await;
    let e = only_error(&v);
    assert_eq!(e["errorCode"], "UNKNOWN_COLLECTION_OR_TABLE");
    assert_eq!(e["scope"], "SCHEMA");
    assert!(v.get("data").is_none(), "reads with errors omit data: {v}");
}

#[tokio::test]
async fn shutdown_does_not_hang_on_a_stalled_request() {
    use tokio::io::AsyncWriteExt;
    let api = server().await;
    let mut sock = tokio::net::TcpStream::connect(api.server.addr())
        .await
        .expect("connect");
    // Headers promise a body that never arrives.
    sock.write_all(
        format!(
            "POST /v1/default_keyspace HTTP/1.1\r\nHost: x\r\nToken: {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .expect("write");
    tokio::task::yield_now().await;
    api.server.shutdown().await.expect("shutdown completes");
}

#[tokio::test]
async fn malformed_requests_never_crash_the_server() {
    let api = server().await;
    api.create("c", json!({"vector": {"dimension": 2}})).await;
    api.coll(
        "c",
        json!({"insertOne": {"document": {"_id": "arr", "arr": [1]}}}),
    )
    .await;
    let bodies = [
        json!([]),
        json!(null),
        json!(5),
        json!({}),
        json!({"find": 7}),
        json!({"find": {"filter": []}}),
        json!({"find": {"filter": {"a": {"$in": {}}}}}),
        json!({"find": {"filter": {"a.": 1}}}),
        json!({"find": {"sort": {"a": "up"}}}),
        json!({"find": {"sort": {"$vector": "x"}}}),
        json!({"find": {"sort": {"$vector": {"$binary": "!!"}}}}),
        json!({"find": {"options": {"limit": -1}}}),
        json!({"find": {"options": {"limit": "x"}}}),
        json!({"find": {"options": {"pageState": "%%%"}}}),
        json!({"find": {"options": 3}}),
        json!({"find": {"projection": {"a": {"$slice": "x"}}}}),
        json!({"insertOne": {"document": {"$vector": [1e39, 1]}}}),
        json!({"insertOne": {"document": {"_id": {"$uuid": "x"}}}}),
        json!({"insertMany": {"documents": [1, "x", null]}}),
        json!({"updateOne": {"filter": {"_id": "arr"}, "update": {"$set": {"arr.99999999999": 1}}}}),
        json!({"updateOne": {"filter": {}, "update": {"$push": {"a": {"$each": 1}}}}}),
        json!({"updateOne": {"filter": {}, "update": {"$set": {"": 1}}}}),
        json!({"updateOne": {"filter": {}, "update": []}}),
        json!({"findOneAndReplace": {"filter": {}, "replacement": 5}}),
        json!({"deleteMany": {"filter": {"$and": [1]}}}),
        json!({"countDocuments": {"filter": {"$or": []}}}),
    ];
    for b in bodies {
        let (s, v) = api.post("/v1/default_keyspace/c", &b).await;
        assert_eq!(s, 200, "{b} → {v}");
        let errs = v["errors"].as_array().cloned().unwrap_or_default();
        assert!(!errs.is_empty(), "{b} should fail: {v}");
        for e in &errs {
            assert_error_shape(e);
            assert_eq!(e["family"], "REQUEST", "{b} → {e}");
        }
    }
    let v = api.coll("c", json!({"find": {}})).await;
    assert_eq!(
        v["data"]["documents"],
        json!([{"_id": "arr", "arr": [1]}]),
        "{v}"
    );
}

#[tokio::test]
async fn binary_prints_address_and_stops_on_sigterm() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_songrec-dataapi"))
        .args(["--port", "0", "--data-dir"])
        .arg(dir.path())
        .env("SONGREC_DATAAPI_TOKEN", "bin-token")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .await
        .expect("read line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/default_keyspace"))
        .header("Token", "bin-token")
        .json(&json!({"findCollections": {}}))
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status().as_u16(), 200);
    let pid = child.id().expect("pid");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let out = child.wait_with_output().await.expect("exits");
    assert!(out.status.success(), "exit status {}", out.status);
    assert!(dir.path().join("dataapi.sqlite3").exists());
    // Its log went to a pipe: plain text, no colour codes.
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("shutting down"), "{log}");
    assert!(!out.stderr.contains(&0x1b), "ANSI escapes in {log:?}");
}
