//! What the `list_cursor` fuzz target does with an input, shared with songrec-astra's replay
//! test (included with `#[path]`; the including module brings the backend's `list_cursor`
//! module into scope).

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::list_cursor::{CURSOR_BOUNDS, Cursor};

/// The input as a cursor string and as the JSON inside one (base64-encoded here, so inputs
/// reach the JSON and the checks). A cursor accepted must pass its own checks, carry at most
/// [`CURSOR_BOUNDS`] bounds, and read back unchanged once written again. Returns whether
/// either form was accepted.
pub fn list_cursor(data: &[u8]) -> bool {
    let mut accepted = false;
    let texts = [
        std::str::from_utf8(data).ok().map(str::to_owned),
        Some(URL_SAFE_NO_PAD.encode(data)),
    ];
    for text in texts.into_iter().flatten() {
        let Ok(c) = Cursor::decode(&text) else {
            continue;
        };
        assert_eq!(c.check(), Ok(()), "{text}");
        let Cursor::Keyset { w, .. } = &c;
        assert!(w.bounds.len() <= CURSOR_BOUNDS, "{text}");
        assert_eq!(Cursor::decode(&c.encode()).as_ref(), Ok(&c), "{text}");
        accepted = true;
    }
    accepted
}
