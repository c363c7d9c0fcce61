//! Request-field helpers.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{ApiResult, Code, err, field_invalid, field_unknown};
use crate::schema::valid_name;

/// Reject fields of a command that are not in `allowed`.
pub(crate) fn check_fields(body: &Map<String, Value>, allowed: &[&str]) -> ApiResult<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(field_unknown(k, allowed)),
        None => Ok(()),
    }
}

/// The `options` object (absent/null = empty), with unknown keys rejected.
pub(crate) fn options<'a>(
    body: &'a Map<String, Value>,
    allowed: &[&str],
) -> ApiResult<BTreeMap<&'a str, &'a Value>> {
    let mut out = BTreeMap::new();
    match body.get("options") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !allowed.contains(&k.as_str()) {
                    return Err(field_unknown(&format!("options.{k}"), allowed));
                }
                if !v.is_null() {
                    out.insert(k.as_str(), v);
                }
            }
        }
        Some(other) => return Err(field_invalid("options", other, "must be an Object")),
    }
    Ok(out)
}

/// For commands that take no options: `{}` is fine, anything else is not.
pub(crate) fn no_options(cmd: &str, body: &Map<String, Value>) -> ApiResult<()> {
    match body.get("options") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(_) => Err(err(
            Code::COMMAND_ACCEPTS_NO_OPTIONS,
            format!(
                "Command '{cmd}' does not accept options but some were included. Resend command without options."
            ),
        )),
    }
}

pub(crate) fn opt_bool(opts: &BTreeMap<&str, &Value>, name: &str) -> ApiResult<bool> {
    match opts.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(field_invalid(
            &format!("options.{name}"),
            v,
            "must be a Boolean",
        )),
    }
}

pub(crate) fn opt_int(
    opts: &BTreeMap<&str, &Value>,
    name: &str,
    min: i64,
) -> ApiResult<Option<i64>> {
    match opts.get(name) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(field_invalid(
                &format!("options.{name}"),
                v,
                &if min > 0 {
                    format!("{name} should be greater than `{}`", min - 1)
                } else {
                    format!("{name} should be greater than or equal to `{min}`")
                },
            )),
        },
    }
}

pub(crate) fn opt_str<'a>(
    opts: &BTreeMap<&str, &'a Value>,
    name: &str,
) -> ApiResult<Option<&'a str>> {
    match opts.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(field_invalid(
            &format!("options.{name}"),
            v,
            "must be a String",
        )),
    }
}

pub(crate) fn required_name(body: &Map<String, Value>) -> ApiResult<&str> {
    match body.get("name") {
        Some(Value::String(s)) if valid_name(s) => Ok(s),
        Some(v) => Err(field_invalid(
            "name",
            v,
            "name must be 1-48 characters long and contain only letters, digits and underscores",
        )),
        None => Err(field_invalid("name", &Value::Null, "must not be null")),
    }
}
