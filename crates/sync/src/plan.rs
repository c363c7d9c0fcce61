//! The three-way planner (pure): base record + both listings + policy → actions, conflicts and
//! safety-rail violations. No I/O; every case is unit-tested below.
//!
//! Each side's state of a song is compared with the record (the base):
//!
//! | base | side | change |
//! |---|---|---|
//! | none | live | added |
//! | none | tombstone / absent | none |
//! | live vN | live vN | same |
//! | live vN | live vM, M ≠ N | modified |
//! | live | tombstone / absent | deleted |
//! | deleted | live | added (re-added) |
//! | deleted | tombstone / absent | same |
//!
//! and the pair of changes decides:
//!
//! | here \ there | same | modified | deleted | added | none |
//! |---|---|---|---|---|---|
//! | **same** | nothing | pull metadata | delete here | pull song | — |
//! | **modified** | push metadata | reconcile (merge) | conflict: edit vs delete | — | — |
//! | **deleted** | delete there | conflict: delete vs edit | record | — | — |
//! | **added** | push song | — | — | reconcile (same song added on both) | push song¹ |
//! | **none** | — | — | — | pull song¹ | nothing |
//!
//! ¹ A song this machine has never synced, facing a tombstone with a higher version on the
//! other side, was deleted there after this copy was made: the deletion wins (so a machine
//! syncing for the first time does not resurrect deleted songs). Against a tombstone with a
//! lower or equal version (an older deletion, then an edit or a fresh add), the song wins.
//!
//! Edit vs delete: the edit wins (the song is restored on the side that deleted it) under the
//! `newer` and `keep-both` policies, because a deletion must never destroy an edit made after
//! the last sync; `local` and `remote` keep that side's state, deletion included.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use songrec_storage::{SongId, VersionEntry};

use crate::record::BaseEntry;

/// One side of a sync.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Side {
    /// This machine's library.
    Local,
    /// The shared remote library.
    Remote,
}

impl Side {
    /// `local` for [`Side::Local`], `remote` for [`Side::Remote`].
    pub fn pick<T>(self, local: T, remote: T) -> T {
        match self {
            Self::Local => local,
            Self::Remote => remote,
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Local => Self::Remote,
            Self::Remote => Self::Local,
        }
    }
}

pub use songrec_storage::conflict::Policy;

/// Safety rails.
///
/// ```
/// use songrec_sync::plan::Rails;
/// assert_eq!(Rails::default().max_delete_percent, 50);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, smart_default::SmartDefault)]
pub struct Rails {
    /// Refuse when a run would delete more than this share (percent) of a side's live songs.
    #[default = 50]
    pub max_delete_percent: u32,
    /// Ignore the rails.
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Metadata edited differently on both sides.
    #[strum(to_string = "edited on both sides")]
    EditEdit,
    /// The same song added on both sides with different metadata.
    #[strum(to_string = "added on both sides with different metadata")]
    AddAdd,
    /// Deleted here, edited on the remote.
    #[strum(to_string = "deleted here, edited on the remote")]
    DeletedHereEditedThere,
    /// Edited here, deleted on the remote.
    #[strum(to_string = "edited here, deleted on the remote")]
    EditedHereDeletedThere,
}

/// A conflict and how it was resolved (always reported).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    pub id: SongId,
    /// Its display name when known (else empty).
    pub title: String,
    /// What happened.
    pub kind: ConflictKind,
    /// The fields both sides changed differently (empty for edit vs delete).
    pub fields: Vec<String>,
    /// How it was resolved, in words.
    pub outcome: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conflict: {}", self.id.short())?;
        if !self.title.is_empty() {
            write!(f, " {}", self.title)?;
        }
        write!(f, ": {}", self.kind)?;
        if !self.fields.is_empty() {
            write!(f, " ({})", self.fields.join(", "))?;
        }
        write!(f, "; {}", self.outcome)
    }
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Copy the song from `from` to the other side: metadata only when the other side holds
    /// the song, else the whole song (audio, every vector, metadata, in that order).
    Copy {
        id: SongId,
        /// Where it comes from.
        from: Side,
        /// Whole song (the target does not hold it) or metadata only.
        full: bool,
    },
    /// Delete the song on one side (leaving a tombstone).
    Delete { id: SongId, on: Side },
    /// Both sides hold the song and at least one changed it: read both and merge.
    Reconcile {
        id: SongId,
        /// Added on both sides independently (no base).
        added_both: bool,
    },
    /// Both sides deleted the song: only the record is behind.
    RecordDeleted {
        id: SongId,
        /// Highest tombstone version.
        version: u64,
    },
}

impl Action {
    pub fn id(&self) -> &SongId {
        match self {
            Self::Copy { id, .. }
            | Self::Delete { id, .. }
            | Self::Reconcile { id, .. }
            | Self::RecordDeleted { id, .. } => id,
        }
    }
}

