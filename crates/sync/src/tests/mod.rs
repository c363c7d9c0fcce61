//! Planner and merge tables, property-style checks of the planner over every input
//! combination, and whole-engine runs over in-memory backends (random multi-machine histories).

use std::collections::HashMap;

use chrono::{TimeZone, Utc};
use serde_json::json;

use super::digest::digest;
use super::merge::{CONFLICTS_FIELD, merge};
use super::plan::{Action, ConflictKind, Policy, Rails, Side, Violation, plan};
use super::record::BaseEntry;
use songrec_storage::SongId;
use songrec_storage::{SongMetadata, VersionEntry};

fn id(n: u8) -> SongId {
    SongId::from_bytes(&[n])
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum S {
    Absent,
    Live(u64),
    Tomb(u64),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum B {
    None,
    Live(u64),
    Deleted(u64),
}

fn entry(n: u8, s: S) -> Option<VersionEntry> {
    let (version, deleted) = match s {
        S::Absent => return None,
        S::Live(v) => (v, false),
        S::Tomb(v) => (v, true),
    };
    Some(VersionEntry {
        id: id(n),
        version,
        content_hash: id(n).to_string(),
        deleted,
    })
}

fn base_of(n: u8, b: B) -> HashMap<SongId, BaseEntry> {
    let mut m = HashMap::new();
    match b {
        B::None => {}
        B::Live(v) => {
            m.insert(
                id(n),
                BaseEntry {
                    version: v,
                    digest: "d".into(),
                    deleted: false,
                },
            );
        }
        B::Deleted(v) => {
            m.insert(
                id(n),
                BaseEntry {
                    version: v,
                    digest: String::new(),
                    deleted: true,
                },
            );
        }
    }
    m
}

/// Plans one song and returns the action (if any) and the conflict kind (if any).
fn one(b: B, l: S, r: S, policy: Policy) -> (Option<Action>, Option<ConflictKind>) {
    let p = plan(
        &base_of(1, b),
        &entry(1, l).into_iter().collect::<Vec<_>>(),
        &entry(1, r).into_iter().collect::<Vec<_>>(),
        policy,
        &Rails {
            max_delete_percent: 100,
            force: true,
        },
    );
    assert!(p.actions.len() <= 1);
    assert!(p.conflicts.len() <= 1);
    (
        p.actions.into_iter().next(),
        p.conflicts.first().map(|c| c.kind),
    )
}

fn copy(from: Side, full: bool) -> Option<Action> {
    Some(Action::Copy {
        id: id(1),
        from,
        full,
    })
}
fn del(on: Side) -> Option<Action> {
    Some(Action::Delete { id: id(1), on })
}
fn rec(added_both: bool) -> Option<Action> {
    Some(Action::Reconcile {
        id: id(1),
        added_both,
    })
}
fn rdel(version: u64) -> Option<Action> {
    Some(Action::RecordDeleted { id: id(1), version })
}

type Case = (
    &'static str,
    B,
    S,
    S,
    Policy,
    Option<Action>,
    Option<ConflictKind>,
);

#[test]
fn planner_table() {
    use Side::{Local as L, Remote as R};
    let n = Policy::Newer;
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("in sync",                        B::Live(3), S::Live(3), S::Live(3), n, None, None),
        ("never seen anywhere",            B::None, S::Absent, S::Absent, n, None, None),
        ("tombstones only, never synced",  B::None, S::Tomb(2), S::Absent, n, None, None),
        ("deleted everywhere, recorded",   B::Deleted(4), S::Tomb(4), S::Tomb(4), n, None, None),
        ("added here",                     B::None, S::Live(1), S::Absent, n, copy(L, true), None),
        ("added there",                    B::None, S::Absent, S::Live(1), n, copy(R, true), None),
        ("edited here",                    B::Live(3), S::Live(4), S::Live(3), n, copy(L, false), None),
        ("edited there",                   B::Live(3), S::Live(3), S::Live(5), n, copy(R, false), None),
        ("deleted here",                   B::Live(3), S::Tomb(4), S::Live(3), n, del(R), None),
        ("deleted there",                  B::Live(3), S::Live(3), S::Tomb(4), n, del(L), None),
        ("vanished there (no tombstone)",  B::Live(3), S::Live(3), S::Absent, n, del(L), None),
        ("deleted on both",                B::Live(3), S::Tomb(4), S::Tomb(4), n, rdel(4), None),
        ("edited on both",                 B::Live(3), S::Live(4), S::Live(4), n, rec(false), None),
        ("added on both",                  B::None, S::Live(1), S::Live(1), n, rec(true), None),
        ("re-added on both after delete",  B::Deleted(4), S::Live(1), S::Live(1), n, rec(true), None),
        ("re-added here after delete",     B::Deleted(4), S::Live(1), S::Tomb(4), n, copy(L, true), None),
        ("re-added there after delete",    B::Deleted(4), S::Tomb(4), S::Live(1), n, copy(R, true), None),
        ("delete here / edit there: edit wins (newer)",     B::Live(3), S::Tomb(4), S::Live(4), n, copy(R, true), Some(ConflictKind::DeletedHereEditedThere)),
        ("delete here / edit there: keep-both keeps edit",  B::Live(3), S::Tomb(4), S::Live(4), Policy::KeepBoth, copy(R, true), Some(ConflictKind::DeletedHereEditedThere)),
        ("delete here / edit there: remote keeps edit",     B::Live(3), S::Tomb(4), S::Live(4), Policy::Remote, copy(R, true), Some(ConflictKind::DeletedHereEditedThere)),
        ("delete here / edit there: local deletes",         B::Live(3), S::Tomb(4), S::Live(4), Policy::Local, del(R), Some(ConflictKind::DeletedHereEditedThere)),
        ("edit here / delete there: edit wins (newer)",     B::Live(3), S::Live(4), S::Tomb(4), n, copy(L, true), Some(ConflictKind::EditedHereDeletedThere)),
        ("edit here / delete there: local keeps edit",      B::Live(3), S::Live(4), S::Tomb(4), Policy::Local, copy(L, true), Some(ConflictKind::EditedHereDeletedThere)),
        ("edit here / delete there: remote deletes",        B::Live(3), S::Live(4), S::Absent, Policy::Remote, del(L), Some(ConflictKind::EditedHereDeletedThere)),
        ("first sync, newer tombstone there: deletion wins", B::None, S::Live(1), S::Tomb(2), n, del(L), None),
        ("first sync, newer tombstone here: deletion wins",  B::None, S::Tomb(3), S::Live(2), n, del(R), None),
        ("first sync, older tombstone there: song wins",     B::None, S::Live(5), S::Tomb(2), n, copy(L, true), None),
        ("first sync, equal tombstone there: song wins",     B::None, S::Live(2), S::Tomb(2), n, copy(L, true), None),
    ];
    for (name, b, l, r, policy, action, conflict) in cases {
        assert_eq!(one(b, l, r, policy), (action, conflict), "{name}");
    }
}

/// Every combination of base and side states: the planner's answers obey its invariants.
#[test]
fn planner_invariants_over_every_combination() {
    let bases = [B::None, B::Live(3), B::Deleted(4)];
    let sides = [
        S::Absent,
        S::Live(1),
        S::Live(3),
        S::Live(4),
        S::Live(6),
        S::Tomb(2),
        S::Tomb(4),
        S::Tomb(7),
    ];
    let policies = [
        Policy::Newer,
        Policy::Local,
        Policy::Remote,
        Policy::KeepBoth,
    ];
    let mut seen = 0;
    for b in bases {
        for l in sides {
            for r in sides {
                for policy in policies {
                    seen += 1;
                    let ctx = format!("{b:?} {l:?} {r:?} {policy}");
                    let (a, c) = one(b, l, r, policy);
                    let live = |s: S| matches!(s, S::Live(_));
                    let base_v = match b {
                        B::Live(v) => Some(v),
                        _ => None,
                    };
                    // Nothing to do exactly when both sides already agree with the record
                    // (or neither side has it live and there is nothing to record).
                    match (&a, l, r) {
                        (None, S::Live(x), S::Live(y)) => {
                            assert!(base_v == Some(x) && x == y, "{ctx}: live pair left alone")
                        }
                        (None, S::Live(_), _) | (None, _, S::Live(_)) => {
                            panic!("{ctx}: a live song on one side only must be acted on")
                        }
                        _ => {}
                    }
                    match &a {
                        // A copy goes from a live side, and is whole exactly when the target
                        // does not hold the song.
                        Some(Action::Copy { from, full, .. }) => {
                            let (src, dst) = if *from == Side::Local { (l, r) } else { (r, l) };
                            assert!(live(src), "{ctx}: copy from a side without the song");
                            assert_eq!(*full, !live(dst), "{ctx}");
                        }
                        // Deletions only hit live songs and, unless a conflict says so, only
                        // songs unchanged on that side since the last sync or never synced.
                        Some(Action::Delete { on, .. }) => {
                            let here = if *on == Side::Local { l } else { r };
                            assert!(live(here), "{ctx}: delete of a song that is not there");
                            let unchanged = matches!(here, S::Live(v) if Some(v) == base_v);
                            assert!(
                                unchanged || c.is_some() || matches!(b, B::None),
                                "{ctx}: deleting a change without reporting a conflict"
                            );
                        }
                        Some(Action::Reconcile { .. }) => {
                            assert!(live(l) && live(r), "{ctx}: merge needs both");
                        }
                        Some(Action::RecordDeleted { .. }) => {
                            assert!(!live(l) && !live(r), "{ctx}");
                        }
                        None => {}
                    }
                    // Conflicts only where both sides changed.
                    if c.is_some() {
                        assert!(matches!(b, B::Live(_)), "{ctx}: conflict without a base");
                    }
                    // The named side wins an edit-vs-delete conflict under local / remote.
                    if let Some(kind) = c {
                        let deleting = matches!(a, Some(Action::Delete { .. }));
                        let expect_delete = matches!(
                            (kind, policy),
                            (ConflictKind::DeletedHereEditedThere, Policy::Local)
                                | (ConflictKind::EditedHereDeletedThere, Policy::Remote)
                        );
                        assert_eq!(deleting, expect_delete, "{ctx}");
                    }
                }
            }
        }
    }
    assert_eq!(seen, 3 * 8 * 8 * 4);
}

#[test]
fn planner_is_symmetric() {
    // Swapping the sides swaps the answer (with the mirrored policy).
    let sides = [
        S::Absent,
        S::Live(1),
        S::Live(3),
        S::Live(5),
        S::Tomb(2),
        S::Tomb(4),
    ];
    for b in [B::None, B::Live(3), B::Deleted(4)] {
        for l in sides {
            for r in sides {
                for (p, q) in [
                    (Policy::Newer, Policy::Newer),
                    (Policy::Local, Policy::Remote),
                    (Policy::KeepBoth, Policy::KeepBoth),
                ] {
                    let (a, c) = one(b, l, r, p);
                    let (a2, c2) = one(b, r, l, q);
                    let mirror = a.map(|a| match a {
                        Action::Copy { id, from, full } => Action::Copy {
                            id,
                            from: from.other(),
                            full,
                        },
                        Action::Delete { id, on } => Action::Delete { id, on: on.other() },
                        other => other,
                    });
                    assert_eq!(mirror, a2, "{b:?} {l:?} {r:?} {p}");
                    assert_eq!(c.is_some(), c2.is_some());
                }
            }
        }
    }
}

fn listing(entries: &[(u8, S)]) -> Vec<VersionEntry> {
    entries.iter().filter_map(|(n, s)| entry(*n, *s)).collect()
}

fn base_live(ns: &[u8], v: u64) -> HashMap<SongId, BaseEntry> {
    ns.iter()
        .map(|n| {
            (
                id(*n),
                BaseEntry {
                    version: v,
                    digest: "d".into(),
                    deleted: false,
                },
            )
        })
        .collect()
}

#[test]
fn max_delete_rail() {
    let base = base_live(&[1, 2, 3, 4], 1);
    let local = listing(&[
        (1, S::Tomb(2)),
        (2, S::Tomb(2)),
        (3, S::Live(1)),
        (4, S::Live(1)),
    ]);
    let remote = listing(&[
        (1, S::Live(1)),
        (2, S::Live(1)),
        (3, S::Live(1)),
        (4, S::Live(1)),
    ]);
    // 2 of 4 remote songs = 50 %: allowed at 50.
    let p = plan(&base, &local, &remote, Policy::Newer, &Rails::default());
    assert!(p.violations.is_empty(), "{:?}", p.violations);
    // One more is too many.
    let local3 = listing(&[
        (1, S::Tomb(2)),
        (2, S::Tomb(2)),
        (3, S::Tomb(2)),
        (4, S::Live(1)),
    ]);
    let p = plan(&base, &local3, &remote, Policy::Newer, &Rails::default());
    assert_eq!(
        p.violations,
        vec![Violation::TooManyDeletes {
            side: Side::Remote,
            deletes: 3,
            live: 4,
            max_percent: 50
        }]
    );
    assert!(p.violations[0].to_string().contains("--force"));
    let strict = Rails {
        max_delete_percent: 25,
        force: false,
    };
    assert_eq!(
        plan(&base, &local, &remote, Policy::Newer, &strict)
            .violations
            .len(),
        1
    );
    let forced = Rails {
        max_delete_percent: 25,
        force: true,
    };
    assert!(
        plan(&base, &local3, &remote, Policy::Newer, &forced)
            .violations
            .is_empty()
    );
}

#[test]
fn empty_listing_rail() {
    let base = base_live(&[1, 2], 1);
    let local = listing(&[(1, S::Live(1)), (2, S::Live(1))]);
    let p = plan(&base, &local, &[], Policy::Newer, &Rails::default());
    assert!(p.violations.contains(&Violation::EmptyListing {
        side: Side::Remote,
        recorded: 2
    }));
    let p = plan(&base, &[], &local, Policy::Newer, &Rails::default());
    assert!(p.violations.contains(&Violation::EmptyListing {
        side: Side::Local,
        recorded: 2
    }));
    // A remote where every song was deleted lists tombstones: not empty, just deletions.
    let tombs = listing(&[(1, S::Tomb(2)), (2, S::Tomb(2))]);
    let p = plan(
        &base,
        &local,
        &tombs,
        Policy::Newer,
        &Rails {
            max_delete_percent: 100,
            force: false,
        },
    );
    assert!(p.violations.is_empty());
    assert_eq!(p.summary.delete_local, 2);
    // No record yet: an empty side is just empty.
    let p = plan(
        &HashMap::new(),
        &local,
        &[],
        Policy::Newer,
        &Rails::default(),
    );
    assert!(p.violations.is_empty());
    assert_eq!(p.summary.push_new, 2);
}

#[test]
fn summary_counts_and_noop() {
    let base = base_live(&[1, 2, 3], 2);
    let same = listing(&[(1, S::Live(2)), (2, S::Live(2)), (3, S::Live(2))]);
    let p = plan(&base, &same, &same, Policy::Newer, &Rails::default());
    assert!(p.summary.is_noop());
    assert_eq!(p.summary.unchanged, 3);
    assert!(p.actions.is_empty());
    let local = listing(&[
        (1, S::Live(3)),
        (2, S::Live(2)),
        (3, S::Live(2)),
        (9, S::Live(1)),
    ]);
    let p = plan(&base, &local, &same, Policy::Newer, &Rails::default());
    assert_eq!(
        (
            p.summary.push_changed,
            p.summary.push_new,
            p.summary.unchanged
        ),
        (1, 1, 2)
    );
    assert!(!p.summary.is_noop());
}

mod engine_runs;
mod memory;
mod merge;
