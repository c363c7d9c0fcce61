//! Merging a song changed on both sides (pure).
//!
//! Field by field against the base (the metadata both sides had at the last sync): a field
//! changed on one side only takes that side's value; a field changed on both sides to the same
//! value is no conflict; a field changed on both sides differently is a conflict, resolved by
//! the [`Policy`] and reported. Some fields never conflict:
//!
//! - `tags` merge as sets (additions and removals of both sides are kept);
//! - `conflicts` (the `keep-both` archive) is the union of both sides';
//! - the listening history: each machine's own play and skip counts take the larger one and
//!   the totals are their sums, with no base needed (so first plays on two machines add up);
//!   the star takes the later of a star and an unstar; counts kept by older versions add up
//!   what each side added since the base; times take the later one
//!   ([`songrec_storage::listening::merge_listening`], [`songrec_storage::listening::merge_field`]);
//! - `created_at` takes the earlier time, and `file_name` the name of the earlier copy (songs
//!   added independently on two machines differ there by nature).
//!
//! The result gets `version = max(local, remote) + 1` unless one side already holds exactly
//! the result at the higher version, so after a sync equal versions mean equal content.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::digest::{canonical, content, digest_content};
use crate::plan::{Conflict, ConflictKind, Policy, Side};
use songrec_storage::{SongMetadata, listening};

/// Where `keep-both` keeps the losing values (an `extra` field).
pub const CONFLICTS_FIELD: &str = "conflicts";

#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    /// What both sides hold afterwards.
    pub result: SongMetadata,
    /// Sides that must be written to hold it.
    pub write: Vec<Side>,
    /// The conflict, if fields were changed differently on both sides.
    pub conflict: Option<Conflict>,
}

