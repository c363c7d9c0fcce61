//! [`songrec_storage::Filter`] → Data API filter over the `f` shadows (see `docs.rs`).
//!
//! | condition | Data API |
//! |---|---|
//! | `Eq(text field, Text)` | `{"f.genre": "<lowercase>"}` (tags: array contains) |
//! | `Eq(numeric field, Number)` | `{"f.bpm": n}` |
//! | `Eq(extra, v)` | `{"f.x.<key>": v}` (text lowercased; arrays: contains) |
//! | `In(field, vs)` | `{"<path>": {"$in": [...]}}` (element-wise on arrays) |
//! | `Range(numeric field)` | `{"f.bpm": {"$gte": lo, "$lte": hi}}` |
//! | `Range(extra)` | `{"$or": [{"f.xn.<key>": {...}}, {"f.xm.<key>": true}]}` + exact client-side check |
//! | `Exists(field)` | `{"<path>": {"$exists": true}}` (always-present fields: no clause) |
//!
//! A value of the wrong type for the field (e.g. a number compared with a title) can never
//! match under [`songrec_storage::Filter::matches`], so such a condition makes the whole
//! filter [`Translated::never`] and no request is sent.

use serde_json::{Map, Value, json};
use songrec_storage::{Condition, Field, Filter, Value as FValue};

use super::docs::{extra_key, num, shadow_text};

/// A translated filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Translated {
    /// Conditions to AND into the query (each a one-key object or an `$or`).
    pub clauses: Vec<Value>,
    /// The filter can match nothing: skip the request.
    pub never: bool,
    /// The clauses select a superset; results must be re-checked with `Filter::matches`.
    pub needs_recheck: bool,
}

impl Translated {
    /// A Data API filter: `base` fields AND the clauses.
    pub(crate) fn with_base(&self, base: Map<String, Value>) -> Value {
        let mut f = base;
        if !self.clauses.is_empty() {
            f.insert("$and".into(), Value::Array(self.clauses.clone()));
        }
        Value::Object(f)
    }
}

fn path(field: &Field) -> String {
    match field {
        Field::Extra(name) => format!("f.x.{}", extra_key(name)),
        other => format!("f.{}", other.doc_name()),
    }
}

fn always_present(field: &Field) -> bool {
    matches!(
        field,
        Field::Title
            | Field::FileName
            | Field::Duration
            | Field::SampleRate
            | Field::Channels
            | Field::FileSize
            | Field::Version
    )
}

/// The stored form a filter value is compared with; `None` if it can never be equal.
fn operand(field: &Field, v: &FValue) -> Option<Value> {
    match (field, v) {
        (Field::Extra(_), FValue::Bool(b)) => Some(json!(b)),
        (Field::Extra(_), FValue::Number(n)) => num(*n),
        (Field::Extra(_), FValue::Text(s)) => Some(json!(shadow_text(s))),
        (f, FValue::Text(s)) if f.is_text() => Some(json!(shadow_text(s))),
        (f, FValue::Number(n)) if !f.is_text() => num(*n),
        _ => None,
    }
}

enum Clause {
    Always,
    Never,
    Exact(Value),
    Superset(Value),
}

/// The `$gte`/`$lte` bounds of a range (infinite ends open); `None` if it can match nothing.
fn range(min: Option<f64>, max: Option<f64>) -> Option<Map<String, Value>> {
    let mut r = Map::new();
    let (inf, neg) = (f64::INFINITY, f64::NEG_INFINITY);
    for (op, bound, empty) in [("$gte", min, inf), ("$lte", max, neg)] {
        let Some(x) = bound else { continue };
        if x.is_nan() || x == empty {
            return None;
        }
        if x.is_finite() {
            r.insert(op.into(), num(x)?);
        }
    }
    Some(r)
}

