//! A song's listening history, kept as library data in the song's free-form fields, so that
//! every backend stores it and `songrec sync` carries it like any edit:
//!
//! | field        | what                                               | merged by `sync` as   |
//! |--------------|----------------------------------------------------|-----------------------|
//! | `play_count` | songs heard to the end (or long enough)            | a sum of both sides'  |
//! | `played`     | the last play (RFC 3339)                           | the later time        |
//! | `skip_count` | songs left early (the player's skip rule)          | a sum of both sides'  |
//! | `skipped`    | the last skip (RFC 3339)                           | the later time        |
//! | `starred`    | when the listener starred it (absent: not starred) | an ordinary field     |
//!
//! Every player door writes here (OpenSubsonic `scrobble` and `star`, `songrec radio`).

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::filter::{Condition, Field, Filter};
use crate::metadata::SongMetadata;

/// When the song was starred.
pub const STARRED: &str = "starred";
/// How often the song was played.
pub const PLAY_COUNT: &str = "play_count";
/// When it was last played.
pub const PLAYED: &str = "played";
/// How often it was skipped.
pub const SKIP_COUNT: &str = "skip_count";
/// When it was last skipped.
pub const SKIPPED: &str = "skipped";

/// What the listener did with a song.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard {
    Played,
    Skipped,
}

/// A song's listening history, read from its fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listening {
    pub plays: u64,
    pub skips: u64,
    pub last_played: Option<DateTime<Utc>>,
    pub last_skipped: Option<DateTime<Utc>>,
    pub starred: Option<DateTime<Utc>>,
}

