//! Collection definitions: `createCollection` options, their normalised
//! stored form, and indexing rules.

use serde_json::{Map, Value, json};

use crate::docid::DefaultId;
use crate::error::{ApiResult, Code, err, field_invalid, field_unknown};
use crate::vector::Metric;

/// Largest allowed vector dimension.
pub(crate) const MAX_VECTOR_DIMENSION: u64 = 4096;

const SOURCE_MODELS: &[&str] = &[
    "ada002",
    "bert",
    "cohere-v3",
    "gecko",
    "nv-qa-4",
    "openai-v3-large",
    "openai-v3-small",
    "other",
];

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct VectorDef {
    pub(crate) dimension: usize,
    pub(crate) metric: Metric,
    pub(crate) source_model: String,
}

/// `indexing.allow` / `indexing.deny`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Indexing {
    All,
    Allow(Vec<String>),
    Deny(Vec<String>),
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct CollectionDef {
    pub(crate) vector: Option<VectorDef>,
    pub(crate) indexing: Indexing,
    pub(crate) default_id: Option<DefaultId>,
}

/// `true` for names matching `\w+` (ASCII), 1..=48 characters.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_truthy_flag(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool).unwrap_or(false)
}

impl CollectionDef {
    /// Parse `createCollection.options` (absent/null = plain collection).
    pub(crate) fn from_options(options: Option<&Value>) -> ApiResult<Self> {
        let mut def = CollectionDef {
            vector: None,
            indexing: Indexing::All,
            default_id: None,
        };
        let opts = match options {
            None | Some(Value::Null) => return Ok(def),
            Some(Value::Object(m)) => m,
            Some(other) => return Err(field_invalid("options", other, "must be an Object")),
        };
        const KNOWN: &[&str] = &["vector", "indexing", "defaultId", "lexical", "rerank"];
        for (k, v) in opts {
            match k.as_str() {
                "vector" => def.vector = parse_vector_options(v)?,
                "indexing" => def.indexing = parse_indexing(v)?,
                "defaultId" => def.default_id = parse_default_id(v)?,
                "lexical" | "rerank" => {
                    let enabled = v
                        .as_object()
                        .map(|m| is_truthy_flag(m.get("enabled")))
                        .unwrap_or(false);
                    if enabled {
                        return Err(err(
                            Code::INVALID_CREATE_COLLECTION_OPTIONS,
                            format!(
                                "'createCollection' command option(s) invalid: '{k}' is not supported by this server (use \"enabled\": false)."
                            ),
                        ));
                    }
                }
                _ => return Err(field_unknown(&format!("options.{k}"), KNOWN)),
            }
        }
        Ok(def)
    }

    /// Normalised options JSON (stored, compared, and returned by `explain`).
    pub(crate) fn to_options_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(v) = &self.vector {
            m.insert(
                "vector".into(),
                json!({"dimension": v.dimension, "metric": v.metric.as_str(), "sourceModel": v.source_model}),
            );
        }
        match &self.indexing {
            Indexing::All => {}
            Indexing::Allow(p) => {
                m.insert("indexing".into(), json!({ "allow": p }));
            }
            Indexing::Deny(p) => {
                m.insert("indexing".into(), json!({ "deny": p }));
            }
        }
        if let Some(d) = self.default_id {
            m.insert("defaultId".into(), json!({"type": d.as_str()}));
        }
        Value::Object(m)
    }

    /// Same settings (indexing path lists compared as sets).
    pub(crate) fn same_settings(&self, other: &CollectionDef) -> bool {
        let sorted = |i: &Indexing| match i {
            Indexing::All => Indexing::All,
            Indexing::Allow(p) => Indexing::Allow(sorted_vec(p)),
            Indexing::Deny(p) => Indexing::Deny(sorted_vec(p)),
        };
        self.vector == other.vector
            && self.default_id == other.default_id
            && sorted(&self.indexing) == sorted(&other.indexing)
    }

    /// Whether a (dotted, escaped) path is indexed.
    pub(crate) fn is_indexed(&self, path: &str) -> bool {
        if path == "_id" || path == "$vector" {
            return true;
        }
        let covered = |list: &[String]| {
            list.iter().any(|p| {
                p == "*"
                    || p == path
                    || (path.len() > p.len()
                        && path.starts_with(p.as_str())
                        && path.as_bytes().get(p.len()) == Some(&b'.'))
            })
        };
        match &self.indexing {
            Indexing::All => true,
            Indexing::Allow(list) => covered(list),
            Indexing::Deny(list) => !covered(list),
        }
    }

    pub(crate) fn from_stored_json(v: &Value) -> ApiResult<Self> {
        CollectionDef::from_options(Some(v))
    }
}

