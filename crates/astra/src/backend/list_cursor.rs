//! A sorted listing's cursor (see `listing`): where the last page ended and the key windows
//! sampled beyond it, as URL-safe base64 of short JSON.
//!
//! **Every cursor is read as if hostile.** A client of `songrec serve` hands back whatever it
//! likes, and each window bound it carries can cost a Data API request, so [`Cursor::decode`]
//! accepts only what songrec itself writes ([`Cursor::check`]). A forged cursor then costs no
//! more than songrec's own and names nothing the client may not see, so no signature is needed.
//!
//! This file depends on nothing but serde, serde_json and base64, so the `list_cursor` fuzz
//! target compiles it as it is (`fuzz/harness/list_cursor.rs`).

use std::collections::VecDeque;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// Bounds a cursor carries to the next page (each one a sort key).
pub(crate) const CURSOR_BOUNDS: usize = 8;
/// Longest sort key a cursor may carry: the Data API's limit on an indexed string (sort keys
/// songrec writes stay far below it).
pub(crate) const MAX_KEY_BYTES: usize = 8_000;
/// Largest page size a cursor may say the server returned (the Data API's largest `find` page
/// is 1000 documents).
pub(crate) const MAX_PAGE_SEEN: usize = 1_000;
/// The sort fields a listing cursor may name (`docs::sort_field`, and `_id`).
pub(crate) const SORT_FIELDS: [&str; 7] = [
    "_id",
    "s.title",
    "s.artist",
    "s.created",
    "s.updated",
    "s.bpm",
    "s.duration",
];

/// A listing's cursor: continue after sort key `k` of sort field `f` (descending: `d`), with
/// the windows sampled so far and the largest page the server has returned (`p`). Cursors of
/// an earlier version (unsorted listings) have another tag and are refused with a hint.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t")]
pub(crate) enum Cursor {
    #[serde(rename = "k")]
    Keyset {
        f: String,
        d: bool,
        k: String,
        #[serde(default, skip_serializing_if = "is_zero")]
        p: usize,
        #[serde(flatten)]
        w: Windows,
    },
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Where a sorted listing stands: sort keys sampled beyond the last one listed (in listing
/// order), so that each sorted request can be narrowed to a key range that matches far
/// fewer documents than the server's in-memory sort cap. A cursor carries them (short names).
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Windows {
    /// Sampled keys, each with the estimated matches between the previous one and it.
    #[serde(rename = "b", default, skip_serializing_if = "VecDeque::is_empty")]
    pub(crate) bounds: VecDeque<(String, f64)>,
    /// Estimated matches beyond the last bound (`None`: not known yet).
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub(crate) tail: Option<f64>,
    /// `tail` is exact (a sample saw every match beyond the last bound).
    #[serde(rename = "e", default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) tail_exact: bool,
}

impl Windows {
    /// At most [`CURSOR_BOUNDS`] bounds, for a cursor: the matches of those dropped go to the
    /// tail's estimate (`cap` when it was unknown), which is then no longer exact.
    pub(crate) fn for_cursor(mut self, cap: f64) -> Self {
        if self.bounds.len() > CURSOR_BOUNDS {
            let dropped: f64 = self.bounds.drain(CURSOR_BOUNDS..).map(|x| x.1).sum();
            self.tail = Some(self.tail.unwrap_or(cap) + dropped);
            self.tail_exact = false;
        }
        self
    }

    /// The estimated matches between one bound and the next when a sample of `sampled` keys
    /// was drawn from `matches` (1 each when the sample was complete).
    pub(crate) fn gap(complete: bool, matches: f64, sampled: usize) -> f64 {
        if complete {
            1.0
        } else {
            matches / (sampled + 1) as f64
        }
    }
}

impl Cursor {
    /// The cursor as it travels: URL-safe base64 of its JSON.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a cursor and checks it is one songrec could have written ([`Cursor::check`]);
    /// the error says what is wrong, for the user.
    pub(crate) fn decode(s: &str) -> Result<Self, String> {
        let shown = s.chars().take(40).collect::<String>();
        let c: Self = URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                format!("bad list cursor {shown:?}: pass the `next` of the previous page unchanged")
            })?;
        c.check().map_err(|why| {
            format!(
                "bad list cursor {shown:?}: {why}; songrec never writes such a cursor: pass the \
                 `next` of the previous page unchanged"
            )
        })?;
        Ok(c)
    }