fn count(v: Option<&Value>) -> u64 {
    match v {
        Some(Value::Number(n)) => n
            .as_u64()
            .or_else(|| n.as_f64().filter(|f| *f > 0.0).map(|f| f as u64))
            .unwrap_or(0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str)
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A time as the fields store it.
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Listening {
    /// The history in `m`'s fields (a field that does not read as a count or a time counts as
    /// absent).
    pub fn of(m: &SongMetadata) -> Self {
        Self {
            plays: count(m.extra.get(PLAY_COUNT)),
            skips: count(m.extra.get(SKIP_COUNT)),
            last_played: time(m.extra.get(PLAYED)),
            last_skipped: time(m.extra.get(SKIPPED)),
            starred: time(m.extra.get(STARRED)),
        }
    }

    /// Whether the listener's word on the song is "not this": it was skipped more often than
    /// played, and its last verdict was a skip. A star always keeps a song.
    ///
    /// ```
    /// use songrec_storage::listening::{Heard, Listening, record};
    /// use songrec_storage::{SongId, SongMetadata};
    /// let mut m = SongMetadata::new(SongId::from_bytes(b"s"), "S");
    /// let t = |s: i64| chrono::DateTime::from_timestamp(s, 0).unwrap();
    /// record(&mut m, Heard::Skipped, t(10));
    /// assert!(Listening::of(&m).disliked());
    /// record(&mut m, Heard::Played, t(20));
    /// assert!(!Listening::of(&m).disliked(), "one skip, one play, and the last was a play");
    /// ```
    pub fn disliked(&self) -> bool {
        self.starred.is_none()
            && self.skips > self.plays
            && match (self.last_skipped, self.last_played) {
                (Some(s), Some(p)) => s >= p,
                (Some(_), None) => true,
                _ => false,
            }
    }
}

/// The songs skipped at least once (a filter every backend answers; [`Listening::disliked`]
/// tells which of them the listener turns away from).
pub fn skipped_filter() -> Filter {
    Filter::default().and(Condition::Range {
        field: Field::Extra(SKIP_COUNT.to_owned()),
        min: Some(1.0),
        max: None,
    })
}

/// Records that the song was `heard` at `at`: one more play or skip, and the last one's time
/// (never moved back by a late report of an older play). Bumps the song's version, as every
/// change does, so `sync` carries it.
pub fn record(m: &mut SongMetadata, heard: Heard, at: DateTime<Utc>) {
    let (n, when) = match heard {
        Heard::Played => (PLAY_COUNT, PLAYED),
        Heard::Skipped => (SKIP_COUNT, SKIPPED),
    };
    let next = count(m.extra.get(n)).saturating_add(1);
    m.extra.insert(n.into(), next.into());
    if time(m.extra.get(when)).is_none_or(|t| t < at) {
        m.extra.insert(when.into(), stamp(at).into());
    }
    m.touch();
}

/// [`record`] at the current time.
pub fn record_now(m: &mut SongMetadata, heard: Heard) {
    record(m, heard, Utc::now());
}

/// Stars (`Some(when)`) or unstars the song; `false` (and nothing changed) when it already was.
pub fn star(m: &mut SongMetadata, when: Option<DateTime<Utc>>) -> bool {
    let changed = match when {
        Some(t) if !m.extra.contains_key(STARRED) => {
            m.extra.insert(STARRED.into(), stamp(t).into()).is_none()
        }
        None => m.extra.remove(STARRED).is_some(),
        Some(_) => false,
    };
    if changed {
        m.touch();
    }
    changed
}

/// Whether `field` is one whose values two machines' changes combine rather than conflict
/// ([`merge_field`]).
pub fn merges(field: &str) -> bool {
    matches!(field, PLAY_COUNT | SKIP_COUNT | PLAYED | SKIPPED)
}

/// Combines two machines' values of a [`merges`] field against their common `base` (`None`
/// when the song has no common ancestor): counts add up what each side added since the base
/// (without a base, the larger count: a play may go uncounted, never counted twice); times take
/// the later one.
///
/// ```
/// use serde_json::json;
/// use songrec_storage::listening::merge_field;
/// // 3 plays at the last sync; 2 more here, 1 more there.
/// let m = merge_field("play_count", Some(&json!(3)), Some(&json!(5)), Some(&json!(4)), true);
/// assert_eq!(m, Some(json!(6)));
/// let t = merge_field("played", None, Some(&json!("2026-01-02T00:00:00.000Z")),
///     Some(&json!("2026-03-01T00:00:00.000Z")), true);
/// assert_eq!(t, Some(json!("2026-03-01T00:00:00.000Z")));
/// ```
pub fn merge_field(
    field: &str,
    base: Option<&Value>,
    local: Option<&Value>,
    remote: Option<&Value>,
    has_base: bool,
) -> Option<Value> {
    match field {
        PLAY_COUNT | SKIP_COUNT => {
            let (b, l, r) = (count(base), count(local), count(remote));
            let n = if has_base {
                // A side below the base (a count reset by hand) adds nothing.
                b.saturating_add(l.saturating_sub(b))
                    .saturating_add(r.saturating_sub(b))
            } else {
                l.max(r)
            };
            Some(n.into())
        }
        _ => match (time(local), time(remote)) {
            (Some(a), Some(b)) => Some(stamp(a.max(b)).into()),
            (Some(_), None) => local.cloned(),
            (None, Some(_)) => remote.cloned(),
            (None, None) => local.or(remote).cloned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::SongId;
    use serde_json::json;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(s, 0).expect("a valid time")
    }

    #[test]
    fn records_counts_and_keeps_the_latest_time() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        let v = m.version;
        record(&mut m, Heard::Played, t(100));
        record(&mut m, Heard::Played, t(50));
        record(&mut m, Heard::Skipped, t(70));
        let l = Listening::of(&m);
        assert_eq!((l.plays, l.skips), (2, 1));
        assert_eq!(
            l.last_played,
            Some(t(100)),
            "a late report does not move it back"
        );
        assert_eq!(l.last_skipped, Some(t(70)));
        assert_eq!(m.version, v + 3);
        assert!(!l.disliked());
    }

    #[test]
    fn reads_counts_written_by_hand_or_older_versions() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        m.extra.insert(PLAY_COUNT.into(), json!("7"));
        m.extra.insert(SKIP_COUNT.into(), json!("lots"));
        m.extra.insert(PLAYED.into(), json!(12));
        let l = Listening::of(&m);
        assert_eq!((l.plays, l.skips, l.last_played), (7, 0, None));
    }

    #[test]
    fn a_star_keeps_a_skipped_song() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        record(&mut m, Heard::Skipped, t(1));
        assert!(Listening::of(&m).disliked());
        assert!(star(&mut m, Some(t(2))));
        assert!(!star(&mut m, Some(t(3))), "already starred");
        assert!(!Listening::of(&m).disliked());
        assert!(star(&mut m, None));
        assert!(!star(&mut m, None));
        assert!(Listening::of(&m).disliked());
    }

    #[test]
    fn counts_add_what_each_side_added() {
        let c = |b: Option<u64>, l: u64, r: u64, base: bool| {
            merge_field(
                SKIP_COUNT,
                b.map(Value::from).as_ref(),
                Some(&json!(l)),
                Some(&json!(r)),
                base,
            )
        };
        assert_eq!(c(Some(0), 2, 3, true), Some(json!(5)));
        assert_eq!(c(Some(4), 4, 9, true), Some(json!(9)));
        assert_eq!(
            c(Some(4), 1, 6, true),
            Some(json!(6)),
            "a reset adds nothing"
        );
        assert_eq!(c(None, 2, 3, false), Some(json!(3)), "no base: never twice");
        assert!(merges(PLAY_COUNT) && merges(SKIPPED) && !merges(STARRED));
        assert_eq!(
            merge_field(PLAYED, None, None, Some(&json!("x")), true),
            Some(json!("x"))
        );
    }
}
