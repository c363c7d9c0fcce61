//! Saved playlists in a sync: both sides' playlists are listed whole (a library holds few),
//! and each playlist that differs is written to the side that holds an older version or none
//! ([`songrec_storage::playlist::newer`]: the higher version, then the later change, wins
//! whole). Deletions travel as tombstones. The plan is pure ([`plan`]); [`carry`] applies it.

use std::collections::BTreeMap;

use serde::Serialize;
use songrec_storage::playlist::{SavedPlaylist, newer};
use songrec_storage::{StorageBackend, StorageResult};

use crate::plan::Side;

/// One playlist to write, and where.
#[derive(Clone, Debug, PartialEq)]
pub struct Copy {
    pub playlist: SavedPlaylist,
    pub to: Side,
}

/// What the playlists' part of a run did (or would do).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct PlaylistReport {
    /// Playlists (tombstones included) written to the remote.
    pub pushed: usize,
    /// Playlists (tombstones included) written here.
    pub pulled: usize,
    /// Of those, deletions carried (either way).
    pub deletions: usize,
    /// Playlists that could not be written, with the reason (the next run retries them).
    pub failed: Vec<(String, String)>,
}

/// The writes that make both sides hold the standing version of every playlist.
///
/// ```
/// use songrec_storage::playlist::SavedPlaylist;
/// use songrec_sync::playlists::plan;
/// use songrec_sync::plan::Side;
/// let now = chrono::Utc::now();
/// let phone = SavedPlaylist::new("From the phone", vec![], now).unwrap();
/// let copies = plan(&[], &[phone.clone()]);
/// assert_eq!(copies.len(), 1);
/// assert_eq!((copies[0].to, &copies[0].playlist), (Side::Local, &phone));
/// assert!(plan(&[phone.clone()], &[phone]).is_empty());
/// ```
pub fn plan(local: &[SavedPlaylist], remote: &[SavedPlaylist]) -> Vec<Copy> {
    let mut both: BTreeMap<&str, (Option<&SavedPlaylist>, Option<&SavedPlaylist>)> =
        BTreeMap::new();
    for p in local {
        both.entry(&p.id).or_default().0 = Some(p);
    }
    for p in remote {
        both.entry(&p.id).or_default().1 = Some(p);
    }
    both.into_values()
        .filter_map(|pair| match pair {
            (Some(l), None) => Some(Copy {
                playlist: l.clone(),
                to: Side::Remote,
            }),
            (None, Some(r)) => Some(Copy {
                playlist: r.clone(),
                to: Side::Local,
            }),
            (Some(l), Some(r)) if l != r => {
                let win = newer(l, r);
                let to = if std::ptr::eq(win, l) {
                    Side::Remote
                } else {
                    Side::Local
                };
                Some(Copy {
                    playlist: win.clone(),
                    to,
                })
            }
            _ => None,
        })
        .collect()
}

/// Lists both sides' playlists and (unless `dry_run`) writes what [`plan`] says. A failed
/// write is reported and the others go on; failing to list either side fails the step.
pub async fn carry(
    local: &dyn StorageBackend,
    remote: &dyn StorageBackend,
    dry_run: bool,
) -> StorageResult<PlaylistReport> {
    let (l, r) = futures::join!(local.list_playlists(), remote.list_playlists());
    let copies = plan(&l?, &r?);
    let mut report = PlaylistReport::default();
    for c in copies {
        if !dry_run && let Err(e) = c.to.pick(local, remote).put_playlist(&c.playlist).await {
            report.failed.push((c.playlist.name.clone(), e.to_string()));
            continue;
        }
        *c.to.pick(&mut report.pulled, &mut report.pushed) += 1;
        report.deletions += usize::from(c.playlist.deleted);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;

    #[test]
    fn the_newer_version_goes_both_ways_and_tombstones_travel() {
        let now = chrono::Utc::now();
        let s = |n: u8| SongId::from_bytes(&[n]);
        let a = SavedPlaylist::new("A", vec![s(1)], now).unwrap();
        let b = SavedPlaylist::new("B", vec![s(2)], now).unwrap();
        let mut a_edited = a.clone();
        a_edited.songs.push(s(3));
        a_edited.touch(now);
        let mut b_gone = b.clone();
        b_gone.delete(now);
        // Here: A edited, B as it was; there: A as it was, B deleted.
        let copies = plan(&[a_edited.clone(), b.clone()], &[a.clone(), b_gone.clone()]);
        assert_eq!(copies.len(), 2);
        assert!(copies.contains(&Copy {
            playlist: a_edited.clone(),
            to: Side::Remote
        }));
        assert!(copies.contains(&Copy {
            playlist: b_gone.clone(),
            to: Side::Local
        }));
        // The same answer seen from the other machine.
        let mirrored = plan(&[a.clone(), b_gone.clone()], &[a_edited.clone(), b.clone()]);
        assert!(
            mirrored
                .iter()
                .all(|c| c.playlist == a_edited || c.playlist == b_gone)
        );
        // Applying the plan leaves nothing to do.
        assert!(plan(&[a_edited.clone(), b_gone.clone()], &[a_edited, b_gone]).is_empty());
    }
}
