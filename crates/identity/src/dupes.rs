//! Duplicate songs: different files of the same music (a song's id is the SHA-256 of its file,
//! so the *same file* is in the library once).
//!
//! - **exact**: the same decoded audio (equal PCM hash): other tags, another container, a
//!   lossless conversion;
//! - **near**: the same recording re-encoded, resampled, trimmed or re-mastered: fingerprints
//!   ([`fingerprint::same_recording`]) **and** waveform signatures that agree
//!   ([`crate::recording::verdict`]);
//! - **alike**: fingerprints that agree over waveforms that do not, or songs sharing a copy:
//!   "sounds alike, not a copy", listed but never deleted by `--delete` nor folded.
//!
//! A song is deleted only for a song it is a copy of **by its own verdict** and that holds all
//! of it, never through a chain of copies ([`find_all`]). Missing fingerprints are computed
//! once (the audio fetched through the backend and decoded) and stored back into the song's
//! metadata (`extra.fingerprint`, see [`fingerprint::FingerprintRecord`]; a new version), so
//! later runs and other machines sharing the library do not recompute them.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
pub use songrec_storage::progress::{NoProgress, Progress};
use songrec_storage::{Filter, SongId, SongMetadata, StorageBackend, StorageError};

use crate::fingerprint::{self, EXTRA_KEY, FingerprintRecord, candidate_pairs};

use crate::recording::{UnionFind, Verdict, verdict, within};
use crate::waveform::Signature;
use crate::{IdentityError, IdentityResult};

/// Settings for [`scan`].
#[derive(Clone, Debug, PartialEq, smart_default::SmartDefault)]
pub struct DupesOptions {
    /// Only songs matching this.
    pub filter: Filter,
    /// Songs fingerprinted at once (0 = one per core).
    pub jobs: usize,
    /// Store computed fingerprints in the songs' metadata.
    #[default = true]
    pub store: bool,
}

/// How a group's songs relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Identical decoded audio.
    Exact,
    /// The same recording, encoded or cut differently.
    Near,
    /// Different recordings whose fingerprints agree but whose waveforms do not, or that share
    /// a copy (a file joined from parts of both agrees with each): they sound alike, they are
    /// not copies of one another (never deleted, never folded).
    Alike,
}

/// One song of a group.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Member {
    pub song: SongMetadata,
    /// The copy `--delete` keeps.
    pub keep: bool,
    /// Compared with the kept copy: share of differing fingerprint bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_error: Option<f32>,
    /// Compared with the kept copy: where this copy starts in it, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_secs: Option<f32>,
    /// Same decoded audio as the kept copy.
    pub same_audio: bool,
    /// Compared with the first member: waveform similarity ([`crate::waveform::similarity`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waveform: Option<f32>,
}

/// Songs that are one another's duplicates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    /// Exact or near.
    pub kind: Kind,
    /// The kept copy first.
    pub members: Vec<Member>,
}

/// A song that could not be checked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub id: SongId,
    pub name: String,
    pub reason: String,
}

/// What [`scan`] found.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DupesReport {
    /// Songs considered.
    pub songs: usize,
    /// Fingerprints computed in this run.
    pub fingerprinted: usize,
    /// Songs that could not be fingerprinted (no audio stored, undecodable).
    pub failed: Vec<Failure>,
    /// Duplicate groups, exact first, then by size.
    pub groups: Vec<Group>,
    /// Recordings that sound alike but are not copies (kind `alike`; one member per
    /// recording, the kept copy of its group): listed, never deleted.
    pub alike: Vec<Group>,
}

impl DupesReport {
    /// Songs `--delete` would remove (every member but the kept one).
    pub fn extras(&self) -> Vec<&SongMetadata> {
        self.groups
            .iter()
            .filter(|g| g.kind != Kind::Alike)
            .flat_map(|g| g.members.iter().filter(|m| !m.keep).map(|m| &m.song))
            .collect()
    }
}

/// A song with its fingerprint, for the pure grouping step.
#[derive(Clone, Debug)]
pub struct Printed {
    pub song: SongMetadata,
    pub pcm: String,
    pub items: Vec<u32>,
    /// Waveform signature (`None` for a version 1 record).
    pub wave: Option<Signature>,
}

impl Printed {
    fn new(song: SongMetadata, rec: FingerprintRecord, items: Vec<u32>) -> Self {
        Printed {
            wave: rec.waveform(),
            song,
            pcm: rec.pcm,
            items,
        }
    }
}

