//! Sort clauses: regular (in-memory, by field) and vector (`$vector`).

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::{ApiResult, Code, err};
use crate::json::cmp_values;
use crate::path;
use crate::schema::CollectionDef;
use crate::shred::vector_not_enabled;
use crate::store::StoredDoc;
use crate::vector::{self, StoredVector, VectorUse};

#[derive(Clone, Debug)]
pub(crate) struct SortKey {
    path: Vec<String>,
    ascending: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Sort {
    None,
    Regular(Vec<SortKey>),
    Vector(StoredVector),
}

impl Sort {
    /// Parse and validate against the collection.
    pub(crate) fn parse(v: Option<&Value>, def: &CollectionDef) -> ApiResult<Sort> {
        let m = match v {
            None | Some(Value::Null) => return Ok(Sort::None),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(err(
                    Code::SORT_CLAUSE_INVALID,
                    format!(
                        "Sort clause used by command not valid. Problem: sort clause must be an Object, not {}.",
                        crate::json::type_name(other)
                    ),
                ));
            }
        };
        if m.is_empty() {
            return Ok(Sort::None);
        }
        for special in ["$vector", "$vectorize", "$hybrid", "$lexical"] {
            if m.contains_key(special) && m.len() > 1 {
                return Err(err(
                    Code::SORT_CLAUSE_INVALID,
                    format!(
                        "Sort clause used by command not valid. Problem: '{special}' sort cannot be combined with other sort expressions."
                    ),
                ));
            }
        }
        if let Some(v) = m.get("$vector") {
            let Some(vd) = &def.vector else {
                return Err(vector_not_enabled());
            };
            let q = vector::parse(v, VectorUse::Sort)?.ok_or_else(|| {
                err(
                    Code::SORT_CLAUSE_VALUE_INVALID,
                    "Value used for sort expression on path '$vector' not valid: null is not a vector.",
                )
            })?;
            vector::check_dimension(&q, vd.dimension)?;
            if vd.metric == vector::Metric::Cosine && q.norm_sq == 0.0 {
                return Err(err(
                    Code::INVALID_DATABASE_QUERY,
                    "The database error: Zero and near-zero vectors cannot be indexed or queried with cosine similarity.",
                ));
            }
            return Ok(Sort::Vector(q));
        }
        if m.contains_key("$vectorize") {
            return Err(err(
                Code::EMBEDDING_SERVICE_NOT_CONFIGURED,
                "Collection does not have embedding service configured: cannot vectorize data.",
            ));
        }
        let mut keys = Vec::with_capacity(m.len());
        for (k, v) in m {
            let segs = path::parse_path(k)
                .filter(|s| !s.iter().any(|p| p.starts_with('$')))
                .ok_or_else(|| {
                    err(
                        Code::SORT_CLAUSE_PATH_INVALID,
                        format!("Path '{k}' used in sort clause not valid: path must be non-empty and must not start with '$'."),
                    )
                })?;
            let ascending = match v.as_i64() {
                Some(1) => true,
                Some(-1) => false,
                _ => {
                    return Err(err(
                        Code::SORT_CLAUSE_VALUE_INVALID,
                        format!(
                            "Value used for sort expression on path '{k}' not valid: expected 1 or -1, got {v}."
                        ),
                    ));
                }
            };
            if !def.is_indexed(k) {
                return Err(err(
                    Code::SORT_CLAUSE_PATH_UNINDEXED,
                    format!("Collection field '{k}' is not indexed: cannot sort using it."),
                ));
            }
            keys.push(SortKey {
                path: segs,
                ascending,
            });
        }
        Ok(Sort::Regular(keys))
    }

    pub(crate) fn is_none(&self) -> bool {
        matches!(self, Sort::None)
    }

    pub(crate) fn vector(&self) -> Option<&StoredVector> {
        match self {
            Sort::Vector(v) => Some(v),
            _ => None,
        }
    }
}

/// Compare two documents by regular sort keys, ties broken by `_id`.
pub(crate) fn cmp_docs(keys: &[SortKey], a: &StoredDoc, b: &StoredDoc) -> Ordering {
    for k in keys {
        let o = cmp_values(path::get(&a.body, &k.path), path::get(&b.body, &k.path));
        let o = if k.ascending { o } else { o.reverse() };
        if o != Ordering::Equal {
            return o;
        }
    }
    cmp_values(a.body.get("_id"), b.body.get("_id"))
}
