//! The `subsonic-response` envelope, written as JSON (`f=json`), JSONP (`f=jsonp`) or XML (the
//! default) from one value tree. In XML, an object's scalar fields are attributes, its objects
//! child elements, its arrays repeated child elements named by the field; a `value` field is the
//! element's text (a genre's name) and a few fields Subsonic writes as elements with text
//! ([`TEXT_ELEMENTS`]) are child elements.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use crate::subsonic_core::error::Fail;
use crate::subsonic_core::params::Params;

/// The Subsonic API version answered.
pub const API_VERSION: &str = "1.16.1";
/// The server's name in every answer (`type`).
pub const SERVER_TYPE: &str = "songrec";

/// Fields Subsonic's XML writes as child elements with text rather than attributes.
pub const TEXT_ELEMENTS: &[&str] = &[
    "biography",
    "notes",
    "musicBrainzId",
    "lastFmUrl",
    "smallImageUrl",
    "mediumImageUrl",
    "largeImageUrl",
];

/// How to write the answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
    /// JSON wrapped in a call of this function.
    Jsonp(String),
}

impl Format {
    /// From `f` (and `callback` for JSONP); an unknown or unsafe one is an error written in XML.
    pub fn of(p: &Params) -> Result<Self, Fail> {
        match p.get("f").unwrap_or("xml") {
            "xml" | "" => Ok(Self::Xml),
            "json" => Ok(Self::Json),
            "jsonp" => {
                let cb = p.required("callback")?;
                let bad = || {
                    Fail::invalid(
                        "callback must be a JavaScript name: letters, digits, _ and $, not starting with a digit, optionally dotted (app.cb)",
                    )
                };
                callback_ok(cb)
                    .then(|| Self::Jsonp(cb.to_owned()))
                    .ok_or_else(bad)
            }
            other => Err(Fail::other(format!(
                "unknown format f={other:?}; use xml, json or jsonp"
            ))),
        }
    }
}

/// Whether `cb` is a JavaScript identifier or a dotted path of them (`cb`, `app.on_data`, `$x`),
/// ASCII only and at most 128 bytes: what a JSONP answer may call without being anything else.
pub fn callback_ok(cb: &str) -> bool {
    let ident = |part: &str| {
        let mut b = part.bytes();
        b.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, b'_' | b'$'))
            && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$'))
    };
    cb.len() <= 128 && cb.split('.').all(ident)
}

fn envelope(ok: bool, fields: Map<String, Value>) -> Map<String, Value> {
    let mut m = fields;
    m.insert("status".into(), (if ok { "ok" } else { "failed" }).into());
    m.insert("version".into(), API_VERSION.into());
    m.insert("type".into(), SERVER_TYPE.into());
    m.insert("serverVersion".into(), env!("CARGO_PKG_VERSION").into());
    m.insert("openSubsonic".into(), true.into());
    m
}

/// A successful answer carrying `fields`.
pub fn ok(format: &Format, fields: Map<String, Value>) -> Response {
    write(format, envelope(true, fields))
}

/// A failed answer (HTTP 200, as the protocol wants).
pub fn failed(format: &Format, f: &Fail) -> Response {
    let mut fields = Map::new();
    fields.insert(
        "error".into(),
        serde_json::json!({"code": f.code, "message": f.message}),
    );
    write(format, envelope(false, fields))
}

fn write(format: &Format, body: Map<String, Value>) -> Response {
    let (mime, text) = match format {
        Format::Xml => ("text/xml; charset=utf-8", xml(&body)),
        Format::Json => ("application/json", json(body)),
        Format::Jsonp(cb) => ("application/javascript", format!("{cb}({});", json(body))),
    };
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(mime))],
        text,
    )
        .into_response()
}

fn json(body: Map<String, Value>) -> String {
    let mut root = Map::new();
    root.insert("subsonic-response".into(), Value::Object(body));
    Value::Object(root).to_string()
}

