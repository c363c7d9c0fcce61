//! A song's listening history, kept as library data in the song's free-form fields, so that
//! every backend stores it and `songrec sync` carries it like any edit:
//!
//! | field               | what                                                | merged by `sync` as       |
//! |---------------------|-----------------------------------------------------|---------------------------|
//! | `plays_by_machine`  | each machine's plays: `{"<machine id>": {"count": n, "last": time}}` | each machine's larger count |
//! | `play_count`        | songs heard to the end (or long enough): the sum of the above | recomputed as that sum |
//! | `played`            | the last play (RFC 3339)                            | the later time            |
//! | `skips_by_machine`, `skip_count`, `skipped` | the same for songs left early (the player's skip rule) | the same  |
//! | `starred`           | when the listener starred it (absent: not starred)  | the later of star/unstar  |
//! | `unstarred`         | when the listener took the star away                | the later of star/unstar  |
//!
//! Every player door writes here (OpenSubsonic `scrobble` and `star`, `songrec radio`).
//!
//! Why counts per machine: two machines that each heard a song once and then sync in any
//! order must both end with 2, without a common base to compare with (the first sync of a
//! song played on both has none). Each machine only ever raises its own entry, so a merge that
//! keeps each machine's larger count never loses a play and never counts one twice (a grow-only
//! counter). A count written before the per-machine entries existed (an older songrec, or by
//! hand) is carried over once as the entry [`EARLIER`], merged the same way.

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
/// Each machine's plays.
pub const PLAYS_BY_MACHINE: &str = "plays_by_machine";
/// Each machine's skips.
pub const SKIPS_BY_MACHINE: &str = "skips_by_machine";
/// When the star was taken away (absent: never, or before songrec kept it).
pub const UNSTARRED: &str = "unstarred";
/// The per-machine entry of counts kept before there were per-machine entries.
pub const EARLIER: &str = "earlier";

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
    /// record(&mut m, Heard::Skipped, t(10), "m1");
    /// assert!(Listening::of(&m).disliked());
    /// record(&mut m, Heard::Played, t(20), "m1");
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

/// One machine's entry in a per-machine count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Entry {
    count: u64,
    last: Option<DateTime<Utc>>,
}

impl Entry {
    fn read(v: &Value) -> Self {
        match v {
            Value::Object(o) => Self {
                count: count(o.get("count")),
                last: time(o.get("last")),
            },
            other => Self {
                count: count(Some(other)),
                last: None,
            },
        }
    }

    fn value(&self) -> Value {
        let mut o = serde_json::Map::new();
        o.insert("count".into(), self.count.into());
        if let Some(t) = self.last {
            o.insert("last".into(), stamp(t).into());
        }
        Value::Object(o)
    }

    /// The entry that knows more of this machine's plays: the larger count (it only grows),
    /// and the later time.
    fn join(&self, other: &Self) -> Self {
        Self {
            count: self.count.max(other.count),
            last: self.last.max(other.last),
        }
    }
}

/// The count fields of one kind: (per machine, total, last time).
fn fields_of(heard: Heard) -> (&'static str, &'static str, &'static str) {
    match heard {
        Heard::Played => (PLAYS_BY_MACHINE, PLAY_COUNT, PLAYED),
        Heard::Skipped => (SKIPS_BY_MACHINE, SKIP_COUNT, SKIPPED),
    }
}

type Machines = std::collections::BTreeMap<String, Entry>;

/// A song's fields: its `extra` map, or the content object `sync` merges.
pub trait Fields {
    fn field(&self, k: &str) -> Option<&Value>;
    fn set_field(&mut self, k: &str, v: Value);
    fn remove_field(&mut self, k: &str);
}

impl Fields for serde_json::Map<String, Value> {
    fn field(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }
    fn set_field(&mut self, k: &str, v: Value) {
        self.insert(k.to_owned(), v);
    }
    fn remove_field(&mut self, k: &str) {
        self.remove(k);
    }
}

impl Fields for std::collections::BTreeMap<String, Value> {
    fn field(&self, k: &str) -> Option<&Value> {
        self.get(k)
    }
    fn set_field(&mut self, k: &str, v: Value) {
        self.insert(k.to_owned(), v);
    }
    fn remove_field(&mut self, k: &str) {
        self.remove(k);
    }
}

/// The per-machine entries of `heard` in `fields`, with a total counted outside them (an
/// older songrec's, or one written by hand) carried over as the [`EARLIER`] entry.
fn machines(fields: &impl Fields, heard: Heard) -> Machines {
    let (by, total, _) = fields_of(heard);
    let mut out: Machines = match fields.field(by) {
        Some(Value::Object(o)) => o.iter().map(|(k, v)| (k.clone(), Entry::read(v))).collect(),
        _ => Machines::new(),
    };
    let counted: u64 = out.values().map(|e| e.count).fold(0, u64::saturating_add);
    let total = count(fields.field(total));
    if total > counted {
        out.entry(EARLIER.to_owned()).or_default().count += total - counted;
    }
    out
}

