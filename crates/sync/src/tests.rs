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

// ---- merge -----------------------------------------------------------------------------

fn meta(title: &str) -> SongMetadata {
    let mut m = SongMetadata::new(id(7), title);
    m.created_at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    m.updated_at = m.created_at;
    m.file_name = "song.wav".into();
    m
}

fn edited(b: &SongMetadata, secs: i64, f: impl FnOnce(&mut SongMetadata)) -> SongMetadata {
    let mut m = b.clone();
    f(&mut m);
    m.version += 1;
    m.updated_at = b.updated_at + chrono::Duration::seconds(secs);
    m
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap()
}

#[test]
fn same_edit_on_both_sides_is_no_conflict() {
    let b = meta("T");
    let l = edited(&b, 10, |m| m.genre = Some("rock".into()));
    let r = edited(&b, 20, |m| m.genre = Some("rock".into()));
    let m = merge(Some(&b), &l, &r, Policy::Newer, now(), "a");
    assert!(m.conflict.is_none());
    assert!(
        m.write.is_empty(),
        "same content, same version: nothing to write"
    );
    assert_eq!(m.result.genre.as_deref(), Some("rock"));
}

#[test]
fn same_content_different_versions_converge_to_the_higher() {
    let b = meta("T");
    let l = edited(&b, 10, |m| m.genre = Some("rock".into()));
    let mut r = edited(&b, 20, |m| m.genre = Some("rock".into()));
    r.version += 3;
    let m = merge(Some(&b), &l, &r, Policy::Local, now(), "a");
    assert!(m.conflict.is_none());
    assert_eq!(m.write, vec![Side::Local]);
    assert_eq!(m.result, r);
}

#[test]
fn edit_edit_conflict_under_each_policy() {
    let b = meta("Base");
    let l = edited(&b, 10, |m| m.title = "Local title".into());
    let r = edited(&b, 20, |m| m.title = "Remote title".into()); // newer
    for (policy, want) in [
        (Policy::Newer, "Remote title"),
        (Policy::Local, "Local title"),
        (Policy::Remote, "Remote title"),
        (Policy::KeepBoth, "Remote title"),
    ] {
        let m = merge(Some(&b), &l, &r, policy, now(), "machine-a");
        let c = m.conflict.as_ref().expect("conflict reported");
        assert_eq!(c.kind, ConflictKind::EditEdit);
        assert_eq!(c.fields, vec!["title".to_owned()]);
        assert_eq!(m.result.title, want, "{policy}");
        assert_eq!(m.result.version, 3, "max(2, 2) + 1");
        assert_eq!(m.result.updated_at, now());
        assert_eq!(m.write, vec![Side::Local, Side::Remote], "{policy}");
        let archived = m.result.extra.get(CONFLICTS_FIELD);
        if policy == Policy::KeepBoth {
            let list = archived.and_then(|v| v.as_array()).expect("archive");
            assert_eq!(list.len(), 1);
            assert_eq!(list[0]["fields"]["title"], "Local title");
            assert_eq!(list[0]["from"], "machine machine-a");
            assert_eq!(list[0]["version"], 2);
            assert!(c.outcome.contains("extra.conflicts"));
        } else {
            assert!(archived.is_none(), "{policy}");
        }
    }
}