/// A refusal by a safety rail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "rail", rename_all = "snake_case")]
pub enum Violation {
    /// The run would delete too large a share of a side's songs.
    #[error(
        "refusing to delete {deletes} of {live} {} on the {side} side (more than {max_percent}%); check with --dry-run, then raise --max-delete or pass --force",
        songrec_storage::plural::noun(*live, "song")
    )]
    TooManyDeletes {
        /// Where the deletions would happen.
        side: Side,
        deletes: usize,
        /// Live songs on that side now.
        live: usize,
        /// The limit, percent.
        max_percent: u32,
    },
    /// A side's listing is empty although the record says songs were synced with it.
    #[error(
        "the {side} library lists no songs at all, but {recorded} were synced with it before; is it the right library (or was it wiped)? Pass --force to treat every song as deleted there"
    )]
    EmptyListing {
        side: Side,
        /// Live songs in the record.
        recorded: usize,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    /// Live songs here.
    pub local_live: usize,
    /// Live songs on the remote.
    pub remote_live: usize,
    /// Live songs in the record.
    pub recorded_live: usize,
    /// Songs equal on both sides and in the record.
    pub unchanged: usize,
    /// Whole songs to upload.
    pub push_new: usize,
    /// Metadata changes to upload.
    pub push_changed: usize,
    /// Whole songs to download.
    pub pull_new: usize,
    /// Metadata changes to download.
    pub pull_changed: usize,
    /// Deletions to apply here.
    pub delete_local: usize,
    /// Deletions to apply on the remote.
    pub delete_remote: usize,
    /// Songs to read on both sides and merge.
    pub reconcile: usize,
    /// Deletions both sides already made (record only).
    pub record_only: usize,
}

impl PlanSummary {
    /// Whether the plan changes nothing on either side (the record may still advance).
    pub fn is_noop(&self) -> bool {
        self.push_new
            + self.push_changed
            + self.pull_new
            + self.pull_changed
            + self.delete_local
            + self.delete_remote
            + self.reconcile
            == 0
    }
}

/// The planner's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Steps, by song id.
    pub actions: Vec<Action>,
    /// Conflicts decided while planning (edit vs delete); merges add theirs when executed.
    pub conflicts: Vec<Conflict>,
    /// Safety-rail refusals (empty if none, or when forced).
    pub violations: Vec<Violation>,
    pub summary: PlanSummary,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Live(u64),
    Tomb(u64),
    Absent,
}

