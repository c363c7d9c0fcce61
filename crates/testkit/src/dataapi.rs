//! The Data API server alone, spoken to in raw HTTP + JSON (deliberately no client library):
//! for the server's own protocol tests.

use std::path::Path;

use serde_json::{Value, json};
use songrec_dataapi_server::{ServerConfig, ServerHandle, Token, start};

/// The token of [`server`] and [`server_in`].
pub const TOKEN: &str = "test-token";

/// A running server and an HTTP client for it.
pub struct Api {
    /// The server (stops when dropped).
    pub server: ServerHandle,
    /// A plain HTTP client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// Starts a server with `config`.
pub async fn server_with(config: ServerConfig) -> Api {
    let server = start(config).await.expect("server starts");
    let base = server.base_url();
    Api {
        server,
        http: reqwest::Client::new(),
        base,
    }
}

/// An in-memory server with [`TOKEN`].
pub async fn server() -> Api {
    server_with(ServerConfig::ephemeral(Token::new(TOKEN))).await
}

/// A server with [`TOKEN`] keeping its database in `dir`.
pub async fn server_in(dir: &Path) -> Api {
    let mut cfg = ServerConfig::ephemeral(Token::new(TOKEN));
    cfg.data_dir = Some(dir.to_path_buf());
    server_with(cfg).await
}

impl Api {
    /// POSTs a JSON body to `path` (relative to the base URL) with [`TOKEN`]: (status, body;
    /// a body that is not JSON comes back as a JSON string).
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Token", TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, v)
    }

    /// A keyspace-level command on `default_keyspace`; asserts HTTP 200.
    pub async fn ks(&self, body: Value) -> Value {
        let (s, v) = self.post("/v1/default_keyspace", &body).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// A collection-level command; asserts HTTP 200.
    pub async fn coll(&self, coll: &str, body: Value) -> Value {
        let (s, v) = self
            .post(&format!("/v1/default_keyspace/{coll}"), &body)
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Creates collection `name`; asserts it worked.
    pub async fn create(&self, name: &str, options: Value) {
        let v = self
            .ks(json!({"createCollection": {"name": name, "options": options}}))
            .await;
        assert_eq!(v, json!({"status": {"ok": 1}}));
    }

    /// `insertMany` of `docs` into `coll`.
    pub async fn insert_many(&self, coll: &str, docs: Vec<Value>) -> Value {
        self.coll(coll, json!({"insertMany": {"documents": docs}}))
            .await
    }

    /// Every document matching `filter`, following `nextPageState`; and the number of pages.
    pub async fn find_all(&self, coll: &str, filter: Value) -> (Vec<Value>, usize) {
        let mut docs = Vec::new();
        let mut page_state: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut options = json!({});
            if let Some(ps) = &page_state {
                options["pageState"] = json!(ps);
            }
            let v = self
                .coll(
                    coll,
                    json!({"find": {"filter": filter, "options": options}}),
                )
                .await;
            pages += 1;
            let data = &v["data"];
            docs.extend(data["documents"].as_array().cloned().unwrap_or_default());
            match &data["nextPageState"] {
                Value::String(s) => page_state = Some(s.clone()),
                Value::Null => break,
                other => panic!("bad nextPageState {other}"),
            }
            assert!(pages < 1000, "paging does not end");
        }
        (docs, pages)
    }
}

/// The single error of a response (asserts there is exactly one).
pub fn only_error(v: &Value) -> &Value {
    let errors = v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {v}"));
    assert_eq!(errors.len(), 1, "{v}");
    &errors[0]
}

/// The `errorCode` of the single error of a response.
pub fn error_code(v: &Value) -> &str {
    only_error(v)["errorCode"].as_str().unwrap_or_default()
}

/// Checks the documented error object shape.
pub fn assert_error_shape(e: &Value) {
    for key in ["id", "family", "scope", "errorCode", "title", "message"] {
        assert!(
            e.get(key).is_some_and(Value::is_string),
            "missing {key} in {e}"
        );
    }
    let fam = e["family"].as_str().unwrap_or_default();
    assert!(fam == "REQUEST" || fam == "SERVER", "{e}");
}