#[test]
fn keep_both_is_idempotent_after_an_interrupted_write() {
    // The merged version reached the remote, the run died before writing here: the next
    // merge of (old local, merged remote) must not archive the same losing values twice.
    let b = meta("Base");
    let l = edited(&b, 10, |m| m.title = "Local title".into());
    let r = edited(&b, 20, |m| m.title = "Remote title".into());
    let first = merge(Some(&b), &l, &r, Policy::KeepBoth, now(), "a");
    let again = merge(Some(&b), &l, &first.result, Policy::KeepBoth, now(), "a");
    assert_eq!(again.result.title, "Remote title");
    assert_eq!(
        again.result.extra[CONFLICTS_FIELD].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(again.write, vec![Side::Local], "only here is behind");
    assert_eq!(again.result, first.result);
}

#[test]
fn different_fields_merge_cleanly_and_tags_merge_as_sets() {
    let mut b = meta("T");
    b.tags = vec!["a".into(), "b".into()];
    let l = edited(&b, 10, |m| {
        m.tags = vec!["a".into(), "c".into()]; // removed b, added c
        m.album = Some("LP".into());
    });
    let r = edited(&b, 5, |m| {
        m.tags = vec!["a".into(), "b".into(), "d".into()]; // added d
        m.extra.insert("label".into(), json!("Warp"));
    });
    let m = merge(Some(&b), &l, &r, Policy::Remote, now(), "a");
    assert!(m.conflict.is_none());
    assert_eq!(m.result.tags, vec!["a", "c", "d"]);
    assert_eq!(m.result.album.as_deref(), Some("LP"));
    assert_eq!(m.result.extra["label"], "Warp");
    assert_eq!(m.result.version, 3);
}

#[test]
fn added_on_both_sides_merges_bookkeeping_and_reports_real_differences() {
    let mut l = meta("Song");
    l.file_name = "b.wav".into();
    let mut r = meta("Song");
    r.file_name = "a.wav".into();
    r.created_at = l.created_at + chrono::Duration::seconds(30);
    // Only bookkeeping differs: no conflict; earliest created_at and its file name.
    let m = merge(None, &l, &r, Policy::Newer, now(), "a");
    assert!(m.conflict.is_none());
    assert_eq!(m.result.created_at, l.created_at);
    assert_eq!(m.result.file_name, "b.wav");
    assert_eq!(
        m.result.version, 2,
        "equal versions must mean equal content afterwards"
    );
    assert_eq!(m.write, vec![Side::Local, Side::Remote]);
    // A real difference is an AddAdd conflict.
    r.genre = Some("jazz".into());
    let m = merge(None, &l, &r, Policy::Local, now(), "a");
    let c = m.conflict.expect("conflict");
    assert_eq!(c.kind, ConflictKind::AddAdd);
    assert_eq!(c.fields, vec!["genre".to_owned()]);
    assert_eq!(m.result.genre, None);
}

#[test]
fn equal_versions_never_hide_different_content() {
    // Both sides edited v3 into different v4s; the merge gets v5 on both sides even when the
    // merged content equals one side's.
    let b = edited(&meta("T"), 0, |_| {});
    let l = edited(&b, 10, |m| m.genre = Some("rock".into()));
    let r = edited(&b, 20, |m| m.genre = Some("pop".into()));
    let m = merge(Some(&b), &l, &r, Policy::Newer, now(), "a");
    assert_eq!(m.result.version, l.version + 1);
    assert_eq!(m.write, vec![Side::Local, Side::Remote]);
    assert_eq!(digest(&m.result), digest(&r));
}

#[test]
fn merge_is_symmetric_under_newer() {
    let b = meta("Base");
    let l = edited(&b, 10, |m| {
        m.title = "L".into();
        m.bpm = Some(100.0);
    });
    let r = edited(&b, 20, |m| {
        m.title = "R".into();
        m.key = Some("A minor".into());
    });
    let x = merge(Some(&b), &l, &r, Policy::Newer, now(), "a");
    let y = merge(Some(&b), &r, &l, Policy::Newer, now(), "a");
    assert_eq!(x.result, y.result);
    assert_eq!(x.result.title, "R");
    assert_eq!(x.result.bpm, Some(100.0));
    assert_eq!(x.result.key.as_deref(), Some("A minor"));
}

// ---- the engine over in-memory backends --------------------------------------------------

mod engine_runs {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use super::super::engine::{NoSyncProgress, SyncError, SyncOptions, SyncReport, sync};
    use super::super::lease::{Lease, LeaseError, LeaseInfo, LeaseStore, MemoryLeaseStore};
    use super::super::plan::{Policy, Rails};
    use super::super::record::MemoryRecord;
    use songrec_storage::SongMetadata;
    use songrec_storage::layers::testing::MemoryBackend;
    use songrec_storage::layers::{Chaos, LayerExt};
    use songrec_storage::{Embedding, ModelInfo};
    use songrec_storage::{Filter, SongId};
    use songrec_storage::{SongRecord, StorageBackend};

    struct Machine {
        name: String,
        lib: Arc<dyn StorageBackend>,
        record: MemoryRecord,
    }

    impl Machine {
        fn new(name: &str) -> Self {
            Self {
                name: name.into(),
                lib: Arc::new(MemoryBackend::new()),
                record: MemoryRecord::new(name),
            }
        }
    }

    struct World {
        dir: tempfile::TempDir,
        remote: Arc<dyn StorageBackend>,
        leases: Arc<MemoryLeaseStore>,
        edits: u64,
    }

    fn model() -> ModelInfo {
        ModelInfo::new("test", "1", 4)
    }

    fn song_bytes(n: u8) -> Vec<u8> {
        format!("song number {n}").into_bytes()
    }

    fn sid(n: u8) -> SongId {
        SongId::from_bytes(&song_bytes(n))
    }

    impl Machine {
        /// One run of this machine against `remote` under `lease`.
        async fn sync_to(
            &self,
            remote: &dyn StorageBackend,
            lease: &Arc<Lease>,
            opts: &SyncOptions,
        ) -> Result<SyncReport, SyncError> {
            sync(
                self.lib.as_ref(),
                remote,
                lease,
                &self.record,
                opts,
                &NoSyncProgress,
            )
            .await
        }
    }

    impl World {
        fn new() -> Self {
            Self {
                dir: tempfile::tempdir().unwrap(),
                remote: Arc::new(MemoryBackend::new()),
                leases: Arc::new(MemoryLeaseStore::default()),
                edits: 0,
            }
        }

        async fn add(&self, m: &Machine, n: u8) {
            let id = sid(n);
            if m.lib.get_metadata(&id).await.unwrap().is_some() {
                return;
            }
            let f = self.dir.path().join(format!("in-{}-{n}.wav", m.name));
            std::fs::write(&f, song_bytes(n)).unwrap();
            m.lib.put_audio(&id, &f).await.unwrap();
            let mut meta = SongMetadata::new(id.clone(), format!("Song {n}"));
            meta.file_name = format!("song-{n}.wav");
            let rep = m
                .lib
                .put_songs(&[SongRecord {
                    metadata: meta,
                    embeddings: vec![Embedding {
                        model: model(),
                        vector: vec![f32::from(n), 1.0, 0.5, 0.25],
                    }],
                }])
                .await
                .unwrap();
            assert!(rep.is_complete());
        }

        async fn edit(&mut self, m: &Machine, n: u8, field: u64) {
            if let Some(mut meta) = m.lib.get_metadata(&sid(n)).await.unwrap() {
                self.edits += 1;
                match field % 3 {
                    0 => meta.title = format!("edit {} on {}", self.edits, m.name),
                    1 => meta.genre = Some(format!("genre {}", self.edits)),
                    _ => meta.tags.push(format!("tag{}", self.edits)),
                }
                meta.touch();
                m.lib.put_metadata(&meta).await.unwrap();
            }
        }

        async fn sync(&self, m: &Machine, policy: Policy, force: bool) -> SyncReport {
            let lease = Arc::new(Lease::new(
                self.leases.clone(),
                m.name.clone(),
                Duration::from_secs(60),
            ));
            let mut opts = SyncOptions::new(self.dir.path().join(format!("scratch-{}", m.name)));
            opts.policy = policy;
            opts.batch_size = 3;
            opts.rails = Rails {
                max_delete_percent: 50,
                force,
            };
            m.sync_to(self.remote.as_ref(), &lease, &opts)
                .await
                .unwrap()
        }
    }

    /// Everything a side holds, comparable: live metadata (whole), audio and vectors.
    async fn state(b: &dyn StorageBackend) -> BTreeMap<SongId, (SongMetadata, bool, bool)> {
        let mut out = BTreeMap::new();
        for v in b.list_versions().await.unwrap() {
            if v.deleted {
                continue;
            }
            let m = b.get_metadata(&v.id).await.unwrap().unwrap();
            let audio = b.has_audio(&v.id).await.unwrap();
            let vec = b.get_embedding(&v.id, &model()).await.unwrap().is_some();
            out.insert(v.id, (m, audio, vec));
        }
        out
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Random histories of adds, edits, deletes and syncs on two machines: after everyone
    /// syncs twice all three libraries are identical (metadata, audio, vectors), a further
    /// round changes nothing, and no song disappears unless some machine deleted it.
    #[tokio::test(flavor = "current_thread")]
    async fn random_histories_converge() {
        let policies = [
            Policy::Newer,
            Policy::Local,
            Policy::Remote,
            Policy::KeepBoth,
        ];
        let (mut conflicts, mut deletions, mut merges) = (0, 0, 0);
        for seed in 1..=60u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut w = World::new();
            let ms = [Machine::new("a"), Machine::new("b")];
            let policy = policies[(seed % 4) as usize];
            let mut deleted_ever: BTreeSet<SongId> = BTreeSet::new();
            let mut added_ever: BTreeSet<SongId> = BTreeSet::new();
            for _ in 0..40 {
                let m = &ms[rng.below(2) as usize];
                let n = rng.below(8) as u8;
                match rng.below(10) {
                    0..=2 => {
                        w.add(m, n).await;
                        added_ever.insert(sid(n));
                    }
                    3..=5 => {
                        let f = rng.next();
                        w.edit(m, n, f).await;
                    }
                    6 => {
                        if m.lib.delete_song(&sid(n)).await.unwrap() {
                            deleted_ever.insert(sid(n));
                        }
                    }
                    _ => {
                        let r = w.sync(m, policy, true).await;
                        conflicts += r.conflicts.len();
                        deletions += r.deleted_local + r.deleted_remote;
                        merges += r.summary.reconcile;
                    }
                }
            }
            for m in ms.iter().chain(ms.iter()) {
                let r = w.sync(m, policy, true).await;
                assert!(r.is_complete(), "seed {seed}: {:?}", r.failed);
                conflicts += r.conflicts.len();
                deletions += r.deleted_local + r.deleted_remote;
                merges += r.summary.reconcile;
            }
            let remote = state(w.remote.as_ref()).await;
            for m in &ms {
                let r = w.sync(m, policy, false).await;
                assert!(
                    r.summary.is_noop(),
                    "seed {seed}: another round is a no-op: {:?}",
                    r.summary
                );
                assert!(r.conflicts.is_empty());
                assert_eq!(
                    state(m.lib.as_ref()).await,
                    remote,
                    "seed {seed} machine {}",
                    m.name
                );
            }
            for (id, (_, audio, vector)) in &remote {
                assert!(*audio && *vector, "seed {seed}: {id} is whole");
            }
            for id in added_ever.difference(&deleted_ever) {
                assert!(
                    remote.contains_key(id),
                    "seed {seed}: {id} was never deleted"
                );
            }
        }
        eprintln!(
            "random histories: {conflicts} conflicts, {deletions} deletions, {merges} merges"
        );
        // The histories exercised the interesting paths.
        assert!(
            conflicts > 20 && deletions > 20 && merges > 20,
            "{conflicts} {deletions} {merges}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_machines_all_cases() {
        let mut w = World::new();
        let (a, b) = (Machine::new("a"), Machine::new("b"));
        for n in 1..=4 {
            w.add(&a, n).await;
        }
        let r = w.sync(&a, Policy::Newer, false).await;
        assert_eq!(r.pushed_new, 4);
        let r = w.sync(&b, Policy::Newer, false).await;
        assert_eq!(r.pulled_new, 4);
        // Same song added independently on both machines, and one on each.
        w.add(&a, 5).await;
        w.add(&b, 5).await;
        w.add(&b, 6).await;
        // An edit on a; a deletion on b; edit on a of what b deletes.
        w.edit(&a, 1, 0).await;
        b.lib.delete_song(&sid(2)).await.unwrap();
        w.edit(&a, 3, 1).await;
        b.lib.delete_song(&sid(3)).await.unwrap();
        let ra = w.sync(&a, Policy::Newer, false).await;
        assert_eq!((ra.pushed_new, ra.pushed_changed), (1, 2), "{ra:?}");
        let rb = w.sync(&b, Policy::Newer, false).await;
        // 3: deleted on b, edited on a (already pushed) → the edit wins, restored on b.
        assert_eq!(rb.conflicts.len(), 1, "{:?}", rb.conflicts);
        assert_eq!(rb.conflicts[0].id, sid(3));
        assert!(
            rb.conflicts[0].title.starts_with("Song 3"),
            "{:?}",
            rb.conflicts[0]
        );
        w.sync(&a, Policy::Newer, false).await;
        let remote = state(w.remote.as_ref()).await;
        assert_eq!(state(a.lib.as_ref()).await, remote);
        assert_eq!(state(b.lib.as_ref()).await, remote);
        let ids: Vec<&SongId> = remote.keys().collect();
        let mut want = [sid(1), sid(3), sid(4), sid(5), sid(6)];
        want.sort();
        assert_eq!(ids, want.iter().collect::<Vec<_>>(), "2 deleted, 5 once");
        assert!(remote[&sid(1)].0.title.starts_with("edit"));
        assert_eq!(remote[&sid(3)].0.genre.as_deref(), Some("genre 2"));
        assert_eq!(w.remote.count(&Filter::default()).await.unwrap(), 5);
    }

    /// A new vector (as `songrec reembed` adds, bumping the version) travels with the change,
    /// also when the other side changed the song's metadata meanwhile (a merge).
    #[tokio::test(flavor = "current_thread")]
    async fn new_vectors_travel_with_changes_and_merges() {
        let mut w = World::new();
        let (a, b) = (Machine::new("a"), Machine::new("b"));
        for n in 1..=3 {
            w.add(&a, n).await;
        }
        w.sync(&a, Policy::Newer, false).await;
        w.sync(&b, Policy::Newer, false).await;
        let second = ModelInfo::new("second", "2", 3);
        for n in [1, 2] {
            let id = sid(n);
            let e = Embedding {
                model: second.clone(),
                vector: vec![f32::from(n), 0.5, 0.25],
            };
            a.lib.put_embedding(&id, &e).await.unwrap();
            let mut m = a.lib.get_metadata(&id).await.unwrap().unwrap();
            m.touch();
            a.lib.put_metadata(&m).await.unwrap();
        }
        w.edit(&b, 2, 1).await; // b changes song 2's metadata meanwhile
        w.sync(&a, Policy::Newer, false).await;
        let r = w.sync(&b, Policy::Newer, false).await;
        assert_eq!(r.summary.reconcile, 1);
        w.sync(&a, Policy::Newer, false).await;
        for lib in [&a.lib, &b.lib, &w.remote] {
            for n in [1u8, 2] {
                let v = lib.get_embedding(&sid(n), &second).await.unwrap();
                assert_eq!(
                    v.map(|e| e.vector),
                    Some(vec![f32::from(n), 0.5, 0.25]),
                    "{lib} song {n}"
                );
            }
            assert!(lib.get_embedding(&sid(3), &second).await.unwrap().is_none());
            assert!(
                lib.get_embedding(&sid(1), &model())
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        assert_eq!(state(a.lib.as_ref()).await, state(w.remote.as_ref()).await);
        assert_eq!(state(b.lib.as_ref()).await, state(w.remote.as_ref()).await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn failed_transfers_are_finished_by_the_next_run() {
        let w = World::new();
        let a = Machine::new("a");
        for n in 1..=9 {
            w.add(&a, n).await;
        }
        // A flaky remote without retries: some songs fail, the record advances only for
        // the others.
        let flaky: Arc<dyn StorageBackend> =
            Arc::new(MemoryBackend::new().layer(Chaos::new(3).fail_ratio(0.3)));
        let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
        let mut opts = SyncOptions::new(w.dir.path().join("s"));
        opts.batch_size = 2;
        let mut failures = 0;
        let mut runs = 0;
        loop {
            runs += 1;
            let r = a.sync_to(flaky.as_ref(), &lease, &opts).await;
            match r {
                Ok(r) if r.is_complete() && r.summary.is_noop() => break,
                Ok(r) => failures += r.failed.len(),
                Err(SyncError::Storage(_)) => failures += 1,
                Err(e) => panic!("{e}"),
            }
            assert!(runs < 50, "never converged");
        }
        assert!(failures > 0, "the chaos layer injected failures");
        let local = state(a.lib.as_ref()).await;
        assert_eq!(local.len(), 9);
        // Read the remote through a calm view: the same data without faults.
        for (id, (m, _, _)) in &local {
            let mut got = None;
            for _ in 0..20 {
                if let Ok(x) = flaky.get_metadata(id).await {
                    got = x;
                    break;
                }
            }
            assert_eq!(got.as_ref(), Some(m));
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn lease_held_by_another_machine_refuses_and_an_expired_one_is_taken_over() {
        let w = World::new();
        let a = Machine::new("a");
        w.add(&a, 1).await;
        let mut other = LeaseInfo::new("machine-b", Duration::from_secs(600));
        other.host = "elsewhere".into();
        let tag = w
            .leases
            .create(&serde_json::to_vec(&other).unwrap())
            .await
            .unwrap()
            .unwrap();
        let lease = Arc::new(Lease::new(w.leases.clone(), "a", Duration::from_secs(60)));
        let opts = SyncOptions::new(w.dir.path().join("s"));
        let err = a
            .sync_to(w.remote.as_ref(), &lease, &opts)
            .await
            .unwrap_err();
        match &err {
            SyncError::Lease(LeaseError::Held(info)) => assert_eq!(info.holder, "machine-b"),
            e => panic!("{e}"),
        }
        assert!(err.to_string().contains("machine-b"));
        assert_eq!(
            w.remote.count(&Filter::default()).await.unwrap(),
            0,
            "nothing written"
        );
        // Dry runs take no lease.
        let mut dry = opts.clone();
        dry.dry_run = true;
        let r = a.sync_to(w.remote.as_ref(), &lease, &dry).await.unwrap();
        assert_eq!(r.summary.push_new, 1);
        assert_eq!(r.actions.len(), 1);
        // Expired: taken over.
        other.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
        w.leases
            .replace(&serde_json::to_vec(&other).unwrap(), &tag)
            .await
            .unwrap()
            .unwrap();
        let r = a.sync_to(w.remote.as_ref(), &lease, &opts).await.unwrap();
        assert_eq!(r.pushed_new, 1);
        assert_eq!(r.lease.map(|l| l.holder), Some("a".to_owned()));
        // Released at the end: another machine may start at once.
        let b = Lease::new(w.leases.clone(), "machine-b", Duration::from_secs(60));
        b.acquire().await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lost_lease_stops_the_run() {
        let store = Arc::new(MemoryLeaseStore::default());
        let a = Arc::new(Lease::new(store.clone(), "a", Duration::from_millis(300)));
        a.acquire().await.unwrap();
        a.check().await.unwrap();
        // b takes over after expiry; a's renewal then fails and check reports the loss.
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert!(a.check().await.is_err(), "lapsed");
        let b = Lease::new(store.clone(), "b", Duration::from_secs(60));
        b.acquire().await.unwrap();
        assert!(matches!(a.renew().await, Err(LeaseError::Lost(_))));
        assert!(matches!(a.check().await, Err(LeaseError::Lost(_))));
        // The same machine may take its own lease back (a killed run of ours).
        let b2 = Lease::new(store.clone(), "b", Duration::from_secs(60));
        b2.acquire().await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn rails_refuse_without_changing_anything() {
        let w = World::new();
        let (a, b) = (Machine::new("a"), Machine::new("b"));
        for n in 1..=4 {
            w.add(&a, n).await;
        }
        w.sync(&a, Policy::Newer, false).await;
        w.sync(&b, Policy::Newer, false).await;
        for n in 1..=3 {
            a.lib.delete_song(&sid(n)).await.unwrap();
        }
        let r = w.sync(&a, Policy::Newer, false).await;
        assert_eq!(r.violations.len(), 1, "{:?}", r.violations);
        assert_eq!(w.remote.count(&Filter::default()).await.unwrap(), 4);
        let r = w.sync(&a, Policy::Newer, true).await;
        assert_eq!(r.deleted_remote, 3);
        let r = w.sync(&b, Policy::Newer, true).await;
        assert_eq!(r.deleted_local, 3);
        let _ = Path::new("");
    }
}
