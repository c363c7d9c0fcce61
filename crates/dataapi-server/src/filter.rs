//! Filter clauses: parsing (with the Data API's validation rules) and
//! evaluation against stored documents.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use crate::docid;
use crate::error::{ApiError, ApiResult, Code, err};
use crate::json::{as_date, cmp_numbers, values_equal};
use crate::path;
use crate::schema::CollectionDef;
use crate::store::StoredDoc;

/// Most conditions in one filter.
pub(crate) const MAX_FILTER_FIELDS: usize = 64;
/// Most values in one `$in`/`$nin`.
pub(crate) const MAX_IN_VALUES: usize = 100;

#[derive(Clone, Debug)]
pub(crate) enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Cond(Cond),
}

#[derive(Clone, Debug)]
pub(crate) struct Cond {
    pub(crate) raw_path: String,
    pub(crate) path: Vec<String>,
    pub(crate) op: Op,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Range {
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Range {
    fn inverted(self) -> Range {
        match self {
            Range::Gt => Range::Lte,
            Range::Gte => Range::Lt,
            Range::Lt => Range::Gte,
            Range::Lte => Range::Gt,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum Op {
    Eq(Value),
    Ne(Value),
    In(Vec<Value>),
    Nin(Vec<Value>),
    Range(Range, Value),
    Exists(bool),
    All(Vec<Value>),
    Size(usize),
}

fn invalid(msg: impl std::fmt::Display) -> ApiError {
    err(
        Code::FILTER_INVALID_EXPRESSION,
        format!("Unsupported filter clause: {msg}."),
    )
}

fn unsupported(op: &str) -> ApiError {
    err(
        Code::FILTER_UNSUPPORTED_OPERATOR,
        format!("Unsupported filter operator '{op}'."),
    )
}

impl Filter {
    /// `filter` field of a command (absent/null = match everything).
    pub(crate) fn parse(v: Option<&Value>) -> ApiResult<Filter> {
        let f = match v {
            None | Some(Value::Null) => Filter::And(Vec::new()),
            Some(Value::Object(m)) => parse_object(m)?,
            Some(other) => {
                return Err(invalid(format_args!(
                    "filter must be an Object, not {}",
                    crate::json::type_name(other)
                )));
            }
        };
        let n = f.count_conditions();
        if n > MAX_FILTER_FIELDS {
            return Err(err(
                Code::FILTER_FIELDS_LIMIT_VIOLATION,
                format!("Filter has {n} fields, exceeds maximum allowed ({MAX_FILTER_FIELDS})."),
            ));
        }
        Ok(f)
    }

    /// `true` for the empty filter `{}`.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Filter::And(v) if v.is_empty())
    }

    fn count_conditions(&self) -> usize {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().map(Filter::count_conditions).sum(),
            Filter::Not(f) => f.count_conditions(),
            Filter::Cond(_) => 1,
        }
    }

    /// Reject conditions on paths the collection does not index.
    pub(crate) fn check_indexed(&self, def: &CollectionDef) -> ApiResult<()> {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().try_for_each(|f| f.check_indexed(def)),
            Filter::Not(f) => f.check_indexed(def),
            Filter::Cond(c) => {
                if def.is_indexed(&c.raw_path) {
                    Ok(())
                } else {
                    Err(err(
                        Code::FILTER_PATH_UNINDEXED,
                        format!(
                            "Collection path '{}' is not indexed: cannot filter on that path.",
                            c.raw_path
                        ),
                    ))
                }
            }
        }
    }

    /// Ids named by a top-level `_id` `$eq`/`$in` (lets callers skip a scan).
    pub(crate) fn id_keys(&self) -> Option<Vec<String>> {
        let conds: &[Filter] = match self {
            Filter::And(v) => v,
            single @ Filter::Cond(_) => std::slice::from_ref(single),
            _ => return None,
        };
        conds.iter().find_map(|f| match f {
            Filter::Cond(c) if c.raw_path == "_id" => match &c.op {
                Op::Eq(v) => Some(docid::key_if_valid(v).into_iter().collect()),
                Op::In(vs) => Some(vs.iter().filter_map(docid::key_if_valid).collect()),
                _ => None,
            },
            _ => None,
        })
    }

    /// Top-level equality conditions (`_id` and fields), used to seed upserts.
    pub(crate) fn equality_fields(&self) -> Vec<(&[String], &Value)> {
        let conds: &[Filter] = match self {
            Filter::And(v) => v,
            single @ Filter::Cond(_) => std::slice::from_ref(single),
            _ => return Vec::new(),
        };
        conds
            .iter()
            .filter_map(|f| match f {
                Filter::Cond(Cond {
                    path,
                    op: Op::Eq(v),
                    ..
                }) if path.first().is_none_or(|p| !p.starts_with('$')) => {
                    Some((path.as_slice(), v))
                }
                _ => None,
            })
            .collect()
    }

    pub(crate) fn matches(&self, doc: &StoredDoc) -> bool {
        self.eval(doc, false)
    }

    fn eval(&self, doc: &StoredDoc, negated: bool) -> bool {
        match (self, negated) {
            (Filter::And(v), false) | (Filter::Or(v), true) => {
                v.iter().all(|f| f.eval(doc, negated))
            }
            (Filter::Or(v), false) | (Filter::And(v), true) => {
                v.iter().any(|f| f.eval(doc, negated))
            }
            (Filter::Not(f), _) => f.eval(doc, !negated),
            (Filter::Cond(c), _) => c.eval(doc, negated),
        }
    }
}

impl Cond {
    fn eval(&self, doc: &StoredDoc, negated: bool) -> bool {
        if self.raw_path == "$vector" {
            // Only $exists is allowed on $vector.
            return match self.op {
                Op::Exists(b) => (doc.vector.is_some() == b) != negated,
                _ => false,
            };
        }
        let is_id = self.raw_path == "_id";
        let field = path::get(&doc.body, &self.path);
        match &self.op {
            Op::Range(r, v) => {
                let r = if negated { r.inverted() } else { *r };
                field.is_some_and(|f| range_match(r, f, v))
            }
            Op::Eq(v) => eq_match(field, v, is_id) != negated,
            Op::Ne(v) => eq_match(field, v, is_id) == negated,
            Op::In(vs) => vs.iter().any(|v| eq_match(field, v, is_id)) != negated,
            Op::Nin(vs) => vs.iter().any(|v| eq_match(field, v, is_id)) == negated,
            Op::Exists(b) => (field.is_some() == *b) != negated,
            Op::All(vs) => {
                let all = match field {
                    Some(Value::Array(arr)) => {
                        vs.iter().all(|v| arr.iter().any(|e| values_equal(e, v)))
                    }
                    _ => false,
                };
                all != negated
            }
            Op::Size(n) => matches!(field, Some(Value::Array(a)) if a.len() == *n) != negated,
        }
    }
}

fn eq_match(field: Option<&Value>, v: &Value, is_id: bool) -> bool {
    let Some(f) = field else { return false };
    if is_id {
        return docid::key_if_valid(v).is_some_and(|k| k == docid::key(f));
    }
    if values_equal(f, v) {
        return true;
    }
    match (f, v) {
        (Value::Array(_), Value::Array(_)) => false,
        (Value::Array(items), _) => items.iter().any(|e| values_equal(e, v)),
        _ => false,
    }
}

fn range_match(r: Range, f: &Value, v: &Value) -> bool {
    let ord = match (f, v) {
        (Value::Number(a), Value::Number(b)) => cmp_numbers(a, b),
        // The storage index compares the UTF-8 bytes (not the in-memory sort's UTF-16 order,
        // `json::cmp_utf16`): Rust's `str` order is exactly that.
        (Value::String(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(b),
        _ => match (as_date(f), as_date(v)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => return false,
        },
    };
    match r {
        Range::Gt => ord == Ordering::Greater,
        Range::Gte => ord != Ordering::Less,
        Range::Lt => ord == Ordering::Less,
        Range::Lte => ord != Ordering::Greater,
    }
}

fn parse_object(m: &Map<String, Value>) -> ApiResult<Filter> {
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m {
        match k.as_str() {
            "$and" | "$or" => {
                let arr = v.as_array().ok_or_else(|| {
                    invalid(format_args!("'{k}' operator must have an Array value"))
                })?;
                if arr.is_empty() {
                    return Err(invalid(format_args!(
                        "'{k}' operator must have at least one filter"
                    )));
                }
                let mut subs = Vec::with_capacity(arr.len());
                for f in arr {
                    match f {
                        Value::Object(o) => subs.push(parse_object(o)?),
                        _ => {
                            return Err(invalid(format_args!(
                                "'{k}' operator must have an Array of Objects"
                            )));
                        }
                    }
                }
                out.push(if k == "$and" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                });
            }
            "$not" => match v {
                Value::Object(o) => out.push(Filter::Not(Box::new(parse_object(o)?))),
                _ => return Err(invalid("'$not' operator must have an Object value")),
            },
            "$vector" => out.push(parse_vector_cond(v)?),
            "$vectorize" | "$lexical" | "$hybrid" => {
                return Err(invalid(format_args!("cannot filter on '{k}'")));
            }
            _ if k.starts_with('$') => return Err(unsupported(k)),
            _ => {
                let segs = path::parse_path(k)
                    .ok_or_else(|| invalid(format_args!("invalid filter path '{k}'")))?;
                if segs.iter().any(|s| s.starts_with('$')) {
                    return Err(invalid(format_args!("invalid filter path '{k}'")));
                }
                parse_field(k, segs, v, &mut out)?;
            }
        }
    }
    Ok(if out.len() == 1 {
        out.pop().unwrap_or(Filter::And(Vec::new()))
    } else {
        Filter::And(out)
    })
}

fn parse_vector_cond(v: &Value) -> ApiResult<Filter> {
    match v {
        Value::Object(m) if m.len() == 1 => match m.get("$exists") {
            Some(Value::Bool(b)) => Ok(Filter::Cond(Cond {
                raw_path: "$vector".into(),
                path: vec!["$vector".into()],
                op: Op::Exists(*b),
            })),
            _ => Err(invalid(
                "'$vector' can only be used with '$exists' (true/false)",
            )),
        },
        _ => Err(invalid(
            "'$vector' can only be used with '$exists' (true/false)",
        )),
    }
}

fn is_ejson_literal(m: &Map<String, Value>) -> bool {
    m.len() == 1
        && m.keys()
            .next()
            .is_some_and(|k| matches!(k.as_str(), "$date" | "$uuid" | "$objectId"))
}

fn parse_field(raw: &str, segs: Vec<String>, v: &Value, out: &mut Vec<Filter>) -> ApiResult<()> {
    let ops = match v {
        Value::Object(m)
            if !m.is_empty() && !is_ejson_literal(m) && m.keys().any(|k| k.starts_with('$')) =>
        {
            if m.keys().any(|k| !k.starts_with('$')) {
                return Err(invalid(format_args!(
                    "filter for '{raw}' mixes operators and field names"
                )));
            }
            m
        }
        literal => {
            out.push(cond(raw, segs, Op::Eq(literal.clone())));
            return Ok(());
        }
    };
    for (op, arg) in ops {
        let parsed = match op.as_str() {
            "$eq" => Op::Eq(arg.clone()),
            "$ne" => Op::Ne(arg.clone()),
            "$in" | "$nin" => {
                let arr = arg.as_array().ok_or_else(|| {
                    invalid(format_args!("'{op}' operator must have an Array value"))
                })?;
                if arr.len() > MAX_IN_VALUES {
                    return Err(invalid(format_args!(
                        "'{op}' operator must have at most {MAX_IN_VALUES} values"
                    )));
                }
                if op == "$in" {
                    Op::In(arr.clone())
                } else {
                    Op::Nin(arr.clone())
                }
            }
            "$gt" | "$gte" | "$lt" | "$lte" => {
                let ok = matches!(arg, Value::Number(_) | Value::String(_) | Value::Bool(_))
                    || as_date(arg).is_some();
                if !ok {
                    return Err(invalid(format_args!(
                        "'{op}' operator must have a Number, String, Boolean or Date value"
                    )));
                }
                let r = match op.as_str() {
                    "$gt" => Range::Gt,
                    "$gte" => Range::Gte,
                    "$lt" => Range::Lt,
                    _ => Range::Lte,
                };
                Op::Range(r, arg.clone())
            }
            "$exists" => match arg {
                Value::Bool(b) => Op::Exists(*b),
                _ => return Err(invalid("'$exists' operator must have a Boolean value")),
            },
            "$all" => match arg {
                Value::Array(a) if !a.is_empty() => Op::All(a.clone()),
                _ => return Err(invalid("'$all' operator must have a non-empty Array value")),
            },
            "$size" => {
                let n = arg.as_u64().or_else(|| {
                    arg.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                });
                match n {
                    Some(n) => Op::Size(n as usize),
                    None => {
                        return Err(invalid(
                            "'$size' operator must have a non-negative integer value",
                        ));
                    }
                }
            }
            other => return Err(unsupported(other)),
        };
        out.push(cond(raw, segs.clone(), parsed));
    }
    Ok(())
}

fn cond(raw: &str, path: Vec<String>, op: Op) -> Filter {
    Filter::Cond(Cond {
        raw_path: raw.to_owned(),
        path,
        op,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(v: Value) -> StoredDoc {
        StoredDoc {
            body: v.as_object().cloned().unwrap_or_default(),
            vector: None,
        }
    }

    fn m(filter: Value, d: &Value) -> bool {
        Filter::parse(Some(&filter))
            .unwrap_or_else(|e| panic!("{e:?}"))
            .matches(&doc(d.clone()))
    }

    #[test]
    fn semantics() {
        let d =
            json!({"_id": "a", "age": 30, "tags": ["x", "y"], "n": {"k": 1}, "arr": [1, {"q": 2}]});
        assert!(m(json!({"age": 30}), &d));
        assert!(m(json!({"tags": "x"}), &d));
        assert!(m(json!({"tags": ["x", "y"]}), &d));
        assert!(!m(json!({"tags": ["y", "x"]}), &d));
        assert!(m(json!({"n": {"k": 1}}), &d));
        assert!(m(json!({"n.k": {"$gte": 1}}), &d));
        assert!(m(json!({"arr.1.q": 2}), &d));
        assert!(m(json!({"missing": {"$ne": 5}}), &d));
        assert!(m(json!({"missing": {"$nin": [5]}}), &d));
        assert!(!m(json!({"missing": {"$in": []}}), &d));
        assert!(m(json!({"tags": {"$all": ["y", "x"]}}), &d));
        assert!(m(json!({"tags": {"$size": 2}}), &d));
        assert!(m(json!({"$not": {"age": {"$gte": 31}}}), &d));
        assert!(!m(json!({"$not": {"missing": {"$gte": 21}}}), &d));
        assert!(m(json!({"$not": {"missing": "x"}}), &d));
        assert!(m(json!({"$or": [{"age": 1}, {"age": 30}]}), &d));
        assert!(!m(json!({"$and": [{"age": 1}, {"age": 30}]}), &d));
        assert!(m(
            json!({"age": {"$exists": true}, "zz": {"$exists": false}}),
            &d
        ));
    }

    #[test]
    fn errors() {
        let code = |f: Value| Filter::parse(Some(&f)).err().map(|e| e.code);
        assert_eq!(
            code(json!({"a": {"$regex": "x"}})),
            Some(Code::FILTER_UNSUPPORTED_OPERATOR)
        );
        assert_eq!(
            code(json!({"$nor": []})),
            Some(Code::FILTER_UNSUPPORTED_OPERATOR)
        );
        assert_eq!(
            code(json!({"a": {"$in": 5}})),
            Some(Code::FILTER_INVALID_EXPRESSION)
        );
        assert_eq!(
            code(json!({"$vector": {"$eq": [1]}})),
            Some(Code::FILTER_INVALID_EXPRESSION)
        );
        let many: Map<String, Value> = (0..65).map(|i| (format!("f{i}"), json!(i))).collect();
        assert_eq!(
            code(Value::Object(many)),
            Some(Code::FILTER_FIELDS_LIMIT_VIOLATION)
        );
    }
}