fn sorted_vec(p: &[String]) -> Vec<String> {
    let mut v = p.to_vec();
    v.sort();
    v
}

fn parse_vector_options(v: &Value) -> ApiResult<Option<VectorDef>> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => return Err(field_invalid("options.vector", other, "must be an Object")),
    };
    const KNOWN: &[&str] = &[
        "dimension",
        "size",
        "metric",
        "function",
        "sourceModel",
        "service",
    ];
    let mut dimension = None;
    let mut metric = None;
    let mut model = None;
    for (k, v) in m {
        match k.as_str() {
            "dimension" | "size" if !v.is_null() => dimension = Some(v),
            "metric" | "function" if !v.is_null() => metric = Some(v),
            "sourceModel" if !v.is_null() => model = Some(v),
            "service" if !v.is_null() => {
                return Err(err(
                    Code::INVALID_CREATE_COLLECTION_OPTIONS,
                    "'createCollection' command option(s) invalid: vectorize ('service') is not supported by this server.",
                ));
            }
            "dimension" | "size" | "metric" | "function" | "sourceModel" | "service" => {}
            _ => return Err(field_unknown(&format!("options.vector.{k}"), KNOWN)),
        }
    }
    let Some(dim) = dimension else {
        return Err(err(
            Code::INVALID_CREATE_COLLECTION_OPTIONS,
            "'createCollection' command option(s) invalid: 'dimension' is required for vector search without an embedding service.",
        ));
    };
    let dimension = match dim.as_u64() {
        Some(d) if d > MAX_VECTOR_DIMENSION => {
            return Err(err(
                Code::VECTOR_SEARCH_TOO_BIG_VALUE,
                format!(
                    "Vector embedding property 'dimension' length too big: {d} (max {MAX_VECTOR_DIMENSION})"
                ),
            ));
        }
        Some(d) if d > 0 => d as usize,
        _ => {
            return Err(field_invalid(
                "options.vector.dimension",
                dim,
                "must be a positive integer",
            ));
        }
    };
    let model = match model {
        None => None,
        Some(Value::String(s)) if SOURCE_MODELS.contains(&s.as_str()) => Some(s.clone()),
        Some(other) => {
            return Err(field_invalid(
                "options.vector.sourceModel",
                other,
                &format!("must be one of {SOURCE_MODELS:?}"),
            ));
        }
    };
    let metric = match metric {
        None => None,
        Some(v) => match v.as_str().and_then(Metric::parse) {
            Some(m) => Some(m),
            None => {
                return Err(field_invalid(
                    "options.vector.metric",
                    v,
                    "must be one of 'cosine', 'euclidean', 'dot_product'",
                ));
            }
        },
    };
    let (metric, source_model) = match (metric, model) {
        (None, None) => (Metric::Cosine, "other".to_owned()),
        (Some(m), None) => (m, "other".to_owned()),
        (None, Some(s)) => {
            let m = if s == "other" {
                Metric::Cosine
            } else {
                Metric::DotProduct
            };
            (m, s)
        }
        (Some(m), Some(s)) => (m, s),
    };
    Ok(Some(VectorDef {
        dimension,
        metric,
        source_model,
    }))
}

