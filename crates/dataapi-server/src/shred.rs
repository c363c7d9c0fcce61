//! Document validation ("shredding" in the Data API): field names, EJSON
//! values, `$vector`, `_id`, and the document size limits.

use serde_json::{Map, Value};

use crate::docid;
use crate::error::{ApiError, ApiResult, Code, err};
use crate::schema::CollectionDef;
use crate::vector::{self, StoredVector, VectorUse};

/// Serialized document size limit, in characters.
pub(crate) const MAX_DOC_CHARS: usize = 4_000_000;
const MAX_DEPTH: usize = 16;
const MAX_OBJECT_PROPS: usize = 1000;
const MAX_DOC_PROPS: usize = 2000;
const MAX_STRING_BYTES: usize = 8000;
const MAX_ARRAY_LEN: usize = 1000;
const MAX_PATH_CHARS: usize = 1000;

/// A validated document ready to be stored.
#[derive(Clone, Debug)]
pub(crate) struct Prepared {
    pub(crate) id: Value,
    pub(crate) key: String,
    /// The document without `$vector` (which lives in `vector`).
    pub(crate) body: Map<String, Value>,
    pub(crate) vector: Option<StoredVector>,
    /// `body` serialized (what is stored in SQLite).
    pub(crate) json: String,
}

/// Validate a new document (insert or replacement). A missing `_id` is
/// generated. Errors carry the document id when it is known.
pub(crate) fn prepare(doc: Value, def: &CollectionDef) -> ApiResult<Prepared> {
    let mut body = match doc {
        Value::Object(m) => m,
        other => {
            return Err(err(
                Code::SHRED_BAD_DOCUMENT_TYPE,
                format!(
                    "Bad document type to shred: document must be a JSON Object, instead got a JSON {}.",
                    crate::json::type_name(&other)
                ),
            ));
        }
    };
    let id = match body.get("_id") {
        Some(id) => {
            docid::validate(id)?;
            id.clone()
        }
        None => {
            let id = docid::generate(def.default_id);
            body.insert("_id".into(), id.clone());
            id
        }
    };
    let with_id = |e: ApiError| e.with_doc_id(id.clone());
    let (vector, vector_chars) = match body.remove("$vector") {
        None => (None, 0),
        Some(v) => {
            let chars = match &v {
                Value::Object(m) => {
                    m.get("$binary").and_then(Value::as_str).map_or(0, str::len) + 16
                }
                other => serde_json::to_string(other).map_or(0, |s| s.len()) + 12,
            };
            (vector_for(&v, def).map_err(with_id)?, chars)
        }
    };
    validate_body(&body, def).map_err(with_id)?;
    let json = serde_json::to_string(&body).map_err(|e| {
        with_id(err(
            Code::SHRED_BAD_DOCUMENT_TYPE,
            format!("Bad document type to shred: {e}."),
        ))
    })?;
    let size = json.len() + vector_chars;
    if size > MAX_DOC_CHARS {
        return Err(with_id(limit(format!(
            "document size ({size} chars) exceeds maximum allowed ({MAX_DOC_CHARS})"
        ))));
    }
    Ok(Prepared {
        key: docid::key(&id),
        id,
        body,
        vector,
        json,
    })
}

/// Parse and check a `$vector` value for a collection (`None` = no vector).
pub(crate) fn vector_for(v: &Value, def: &CollectionDef) -> ApiResult<Option<StoredVector>> {
    let parsed = vector::parse(v, VectorUse::Document)?;
    match (parsed, &def.vector) {
        (None, _) => Ok(None),
        (Some(_), None) => Err(vector_not_enabled()),
        (Some(p), Some(vd)) => {
            vector::check_dimension(&p, vd.dimension)?;
            Ok(Some(p))
        }
    }
}

pub(crate) fn vector_not_enabled() -> ApiError {
    err(
        Code::VECTOR_SEARCH_NOT_SUPPORTED,
        "Vector search is not enabled for the collection.",
    )
}

fn limit(msg: String) -> ApiError {
    err(
        Code::SHRED_DOC_LIMIT_VIOLATION,
        format!("Document size limitation violated: {msg}."),
    )
}

fn bad_name(msg: String) -> ApiError {
    err(
        Code::SHRED_BAD_FIELD_NAME,
        format!("Document field name not valid: {msg}."),
    )
}