/// Which copy of a group is kept: the longest (an untrimmed copy, by more than a second), then
/// the largest file (higher bitrate or lossless), then the one with the most tags, then the
/// oldest, then the lowest id. Returns `Less` when `a` is the better keeper.
pub fn keeper_order(a: &SongMetadata, b: &SongMetadata) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let dur = if (a.duration_secs - b.duration_secs).abs() > 1.0 {
        b.duration_secs.total_cmp(&a.duration_secs)
    } else {
        Ordering::Equal
    };
    let tags = |m: &SongMetadata| {
        [&m.artist, &m.album, &m.genre]
            .iter()
            .filter(|x| x.is_some())
            .count()
    };
    dur.then(b.file_size.cmp(&a.file_size))
        .then(tags(b).cmp(&tags(a)))
        .then(a.created_at.cmp(&b.created_at))
        .then(a.id.cmp(&b.id))
}

/// Song `j` lies whole within song `i` ([`crate::recording::within`]).
fn holds(songs: &[Printed], i: usize, j: usize) -> bool {
    let (a, b) = (&songs[i], &songs[j]);
    within(
        &a.items,
        a.song.duration_secs,
        &b.items,
        b.song.duration_secs,
    )
}

fn pair_verdict(a: &Printed, b: &Printed) -> Verdict {
    verdict(&a.items, a.wave.as_ref(), &b.items, b.wave.as_ref())
}

/// Song `i` as a member of a group, compared with the group's first song `first`.
fn member(
    songs: &[Printed],
    fps: &[Vec<u32>],
    first: usize,
    i: usize,
    keep: bool,
    same_audio: bool,
) -> Member {
    let (al, waveform) = if i == first || same_audio {
        (None, None)
    } else {
        let w = match pair_verdict(&songs[first], &songs[i]) {
            Verdict::Same { waveform } | Verdict::Alike { waveform } => Some(waveform),
            Verdict::Different | Verdict::Unknown => None,
        };
        (fingerprint::compare(&fps[first], &fps[i]), w)
    };
    Member {
        song: songs[i].song.clone(),
        keep,
        bit_error: al.map(|a| a.bit_error),
        offset_secs: al.map(|a| a.offset_secs()),
        same_audio,
        waveform,
    }
}