fn parse_indexing(v: &Value) -> ApiResult<Indexing> {
    let bad = |why: &str| {
        err(
            Code::INVALID_INDEXING_DEFINITION,
            format!("'createCollection' indexing definition invalid: {why}."),
        )
    };
    let m = match v {
        Value::Null => return Ok(Indexing::All),
        Value::Object(m) => m,
        _ => return Err(bad("'indexing' must be an Object")),
    };
    if let Some(k) = m.keys().find(|k| *k != "allow" && *k != "deny") {
        return Err(bad(&format!("unrecognized field '{k}'")));
    }
    let list = |v: &Value| -> ApiResult<Vec<String>> {
        let arr = v
            .as_array()
            .ok_or_else(|| bad("'allow' and 'deny' must be arrays of strings"))?;
        let mut out: Vec<String> = Vec::with_capacity(arr.len());
        for p in arr {
            let s = p
                .as_str()
                .ok_or_else(|| bad("'allow' and 'deny' must be arrays of strings"))?;
            if s != "*" && crate::path::parse_path(s).is_none() {
                return Err(bad(&format!("invalid path '{s}'")));
            }
            if out.iter().any(|o| o == s) {
                return Err(bad(&format!("duplicate path '{s}'")));
            }
            out.push(s.to_owned());
        }
        if out.len() > 1 && out.iter().any(|o| o == "*") {
            return Err(bad("wildcard '*' must be the only path"));
        }
        Ok(out)
    };
    match (m.get("allow"), m.get("deny")) {
        (Some(a), None) => Ok(Indexing::Allow(list(a)?)),
        (None, Some(d)) => Ok(Indexing::Deny(list(d)?)),
        (Some(_), Some(_)) => Err(bad("'allow' and 'deny' cannot be used together")),
        (None, None) => Err(bad("'allow' or 'deny' should be provided")),
    }
}

fn parse_default_id(v: &Value) -> ApiResult<Option<DefaultId>> {
    let m = match v {
        Value::Null => return Ok(None),
        Value::Object(m) => m,
        other => {
            return Err(field_invalid(
                "options.defaultId",
                other,
                "must be an Object",
            ));
        }
    };
    if let Some(k) = m.keys().find(|k| *k != "type") {
        return Err(field_unknown(&format!("options.defaultId.{k}"), &["type"]));
    }
    match m.get("type") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(t) => t
            .as_str()
            .and_then(DefaultId::parse)
            .map(Some)
            .ok_or_else(|| {
                field_invalid(
                    "options.defaultId.type",
                    t,
                    "must be one of 'objectId', 'uuid', 'uuidv6', 'uuidv7'",
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_defaults_and_aliases() {
        let d = CollectionDef::from_options(Some(
            &json!({"vector": {"size": 5, "function": "euclidean"}}),
        ));
        let v = d.ok().and_then(|d| d.vector);
        assert_eq!(
            v.map(|v| (v.dimension, v.metric)),
            Some((5, Metric::Euclidean))
        );
        let d = CollectionDef::from_options(Some(
            &json!({"vector": {"dimension": 3, "sourceModel": "bert"}}),
        ));
        assert_eq!(
            d.ok().and_then(|d| d.vector).map(|v| v.metric),
            Some(Metric::DotProduct)
        );
        let e = CollectionDef::from_options(Some(&json!({"vector": {"dimension": 5000}})));
        assert_eq!(
            e.err().map(|e| e.code),
            Some(Code::VECTOR_SEARCH_TOO_BIG_VALUE)
        );
    }

    #[test]
    fn indexing_rules() {
        let d = CollectionDef::from_options(Some(&json!({"indexing": {"deny": ["raw", "a.b"]}})));
        let d = d.ok();
        assert_eq!(d.as_ref().map(|d| d.is_indexed("raw.x")), Some(false));
        assert_eq!(d.as_ref().map(|d| d.is_indexed("rawx")), Some(true));
        assert_eq!(d.as_ref().map(|d| d.is_indexed("a")), Some(true));
        let e = CollectionDef::from_options(Some(
            &json!({"indexing": {"deny": ["a"], "allow": ["b"]}}),
        ));
        assert_eq!(
            e.err().map(|e| e.code),
            Some(Code::INVALID_INDEXING_DEFINITION)
        );
    }
}