/// Escape a field name for use as a path segment.
pub(crate) fn escape_segment(name: &str) -> String {
    name.replace('&', "&&").replace('.', "&.")
}

/// Validate a document body (without `$vector`; `_id` already checked).
pub(crate) fn validate_body(body: &Map<String, Value>, def: &CollectionDef) -> ApiResult<()> {
    let mut props = 0usize;
    if body.len() > MAX_OBJECT_PROPS {
        return Err(limit(format!(
            "number of properties an Object has ({}) exceeds maximum allowed ({MAX_OBJECT_PROPS})",
            body.len()
        )));
    }
    for (k, v) in body {
        match k.as_str() {
            "_id" => continue,
            "$vectorize" if !v.is_null() => {
                return Err(err(
                    Code::EMBEDDING_SERVICE_NOT_CONFIGURED,
                    "Collection does not have embedding service configured: cannot vectorize data.",
                ));
            }
            "$lexical" if !v.is_null() => {
                return Err(err(
                    Code::LEXICAL_NOT_ENABLED_FOR_COLLECTION,
                    "Lexical content can only be added to collections for which Lexical feature is enabled.",
                ));
            }
            "$vectorize" | "$lexical" => continue,
            "$vector" => {
                // Only reachable through updates that build the body directly.
                return Err(bad_name("'$vector' must be handled as a vector".into()));
            }
            _ => {}
        }
        check_name(k)?;
        props += 1;
        let path = escape_segment(k);
        if path.len() > MAX_PATH_CHARS {
            return Err(limit(format!(
                "property path length ({}) exceeds maximum allowed ({MAX_PATH_CHARS})",
                path.len()
            )));
        }
        validate_value(v, &path, 2, def, &mut props)?;
    }
    Ok(())
}

fn check_name(k: &str) -> ApiResult<()> {
    if k.is_empty() {
        return Err(bad_name("empty names not allowed".into()));
    }
    if k.starts_with('$') {
        return Err(bad_name(format!(
            "field name '{k}' starts with '$' (not allowed except for '$vector', '$vectorize', '$lexical' at the top level)"
        )));
    }
    Ok(())
}

fn ejson_wrapper(m: &Map<String, Value>) -> Option<(&str, &Value)> {
    if m.len() != 1 {
        return None;
    }
    let (k, v) = m.iter().next()?;
    matches!(k.as_str(), "$date" | "$uuid" | "$objectId").then_some((k.as_str(), v))
}