fn condition(c: &Condition) -> Clause {
    match c {
        Condition::Eq(field, v) => {
            operand(field, v).map_or(Clause::Never, |x| Clause::Exact(json!({ path(field): x })))
        }
        Condition::In(field, vs) => {
            let xs: Vec<Value> = vs.iter().filter_map(|v| operand(field, v)).collect();
            if xs.is_empty() {
                Clause::Never
            } else {
                Clause::Exact(json!({ path(field): {"$in": xs} }))
            }
        }
        Condition::Range { field, min, max } => {
            let Some(r) = range(*min, *max).filter(|_| !field.is_text()) else {
                return Clause::Never;
            };
            match field {
                Field::Extra(name) => {
                    let key = extra_key(name);
                    // Fields with one number compare exactly; fields with several numbers
                    // are fetched and re-checked (the Data API does not range over arrays).
                    let single = if r.is_empty() {
                        json!({ format!("f.xn.{key}"): {"$exists": true} })
                    } else {
                        json!({ format!("f.xn.{key}"): r })
                    };
                    Clause::Superset(json!({"$or": [single, { format!("f.xm.{key}"): true }]}))
                }
                f if r.is_empty() => Clause::Exact(json!({ path(f): {"$exists": true} })),
                f => Clause::Exact(json!({ path(f): r })),
            }
        }
        Condition::Exists(field) if always_present(field) => Clause::Always,
        Condition::Exists(field) => Clause::Exact(json!({ path(field): {"$exists": true} })),
    }
}

/// Translates a filter (assumed validated).
pub(crate) fn translate(filter: &Filter) -> Translated {
    let mut out = Translated::default();
    for c in &filter.all {
        match condition(c) {
            Clause::Always => {}
            Clause::Never => out.never = true,
            Clause::Exact(v) => out.clauses.push(v),
            Clause::Superset(v) => {
                out.needs_recheck = true;
                out.clauses.push(v);
            }
        }
    }
    if out.never {
        out.clauses.clear();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_each_condition() {
        let f = Filter::default()
            .and(Condition::Eq(Field::Genre, FValue::Text("ROCK".into())))
            .and(Condition::In(
                Field::Tags,
                vec![FValue::Text("A".into()), FValue::Number(1.0)],
            ))
            .and(Condition::Range {
                field: Field::Bpm,
                min: Some(100.0),
                max: None,
            })
            .and(Condition::Exists(Field::Title))
            .and(Condition::Exists(Field::Artist));
        let t = translate(&f);
        assert!(!t.never && !t.needs_recheck);
        assert_eq!(
            t.clauses,
            vec![
                json!({"f.genre": "rock"}),
                json!({"f.tags": {"$in": ["a"]}}),
                json!({"f.bpm": {"$gte": 100.0}}),
                json!({"f.artist": {"$exists": true}}),
            ]
        );
        let mut base = Map::new();
        base.insert("deleted".into(), json!(false));
        assert_eq!(t.with_base(base)["deleted"], json!(false));
    }

    #[test]
    fn impossible_conditions_short_circuit() {
        let f = Filter::default().and(Condition::Eq(Field::Title, FValue::Number(3.0)));
        assert!(translate(&f).never);
        let f = Filter::default().and(Condition::Eq(Field::Bpm, FValue::Number(f64::NAN)));
        assert!(translate(&f).never);
        let f = Filter::default().and(Condition::In(Field::Bpm, vec![FValue::Bool(true)]));
        assert!(translate(&f).never);
    }

    #[test]
    fn extra_ranges_are_supersets() {
        let f = Filter::default().and(Condition::Range {
            field: Field::Extra("year".into()),
            min: Some(1990.0),
            max: Some(f64::INFINITY),
        });
        let t = translate(&f);
        assert!(t.needs_recheck);
        assert_eq!(
            t.clauses,
            vec![json!({"$or": [{"f.xn.year": {"$gte": 1990.0}}, {"f.xm.year": true}]})]
        );
    }
}