/// The XML document of an envelope.
pub fn xml(body: &Map<String, Value>) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    out.push_str(r#"<subsonic-response xmlns="http://subsonic.org/restapi""#);
    attributes(&mut out, body);
    out.push('>');
    children(&mut out, body);
    out.push_str("</subsonic-response>");
    out
}

fn is_attribute(key: &str, v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
        && key != "value"
        && !TEXT_ELEMENTS.contains(&key)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn attributes(out: &mut String, m: &Map<String, Value>) {
    for (k, v) in m.iter().filter(|(k, v)| is_attribute(k, v)) {
        out.push(' ');
        out.push_str(k);
        out.push_str("=\"");
        escape(out, &scalar_text(v));
        out.push('"');
    }
}

fn children(out: &mut String, m: &Map<String, Value>) {
    if let Some(v) = m.get("value").filter(|v| !v.is_object() && !v.is_array()) {
        escape(out, &scalar_text(v));
    }
    for (k, v) in m
        .iter()
        .filter(|(k, v)| !is_attribute(k, v) && *k != "value")
    {
        element(out, k, v);
    }
}

/// `v` as elements named `name`: none for a null, one per item of an array.
fn element(out: &mut String, name: &str, v: &Value) {
    match v {
        Value::Null => {}
        Value::Array(items) => items.iter().for_each(|item| element(out, name, item)),
        _ => {
            let mut inner = String::new();
            out.push('<');
            out.push_str(name);
            match v.as_object() {
                Some(m) => {
                    attributes(out, m);
                    children(&mut inner, m);
                }
                None => escape(&mut inner, &scalar_text(v)),
            }
            if inner.is_empty() && v.is_object() {
                out.push_str("/>");
            } else {
                out.push_str(&format!(">{inner}</{name}>"));
            }
        }
    }
}

/// Escapes text for an attribute or element; characters XML 1.0 cannot hold become U+FFFD.
fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push_str(&format!("&#{};", c as u32)),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats() {
        let of = |q| Format::of(&Params::parse(q));
        assert_eq!(of(Some("f=json")), Ok(Format::Json));
        assert_eq!(of(None), Ok(Format::Xml));
        assert!(of(Some("f=jsonp&callback=a(b)")).is_err());
        for ok in ["cb", "app.on_data", "$", "_x1", "jQuery123_456"] {
            assert!(callback_ok(ok), "{ok}");
        }
        for bad in [
            "1",
            "..",
            "a.",
            ".a",
            "1a",
            "a..b",
            "a-b",
            "a b",
            "",
            "é",
            "a;alert(1)",
        ] {
            assert!(!callback_ok(bad), "{bad}");
        }
    }

    #[test]
    fn xml_shapes() {
        let body = json!({
            "status": "ok",
            "sonicMatch": [{"similarity": 0.5, "entry": {"id": "x\"<", "isDir": false}}],
            "artistInfo2": {"biography": "a\u{1}b", "similarArtist": []},
            "openSubsonicExtensions": [{"name": "formPost", "versions": [1]}],
        });
        let x = xml(body.as_object().unwrap());
        assert!(
            x.contains(r#"<sonicMatch similarity="0.5"><entry id="x&quot;&lt;" isDir="false"/></sonicMatch>"#),
            "{x}"
        );
        assert!(
            x.contains("<artistInfo2><biography>a\u{fffd}b</biography></artistInfo2>"),
            "{x}"
        );
        assert!(
            x.contains(r#"<openSubsonicExtensions name="formPost"><versions>1</versions></openSubsonicExtensions>"#),
            "{x}"
        );
        let body = json!({"status": "ok", "genres": {"genre": [{"songCount": 2, "value": "Rock & Roll"}]}});
        let x = xml(body.as_object().unwrap());
        assert!(
            x.contains(r#"<subsonic-response xmlns="http://subsonic.org/restapi" status="ok">"#),
            "{x}"
        );
        assert!(
            x.contains(r#"<genres><genre songCount="2">Rock &amp; Roll</genre></genres>"#),
            "{x}"
        );
    }
}
