//! JSON helpers: strict parsing (duplicate keys rejected), the Data API's
//! total order over JSON values, and value equality used by filters.

use std::cmp::Ordering;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Longest number text a request may hold (stargate/data-api `config/DocumentLimitsConfig.java`
/// `maxNumberLength`, enforced by Jackson's `StreamReadConstraints` in
/// `api/configuration/ObjectMapperConfiguration.java`).
pub(crate) const MAX_NUMBER_CHARS: usize = 100;

/// Parse a request body as the real service does: a number longer than
/// [`MAX_NUMBER_CHARS`] anywhere fails the whole request (`SHRED_DOC_LIMIT_VIOLATION`), then
/// invalid JSON or duplicate keys fail it with `REQUEST_NOT_JSON`.
pub(crate) fn parse_request(bytes: &[u8]) -> crate::error::ApiResult<Value> {
    use crate::error::{Code, err};
    if let Some(n) = longest_number(bytes).filter(|&n| n > MAX_NUMBER_CHARS) {
        return Err(err(
            Code::SHRED_DOC_LIMIT_VIOLATION,
            format!(
                "Document size limitation violated: Number value length ({n}) exceeds the maximum allowed ({MAX_NUMBER_CHARS})."
            ),
        ));
    }
    parse_strict(bytes).map_err(|e| {
        err(
            Code::REQUEST_NOT_JSON,
            format!("Request not valid JSON, problem: {e}. Resend request as valid JSON."),
        )
    })
}

/// Length of the longest number token outside strings, counted as Jackson does: the digits of
/// an integer (without its sign), the whole text of a floating-point number.
fn longest_number(bytes: &[u8]) -> Option<usize> {
    let mut longest = None;
    let (mut i, mut in_string) = (0, false);
    while let Some(&b) = bytes.get(i) {
        if in_string {
            match b {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        if b == b'-' || b.is_ascii_digit() {
            let start = i;
            while bytes.get(i).is_some_and(|c| {
                c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
            }) {
                i += 1;
            }
            let token = &bytes[start..i];
            let float = token.iter().any(|c| matches!(c, b'.' | b'e' | b'E'));
            let len = if float {
                token.len()
            } else {
                token.iter().filter(|c| c.is_ascii_digit()).count()
            };
            longest = longest.max(Some(len));
            continue;
        }
        i += 1;
    }
    longest
}

/// Parse a request body, rejecting duplicate object keys (as the Data API does).
pub(crate) fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<Strict>(bytes)
        .map(|s| s.0)
        .map_err(|e| e.to_string())
}

struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element::<Strict>()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value::<Strict>()?;
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate field '{key}'")));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
}

/// Human name of a JSON node type, as used in error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Object",
    }
}

/// `{"$date": <integer ms>}` → the millisecond value.
pub(crate) fn as_date(v: &Value) -> Option<i64> {
    match v {
        Value::Object(m) if m.len() == 1 => m.get("$date").and_then(Value::as_i64),
        _ => None,
    }
}

/// Rank of a value's type in the Data API sort order:
/// missing < null < number < string < object < array < boolean < date.
fn type_rank(v: Option<&Value>) -> u8 {
    match v {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Number(_)) => 2,
        Some(Value::String(_)) => 3,
        Some(v @ Value::Object(_)) if as_date(v).is_some() => 7,
        Some(Value::Object(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Bool(_)) => 6,
    }
}

pub(crate) fn cmp_numbers(a: &Number, b: &Number) -> Ordering {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return x.cmp(&y);
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return x.cmp(&y);
    }
    let x = a.as_f64().unwrap_or(0.0);
    let y = b.as_f64().unwrap_or(0.0);
    x.partial_cmp(&y).unwrap_or(Ordering::Equal)
}

/// Java's `String.compareTo`: by UTF-16 code units. The real service sorts in memory with it
/// (stargate/data-api `util/JsonNodeComparator.java`), so `"\u{10000}"` (surrogates
/// `D800 DC00`) sorts *before* `"\u{FFFD}"`, the reverse of code point (UTF-8 byte) order.
/// Range filters on indexed strings are answered by the storage index in UTF-8 byte order
/// (see `filter.rs`); the two orders differ only when a character above U+FFFF meets one in
/// U+E000–U+FFFF.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Total order over (possibly missing) JSON values, used by in-memory sort and `$min`/`$max`
/// (the real service's `JsonNodeComparator`: strings by UTF-16 code units).
pub(crate) fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let (ra, rb) = (type_rank(a), type_rank(b));
    if ra != rb {
        return ra.cmp(&rb);
    }
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => cmp_numbers(x, y),
        (Some(Value::String(x)), Some(Value::String(y))) => cmp_utf16(x, y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for (p, q) in x.iter().zip(y) {
                let o = cmp_values(Some(p), Some(q));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Some(x), Some(y)) if ra == 7 => as_date(x).cmp(&as_date(y)),
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for ((ka, va), (kb, vb)) in x.iter().zip(y) {
                let o = cmp_utf16(ka, kb).then_with(|| cmp_values(Some(va), Some(vb)));
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => Ordering::Equal,
    }
}

/// Equality with numeric normalisation (`1` equals `1.0`).
pub(crate) fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y) == Ordering::Equal,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| values_equal(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}

