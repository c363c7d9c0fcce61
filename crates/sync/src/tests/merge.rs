//! The field merge: edits on both sides, policies, bookkeeping, symmetry.

use super::*;

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

#[test]
fn plays_and_skips_heard_on_both_machines_add_up() {
    use songrec_storage::listening::{Heard, Listening, record};
    let t = |s: i64| chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
    let mut base = meta("Song");
    record(&mut base, Heard::Played, t(0), "a");
    // Two plays here, one play and a skip there, and a genre edit there: no conflict.
    let mut local = base.clone();
    record(&mut local, Heard::Played, t(10), "a");
    record(&mut local, Heard::Played, t(30), "a");
    let mut remote = base.clone();
    record(&mut remote, Heard::Played, t(20), "b");
    record(&mut remote, Heard::Skipped, t(40), "b");
    remote.genre = Some("ambient".into());
    for policy in [
        Policy::Newer,
        Policy::Local,
        Policy::Remote,
        Policy::KeepBoth,
    ] {
        let m = merge(Some(&base), &local, &remote, policy, now(), "m1");
        assert!(m.conflict.is_none(), "{policy}: {:?}", m.conflict);
        let l = Listening::of(&m.result);
        assert_eq!((l.plays, l.skips), (4, 1), "{policy}");
        assert_eq!((l.last_played, l.last_skipped), (Some(t(30)), Some(t(40))));
        assert_eq!(m.result.genre.as_deref(), Some("ambient"));
        assert_eq!(m.write, vec![Side::Local, Side::Remote]);
    }
    // Merging the result again with either side changes nothing more (no double count).
    let once = merge(Some(&base), &local, &remote, Policy::Newer, now(), "m1").result;
    let again = merge(Some(&local), &once, &local, Policy::Newer, now(), "m1");
    assert_eq!(Listening::of(&again.result).plays, 4);
}

/// The first plays of a song added on both machines (no common base) add up: one on each is
/// two, whichever side merges; so do plays an older songrec counted before (carried over).
#[test]
fn first_plays_on_two_machines_add_up_without_a_base() {
    use songrec_storage::listening::{Heard, Listening, PLAY_COUNT, record};
    let t = |s: i64| chrono::DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap();
    let mut local = meta("Song");
    let mut remote = local.clone();
    record(&mut local, Heard::Played, t(10), "a");
    record(&mut remote, Heard::Played, t(20), "b");
    for (l, r) in [(&local, &remote), (&remote, &local)] {
        let m = merge(None, l, r, Policy::Newer, now(), "m1");
        let heard = Listening::of(&m.result);
        assert_eq!((heard.plays, heard.last_played), (2, Some(t(20))));
        assert!(m.conflict.is_none(), "{:?}", m.conflict);
    }
    // Three plays counted by an older version on both sides before; one more here since.
    let mut old = meta("Song");
    old.extra.insert(PLAY_COUNT.into(), 3.into());
    let mut here = old.clone();
    record(&mut here, Heard::Played, t(30), "a");
    let m = merge(Some(&old), &here, &old, Policy::Newer, now(), "m1");
    assert_eq!(Listening::of(&m.result).plays, 4);
    let m = merge(None, &old, &here, Policy::Newer, now(), "m1");
    assert_eq!(
        Listening::of(&m.result).plays,
        4,
        "carried over once, not twice"
    );
}
