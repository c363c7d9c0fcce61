//! Replaying a listener against the radio, without a player: the same session, mix and picks
//! as [`crate::radio`] (the queue kept [`Rules::ahead`] songs ahead, topped up each time the
//! current song changes, the song just left judged first), with a listener who skips every
//! song `skips` says and hears out the others. What `songrec bench radio` measures: how fast
//! skips lead the radio away from what is skipped.

use std::collections::HashSet;

use songrec_storage::filter::ValueRef;
use songrec_storage::{Field, SongId, SongMetadata, StorageBackend};

use crate::error::MpdResult;
use crate::plan::{self, Candidate, Session};
use crate::radio::{Mix, MixAsk, RadioOptions, mix, neighbours};
use crate::skips::Verdict;

/// One song the listener met after the seed.
#[derive(Clone, Debug)]
pub struct Heard {
    pub song: SongMetadata,
    pub verdict: Verdict,
}

/// Plays the radio from `seed` (heard out: the listener chose it) until the listener has met
/// `steps` more songs or the mix runs out. Each song is skipped when `skips(song)` says so.
pub async fn replay(
    backend: &dyn StorageBackend,
    seed: &SongMetadata,
    steps: usize,
    opts: &RadioOptions,
    skips: &(dyn Fn(&SongMetadata) -> bool + Send + Sync),
) -> MpdResult<Vec<Heard>> {
    let mut session = Session::default();
    let mut queue: Vec<SongMetadata> = vec![seed.clone()];
    let mut heard = Vec::new();
    // `queue[pos]` is the current song.
    let mut pos = 0;
    loop {
        // The song just left is judged when the next one starts; the seed is heard out.
        if pos > 0 {
            let left = queue[pos - 1].clone();
            let verdict = if pos > 1 && skips(&left) {
                Verdict::Skipped
            } else {
                Verdict::Played
            };
            session.listened(&left.id, verdict);
            if verdict == Verdict::Skipped {
                let n = session.avoid_count(opts.avoid_per_skip);
                session.avoid(neighbours(backend, &left, n, opts).await?);
            }
            if pos > 1 {
                heard.push(Heard {
                    song: left,
                    verdict,
                });
                if heard.len() >= steps {
                    break;
                }
            }
        }
        top_up(backend, &mut session, &mut queue, pos, opts).await?;
        if pos + 1 >= queue.len() {
            break; // nothing after the current song: the mix ran out
        }
        pos += 1;
    }
    Ok(heard)
}

/// Tops the queue up after `queue[pos]` as the radio does.
async fn top_up(
    backend: &dyn StorageBackend,
    session: &mut Session,
    queue: &mut Vec<SongMetadata>,
    pos: usize,
    opts: &RadioOptions,
) -> MpdResult<()> {
    let Some(current) = queue.get(pos).cloned() else {
        return Ok(());
    };
    let need = plan::wanted(queue.len(), Some(pos), opts.rules.ahead);
    if need == 0 {
        return Ok(());
    }
    let in_queue: Vec<SongId> = queue.iter().map(|m| m.id.clone()).collect();
    let window: Vec<SongMetadata> = queue[pos..].to_vec();
    let Some(Mix {
        exclude, playlist, ..
    }) = mix(
        backend,
        session,
        &MixAsk {
            current: Some(&current),
            fallback: &[],
            also: in_queue,
            n: need * 2 + window.len() + 5,
        },
        opts,
    )
    .await?
    else {
        return Ok(());
    };
    // A song's id stands for its URI.
    let candidates: Vec<Candidate> = playlist
        .entries
        .iter()
        .map(|e| Candidate {
            song: &e.song,
            uri: Some(e.song.id.as_str().to_owned()),
        })
        .collect();
    let queued: HashSet<String> = queue.iter().map(|m| m.id.as_str().to_owned()).collect();
    let window: Vec<&SongMetadata> = window.iter().collect();
    for i in plan::pick(&candidates, need, &exclude, &queued, &window, &opts.rules) {
        session.queued(&candidates[i].song.id);
        queue.push(candidates[i].song.clone());
    }
    Ok(())
}

