//! Update clauses (`$set`, `$inc`, `$push`, …): parsing and application.

use serde_json::{Map, Number, Value, json};

use crate::error::{ApiError, ApiResult, Code, err, field_invalid};
use crate::json::{cmp_values, values_equal};
use crate::path::{self, index_of};
use crate::schema::CollectionDef;
use crate::shred;
use crate::store::StoredDoc;

/// Highest array index an update may create (guards against huge padding).
const MAX_NEW_INDEX: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Set,
    Unset,
    Inc,
    Mul,
    Min,
    Max,
    Push,
    AddToSet,
    Pop,
    Rename,
    CurrentDate,
    SetOnInsert,
    PullAll,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "$set" => Kind::Set,
            "$unset" => Kind::Unset,
            "$inc" => Kind::Inc,
            "$mul" => Kind::Mul,
            "$min" => Kind::Min,
            "$max" => Kind::Max,
            "$push" => Kind::Push,
            "$addToSet" => Kind::AddToSet,
            "$pop" => Kind::Pop,
            "$rename" => Kind::Rename,
            "$currentDate" => Kind::CurrentDate,
            "$setOnInsert" => Kind::SetOnInsert,
            "$pullAll" => Kind::PullAll,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
struct UpdateOp {
    kind: Kind,
    name: String,
    raw: String,
    path: Vec<String>,
    arg: Value,
    /// Target of `$rename`.
    to: Vec<String>,
}

/// A parsed `update` clause.
#[derive(Clone, Debug)]
pub(crate) struct Update {
    ops: Vec<UpdateOp>,
}

fn param(msg: impl std::fmt::Display) -> ApiError {
    err(
        Code::UNSUPPORTED_UPDATE_OPERATION_PARAM,
        format!("Unsupported update operation parameter: {msg}."),
    )
}

fn bad_path(msg: impl std::fmt::Display) -> ApiError {
    err(
        Code::UNSUPPORTED_UPDATE_OPERATION_PATH,
        format!("Invalid update operation path: {msg}."),
    )
}

fn target(msg: impl std::fmt::Display) -> ApiError {
    err(
        Code::UNSUPPORTED_UPDATE_OPERATION_TARGET,
        format!("Invalid target for update operation: {msg}."),
    )
}

fn parse_update_path(raw: &str) -> ApiResult<Vec<String>> {
    path::parse_path(raw)
        .filter(|s| !s.iter().any(|p| p.starts_with('$')))
        .ok_or_else(|| bad_path(format_args!("'{raw}'")))
}

impl Update {
    pub(crate) fn parse(v: Option<&Value>) -> ApiResult<Update> {
        let m = match v {
            Some(Value::Object(m)) => m,
            None => return Err(field_invalid("update", &Value::Null, "must not be null")),
            Some(other) => return Err(field_invalid("update", other, "must be an Object")),
        };
        if m.is_empty() {
            return Err(err(
                Code::MISSING_UPDATE_OPERATIONS,
                "The command did not include any non empty update operations.",
            ));
        }
        let mut ops = Vec::new();
        for (name, arg) in m {
            let kind = Kind::parse(name).ok_or_else(|| {
                err(
                    Code::UNSUPPORTED_UPDATE_OPERATION,
                    format!("Unsupported update operation: '{name}'."),
                )
            })?;
            let fields = match arg {
                Value::Object(f) if !f.is_empty() => f,
                _ => {
                    return Err(param(format_args!(
                        "'{name}' requires a non-empty Object of fields"
                    )));
                }
            };
            for (raw, val) in fields {
                ops.push(parse_op(kind, name, raw, val)?);
            }
        }
        // No path may be touched twice, or be a prefix of another.
        let mut all: Vec<(&[String], &str)> = Vec::new();
        for op in &ops {
            all.push((&op.path, &op.raw));
            if op.kind == Kind::Rename {
                all.push((&op.to, &op.raw));
            }
        }
        for (i, (a, ra)) in all.iter().enumerate() {
            for (b, rb) in all.iter().skip(i + 1) {
                let n = a.len().min(b.len());
                if a[..n] == b[..n] {
                    return Err(bad_path(format_args!(
                        "update operator paths '{ra}' and '{rb}' conflict"
                    )));
                }
            }
        }
        Ok(Update { ops })
    }