/// Duplicate groups and alike groups (pure).
///
/// A member of a duplicate group is a copy of the group's kept song by **its own** verdict:
/// equal decoded audio, or fingerprints and waveforms that agree with one song lying whole
/// within the other ([`crate::recording::within`]: a trim, a re-encode); never by a chain
/// through a third song. Songs are taken in keeper order ([`keeper_order`]); each joins the best
/// kept song it is a copy of, else is kept itself. Songs that share audio without being copies
/// (a file joined from the end of track A and the start of track C agrees with both), and a
/// copy of a member that is no copy of the member's kept song, stand apart: listed together as
/// an alike group ("sounds alike, not a copy"), which `--delete` never touches.
pub fn find_all(songs: &[Printed]) -> (Vec<Group>, Vec<Group>) {
    let n = songs.len();
    // Exact: equal PCM hashes (an equivalence: each class named by its root).
    let mut eq = UnionFind::new(n);
    let mut by_pcm: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in songs.iter().enumerate() {
        by_pcm.entry(s.pcm.as_str()).or_default().push(i);
    }
    for members in by_pcm.values() {
        for w in members.windows(2) {
            eq.union(w[0], w[1]);
        }
    }
    let class: Vec<usize> = (0..n).map(|i| eq.find(i)).collect();
    // Near: classes whose fingerprints and waveforms agree. Alike: fingerprints only.
    let fps: Vec<Vec<u32>> = songs.iter().map(|s| s.items.clone()).collect();
    let mut same: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut same_pairs = Vec::new();
    let mut alike_pairs = Vec::new();
    let mut reach = UnionFind::new(n);
    for (i, j) in candidate_pairs(&fps) {
        let (ci, cj) = (class[i], class[j]);
        if ci == cj {
            continue;
        }
        match pair_verdict(&songs[i], &songs[j]) {
            Verdict::Same { .. } if holds(songs, i, j) || holds(songs, j, i) => {
                same.entry(ci).or_default().push(cj);
                same.entry(cj).or_default().push(ci);
                same_pairs.push((i, j));
                reach.union(ci, cj);
            }
            // Sharing audio without one holding the other (a file joined from two tracks):
            // alike, never deleted.
            Verdict::Same { .. } | Verdict::Alike { .. } => alike_pairs.push((i, j)),
            Verdict::Different | Verdict::Unknown => {}
        }
    }
    // Within each set of songs linked at all, in keeper order: a song joins the best kept
    // song its class is a copy of (or the group its class already went to), else is kept.
    let mut linked: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &c) in class.iter().enumerate() {
        linked.entry(reach.find(c)).or_default().push(i);
    }
    let mut group_of = vec![0usize; n];
    let mut members_of: Vec<Vec<usize>> = Vec::new();
    for mut set in linked.into_values() {
        set.sort_by(|&a, &b| keeper_order(&songs[a].song, &songs[b].song));
        // Kept classes → their group; every class placed → the group its songs go to.
        let mut kept: HashMap<usize, usize> = HashMap::new();
        let mut placed: HashMap<usize, usize> = HashMap::new();
        for i in set {
            let c = class[i];
            let g = placed.get(&c).copied().or_else(|| {
                same.get(&c)
                    .into_iter()
                    .flatten()
                    .filter_map(|d| kept.get(d).copied())
                    .min()
            });
            let g = g.unwrap_or_else(|| {
                members_of.push(Vec::new());
                kept.insert(c, members_of.len() - 1);
                members_of.len() - 1
            });
            placed.insert(c, g);
            group_of[i] = g;
            members_of[g].push(i);
        }
    }
    let keeper: Vec<usize> = members_of.iter().map(|m| m[0]).collect();
    let mut out: Vec<Group> = Vec::new();
    for g in members_of.iter().filter(|g| g.len() > 1) {
        let k = g[0];
        let kind = if g.iter().all(|&i| songs[i].pcm == songs[k].pcm) {
            Kind::Exact
        } else {
            Kind::Near
        };
        let members = g
            .iter()
            .map(|&i| member(songs, &fps, k, i, i == k, songs[i].pcm == songs[k].pcm))
            .collect();
        out.push(Group { kind, members });
    }
    out.sort_by(|a, b| {
        (a.kind == Kind::Near)
            .cmp(&(b.kind == Kind::Near))
            .then(b.members.len().cmp(&a.members.len()))
            .then(a.members[0].song.id.cmp(&b.members[0].song.id))
    });
    // Alike: recordings (by their kept song) linked by alike pairs, or by copies that are
    // copies of songs of another group only.
    let mut auf = UnionFind::new(n);
    for &(i, j) in alike_pairs.iter().chain(&same_pairs) {
        let (ki, kj) = (keeper[group_of[i]], keeper[group_of[j]]);
        auf.union(ki, kj);
    }
    let mut sets: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &k in &keeper {
        sets.entry(auf.find(k)).or_default().push(k);
    }
    let mut alike: Vec<Group> = sets
        .into_values()
        .filter(|g| g.len() > 1)
        .map(|mut g| {
            g.sort_by(|&a, &b| keeper_order(&songs[a].song, &songs[b].song));
            let f = g[0];
            let members = g
                .iter()
                .map(|&i| member(songs, &fps, f, i, true, false))
                .collect();
            Group {
                kind: Kind::Alike,
                members,
            }
        })
        .collect();
    alike.sort_by(|a, b| {
        b.members
            .len()
            .cmp(&a.members.len())
            .then(a.members[0].song.id.cmp(&b.members[0].song.id))
    });
    (out, alike)
}

/// Where to read a song's audio from: the stored file itself when the backend's URL is a
/// local `file://` one, else a copy fetched into `scratch`.
async fn audio_path(
    backend: &dyn StorageBackend,
    m: &SongMetadata,
    scratch: &std::path::Path,
) -> IdentityResult<(PathBuf, bool)> {
    let url = backend
        .audio_url(&m.audio_key(), std::time::Duration::from_secs(3600))
        .await?;
    if let Some(p) = url::Url::parse(&url)
        .ok()
        .filter(|u| u.scheme() == "file")
        .and_then(|u| u.to_file_path().ok())
        && p.is_file()
    {
        return Ok((p, false));
    }
    let dest = scratch.join(m.id.as_str());
    backend.get_audio(&m.audio_key(), &dest).await?;
    Ok((dest, true))
}