/// A song's label under `field` (its first value, as text; `None` when it has none).
pub fn label_of(m: &SongMetadata, field: &Field) -> Option<String> {
    let mut out = None;
    field.any_value(m, |v| {
        out = Some(match v {
            ValueRef::Text(t) => t.trim().to_lowercase(),
            ValueRef::Number(n) => n.to_string(),
            ValueRef::Bool(b) => b.to_string(),
        });
        true
    });
    out.filter(|s| !s.is_empty())
}

/// How a radio seeded in one label, with a listener who skips that label, went on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Steering {
    /// The label skipped (the seed's).
    pub label: String,
    /// Runs (one per seed).
    pub runs: usize,
    /// Songs of the skipped label among the first [`EARLY`] songs met, on average.
    pub early: f64,
    /// ... and among the songs met after those.
    pub late: f64,
    /// Songs met until the last song of the skipped label, on average (0: none came).
    pub last_at: f64,
}

/// Songs counted as "early" in [`Steering`].
pub const EARLY: usize = 5;

/// The [`Steering`] of some replays (each the labels of the songs met, in order) of a
/// listener skipping `label`. Pure.
///
/// ```
/// use songrec_mpd::replay::steering_of;
/// let runs = vec![
///     vec![Some("g".to_owned()), Some("g".to_owned()), Some("h".to_owned())],
///     vec![Some("h".to_owned()), None, Some("g".to_owned())],
/// ];
/// let s = steering_of("g", &runs);
/// assert_eq!((s.runs, s.early, s.last_at), (2, 1.5, 2.5));
/// ```
pub fn steering_of(label: &str, runs: &[Vec<Option<String>>]) -> Steering {
    let is = |l: &Option<String>| l.as_deref() == Some(label);
    // The mean over the runs of `per_run`.
    let mean = |per_run: &dyn Fn(&[Option<String>]) -> usize| {
        runs.iter().map(|r| per_run(r)).sum::<usize>() as f64 / runs.len().max(1) as f64
    };
    Steering {
        label: label.to_owned(),
        runs: runs.len(),
        early: mean(&|r| r.iter().take(EARLY).filter(|l| is(l)).count()),
        late: mean(&|r| r.iter().skip(EARLY).filter(|l| is(l)).count()),
        last_at: mean(&|r| r.iter().rposition(is).map_or(0, |i| i + 1)),
    }
}

/// For every label of `field` with at least `min_songs` songs among `songs`: replays from up
/// to `seeds` of its songs (spread over them) with a listener who skips that label, `steps`
/// songs each, and sums the runs up ([`steering_of`]).
pub async fn steering(
    backend: &dyn StorageBackend,
    songs: &[SongMetadata],
    field: &Field,
    min_songs: usize,
    seeds: usize,
    steps: usize,
    opts: &RadioOptions,
) -> MpdResult<Vec<Steering>> {
    let mut by: std::collections::BTreeMap<String, Vec<&SongMetadata>> = Default::default();
    for m in songs {
        if let Some(l) = label_of(m, field) {
            by.entry(l).or_default().push(m);
        }
    }
    let mut out = Vec::new();
    for (label, members) in &by {
        if members.len() < min_songs {
            continue;
        }
        let every = (members.len() / seeds.max(1)).max(1);
        let mut runs = Vec::new();
        for seed in members.iter().step_by(every).take(seeds) {
            let skip_it = |m: &SongMetadata| label_of(m, field).as_deref() == Some(label.as_str());
            let heard = replay(backend, seed, steps, opts, &skip_it).await?;
            runs.push(heard.iter().map(|h| label_of(&h.song, field)).collect());
        }
        out.push(steering_of(label, &runs));
    }
    Ok(out)
}
