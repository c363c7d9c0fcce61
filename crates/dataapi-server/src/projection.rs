//! Projections: which fields of a document are returned.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult, Code, err};
use crate::path;
use crate::store::StoredDoc;

#[derive(Clone, Debug, Default)]
struct Trie {
    leaf: bool,
    children: BTreeMap<String, Trie>,
}

impl Trie {
    /// Insert a path; `false` if it collides with an existing one.
    fn insert(&mut self, segs: &[String]) -> bool {
        let mut node = self;
        for (i, s) in segs.iter().enumerate() {
            if node.leaf {
                return false;
            }
            node = node.children.entry(s.clone()).or_default();
            if i + 1 == segs.len() {
                if node.leaf || !node.children.is_empty() {
                    return false;
                }
                node.leaf = true;
            }
        }
        true
    }
}

#[derive(Clone, Copy, Debug)]
enum Slice {
    First(i64),
    Range(i64, i64),
}

#[derive(Clone, Debug)]
enum Mode {
    All,
    Nothing,
    Include(Trie),
    Exclude(Trie),
}

/// A parsed `projection`.
#[derive(Clone, Debug)]
pub(crate) struct Projection {
    mode: Mode,
    include_id: bool,
    include_vector: bool,
    slices: Vec<(Vec<String>, Slice)>,
}

fn bad(msg: impl std::fmt::Display) -> ApiError {
    err(
        Code::UNSUPPORTED_PROJECTION_PARAM,
        format!("Unsupported projection parameter: {msg}."),
    )
}

fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_f64().map(|f| f != 0.0),
        _ => None,
    }
}

impl Projection {
    /// The default projection: everything except `$vector`.
    pub(crate) fn default_projection() -> Self {
        Projection {
            mode: Mode::All,
            include_id: true,
            include_vector: false,
            slices: Vec::new(),
        }
    }

    pub(crate) fn parse(v: Option<&Value>) -> ApiResult<Self> {
        let mut p = Projection::default_projection();
        let m = match v {
            None | Some(Value::Null) => return Ok(p),
            Some(Value::Object(m)) => m,
            Some(other) => {
                return Err(err(
                    Code::UNSUPPORTED_PROJECTION_DEFINITION,
                    format!(
                        "Unsupported projection definition JSON value: must be Object, was {}.",
                        crate::json::type_name(other)
                    ),
                ));
            }
        };
        if let Some(star) = m.get("*") {
            if m.len() != 1 {
                return Err(bad(
                    "wildcard ('*') only allowed as the only root-level path",
                ));
            }
            match flag(star) {
                Some(true) => p.include_vector = true,
                Some(false) => p.mode = Mode::Nothing,
                None => {
                    return Err(bad(format_args!(
                        "wildcard ('*') value must be 1/true or 0/false, not {star}"
                    )));
                }
            }
            return Ok(p);
        }
        let mut include = Trie::default();
        let mut exclude = Trie::default();
        let (mut n_inc, mut n_exc) = (0, 0);
        for (k, v) in m {
            match k.as_str() {
                "$similarity" => {
                    return Err(bad(
                        "'$similarity' is not a projectable field; use option 'includeSimilarity'",
                    ));
                }
                "$vector" => {
                    p.include_vector = flag(v).ok_or_else(|| {
                        bad(format_args!(
                            "value for '$vector' must be 1/true or 0/false, not {v}"
                        ))
                    })?;
                    continue;
                }
                "$vectorize" | "$lexical" => continue,
                "_id" => {
                    p.include_id = flag(v).ok_or_else(|| {
                        bad(format_args!(
                            "value for '_id' must be 1/true or 0/false, not {v}"
                        ))
                    })?;
                    continue;
                }
                _ if k.starts_with('$') => {
                    return Err(bad(format_args!(
                        "path '{k}' not allowed (starts with '$')"
                    )));
                }
                _ => {}
            }
            let segs =
                path::parse_path(k).ok_or_else(|| bad(format_args!("invalid path '{k}'")))?;
            if segs.iter().any(|s| s.starts_with('$')) {
                return Err(bad(format_args!("invalid path '{k}'")));
            }
            let target = match v {
                Value::Object(o) => {
                    let slice = parse_slice(k, o)?;
                    p.slices.push((segs.clone(), slice));
                    None
                }
                _ => match flag(v) {
                    Some(true) => {
                        n_inc += 1;
                        Some(&mut include)
                    }
                    Some(false) => {
                        n_exc += 1;
                        Some(&mut exclude)
                    }
                    None => {
                        return Err(bad(format_args!(
                            "value for '{k}' must be 1/true, 0/false or {{\"$slice\": …}}, not {v}"
                        )));
                    }
                },
            };
            if let Some(t) = target
                && !t.insert(&segs)
            {
                return Err(bad(format_args!("path collision for '{k}'")));
            }
        }
        if n_inc > 0 && n_exc > 0 {
            return Err(bad(
                "cannot mix inclusions and exclusions (except for '_id' and '$vector')",
            ));
        }
        if n_inc > 0 {
            for (segs, _) in &p.slices {
                if !include.insert(segs) {
                    return Err(bad("path collision with '$slice'"));
                }
            }
            p.mode = Mode::Include(include);
        } else if n_exc > 0 {
            p.mode = Mode::Exclude(exclude);
        }
        Ok(p)
    }