/// Fingerprints (computing missing ones) and groups the library's duplicates.
pub async fn scan(
    backend: &dyn StorageBackend,
    opts: &DupesOptions,
    progress: Arc<dyn Progress>,
) -> IdentityResult<DupesReport> {
    let songs = songrec_storage::StorageBackendExt::list_all(backend, &opts.filter).await?;
    let mut report = DupesReport {
        songs: songs.len(),
        ..DupesReport::default()
    };
    let mut printed = Vec::with_capacity(songs.len());
    let mut todo = Vec::new();
    for m in songs {
        let record = m
            .extra
            .get(EXTRA_KEY)
            .and_then(FingerprintRecord::from_extra);
        match record.and_then(|r| Some((fingerprint::decode(&r.fp).ok()?, r))) {
            Some((items, r)) => printed.push(Printed::new(m, r, items)),
            None => todo.push(m),
        }
    }
    progress.start(todo.len() as u64);
    let jobs = songrec_storage::progress::jobs_or_cores(opts.jobs);
    let scratch = tempfile::tempdir().map_err(|e| IdentityError::io(std::env::temp_dir(), e))?;
    let scratch_path = scratch.path().to_path_buf();
    let results: Vec<(SongMetadata, IdentityResult<FingerprintRecord>)> =
        futures::stream::iter(todo)
            .map(|m| {
                let scratch = scratch_path.clone();
                let progress = progress.clone();
                async move {
                    let r = async {
                        let (path, temp) = audio_path(backend, &m, &scratch).await?;
                        let p2 = path.clone();
                        let rec =
                            tokio::task::spawn_blocking(move || fingerprint::analyse_file(&p2))
                                .await
                                .map_err(|e| {
                                    IdentityError::Invalid(format!("analysis failed: {e}"))
                                })?;
                        if temp {
                            let _ = std::fs::remove_file(&path);
                        }
                        let rec = rec?;
                        if opts.store {
                            store_record(backend, &m.id, &rec).await?;
                        }
                        Ok(rec)
                    }
                    .await;
                    progress.advance(1);
                    (m, r)
                }
            })
            .buffer_unordered(jobs.max(1))
            .collect()
            .await;
    for (m, r) in results {
        match r {
            Ok(rec) => {
                report.fingerprinted += 1;
                match fingerprint::decode(&rec.fp) {
                    Ok(items) => printed.push(Printed::new(m, rec, items)),
                    Err(e) => report.failed.push(failure(&m, &e.to_string())),
                }
            }
            Err(IdentityError::Storage(StorageError::NotFound(_))) => {
                report
                    .failed
                    .push(failure(&m, "no audio stored for this song"));
            }
            // A library error ends the run; a song whose file changed or went is reported
            // and the others go on.
            Err(IdentityError::Storage(e)) if e.is_fatal() => return Err(e.into()),
            Err(e) => report.failed.push(failure(&m, &e.to_string())),
        }
    }
    if opts.store && report.fingerprinted > 0 {
        backend.flush().await?;
    }
    report.failed.sort_by(|a, b| a.id.cmp(&b.id));
    printed.sort_by(|a, b| a.song.id.cmp(&b.song.id));
    (report.groups, report.alike) = tokio::task::spawn_blocking(move || find_all(&printed))
        .await
        .map_err(|e| IdentityError::Invalid(format!("grouping failed: {e}")))?;
    Ok(report)
}

fn failure(m: &SongMetadata, reason: &str) -> Failure {
    Failure {
        id: m.id.clone(),
        name: m.display_name(),
        reason: reason.to_owned(),
    }
}

async fn store_record(
    backend: &dyn StorageBackend,
    id: &SongId,
    rec: &FingerprintRecord,
) -> IdentityResult<()> {
    let Some(mut fresh) = backend.get_metadata(id).await? else {
        return Ok(()); // deleted meanwhile
    };
    rec.insert_into(&mut fresh);
    fresh.touch();
    backend.put_metadata(&fresh).await?;
    Ok(())
}