/// Writes `entries` and their total into `fields`.
fn set_machines(fields: &mut impl Fields, heard: Heard, entries: &Machines) {
    let (by, total, _) = fields_of(heard);
    let sum = entries
        .values()
        .map(|e| e.count)
        .fold(0, u64::saturating_add);
    let map = entries
        .iter()
        .map(|(k, e)| (k.clone(), e.value()))
        .collect();
    fields.set_field(by, Value::Object(map));
    fields.set_field(total, sum.into());
}

/// Records that the song was `heard` at `at` on `machine` (a stable id of this machine's
/// library): one more in the machine's own entry and the total, and the last one's time
/// (never moved back by a late report of an older play). Bumps the song's version, as every
/// change does, so `sync` carries it.
pub fn record(m: &mut SongMetadata, heard: Heard, at: DateTime<Utc>, machine: &str) {
    let (_, _, when) = fields_of(heard);
    let mut entries = machines(&m.extra, heard);
    let mine = entries.entry(machine.to_owned()).or_default();
    mine.count = mine.count.saturating_add(1);
    mine.last = mine.last.max(Some(at));
    set_machines(&mut m.extra, heard, &entries);
    if time(m.extra.get(when)).is_none_or(|t| t < at) {
        m.extra.insert(when.into(), stamp(at).into());
    }
    m.touch();
}

/// [`record`] at the current time.
pub fn record_now(m: &mut SongMetadata, heard: Heard, machine: &str) {
    record(m, heard, Utc::now(), machine);
}

/// Stars (`Some(when)`) or unstars the song at `at`; `false` (and nothing changed) when it
/// already was. The time of either is kept, so that `sync` keeps the later of two machines'
/// words ([`merge_listening`]).
pub fn star(m: &mut SongMetadata, when: Option<DateTime<Utc>>) -> bool {
    let changed = match when {
        Some(t) if !m.extra.contains_key(STARRED) => {
            m.extra.remove(UNSTARRED);
            m.extra.insert(STARRED.into(), stamp(t).into()).is_none()
        }
        None if m.extra.contains_key(STARRED) => {
            m.extra.remove(STARRED);
            m.extra.insert(UNSTARRED.into(), stamp(Utc::now()).into());
            true
        }
        _ => false,
    };
    if changed {
        m.touch();
    }
    changed
}

/// Whether `field` is one [`merge_listening`] merges as a group (the per-machine counts, their
/// totals and the star): the field-by-field merge leaves them alone.
pub fn merged_as_group(field: &str) -> bool {
    matches!(
        field,
        PLAYS_BY_MACHINE | SKIPS_BY_MACHINE | STARRED | UNSTARRED
    )
}