/// Convert an `f32` to a JSON number using its shortest round-trip decimal
/// form (so `0.1f32` is written `0.1`, not `0.10000000149011612`).
pub(crate) fn f32_to_json(x: f32) -> Value {
    let shortest: f64 = format!("{x}").parse().unwrap_or(x as f64);
    Number::from_f64(shortest)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The `f32` a JSON number stands for, given the `f64` serde_json parsed it to: plain
/// narrowing rounds twice and picks the wrong `f32` when the `f64` lies exactly halfway
/// between two `f32`s (`7.038531e-26`, the shortest text of the `f32` `0x15ae43fd`); then the
/// `f32` whose shortest text parses to that `f64` is meant. The server keeps its own copy of
/// this (it shares no code with the client it is a test peer for).
pub(crate) fn narrow_f32(y: f64) -> f32 {
    let f = y as f32;
    if !f.is_finite() || f64::from(f) == y {
        return f;
    }
    let g = if f64::from(f) < y {
        f.next_up()
    } else {
        f.next_down()
    };
    if (f64::from(f) + f64::from(g)) / 2.0 != y {
        return f;
    }
    [f, g]
        .into_iter()
        .find(|c| format!("{c:e}").parse::<f64>().ok() == Some(y))
        .unwrap_or(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_rejects_duplicates() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"a":{"b":1,"b":2}}"#).is_err());
        assert_eq!(
            parse_strict(br#"{"a":[1,2.5,"x",null,true]}"#).ok(),
            Some(json!({"a":[1,2.5,"x",null,true]}))
        );
    }

    /// stargate/data-api `config/DocumentLimitsConfig.java` (`maxNumberLength` 100): a longer
    /// number fails the whole request, wherever it is.
    #[test]
    fn numbers_longer_than_100_characters_fail_the_request() {
        let code = |t: &str| parse_request(t.as_bytes()).err().map(|e| e.code);
        let digits = |n: usize| "7".repeat(n);
        assert_eq!(code(&format!("{{\"a\":{}}}", digits(100))), None);
        assert_eq!(code(&format!("{{\"a\":-{}}}", digits(100))), None);
        assert_eq!(
            code(&format!("{{\"a\":[1,{{\"b\":{}}}]}}", digits(101))),
            Some(crate::error::Code::SHRED_DOC_LIMIT_VIOLATION)
        );
        assert_eq!(
            code(&format!("{{\"a\":0.{}}}", digits(99))),
            Some(crate::error::Code::SHRED_DOC_LIMIT_VIOLATION)
        );
        // Digits inside strings (escaped quotes included) are not numbers.
        assert_eq!(code(&format!("{{\"a\":\"\\\"{}\"}}", digits(500))), None);
        assert_eq!(code("{\"a\":"), Some(crate::error::Code::REQUEST_NOT_JSON));
    }

    #[test]
    fn order_and_equality() {
        assert_eq!(cmp_values(None, Some(&json!(null))), Ordering::Less);
        assert_eq!(
            cmp_values(Some(&json!(5)), Some(&json!("a"))),
            Ordering::Less
        );
        assert_eq!(
            cmp_values(Some(&json!(true)), Some(&json!({"$date": 1}))),
            Ordering::Less
        );
        assert!(values_equal(&json!(1), &json!(1.0)));
        // In-memory order is Java's UTF-16 order (stargate/data-api util/JsonNodeComparator.java).
        assert_eq!(
            cmp_values(Some(&json!("\u{10000}")), Some(&json!("\u{FFFD}"))),
            Ordering::Less
        );
        assert_eq!(
            cmp_values(Some(&json!("a")), Some(&json!("b"))),
            Ordering::Less
        );
        assert_eq!(f32_to_json(0.1), json!(0.1));
    }

    /// What a request body's number becomes in a stored document, and what a response says.
    fn through_the_server(text: &str) -> f64 {
        let v = parse_strict(format!("{{\"x\":{text}}}").as_bytes()).expect("parses");
        // Stored in SQLite as text, reloaded on restart, written back in a response.
        let stored = serde_json::to_string(&v).expect("serialises");
        let reloaded: Value = serde_json::from_str(&stored).expect("reloads");
        let response = reloaded.to_string();
        let client: Value = serde_json::from_str(&response).expect("client parses");
        client["x"].as_f64().expect("a number")
    }

    #[test]
    fn the_issues_numbers_are_kept() {
        for x in [12.023219954648527_f64, 0.15070294784580499] {
            assert_eq!(through_the_server(&format!("{x:?}")).to_bits(), x.to_bits());
        }
    }

    #[test]
    fn near_halfway_texts_parse_to_the_nearest_float() {
        use songrec_conformance::floats::{f64_cases, halfway_decimals};
        for x in f64_cases(21, 300) {
            for (text, want) in halfway_decimals(x) {
                assert_eq!(
                    through_the_server(&text).to_bits(),
                    want.to_bits(),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn f32_shortest_forms_come_back_to_the_same_f32() {
        use songrec_conformance::floats::f32_cases;
        for x in f32_cases(23, 5000) {
            let text = f32_to_json(x).to_string();
            let back = narrow_f32(through_the_server(&text));
            assert_eq!(back.to_bits(), x.to_bits(), "{x} written as {text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        #[test]
        fn any_f64_survives_the_server(bits in proptest::prelude::any::<u64>()) {
            let x = f64::from_bits(bits);
            if x.is_finite() {
                let text = serde_json::to_string(&x).expect("finite");
                proptest::prop_assert_eq!(through_the_server(&text).to_bits(), bits, "{}", text);
            }
        }

        #[test]
        fn any_f32_survives_the_server(bits in proptest::prelude::any::<u32>()) {
            let x = f32::from_bits(bits);
            if x.is_finite() {
                // The client writes an f32 widened to f64; the server answers with the f32's
                // shortest form; the client narrows what it parses.
                let sent = through_the_server(&serde_json::to_string(&f64::from(x)).expect("finite"));
                proptest::prop_assert_eq!(narrow_f32(sent).to_bits(), bits);
                let text = f32_to_json(x).to_string();
                proptest::prop_assert_eq!(narrow_f32(through_the_server(&text)).to_bits(), bits, "{}", text);
            }
        }
    }
}