    /// Apply to a document. `insert` is true for the document an upsert creates.
    pub(crate) fn apply(
        &self,
        doc: &mut StoredDoc,
        def: &CollectionDef,
        insert: bool,
        now_ms: i64,
    ) -> ApiResult<()> {
        for op in &self.ops {
            if op.kind == Kind::SetOnInsert && !insert {
                continue;
            }
            if op.raw == "$vector" {
                doc.vector = match op.kind {
                    Kind::Unset => None,
                    _ => shred::vector_for(&op.arg, def)?,
                };
                continue;
            }
            apply_op(op, &mut doc.body, now_ms)?;
        }
        Ok(())
    }
}

fn parse_op(kind: Kind, name: &str, raw: &str, val: &Value) -> ApiResult<UpdateOp> {
    let mut op = UpdateOp {
        kind,
        name: name.to_owned(),
        raw: raw.to_owned(),
        path: Vec::new(),
        arg: val.clone(),
        to: Vec::new(),
    };
    match raw {
        "$vector" => {
            if !matches!(kind, Kind::Set | Kind::Unset | Kind::SetOnInsert) {
                return Err(err(
                    Code::UNSUPPORTED_UPDATE_OPERATOR_FOR_VECTOR,
                    format!(
                        "The command used the update operator: {name}. Supported operators for $vector field are: $set, $setOnInsert, $unset."
                    ),
                ));
            }
            op.path = vec!["$vector".into()];
            return Ok(op);
        }
        "$vectorize" => {
            return Err(err(
                Code::EMBEDDING_SERVICE_NOT_CONFIGURED,
                "Collection does not have embedding service configured: cannot vectorize data.",
            ));
        }
        _ => {}
    }
    op.path = parse_update_path(raw)?;
    if op.path.first().is_some_and(|p| p == "_id")
        && !(kind == Kind::SetOnInsert && op.path.len() == 1)
    {
        return Err(err(
            Code::UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID,
            format!(
                "The command used the update operator: {name}. _id field cannot be updated using update operators."
            ),
        ));
    }
    match kind {
        Kind::Inc | Kind::Mul if !val.is_number() => {
            return Err(param(format_args!(
                "'{name}' requires numeric values, got {val} for '{raw}'"
            )));
        }
        Kind::Pop if !matches!(val.as_i64(), Some(1 | -1)) => {
            return Err(param(format_args!(
                "'$pop' requires 1 or -1, got {val} for '{raw}'"
            )));
        }
        Kind::PullAll if !val.is_array() => {
            return Err(param(format_args!(
                "'$pullAll' requires an Array, got {val} for '{raw}'"
            )));
        }
        Kind::CurrentDate => {
            let ok = val == &Value::Bool(true) || val == &json!({"$type": "date"});
            if !ok {
                return Err(param(format_args!(
                    "'$currentDate' requires true or {{\"$type\": \"date\"}}, got {val}"
                )));
            }
        }
        Kind::Rename => {
            let to = val.as_str().ok_or_else(|| {
                param(format_args!(
                    "'$rename' requires String target path, got {val}"
                ))
            })?;
            op.to = parse_update_path(to)?;
            if op.to.first().is_some_and(|p| p == "_id") {
                return Err(err(
                    Code::UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID,
                    "The command used the update operator: $rename. _id field cannot be updated using update operators.",
                ));
            }
        }
        Kind::Push | Kind::AddToSet => {
            if let Value::Object(m) = val
                && m.keys().any(|k| k.starts_with('$'))
            {
                for k in m.keys() {
                    let allowed = k == "$each" || (kind == Kind::Push && k == "$position");
                    if !allowed {
                        return Err(err(
                            Code::UNSUPPORTED_UPDATE_OPERATION_MODIFIER,
                            format!("Unsupported update operation modifier '{k}' for '{name}'."),
                        ));
                    }
                }
                if !m.get("$each").is_some_and(Value::is_array) {
                    return Err(param(format_args!(
                        "'{name}' modifiers require '$each' with an Array value"
                    )));
                }
                if let Some(p) = m.get("$position")
                    && p.as_i64().is_none()
                {
                    return Err(param("'$position' requires an integer"));
                }
            }
        }
        _ => {}
    }
    Ok(op)
}