/// Merges two machines' listening histories into `merged` (a song's fields, where the other
/// fields are already merged), with no base needed: each machine's entry takes its larger
/// count, totals are the sums; the star takes the side whose last star or unstar is later.
/// Counts of sides that both have no per-machine entries are left to [`merge_field`].
pub fn merge_listening<F: Fields>(base: Option<&F>, local: &F, remote: &F, merged: &mut F) {
    for heard in [Heard::Played, Heard::Skipped] {
        let (by, _, _) = fields_of(heard);
        if local.field(by).is_none() && remote.field(by).is_none() {
            continue;
        }
        let mut entries = machines(local, heard);
        for (k, e) in machines(remote, heard) {
            let joined = entries
                .get(&k)
                .map_or_else(|| e.clone(), |mine| mine.join(&e));
            entries.insert(k, joined);
        }
        set_machines(merged, heard, &entries);
    }
    // The star: the later word (a star, or an unstar with its time) wins; equal times keep it.
    let word = |f: &F| {
        let on = time(f.field(STARRED));
        let off = time(f.field(UNSTARRED));
        match (on, off) {
            (Some(t), Some(u)) if u > t => (Some(u), false),
            (Some(t), _) => (Some(t), true),
            (None, u) => (u, false),
        }
    };
    let (l, r) = (word(local), word(remote));
    let star_of = |f: &F| (f.field(STARRED).cloned(), f.field(UNSTARRED).cloned());
    // A side that left the star as it was at the last sync says nothing (an older songrec
    // unstarred without a time: the other side's change stands).
    let from = match base.map(star_of) {
        Some(b) if star_of(local) == b => remote,
        Some(b) if star_of(remote) == b => local,
        _ if (r.0, r.1) > (l.0, l.1) => remote,
        _ => local,
    };
    for f in [STARRED, UNSTARRED] {
        match from.field(f) {
            Some(v) => merged.set_field(f, v.clone()),
            None => merged.remove_field(f),
        }
    }
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
        record(&mut m, Heard::Played, t(100), "m1");
        record(&mut m, Heard::Played, t(50), "m1");
        record(&mut m, Heard::Skipped, t(70), "m1");
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
        record(&mut m, Heard::Skipped, t(1), "m1");
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

    /// A song's fields after `f`.
    fn fields(m: &SongMetadata) -> std::collections::BTreeMap<String, Value> {
        m.extra.clone()
    }

    #[test]
    fn plays_are_counted_per_machine_and_an_older_total_is_carried_over_once() {
        let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        m.extra.insert(PLAY_COUNT.into(), json!(3));
        record(&mut m, Heard::Played, t(10), "a");
        record(&mut m, Heard::Played, t(20), "a");
        record(&mut m, Heard::Played, t(15), "b");
        assert_eq!(Listening::of(&m).plays, 6);
        assert_eq!(
            m.extra[PLAYS_BY_MACHINE],
            json!({
                "a": {"count": 2, "last": stamp(t(20))},
                "b": {"count": 1, "last": stamp(t(15))},
                "earlier": {"count": 3},
            })
        );
    }

    #[test]
    fn first_plays_on_two_machines_add_up_in_either_order() {
        let base = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        let (mut a, mut b) = (base.clone(), base);
        record(&mut a, Heard::Played, t(10), "a");
        record(&mut b, Heard::Played, t(20), "b");
        for (l, r) in [(&a, &b), (&b, &a)] {
            let mut merged = fields(l);
            merge_listening(None, &fields(l), &fields(r), &mut merged);
            assert_eq!(merged[PLAY_COUNT], json!(2));
        }
    }

    #[test]
    fn the_later_star_or_unstar_wins_from_either_side() {
        let base = SongMetadata::new(SongId::from_bytes(b"x"), "X");
        let (mut a, mut b) = (base.clone(), base);
        assert!(star(&mut a, Some(t(10))));
        assert!(star(&mut b, Some(t(5))));
        assert!(star(&mut b, None), "unstarred now, later than a's star");
        for (l, r) in [(&a, &b), (&b, &a)] {
            let mut merged = fields(l);
            merge_listening(None, &fields(l), &fields(r), &mut merged);
            assert!(!merged.contains_key(STARRED), "{merged:?}");
            assert!(merged.contains_key(UNSTARRED));
        }
        let mut merged = fields(&a);
        merge_listening(None, &fields(&a), &fields(&b), &mut merged);
        a.extra = merged;
        assert!(star(
            &mut a,
            Some(Utc::now() + chrono::Duration::seconds(5))
        ));
        let mut merged = fields(&b);
        merge_listening(None, &fields(&b), &fields(&a), &mut merged);
        assert!(merged.contains_key(STARRED), "a star after the unstar wins");
    }

    /// Random plays and skips on three machines, synced in random pairs in random order: every
    /// machine ends with the true totals, whatever the order.
    #[test]
    fn random_plays_on_three_machines_converge_to_the_true_totals() {
        let mut rng = crate::rng::SplitMix::new(7);
        for round in 0..200 {
            let mut sides: Vec<SongMetadata> =
                vec![SongMetadata::new(SongId::from_bytes(b"s"), "S"); 3];
            let (mut plays, mut skips) = (0u64, 0u64);
            for step in 0..40 {
                let i = (rng.next_u64() % 3) as usize;
                match rng.next_u64() % 4 {
                    0 => {
                        record(&mut sides[i], Heard::Played, t(step), &format!("m{i}"));
                        plays += 1;
                    }
                    1 => {
                        record(&mut sides[i], Heard::Skipped, t(step), &format!("m{i}"));
                        skips += 1;
                    }
                    _ => {
                        // A sync of i with j: both hold the merge afterwards.
                        let j = (i + 1 + (rng.next_u64() % 2) as usize) % 3;
                        let mut merged = fields(&sides[i]);
                        merge_listening(None, &fields(&sides[i]), &fields(&sides[j]), &mut merged);
                        sides[i].extra = merged.clone();
                        sides[j].extra = merged;
                    }
                }
            }
            // Everyone syncs with everyone, in a random order, twice over.
            for _ in 0..6 {
                let i = (rng.next_u64() % 3) as usize;
                let j = (i + 1) % 3;
                let mut merged = fields(&sides[i]);
                merge_listening(None, &fields(&sides[i]), &fields(&sides[j]), &mut merged);
                sides[i].extra = merged.clone();
                sides[j].extra = merged;
            }
            for pair in [(0, 1), (1, 2), (2, 0)] {
                let mut merged = fields(&sides[pair.0]);
                merge_listening(
                    None,
                    &fields(&sides[pair.0]),
                    &fields(&sides[pair.1]),
                    &mut merged,
                );
                sides[pair.0].extra = merged.clone();
                sides[pair.1].extra = merged;
            }
            for (k, s) in sides.iter().enumerate() {
                let l = Listening::of(s);
                assert_eq!(
                    (l.plays, l.skips),
                    (plays, skips),
                    "round {round}, machine {k}"
                );
            }
        }
    }
}