    /// Apply to a stored document.
    pub(crate) fn apply(&self, doc: &StoredDoc) -> Map<String, Value> {
        let mut out = match &self.mode {
            Mode::Nothing => return Map::new(),
            Mode::All => doc.body.clone(),
            Mode::Include(t) => {
                let mut m = Map::new();
                if let Some(id) = doc.body.get("_id") {
                    m.insert("_id".into(), id.clone());
                }
                for (k, child) in &t.children {
                    if let Some(v) = doc.body.get(k)
                        && let Some(pv) = include(v, child)
                    {
                        m.insert(k.clone(), pv);
                    }
                }
                m
            }
            Mode::Exclude(t) => {
                let mut m = doc.body.clone();
                exclude_obj(&mut m, t);
                m
            }
        };
        if !self.include_id {
            out.remove("_id");
        }
        if self.include_vector
            && let Some(v) = &doc.vector
        {
            out.insert("$vector".into(), v.to_json());
        }
        for (segs, slice) in &self.slices {
            apply_slice(&mut out, segs, *slice);
        }
        out
    }
}

fn parse_slice(k: &str, o: &Map<String, Value>) -> ApiResult<Slice> {
    let s = match (o.len(), o.get("$slice")) {
        (1, Some(s)) => s,
        _ => {
            return Err(bad(format_args!(
                "only '$slice' is supported as a projection operator (path '{k}')"
            )));
        }
    };
    match s {
        Value::Number(n) => n
            .as_i64()
            .map(Slice::First)
            .ok_or_else(|| bad("'$slice' needs an integer")),
        Value::Array(a) if a.len() == 2 => match (a[0].as_i64(), a[1].as_i64()) {
            (Some(skip), Some(n)) if n > 0 => Ok(Slice::Range(skip, n)),
            _ => Err(bad("'$slice' array needs [integer skip, positive count]")),
        },
        _ => Err(bad("'$slice' needs an integer or a two-element array")),
    }
}

fn include(v: &Value, t: &Trie) -> Option<Value> {
    if t.leaf {
        return Some(v.clone());
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in &t.children {
                if let Some(cv) = m.get(k)
                    && let Some(pv) = include(cv, child)
                {
                    out.insert(k.clone(), pv);
                }
            }
            Some(Value::Object(out))
        }
        Value::Array(items) => Some(Value::Array(
            items
                .iter()
                .filter(|e| e.is_object() || e.is_array())
                .filter_map(|e| include(e, t))
                .collect(),
        )),
        _ => None,
    }
}

fn exclude_obj(m: &mut Map<String, Value>, t: &Trie) {
    for (k, child) in &t.children {
        if child.leaf {
            m.remove(k);
        } else if let Some(v) = m.get_mut(k) {
            exclude_val(v, child);
        }
    }
}

fn exclude_val(v: &mut Value, t: &Trie) {
    match v {
        Value::Object(m) => exclude_obj(m, t),
        Value::Array(items) => items.iter_mut().for_each(|e| exclude_val(e, t)),
        _ => {}
    }
}

fn apply_slice(m: &mut Map<String, Value>, segs: &[String], slice: Slice) {
    let Some((first, rest)) = segs.split_first() else {
        return;
    };
    let Some(v) = m.get_mut(first) else { return };
    if rest.is_empty() {
        if let Value::Array(items) = v {
            let len = items.len() as i64;
            let (start, count) = match slice {
                Slice::First(n) if n >= 0 => (0, n),
                Slice::First(n) => ((len + n).max(0), len),
                Slice::Range(skip, n) if skip >= 0 => (skip.min(len), n),
                Slice::Range(skip, n) => ((len + skip).max(0), n),
            };
            // A client's skip + count can exceed i64 (e.g. [5, i64::MAX]).
            let end = start.saturating_add(count).min(len);
            *items = items[start as usize..end.max(start) as usize].to_vec();
        }
    } else if let Value::Object(inner) = v {
        apply_slice(inner, rest, slice);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::StoredVector;
    use serde_json::json;

    fn doc() -> StoredDoc {
        StoredDoc {
            body: json!({"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "arr": [1, 2, 3, 4]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            vector: Some(StoredVector::new(vec![0.5, 1.0], None)),
        }
    }

    fn proj(p: Value) -> Value {
        let p = Projection::parse(Some(&p)).unwrap_or_else(|e| panic!("{e:?}"));
        Value::Object(p.apply(&doc()))
    }

    #[test]
    fn projections() {
        assert_eq!(
            proj(json!({})),
            json!({"_id": 1, "a": 1, "b": {"c": 2, "d": 3}, "arr": [1, 2, 3, 4]})
        );
        assert_eq!(proj(json!({"a": 1})), json!({"_id": 1, "a": 1}));
        assert_eq!(proj(json!({"b.c": 1, "_id": 0})), json!({"b": {"c": 2}}));
        assert_eq!(
            proj(json!({"b.c": 0, "arr": 0})),
            json!({"_id": 1, "a": 1, "b": {"d": 3}})
        );
        assert_eq!(proj(json!({"*": 0})), json!({}));
        assert_eq!(
            proj(json!({"$vector": 1, "_id": 1}))["$vector"],
            json!([0.5, 1.0])
        );
        assert_eq!(
            proj(json!({"arr": {"$slice": -2}, "a": 1})),
            json!({"_id": 1, "a": 1, "arr": [3, 4]})
        );
        assert_eq!(
            proj(json!({"arr": {"$slice": [1, 2]}}))["arr"],
            json!([2, 3])
        );
        let e = |p: Value| Projection::parse(Some(&p)).err().map(|e| e.code);
        assert_eq!(
            e(json!({"$similarity": 1})),
            Some(Code::UNSUPPORTED_PROJECTION_PARAM)
        );
        assert_eq!(
            e(json!({"a": 1, "b": 0})),
            Some(Code::UNSUPPORTED_PROJECTION_PARAM)
        );
        assert_eq!(
            e(json!({"b": 1, "b.c": 1})),
            Some(Code::UNSUPPORTED_PROJECTION_PARAM)
        );
    }
}
