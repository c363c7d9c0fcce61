//! A command's response ([`Response`]).

use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// A command's response: `data`, `status` and `errors` (empty ones omitted).
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) data: Option<Map<String, Value>>,
    pub(crate) status: Option<Map<String, Value>>,
    pub(crate) errors: Vec<ApiError>,
}

impl Response {
    pub(crate) fn from_error(e: ApiError) -> Self {
        Response {
            errors: vec![e],
            ..Default::default()
        }
    }

    pub(super) fn status(status: Value) -> Self {
        Response {
            status: status.as_object().cloned(),
            ..Default::default()
        }
    }

    pub(super) fn ok() -> Self {
        Response::status(json!({"ok": 1}))
    }

    /// HTTP status: 200 unless an error forces another.
    pub(crate) fn http_status(&self) -> u16 {
        self.errors
            .iter()
            .map(ApiError::http_status)
            .find(|s| *s != 200)
            .unwrap_or(200)
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(d) = &self.data {
            m.insert("data".into(), Value::Object(d.clone()));
        }
        if let Some(s) = &self.status
            && !s.is_empty()
        {
            m.insert("status".into(), Value::Object(s.clone()));
        }
        if !self.errors.is_empty() {
            m.insert(
                "errors".into(),
                Value::Array(self.errors.iter().map(ApiError::to_json).collect()),
            );
        }
        Value::Object(m)
    }
}