enum Container<'a> {
    Obj(&'a mut Map<String, Value>),
    Arr(&'a mut Vec<Value>),
}

fn into_container<'a>(v: &'a mut Value, raw: &str) -> ApiResult<Container<'a>> {
    match v {
        Value::Object(m) => Ok(Container::Obj(m)),
        Value::Array(a) => Ok(Container::Arr(a)),
        other => Err(target(format_args!(
            "cannot create field in path '{raw}': parent is a {}",
            crate::json::type_name(other)
        ))),
    }
}

fn array_index(seg: &str, len: usize, raw: &str) -> ApiResult<usize> {
    let i = index_of(seg).ok_or_else(|| {
        target(format_args!(
            "path '{raw}' uses non-numeric segment '{seg}' on an Array"
        ))
    })?;
    if i > len + MAX_NEW_INDEX {
        return Err(bad_path(format_args!(
            "array index {i} in '{raw}' too large"
        )));
    }
    Ok(i)
}

/// Walk to the parent container of the last segment, creating objects.
fn parent_create<'a>(
    root: &'a mut Map<String, Value>,
    segs: &[String],
    raw: &str,
) -> ApiResult<Container<'a>> {
    let mut cur = Container::Obj(root);
    for seg in segs.iter().take(segs.len().saturating_sub(1)) {
        let child: &mut Value = match cur {
            Container::Obj(m) => m
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new())),
            Container::Arr(a) => {
                let i = array_index(seg, a.len(), raw)?;
                if i >= a.len() {
                    a.resize(i, Value::Null);
                    a.push(Value::Object(Map::new()));
                }
                &mut a[i]
            }
        };
        cur = into_container(child, raw)?;
    }
    Ok(cur)
}

/// Walk to the parent of the last segment without creating anything.
fn parent_existing<'a>(root: &'a mut Map<String, Value>, segs: &[String]) -> Option<Container<'a>> {
    let mut cur = Container::Obj(root);
    for seg in segs.iter().take(segs.len().saturating_sub(1)) {
        let child: &mut Value = match cur {
            Container::Obj(m) => m.get_mut(seg)?,
            Container::Arr(a) => a.get_mut(index_of(seg)?)?,
        };
        cur = match child {
            Value::Object(m) => Container::Obj(m),
            Value::Array(a) => Container::Arr(a),
            _ => return None,
        };
    }
    Some(cur)
}

fn last(segs: &[String]) -> &str {
    segs.last().map(String::as_str).unwrap_or("")
}

fn get_in<'a>(c: &'a Container<'_>, seg: &str) -> Option<&'a Value> {
    match c {
        Container::Obj(m) => m.get(seg),
        Container::Arr(a) => a.get(index_of(seg)?),
    }
}

fn set_in(c: Container<'_>, seg: &str, v: Value, raw: &str) -> ApiResult<()> {
    match c {
        Container::Obj(m) => {
            m.insert(seg.to_owned(), v);
        }
        Container::Arr(a) => {
            let i = array_index(seg, a.len(), raw)?;
            if i >= a.len() {
                a.resize(i + 1, Value::Null);
            }
            a[i] = v;
        }
    }
    Ok(())
}

fn take_in(c: Container<'_>, seg: &str) -> Option<Value> {
    match c {
        Container::Obj(m) => m.remove(seg),
        Container::Arr(a) => {
            let slot = a.get_mut(index_of(seg)?)?;
            Some(std::mem::replace(slot, Value::Null))
        }
    }
}