impl Seen {
    fn of(e: Option<&VersionEntry>) -> Self {
        match e {
            None => Self::Absent,
            Some(v) if v.deleted => Self::Tomb(v.version),
            Some(v) => Self::Live(v.version),
        }
    }
    fn is_live(self) -> bool {
        matches!(self, Self::Live(_))
    }
    fn version(self) -> u64 {
        match self {
            Self::Live(v) | Self::Tomb(v) => v,
            Self::Absent => 0,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Same,
    Added,
    Modified,
    Deleted,
    None,
}

fn change(base: Option<&BaseEntry>, seen: Seen) -> Change {
    match (base, seen) {
        (None, Seen::Live(_)) => Change::Added,
        (None, _) => Change::None,
        (Some(b), Seen::Live(v)) if !b.deleted => {
            if v == b.version {
                Change::Same
            } else {
                Change::Modified
            }
        }
        (Some(b), _) if !b.deleted => Change::Deleted,
        (Some(_), Seen::Live(_)) => Change::Added,
        (Some(_), _) => Change::Same,
    }
}

/// Plans one sync run.
///
/// ```
/// use std::collections::HashMap;
/// use songrec_storage::{SongId, VersionEntry};
/// use songrec_sync::plan::{plan, Action, Policy, Rails, Side};
/// let id = SongId::from_bytes(b"new here");
/// let local = [VersionEntry { id: id.clone(), version: 1, content_hash: id.to_string(), deleted: false }];
/// let p = plan(&HashMap::new(), &local, &[], Policy::Newer, &Rails::default());
/// assert_eq!(p.actions, vec![Action::Copy { id, from: Side::Local, full: true }]);
/// ```
pub fn plan(
    base: &HashMap<SongId, BaseEntry>,
    local: &[VersionEntry],
    remote: &[VersionEntry],
    policy: Policy,
    rails: &Rails,
) -> Plan {
    let mut rows: BTreeMap<&SongId, (Option<&VersionEntry>, Option<&VersionEntry>)> =
        BTreeMap::new();
    for v in local {
        rows.entry(&v.id).or_default().0 = Some(v);
    }
    for v in remote {
        rows.entry(&v.id).or_default().1 = Some(v);
    }
    for id in base.keys() {
        rows.entry(id).or_default();
    }
    let mut p = Plan::default();
    let s = &mut p.summary;
    s.local_live = local.iter().filter(|v| !v.deleted).count();
    s.remote_live = remote.iter().filter(|v| !v.deleted).count();
    s.recorded_live = base.values().filter(|b| !b.deleted).count();

    for (id, (l, r)) in rows {
        let b = base.get(id);
        let (ls, rs) = (Seen::of(l), Seen::of(r));
        let (lc, rc) = (change(b, ls), change(b, rs));
        let copy = |from: Side| Action::Copy {
            id: id.clone(),
            from,
            full: !from.pick(rs, ls).is_live(),
        };
        // `from` added or changed the song and the other side did not: copy it over, unless
        // `from` never synced it and the other side's tombstone is newer than its copy (the
        // deletion happened after this copy was made).
        let one_sided = |from: Side, c: Change, here: Seen, there: Seen| {
            if c == Change::Added
                && b.is_none()
                && matches!(there, Seen::Tomb(tv) if tv > here.version())
            {
                Action::Delete {
                    id: id.clone(),
                    on: from,
                }
            } else {
                copy(from)
            }
        };
        let action = match (lc, rc) {
            (Change::Same, Change::Same) | (Change::None, Change::None) => None,
            (Change::Modified | Change::Added, Change::Same | Change::None) => {
                Some(one_sided(Side::Local, lc, ls, rs))
            }
            (Change::Same | Change::None, Change::Modified | Change::Added) => {
                Some(one_sided(Side::Remote, rc, rs, ls))
            }
            (Change::Deleted, Change::Same) => ls_delete(id, Side::Remote, rs),
            (Change::Same, Change::Deleted) => ls_delete(id, Side::Local, ls),
            (Change::Deleted, Change::Deleted) => Some(Action::RecordDeleted {
                id: id.clone(),
                version: ls.version().max(rs.version()),
            }),
            (Change::Modified | Change::Added, Change::Modified | Change::Added) => {
                Some(Action::Reconcile {
                    id: id.clone(),
                    added_both: b.is_none_or(|b| b.deleted),
                })
            }
            (Change::Deleted, Change::Modified) | (Change::Modified, Change::Deleted) => {
                let deleted_on = if lc == Change::Deleted {
                    Side::Local
                } else {
                    Side::Remote
                };
                let edited_on = deleted_on.other();
                // The policy that keeps the deletion deletes the edited copy, else it is restored.
                let (action, outcome) = if policy == deleted_on.pick(Policy::Local, Policy::Remote)
                {
                    let deleted = deleted_on.pick("on the remote", "here");
                    let outcome = format!("kept the deletion (policy {policy}): deleted {deleted}");
                    (
                        Action::Delete {
                            id: id.clone(),
                            on: edited_on,
                        },
                        outcome,
                    )
                } else {
                    let restored = deleted_on.pick("here from the remote", "on the remote");
                    let outcome = format!("kept the edit (policy {policy}): restored {restored}");
                    (copy(edited_on), outcome)
                };
                p.conflicts.push(Conflict {
                    id: id.clone(),
                    title: String::new(),
                    kind: deleted_on.pick(
                        ConflictKind::DeletedHereEditedThere,
                        ConflictKind::EditedHereDeletedThere,
                    ),
                    fields: Vec::new(),
                    outcome,
                });
                Some(action)
            }
            // Impossible pairs: `Same`/`Modified`/`Deleted` need a base, `None` needs none,
            // and `Added` with a base needs a deleted base (where `Modified` cannot occur).
            _ => None,
        };
        match &action {
            None => {
                if b.is_some_and(|b| !b.deleted) {
                    s.unchanged += 1;
                }
            }
            Some(Action::Copy { from, full, .. }) => match (from, full) {
                (Side::Local, true) => s.push_new += 1,
                (Side::Local, false) => s.push_changed += 1,
                (Side::Remote, true) => s.pull_new += 1,
                (Side::Remote, false) => s.pull_changed += 1,
            },
            Some(Action::Delete { on, .. }) => {
                *on.pick(&mut s.delete_local, &mut s.delete_remote) += 1
            }
            Some(Action::Reconcile { .. }) => s.reconcile += 1,
            Some(Action::RecordDeleted { .. }) => s.record_only += 1,
        }
        p.actions.extend(action);
    }
    p.violations = check_rails(&p.summary, local, remote, rails);
    p
}

/// Deleting on a side that still has the song live; a side without it needs no action but
/// the record.
fn ls_delete(id: &SongId, on: Side, there: Seen) -> Option<Action> {
    if there.is_live() {
        Some(Action::Delete { id: id.clone(), on })
    } else {
        Some(Action::RecordDeleted {
            id: id.clone(),
            version: there.version(),
        })
    }
}

fn check_rails(
    s: &PlanSummary,
    local: &[VersionEntry],
    remote: &[VersionEntry],
    rails: &Rails,
) -> Vec<Violation> {
    if rails.force {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (side, listing) in [(Side::Local, local), (Side::Remote, remote)] {
        if listing.is_empty() && s.recorded_live > 0 {
            out.push(Violation::EmptyListing {
                side,
                recorded: s.recorded_live,
            });
        }
    }
    for (side, deletes, live) in [
        (Side::Local, s.delete_local, s.local_live),
        (Side::Remote, s.delete_remote, s.remote_live),
    ] {
        if deletes > 0
            && (deletes as u128) * 100 > u128::from(rails.max_delete_percent) * (live as u128)
        {
            out.push(Violation::TooManyDeletes {
                side,
                deletes,
                live,
                max_percent: rails.max_delete_percent,
            });
        }
    }
    out
}