/// Deletes every song of the report's groups except the kept copies; returns what was deleted.
pub async fn delete_extras(
    backend: &dyn StorageBackend,
    report: &DupesReport,
) -> IdentityResult<Vec<SongMetadata>> {
    let mut deleted = Vec::new();
    for m in report.extras() {
        if backend.delete_song(&m.id).await? {
            deleted.push(m.clone());
        }
    }
    backend.flush().await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;

    fn song(name: &str, secs: f64, size: u64) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(name.as_bytes()), name);
        m.duration_secs = secs;
        m.file_size = size;
        m
    }

    /// One signature for every song: only the fingerprints differ.
    fn same_wave() -> Signature {
        crate::waveform::Signature {
            excerpts: vec![crate::waveform::Excerpt {
                at: 0,
                signs: (0..256).map(|i| (i * 7919) % 13 < 6).collect(),
            }],
        }
    }

    fn noisy(a: &[u32], p: f64, r: &mut SplitMix) -> Vec<u32> {
        a.iter()
            .map(|&x| {
                let mut y = x;
                for b in 0..32 {
                    if r.next_f64() < p {
                        y ^= 1 << b;
                    }
                }
                y
            })
            .collect()
    }

    #[test]
    fn groups_exact_and_near_and_keeps_the_best_copy() {
        let mut r = SplitMix::new(5);
        let a: Vec<u32> = (0..300).map(|_| r.next_u64() as u32).collect();
        let other: Vec<u32> = (0..300).map(|_| r.next_u64() as u32).collect();
        let songs = vec![
            Printed {
                song: song("orig", 40.0, 1000),
                pcm: "p1".into(),
                items: a.clone(),
                wave: Some(same_wave()),
            },
            Printed {
                song: song("retagged", 40.0, 1001),
                pcm: "p1".into(),
                items: a.clone(),
                wave: Some(same_wave()),
            },
            Printed {
                song: song("mp3", 40.0, 300),
                pcm: "p2".into(),
                items: noisy(&a, 0.08, &mut r),
                wave: Some(same_wave()),
            },
            Printed {
                song: song("trimmed", 30.0, 900),
                pcm: "p3".into(),
                items: noisy(&a[60..], 0.05, &mut r),
                wave: Some(same_wave()),
            },
            Printed {
                song: song("unrelated", 40.0, 1000),
                pcm: "p4".into(),
                items: other,
                wave: Some(same_wave()),
            },
        ];
        let groups = find_all(&songs).0;
        assert_eq!(groups.len(), 1, "{groups:#?}");
        let g = &groups[0];
        assert_eq!(g.kind, Kind::Near);
        let names: Vec<&str> = g.members.iter().map(|m| m.song.title.as_str()).collect();
        assert_eq!(names[0], "retagged", "longest, then largest file");
        assert_eq!(names.len(), 4);
        assert!(!names.contains(&"unrelated"));
        let trimmed = g
            .members
            .iter()
            .find(|m| m.song.title == "trimmed")
            .unwrap();
        let off = trimmed.offset_secs.unwrap();
        assert!(
            (off - 60.0 / fingerprint::items_per_sec()).abs() < 0.01,
            "{off}"
        );
        assert!(
            g.members
                .iter()
                .find(|m| m.song.title == "orig")
                .unwrap()
                .same_audio
        );
        // Only identical audio: an exact group.
        let exact = find_all(&songs[..2]).0;
        assert_eq!(exact[0].kind, Kind::Exact);
    }

    #[test]
    fn agreeing_fingerprints_over_other_waveforms_are_alike_and_never_deleted() {
        let mut r = SplitMix::new(8);
        let a: Vec<u32> = (0..300).map(|_| r.next_u64() as u32).collect();
        let other_wave = crate::waveform::Signature {
            excerpts: vec![crate::waveform::Excerpt {
                at: 0,
                signs: (0..256).map(|_| r.next_u64() & 1 == 1).collect(),
            }],
        };
        let take = |name: &str, items: Vec<u32>, wave: Option<Signature>| Printed {
            song: song(name, 40.0, 1000),
            pcm: format!("pcm of {name}"),
            items,
            wave,
        };
        let songs = vec![
            take("layer 1", a.clone(), Some(same_wave())),
            take("layer 1.mp3", noisy(&a, 0.02, &mut r), Some(same_wave())),
            take("layer 2", noisy(&a, 0.08, &mut r), Some(other_wave)),
            // A version 1 record: no signature, so its fingerprint alone makes no copy.
            take("old record", noisy(&a, 0.02, &mut r), None),
        ];
        let (groups, alike) = find_all(&songs);
        assert_eq!(groups.len(), 1, "{groups:#?}");
        assert_eq!(groups[0].members.len(), 2);
        assert_eq!(alike.len(), 1, "{alike:#?}");
        let names: Vec<&str> = alike[0]
            .members
            .iter()
            .map(|m| m.song.title.as_str())
            .collect();
        assert_eq!(alike[0].kind, Kind::Alike);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names.contains(&"layer 2"), "{names:?}");
        assert!(alike[0].members.iter().all(|m| m.keep));
        let report = DupesReport {
            groups,
            alike,
            ..DupesReport::default()
        };
        let extras: Vec<&str> = report.extras().iter().map(|m| m.title.as_str()).collect();
        assert_eq!(extras.len(), 1, "{extras:?}");
        assert!(extras[0].starts_with("layer 1"), "{extras:?}");
    }

    #[test]
    fn a_copy_of_a_copy_is_never_deleted() {
        let mut r = SplitMix::new(9);
        let a: Vec<u32> = (0..300).map(|_| r.next_u64() as u32).collect();
        let c: Vec<u32> = (0..300).map(|_| r.next_u64() as u32).collect();
        // B: the end of A then the start of C.
        let b: Vec<u32> = a[100..].iter().chain(&c[..200]).copied().collect();
        let take = |name: &str, secs: f64, items: Vec<u32>| Printed {
            song: song(name, secs, 1000),
            pcm: format!("pcm of {name}"),
            items,
            wave: Some(same_wave()),
        };
        // Durations as long as the fingerprints: B is the longest.
        let secs = |v: &[u32]| f64::from(v.len() as f32 / fingerprint::items_per_sec());
        let mut songs = vec![
            take("A", secs(&a), a.clone()),
            take("B", secs(&b), b),
            take("C", secs(&c), c),
            take("A copy", secs(&a), noisy(&a, 0.02, &mut r)),
        ];
        songs[3].song.file_size = 500; // A is kept
        let names = |g: &Group| -> Vec<String> {
            let mut n: Vec<String> = g.members.iter().map(|m| m.song.title.clone()).collect();
            n.sort();
            n
        };
        // B agrees with A and with C but lies within neither: only A's copy is deleted, and
        // the three recordings are listed as sounding alike, the longest (B) first or not.
        for b_first in [true, false] {
            songs[1].song.file_size = if b_first { 1000 } else { 1 };
            if !b_first {
                songs[1].song.duration_secs = songs[0].song.duration_secs;
            }
            let (groups, alike) = find_all(&songs);
            let groups_named: Vec<Vec<String>> = groups.iter().map(names).collect();
            assert_eq!(groups_named, [["A", "A copy"]], "B first: {b_first}");
            let alike_named: Vec<Vec<String>> = alike.iter().map(names).collect();
            assert_eq!(alike_named, [["A", "B", "C"]], "B first: {b_first}");
            let report = DupesReport {
                groups,
                alike,
                ..DupesReport::default()
            };
            let extras: Vec<&str> = report.extras().iter().map(|m| m.title.as_str()).collect();
            assert_eq!(extras, ["A copy"], "B first: {b_first}");
        }
    }

    #[test]
    fn inverted_index_finds_the_same_pairs_as_brute_force() {
        let mut r = SplitMix::new(6);
        // 200 unrelated fingerprints plus noisy and shifted copies of three of them.
        let mut fps: Vec<Vec<u32>> = (0..200)
            .map(|_| (0..250).map(|_| r.next_u64() as u32).collect())
            .collect();
        let c1 = noisy(&fps[3], 0.1, &mut r);
        let c2 = noisy(&fps[50][40..], 0.05, &mut r);
        let c3 = noisy(&fps[120], 0.15, &mut r);
        fps.extend([c1, c2, c3]);
        let pairs = candidate_pairs(&fps);
        for want in [(3, 200), (50, 201), (120, 202)] {
            assert!(pairs.contains(&want), "{want:?} missing");
        }
        assert!(pairs.len() < 50, "few spurious candidates: {}", pairs.len());
    }

    #[test]
    fn keeper_prefers_long_then_large() {
        use std::cmp::Ordering::*;
        assert_eq!(
            keeper_order(&song("a", 100.0, 1), &song("b", 90.0, 9)),
            Less
        );
        assert_eq!(
            keeper_order(&song("a", 100.0, 1), &song("b", 100.5, 9)),
            Greater
        );
    }
}