fn arith(a: &Number, b: &Number, mul: bool) -> Value {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        let r = if mul {
            x.checked_mul(y)
        } else {
            x.checked_add(y)
        };
        if let Some(r) = r {
            return json!(r);
        }
    }
    let (x, y) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
    let r = if mul { x * y } else { x + y };
    Number::from_f64(r)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn push_items(op: &UpdateOp) -> (Vec<Value>, Option<i64>) {
    match &op.arg {
        Value::Object(m) if m.contains_key("$each") => (
            m.get("$each")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            m.get("$position").and_then(Value::as_i64),
        ),
        v => (vec![v.clone()], None),
    }
}

fn apply_op(op: &UpdateOp, body: &mut Map<String, Value>, now_ms: i64) -> ApiResult<()> {
    let seg = last(&op.path);
    let raw = op.raw.as_str();
    match op.kind {
        Kind::Set | Kind::SetOnInsert => {
            let c = parent_create(body, &op.path, raw)?;
            set_in(c, seg, op.arg.clone(), raw)
        }
        Kind::CurrentDate => {
            let c = parent_create(body, &op.path, raw)?;
            set_in(c, seg, json!({"$date": now_ms}), raw)
        }
        Kind::Unset => {
            if let Some(c) = parent_existing(body, &op.path) {
                take_in(c, seg);
            }
            Ok(())
        }
        Kind::Inc | Kind::Mul => {
            let c = parent_create(body, &op.path, raw)?;
            let Value::Number(arg) = &op.arg else {
                return Err(param("numeric value required"));
            };
            let new = match get_in(&c, seg) {
                None => {
                    if op.kind == Kind::Inc {
                        op.arg.clone()
                    } else if arg.is_f64() {
                        json!(0.0)
                    } else {
                        json!(0)
                    }
                }
                Some(Value::Number(cur)) => arith(cur, arg, op.kind == Kind::Mul),
                Some(other) => {
                    return Err(target(format_args!(
                        "'{}' requires a Number at '{raw}', found {}",
                        op.name,
                        crate::json::type_name(other)
                    )));
                }
            };
            set_in(c, seg, new, raw)
        }
        Kind::Min | Kind::Max => {
            let c = parent_create(body, &op.path, raw)?;
            let replace = match get_in(&c, seg) {
                None => true,
                Some(cur) => {
                    let o = cmp_values(Some(&op.arg), Some(cur));
                    if op.kind == Kind::Min {
                        o.is_lt()
                    } else {
                        o.is_gt()
                    }
                }
            };
            if replace {
                set_in(c, seg, op.arg.clone(), raw)?;
            }
            Ok(())
        }
        Kind::Push | Kind::AddToSet => {
            let c = parent_create(body, &op.path, raw)?;
            let (items, position) = push_items(op);
            let mut arr = match get_in(&c, seg) {
                None => Vec::new(),
                Some(Value::Array(a)) => a.clone(),
                Some(other) => {
                    return Err(target(format_args!(
                        "'{}' requires an Array at '{raw}', found {}",
                        op.name,
                        crate::json::type_name(other)
                    )));
                }
            };
            if op.kind == Kind::AddToSet {
                for it in items {
                    if !arr.iter().any(|e| values_equal(e, &it)) {
                        arr.push(it);
                    }
                }
            } else {
                let len = arr.len() as i64;
                let at = match position {
                    None => len,
                    Some(p) if p < 0 => (len + p).max(0),
                    Some(p) => p.min(len),
                } as usize;
                arr.splice(at..at, items);
            }
            set_in(c, seg, Value::Array(arr), raw)
        }
        Kind::Pop | Kind::PullAll => {
            let Some(mut c) = parent_existing(body, &op.path) else {
                return Ok(());
            };
            let slot = match &mut c {
                Container::Obj(m) => m.get_mut(seg),
                Container::Arr(a) => index_of(seg).and_then(|i| a.get_mut(i)),
            };
            match slot {
                None => Ok(()),
                Some(Value::Array(a)) => {
                    if op.kind == Kind::Pop {
                        if op.arg.as_i64() == Some(-1) {
                            if !a.is_empty() {
                                a.remove(0);
                            }
                        } else {
                            a.pop();
                        }
                    } else {
                        let remove = op.arg.as_array().cloned().unwrap_or_default();
                        a.retain(|e| !remove.iter().any(|r| values_equal(e, r)));
                    }
                    Ok(())
                }
                Some(other) => Err(target(format_args!(
                    "'{}' requires an Array at '{raw}', found {}",
                    op.name,
                    crate::json::type_name(other)
                ))),
            }
        }
        Kind::Rename => {
            let value = parent_existing(body, &op.path).and_then(|c| take_in(c, seg));
            if let Some(v) = value {
                let c = parent_create(body, &op.to, raw)?;
                set_in(c, last(&op.to), v, raw)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: Value, update: Value) -> ApiResult<Value> {
        let def = CollectionDef::from_options(None)?;
        let u = Update::parse(Some(&update))?;
        let mut d = StoredDoc {
            body: doc.as_object().cloned().unwrap_or_default(),
            vector: None,
        };
        u.apply(&mut d, &def, false, 42)?;
        Ok(Value::Object(d.body))
    }

    #[test]
    fn operators() {
        let d = json!({"_id": 1, "n": 2, "arr": [1, 2, 3], "o": {"a": 1}});
        let r = |u: Value| run(d.clone(), u).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r(json!({"$set": {"x.y": 5}}))["x"], json!({"y": 5}));
        assert_eq!(
            r(json!({"$set": {"arr.4": 9}}))["arr"],
            json!([1, 2, 3, null, 9])
        );
        assert_eq!(r(json!({"$unset": {"o.a": ""}}))["o"], json!({}));
        assert_eq!(r(json!({"$inc": {"n": 3, "m": 1}}))["n"], json!(5));
        assert_eq!(r(json!({"$inc": {"m": 1.5}}))["m"], json!(1.5));
        assert_eq!(r(json!({"$mul": {"n": 2.5}}))["n"], json!(5.0));
        assert_eq!(r(json!({"$min": {"n": 1}}))["n"], json!(1));
        assert_eq!(r(json!({"$max": {"n": 1}}))["n"], json!(2));
        assert_eq!(
            r(json!({"$push": {"arr": {"$each": [7, 8], "$position": 1}}}))["arr"],
            json!([1, 7, 8, 2, 3])
        );
        assert_eq!(
            r(json!({"$addToSet": {"arr": {"$each": [3, 4]}}}))["arr"],
            json!([1, 2, 3, 4])
        );
        assert_eq!(r(json!({"$pop": {"arr": -1}}))["arr"], json!([2, 3]));
        assert_eq!(r(json!({"$pullAll": {"arr": [1, 3]}}))["arr"], json!([2]));
        assert_eq!(r(json!({"$rename": {"n": "z"}}))["z"], json!(2));
        assert_eq!(
            r(json!({"$currentDate": {"t": true}}))["t"],
            json!({"$date": 42})
        );
        assert_eq!(r(json!({"$setOnInsert": {"q": 1}})).get("q"), None);
        let code = |u: Value| run(d.clone(), u).err().map(|e| e.code);
        assert_eq!(
            code(json!({"$push": {"$vector": 1}})),
            Some(Code::UNSUPPORTED_UPDATE_OPERATOR_FOR_VECTOR)
        );
        assert_eq!(
            code(json!({"$set": {"_id": 1}})),
            Some(Code::UNSUPPORTED_UPDATE_OPERATOR_FOR_DOC_ID)
        );
        assert_eq!(
            code(json!({"$foo": {"a": 1}})),
            Some(Code::UNSUPPORTED_UPDATE_OPERATION)
        );
        assert_eq!(
            code(json!({"$set": {"a": 1}, "$unset": {"a": 1}})),
            Some(Code::UNSUPPORTED_UPDATE_OPERATION_PATH)
        );
        assert_eq!(
            code(json!({"$inc": {"o": 1}})),
            Some(Code::UNSUPPORTED_UPDATE_OPERATION_TARGET)
        );
    }
}