    /// Why this cursor is none songrec writes, if it is not: songrec writes a known sort field,
    /// at most [`CURSOR_BOUNDS`] bounds in listing order beyond its key, finite non-negative
    /// estimates, keys of at most [`MAX_KEY_BYTES`] and a page size of at most [`MAX_PAGE_SEEN`].
    pub(crate) fn check(&self) -> Result<(), String> {
        let Cursor::Keyset { f, d, k, p, w } = self;
        if !SORT_FIELDS.contains(&f.as_str()) {
            return Err(format!("it names no sort field songrec lists by ({f:?})"));
        }
        if w.bounds.len() > CURSOR_BOUNDS {
            return Err(format!(
                "it carries {} window bounds, more than the {CURSOR_BOUNDS} a cursor holds",
                w.bounds.len()
            ));
        }
        if *p > MAX_PAGE_SEEN {
            return Err(format!(
                "its page size {p} is over the largest page ({MAX_PAGE_SEEN})"
            ));
        }
        let too_long = std::iter::once(k)
            .chain(w.bounds.iter().map(|b| &b.0))
            .any(|key| key.len() > MAX_KEY_BYTES);
        if too_long {
            return Err(format!(
                "it carries a sort key longer than {MAX_KEY_BYTES} bytes"
            ));
        }
        let estimate_ok = |x: f64| x.is_finite() && x >= 0.0;
        if !w.bounds.iter().all(|b| estimate_ok(b.1)) || !w.tail.is_none_or(estimate_ok) {
            return Err("its window estimates are not finite non-negative numbers".into());
        }
        // Strictly in listing order, every one beyond the last key listed.
        let mut prev = k;
        for (key, _) in &w.bounds {
            let beyond = if *d { key < prev } else { key > prev };
            if !beyond {
                return Err("its window bounds are not in listing order beyond its key".into());
            }
            prev = key;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn windows(n: usize) -> Windows {
        Windows {
            bounds: (0..n)
                .map(|i| (format!("key{i:02}"), 10.0 + i as f64))
                .collect(),
            tail: Some(5.0),
            tail_exact: true,
        }
    }

    fn keyset(d: bool, k: &str, w: Windows) -> Cursor {
        Cursor::Keyset {
            f: "s.title".into(),
            d,
            k: k.into(),
            p: 0,
            w,
        }
    }

    #[test]
    fn a_cursor_carries_its_windows_and_reads_back_unchanged() {
        let c = keyset(false, "jazz", windows(3));
        let json: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(c.encode())
                .expect("a cursor is base64"),
        )
        .expect("a cursor is JSON");
        assert_eq!(
            json,
            json!({"t": "k", "f": "s.title", "d": false, "k": "jazz",
                   "b": [["key00", 10.0], ["key01", 11.0], ["key02", 12.0]], "r": 5.0, "e": true})
        );
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
        let mut down = windows(3);
        down.bounds = down.bounds.into_iter().rev().collect();
        let c = keyset(true, "zzz", down);
        assert_eq!(Cursor::decode(&c.encode()), Ok(c));
    }

    #[test]
    fn a_cursor_of_another_version_or_garbage_is_refused_with_a_hint() {
        let old = URL_SAFE_NO_PAD.encode(br#"{"t":"o","offset":40}"#);
        for bad in [old.as_str(), "not a cursor", ""] {
            let e = Cursor::decode(bad).expect_err("refused");
            assert!(e.contains("pass the `next`"), "{e}");
        }
    }

    #[test]
    fn a_cursor_songrec_never_writes_is_refused_and_says_why() {
        let refused = |c: Cursor, why: &str| {
            let e = Cursor::decode(&c.encode()).expect_err("refused");
            assert!(e.contains(why), "{e}");
        };
        let many = (0..2000).map(|i| (format!("key{i:04}"), 1.0)).collect();
        refused(
            keyset(
                false,
                "a",
                Windows {
                    bounds: many,
                    ..Windows::default()
                },
            ),
            "2000 window bounds, more than the 8",
        );
        refused(keyset(true, "a", windows(2)), "listing order");
        refused(keyset(false, "key01", windows(3)), "listing order");
        let mut same = windows(2);
        same.bounds[1].0 = "key00".into();
        refused(keyset(false, "a", same), "listing order");
        for bad in [f64::NAN, f64::INFINITY, -1.0] {
            let mut w = windows(2);
            w.bounds[0].1 = bad;
            // NaN and infinities have no JSON form: written by hand as 1e999 and the like.
            let text = serde_json::to_string(&keyset(false, "a", w))
                .unwrap()
                .replace("null", "1e999");
            let e = Cursor::decode(&URL_SAFE_NO_PAD.encode(text)).expect_err("refused");
            assert!(e.contains("bad list cursor"), "{e}");
            let mut w = windows(0);
            w.tail = Some(bad);
            if bad.is_finite() {
                refused(keyset(false, "a", w), "finite non-negative");
            }
        }
        let c = Cursor::Keyset {
            f: "s.secret".into(),
            d: false,
            k: "a".into(),
            p: 0,
            w: Windows::default(),
        };
        refused(c, "no sort field");
        let c = Cursor::Keyset {
            f: "_id".into(),
            d: false,
            k: "a".into(),
            p: 1_000_000,
            w: Windows::default(),
        };
        refused(c, "page size");
        refused(
            keyset(false, &"k".repeat(MAX_KEY_BYTES + 1), Windows::default()),
            "longer than",
        );
    }

    #[test]
    fn a_cursor_keeps_at_most_its_bounds_and_counts_the_rest_in_the_tail() {
        let w = windows(CURSOR_BOUNDS + 3).for_cursor(1000.0);
        assert_eq!(w.bounds.len(), CURSOR_BOUNDS);
        let dropped: f64 = (CURSOR_BOUNDS..CURSOR_BOUNDS + 3)
            .map(|i| 10.0 + i as f64)
            .sum();
        assert_eq!(w.tail, Some(5.0 + dropped));
        assert!(!w.tail_exact);
        let mut unknown = windows(CURSOR_BOUNDS + 1);
        unknown.tail = None;
        assert_eq!(
            unknown.for_cursor(1000.0).tail,
            Some(1000.0 + 10.0 + CURSOR_BOUNDS as f64)
        );
        let short = windows(2).for_cursor(1000.0);
        assert_eq!(
            (short.bounds.len(), short.tail, short.tail_exact),
            (2, Some(5.0), true)
        );
    }
}
