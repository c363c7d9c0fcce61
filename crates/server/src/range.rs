//! HTTP `Range: bytes=…` requests (RFC 9110 §14) over a body of known length.

/// What to send for a `Range` header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole body, `200 OK` (no header, another unit, or several ranges, which a server
    /// may answer with the whole body).
    Full,
    /// `206 Partial Content` with bytes `start..=end`.
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// `416 Range Not Satisfiable`: malformed, or starts beyond the end.
    Unsatisfiable,
}

/// Decides how to answer `header` (the `Range` value, if any) for a body of `len` bytes.
pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(h) = header else {
        return RangeAnswer::Full;
    };
    let h = h.trim();
    let Some((unit, set)) = h.split_once('=') else {
        return RangeAnswer::Unsatisfiable;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        // An unknown range unit must be ignored.
        return RangeAnswer::Full;
    }
    let specs: Vec<&str> = set.split(',').map(str::trim).collect();
    if specs.len() > 1 {
        // Valid multi-range requests get the whole body; garbage in any part is refused.
        return if specs.iter().all(|s| parse_spec(s).is_some()) {
            RangeAnswer::Full
        } else {
            RangeAnswer::Unsatisfiable
        };
    }
    match parse_spec(specs[0]) {
        Some(Spec::From(start, end)) if start < len => RangeAnswer::Partial {
            start,
            end: end.map_or(len - 1, |e| e.min(len - 1)),
        },
        Some(Spec::Suffix(n)) if n > 0 && len > 0 => RangeAnswer::Partial {
            start: len.saturating_sub(n),
            end: len - 1,
        },
        _ => RangeAnswer::Unsatisfiable,
    }
}

enum Spec {
    From(u64, Option<u64>),
    Suffix(u64),
}

fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_spec(s: &str) -> Option<Spec> {
    let (a, b) = s.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return digits(b).map(Spec::Suffix);
    }
    let start = digits(a)?;
    if b.is_empty() {
        return Some(Spec::From(start, None));
    }
    let end = digits(b)?;
    (end >= start).then_some(Spec::From(start, Some(end)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let p = |start, end| RangeAnswer::Partial { start, end };
        assert_eq!(answer(Some("bytes=0-"), 10), p(0, 9));
        assert_eq!(answer(Some("bytes=5-5"), 10), p(5, 5));
        assert_eq!(answer(Some("bytes=5-100"), 10), p(5, 9));
        assert_eq!(answer(Some("bytes=-3"), 10), p(7, 9));
        assert_eq!(answer(Some("bytes=-30"), 10), p(0, 9));
        assert_eq!(answer(Some("BYTES = 1-2"), 10), p(1, 2));
        assert_eq!(answer(Some("bytes=0-1, 4-5"), 10), RangeAnswer::Full);
        assert_eq!(answer(Some("items=0-1"), 10), RangeAnswer::Full);
        assert_eq!(answer(None, 10), RangeAnswer::Full);
        assert_eq!(answer(Some("bytes=-100"), 1000), p(900, 999));
    }

    #[test]
    fn refusals() {
        for h in [
            "bytes=10-",
            "bytes=5-2",
            "bytes=abc",
            "bytes=-0",
            "bytes=1-x",
            "bytes",
            "bytes=0-1,zz",
            "bytes=--1",
            "bytes=+1-2",
        ] {
            assert_eq!(answer(Some(h), 10), RangeAnswer::Unsatisfiable, "{h}");
        }
        assert_eq!(answer(Some("bytes=0-"), 0), RangeAnswer::Unsatisfiable);
    }
}
