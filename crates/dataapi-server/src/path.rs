//! Dotted document paths (`a.b.0`, with `&.` and `&&` escapes) and access to
//! values at a path.

use serde_json::{Map, Value};

/// Split a dotted path into segments. `None` if the path is empty, has an
/// empty segment or a bad `&` escape.
pub(crate) fn parse_path(path: &str) -> Option<Vec<String>> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '&' => match chars.next() {
                Some(e @ ('.' | '&')) => cur.push(e),
                _ => return None,
            },
            '.' => {
                if cur.is_empty() {
                    return None;
                }
                segs.push(std::mem::take(&mut cur));
            }
            c => cur.push(c),
        }
    }
    if cur.is_empty() {
        return None;
    }
    segs.push(cur);
    Some(segs)
}

/// Array index for a path segment (plain decimal digits only).
pub(crate) fn index_of(seg: &str) -> Option<usize> {
    if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    seg.parse().ok()
}

/// Value at a path; numeric segments index arrays.
pub(crate) fn get<'a>(doc: &'a Map<String, Value>, segs: &[String]) -> Option<&'a Value> {
    let (first, rest) = segs.split_first()?;
    let mut cur = doc.get(first)?;
    for seg in rest {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(index_of(seg)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("a.b&.c.0"),
            Some(vec!["a".into(), "b.c".into(), "0".into()])
        );
        assert_eq!(parse_path("a..b"), None);
        assert_eq!(parse_path("a&x"), None);
        assert_eq!(parse_path(""), None);
        let doc = json!({"a": {"b": [1, {"c": 2}]}});
        let m = doc.as_object().cloned().unwrap_or_default();
        let p = parse_path("a.b.1.c").unwrap_or_default();
        assert_eq!(get(&m, &p), Some(&json!(2)));
    }
}
