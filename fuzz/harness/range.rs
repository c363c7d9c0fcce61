//! What the `range_header` fuzz target does with an input, shared with songrec-server's replay
//! test (included with `#[path]`; the including module brings songrec-server's `range` module
//! into scope: the fuzz target includes `crates/server/src/range.rs` itself, which depends on
//! nothing else, so it builds without the server's dependencies).

#![allow(dead_code)]

use super::range;

/// A `Range` header: the first 8 bytes are the body length (little-endian), the rest the
/// header value. A partial answer must lie inside the body. Returns whether it was partial.
pub fn range_header(data: &[u8]) -> bool {
    let (len, header) = match data.split_first_chunk::<8>() {
        Some((len, rest)) => (u64::from_le_bytes(*len), rest),
        None => (1000, data),
    };
    let Ok(header) = std::str::from_utf8(header) else {
        return false;
    };
    match range::answer(Some(header), len) {
        range::RangeAnswer::Partial { start, end } => {
            assert!(
                start <= end && end < len,
                "{header:?} on {len} bytes gave {start}..={end}"
            );
            true
        }
        _ => false,
    }
}
