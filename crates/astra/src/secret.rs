//! A wrapper for credentials that must never be printed.

use std::fmt;

/// A secret string (API token, S3 secret key).
///
/// `Debug` and `Display` print `Secret(***)`; the only way to read the value is
/// [`Secret::expose`], which should be called exactly where the secret is put on the wire.
///
/// ```
/// use songrec_astra::secret::Secret;
///
/// let token = Secret::new("AstraCS:abc");
/// assert_eq!(format!("{token:?}"), "Secret(***)");
/// assert_eq!(format!("{token}"), "Secret(***)");
/// assert_eq!(token.expose(), "AstraCS:abc");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// Reads the secret value. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True if the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Replaces every occurrence of the secret in `text` with `***` (defensive scrubbing of
    /// server-provided messages before they end up in errors or logs).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < 4 {
            // Too short to scrub meaningfully without mangling ordinary text.
            return text.to_owned();
        }
        text.replace(&self.0, "***")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_value() {
        let s = Secret::new("AstraCS:supersecret");
        assert!(!format!("{s:?}").contains("supersecret"));
        assert!(!format!("{s}").contains("supersecret"));
        assert!(!format!("{:#?}", Some(&s)).contains("supersecret"));
    }

    #[test]
    fn redact_scrubs_occurrences() {
        let s = Secret::new("AstraCS:supersecret");
        assert_eq!(
            s.redact("bad token AstraCS:supersecret given"),
            "bad token *** given"
        );
    }
}