/// Merges `local` and `remote` against `base` (`None`: no common ancestor, e.g. added on
/// both sides). `now` is the update time of a new merged version; `machine` names this
/// machine in `keep-both` archives.
///
/// ```
/// use chrono::Utc;
/// use songrec_storage::{SongId, SongMetadata};
/// use songrec_sync::merge::merge;
/// use songrec_sync::plan::{Policy, Side};
/// let base = SongMetadata::new(SongId::from_bytes(b"s"), "Song");
/// let mut local = base.clone();
/// local.genre = Some("jazz".into());
/// local.touch();
/// let mut remote = base.clone();
/// remote.artist = Some("Miles".into());
/// remote.touch();
/// let m = merge(Some(&base), &local, &remote, Policy::Newer, Utc::now(), "m1");
/// assert!(m.conflict.is_none(), "different fields merge cleanly");
/// assert_eq!(m.result.genre.as_deref(), Some("jazz"));
/// assert_eq!(m.result.artist.as_deref(), Some("Miles"));
/// assert_eq!(m.result.version, 3);
/// assert_eq!(m.write, vec![Side::Local, Side::Remote]);
/// ```
pub fn merge(
    base: Option<&SongMetadata>,
    local: &SongMetadata,
    remote: &SongMetadata,
    policy: Policy,
    now: DateTime<Utc>,
    machine: &str,
) -> Merge {
    let (lc, rc) = (content(local), content(remote));
    let bc = base.map(content).unwrap_or_default();
    let (dl, dr) = (digest_content(&lc), digest_content(&rc));

    // Which side wins a conflicting field.
    let winner = match policy {
        Policy::Local => Side::Local,
        Policy::Remote => Side::Remote,
        Policy::Newer | Policy::KeepBoth => {
            let key = |m: &SongMetadata, d: &str| (m.updated_at, m.version, d.to_owned());
            if key(local, &dl) >= key(remote, &dr) {
                Side::Local
            } else {
                Side::Remote
            }
        }
    };
    let earlier = if (local.created_at, &local.file_name) <= (remote.created_at, &remote.file_name)
    {
        Side::Local
    } else {
        Side::Remote
    };

    let mut merged = Map::new();
    let mut conflicting: Vec<String> = Vec::new();
    let mut lost = Map::new();
    let mut keys: Vec<&String> = lc.keys().chain(rc.keys()).chain(bc.keys()).collect();
    keys.sort();
    keys.dedup();
    for k in keys {
        let (b, l, r) = (bc.get(k), lc.get(k), rc.get(k));
        let pick = |side: Side| side.pick(l, r);
        // Without a base (added on both sides) every difference is a conflict.
        let value: Option<Value> = if l == r {
            l.cloned()
        } else if base.is_some() && l == b {
            r.cloned()
        } else if base.is_some() && r == b {
            l.cloned()
        } else {
            match k.as_str() {
                // Set below, from both sides' whole history ([`listening::merge_listening`]).
                f if listening::merged_as_group(f) => l.or(r).cloned(),
                "tags" => Some(merge_sets(b, l, r)),
                CONFLICTS_FIELD => Some(union(l, r)),
                f if listening::merges(f) => listening::merge_field(f, b, l, r, base.is_some()),
                "created_at" | "file_name" => pick(earlier).cloned(),
                _ => {
                    conflicting.push(k.clone());
                    lost.insert(
                        k.clone(),
                        pick(winner.other()).cloned().unwrap_or(Value::Null),
                    );
                    pick(winner).cloned()
                }
            }
        };
        if let Some(v) = value {
            merged.insert(k.clone(), v);
        }
    }

    listening::merge_listening(base.map(|_| &bc), &lc, &rc, &mut merged);

    let side = |s: Side| s.pick(local, remote);
    let mut conflict = None;
    if !conflicting.is_empty() {
        let loser = side(winner.other());
        let whose = |s: Side| s.pick("this machine's", "the remote's");
        let outcome = match policy {
            Policy::Local | Policy::Remote => {
                format!("kept {} values (policy {policy})", whose(winner))
            }
            Policy::Newer => format!("kept {} values (newer)", whose(winner)),
            Policy::KeepBoth => {
                let from = if winner == Side::Local {
                    "remote".to_owned()
                } else {
                    format!("machine {machine}")
                };
                let entry = json!({
                    "fields": Value::Object(lost),
                    "version": loser.version,
                    "updated_at": loser.updated_at,
                    "from": from,
                });
                let list = merged
                    .entry(CONFLICTS_FIELD.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !list.is_array() {
                    *list = Value::Array(vec![list.take()]);
                }
                if let Value::Array(items) = list {
                    let same = |e: &Value| e.get("fields") == entry.get("fields");
                    if !items.iter().any(same) {
                        items.push(entry);
                    }
                }
                format!(
                    "kept {} values (newer); the others are saved in extra.{CONFLICTS_FIELD}",
                    whose(winner)
                )
            }
        };
        conflict = Some(Conflict {
            id: local.id.clone(),
            title: side(winner).display_name(),
            kind: if base.is_some() {
                ConflictKind::EditEdit
            } else {
                ConflictKind::AddAdd
            },
            fields: conflicting,
            outcome,
        });
    }

    let dc = digest_content(&merged);
    let top = local.version.max(remote.version);
    let holds = |m: &SongMetadata, d: &str| m.version == top && d == dc;
    let clash = |m: &SongMetadata, d: &str| m.version == top && d != dc;
    let (result, write) = if holds(local, &dl) && !clash(remote, &dr) {
        let w = if remote.version == top && dr == dc {
            vec![]
        } else {
            vec![Side::Remote]
        };
        (local.clone(), w)
    } else if holds(remote, &dr) && !clash(local, &dl) {
        (remote.clone(), vec![Side::Local])
    } else {
        let mut obj = merged;
        obj.insert("version".into(), json!(top + 1));
        obj.insert("updated_at".into(), json!(now));
        // Every value came from a valid metadata of the same song, so this cannot fail; keep
        // the winner's metadata if it somehow does.
        let mut m: SongMetadata =
            serde_json::from_value(Value::Object(obj)).unwrap_or_else(|_| side(winner).clone());
        m.version = top + 1;
        (m, vec![Side::Local, Side::Remote])
    };
    Merge {
        result,
        write,
        conflict,
    }
}

/// Three-way set merge of two string lists: keeps the base items neither side removed plus
/// each side's additions, in local-then-remote order.
fn merge_sets(b: Option<&Value>, l: Option<&Value>, r: Option<&Value>) -> Value {
    let items = |v: Option<&Value>| -> Vec<Value> {
        v.and_then(Value::as_array).cloned().unwrap_or_default()
    };
    let (b, l, r) = (items(b), items(l), items(r));
    let mut out: Vec<Value> = Vec::new();
    for x in l.iter().chain(r.iter()) {
        // An item of the base stays only if neither side removed it.
        let kept = !b.contains(x) || (l.contains(x) && r.contains(x));
        if kept && !out.contains(x) {
            out.push(x.clone());
        }
    }
    Value::Array(out)
}

/// Union of two lists by canonical JSON equality, local order first.
fn union(l: Option<&Value>, r: Option<&Value>) -> Value {
    let items = |v: Option<&Value>| -> Vec<Value> {
        match v {
            Some(Value::Array(a)) => a.clone(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![other.clone()],
        }
    };
    let mut out: Vec<Value> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for x in items(l).into_iter().chain(items(r)) {
        let c = canonical(&x);
        if !seen.contains(&c) {
            seen.push(c);
            out.push(x);
        }
    }
    Value::Array(out)
}
