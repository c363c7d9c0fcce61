//! The API token clients send in the `Token` header, kept out of logs.

use std::fmt;

/// The API token clients must send in the `Token` header. Its `Debug` and
/// `Display` output never show the value.
///
/// ```
/// use songrec_dataapi_server::Token;
/// let t = Token::new("AstraCS:secret");
/// assert_eq!(format!("{t:?}"), "Token(***)");
/// assert_eq!(t.expose(), "AstraCS:secret");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    pub fn new(value: impl Into<String>) -> Self {
        Token(value.into())
    }

    /// The secret value (for sending it; never log it).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
