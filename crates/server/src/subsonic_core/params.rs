//! A request's parameters: the query string, and for a `POST` the
//! `application/x-www-form-urlencoded` body (the `formPost` extension), in that order.

use std::str::FromStr;

use axum::body::Body;
use axum::http::{HeaderMap, header};

use super::error::Fail;

/// Largest form body read (a Subsonic request is a handful of short parameters).
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// The parameters of one request, repeated names kept in order.
#[derive(Clone, Debug, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string (or a form body).
    pub fn parse(raw: Option<&str>) -> Self {
        let mut p = Self::default();
        p.extend(raw.unwrap_or("").as_bytes());
        p
    }

    fn extend(&mut self, raw: &[u8]) {
        self.0.extend(url::form_urlencoded::parse(raw).into_owned());
    }

    /// The query, then the form body of a `POST` (other bodies are ignored).
    pub async fn read(query: Option<&str>, headers: &HeaderMap, body: Body) -> Result<Self, Fail> {
        let mut p = Self::parse(query);
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    // Media types are case-insensitive (RFC 9110 8.3.1).
                    .is_some_and(|t| {
                        t.trim()
                            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                    })
            });
        if form {
            let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
                .await
                .map_err(|_| {
                    Fail::other(format!(
                        "the form is too large or was cut off (at most {MAX_FORM_BYTES} bytes)"
                    ))
                })?;
            p.extend(&bytes);
        }
        Ok(p)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name`, or error 10.
    pub fn required(&self, name: &str) -> Result<&str, Fail> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Fail::missing(name))
    }

    /// A whole number in `lo..=hi`, `default` when absent or empty; anything else (a sign where
    /// none fits, a fraction, `1e3`, text, a number past the range) is error 10 naming the
    /// parameter and the range, never clamped silently.
    pub fn number<T>(&self, name: &str, default: T, lo: T, hi: T) -> Result<T, Fail>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let Some(raw) = self.get(name).filter(|v| !v.is_empty()) else {
            return Ok(default);
        };
        raw.trim()
            .parse::<T>()
            .ok()
            .filter(|v| *v >= lo && *v <= hi)
            .ok_or_else(|| {
                let shown: String = raw.chars().take(40).collect();
                Fail::invalid(format!(
                    "parameter {name} must be a whole number from {lo} to {hi}, got {shown:?}"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_numbers() {
        let p = Params::parse(Some("u=ann&id=1&id=2&q=a+b%21&size=5&bad=x&big=900"));
        assert_eq!(p.get("u"), Some("ann"));
        assert_eq!(p.all("id"), ["1", "2"]);
        assert_eq!(p.get("q"), Some("a b!"));
        assert_eq!(p.number("size", 10, 0, 500).unwrap(), 5);
        assert_eq!(p.number("none", 10, 0, 500).unwrap(), 10);
        assert_eq!(p.number("bad", 10, 0, 500).unwrap_err().code, 10);
        assert_eq!(p.number("big", 10, 0, 500).unwrap_err().code, 10);
        for raw in ["-1", "1e3", "9223372036854775808", "1.5", "0x10", "ten"] {
            let p = Params::parse(Some(&format!("n={raw}")));
            assert_eq!(p.number("n", 1usize, 1, 500).unwrap_err().code, 10, "{raw}");
        }
    }
}