fn validate_value(
    v: &Value,
    path: &str,
    depth: usize,
    def: &CollectionDef,
    props: &mut usize,
) -> ApiResult<()> {
    match v {
        Value::Object(m) => {
            if let Some((k, inner)) = ejson_wrapper(m) {
                let ok = match k {
                    "$date" => inner.as_i64().is_some(),
                    _ => docid::validate(v).is_ok(),
                };
                return if ok {
                    Ok(())
                } else {
                    Err(err(
                        Code::SHRED_BAD_EJSON_VALUE,
                        format!(
                            "Bad JSON Extension value to shred: invalid value ({inner}) for extended JSON type '{k}' (path '{path}')."
                        ),
                    ))
                };
            }
            if depth > MAX_DEPTH {
                return Err(limit(format!(
                    "document depth exceeds maximum allowed ({MAX_DEPTH})"
                )));
            }
            // Only indexed objects are held to the property limit (stargate/data-api
            // `service/shredding/collections/DocumentShredder.java`, `maxObjectProperties`).
            if m.len() > MAX_OBJECT_PROPS && def.is_indexed(path) {
                return Err(limit(format!(
                    "number of properties an Object ('{path}') has ({}) exceeds maximum allowed ({MAX_OBJECT_PROPS})",
                    m.len()
                )));
            }
            for (k, child) in m {
                check_name(k)?;
                *props += 1;
                if *props > MAX_DOC_PROPS && def.is_indexed(path) {
                    return Err(limit(format!(
                        "total number of indexed properties ({}) in document exceeds maximum allowed ({MAX_DOC_PROPS})",
                        *props
                    )));
                }
                let child_path = format!("{path}.{}", escape_segment(k));
                if child_path.len() > MAX_PATH_CHARS {
                    return Err(limit(format!(
                        "property path length ({}) exceeds maximum allowed ({MAX_PATH_CHARS})",
                        child_path.len()
                    )));
                }
                validate_value(child, &child_path, depth + 1, def, props)?;
            }
            Ok(())
        }
        Value::Array(a) => {
            if depth > MAX_DEPTH {
                return Err(limit(format!(
                    "document depth exceeds maximum allowed ({MAX_DEPTH})"
                )));
            }
            if a.len() > MAX_ARRAY_LEN && def.is_indexed(path) {
                return Err(limit(format!(
                    "number of elements an indexable Array ('{path}') has ({}) exceeds maximum allowed ({MAX_ARRAY_LEN})",
                    a.len()
                )));
            }
            for child in a {
                validate_value(child, path, depth + 1, def, props)?;
            }
            Ok(())
        }
        Value::String(s) if s.len() > MAX_STRING_BYTES && def.is_indexed(path) => {
            Err(limit(format!(
                "indexed String value (property '{path}') length ({} bytes) exceeds maximum allowed ({MAX_STRING_BYTES} bytes)",
                s.len()
            )))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def() -> CollectionDef {
        CollectionDef::from_options(Some(&json!({"vector": {"dimension": 2}})))
            .unwrap_or_else(|e| panic!("{e:?}"))
    }

    /// stargate/data-api `config/DocumentLimitsConfig.java` `maxObjectProperties` (1000) and
    /// `maxArrayLength` (1000) apply to indexed paths only; deny-listed ones are exempt.
    #[test]
    fn property_and_array_limits_apply_to_indexed_objects_only() {
        let deny = CollectionDef::from_options(Some(&json!({"indexing": {"deny": ["raw"]}})))
            .unwrap_or_else(|e| panic!("{e:?}"));
        let wide = |n: usize| Value::Object((0..n).map(|i| (format!("k{i}"), json!(i))).collect());
        let code = |d: Value| prepare(d, &deny).err().map(|e| e.code);
        assert_eq!(code(json!({"raw": wide(1500)})), None);
        assert_eq!(code(json!({"raw": {"inner": wide(1001)}})), None);
        assert_eq!(code(json!({"a": wide(1000)})), None);
        assert_eq!(
            code(json!({"a": wide(1001)})),
            Some(Code::SHRED_DOC_LIMIT_VIOLATION)
        );
        assert_eq!(code(json!({"raw": vec![1; 1001]})), None);
        assert_eq!(
            code(json!({"a": vec![1; 1001]})),
            Some(Code::SHRED_DOC_LIMIT_VIOLATION)
        );
    }

    #[test]
    fn shred_errors() {
        let code = |d: Value| prepare(d, &def()).err().map(|e| e.code);
        assert_eq!(code(json!({"$x": 1})), Some(Code::SHRED_BAD_FIELD_NAME));
        assert_eq!(
            code(json!({"a": {"$x": 1}})),
            Some(Code::SHRED_BAD_FIELD_NAME)
        );
        assert_eq!(code(json!({"": 1})), Some(Code::SHRED_BAD_FIELD_NAME));
        assert_eq!(
            code(json!({"$vector": [1]})),
            Some(Code::INVALID_VECTOR_LENGTH)
        );
        assert_eq!(
            code(json!({"$vector": []})),
            Some(Code::SHRED_BAD_VECTOR_SIZE)
        );
        assert_eq!(
            code(json!({"$vector": ["a", 1]})),
            Some(Code::SHRED_BAD_VECTOR_VALUE)
        );
        assert_eq!(
            code(json!({"$vector": {"x": 1}})),
            Some(Code::SHRED_BAD_DOCUMENT_VECTOR_TYPE)
        );
        assert_eq!(
            code(json!({"d": {"$date": "x"}})),
            Some(Code::SHRED_BAD_EJSON_VALUE)
        );
        assert_eq!(code(json!(5)), Some(Code::SHRED_BAD_DOCUMENT_TYPE));
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!({ "a": deep });
        }
        assert_eq!(code(deep), Some(Code::SHRED_DOC_LIMIT_VIOLATION));
        let ok = prepare(
            json!({"_id": 1, "d": {"$date": 5}, "$vector": [1, 2]}),
            &def(),
        );
        assert!(ok.is_ok_and(|p| p.vector.is_some() && !p.body.contains_key("$vector")));
    }
}
