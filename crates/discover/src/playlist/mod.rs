//! Playlists over any backend.
//!
//! Both compare songs in a [`Space`]: one model's vectors or a blend, the same choice and the
//! same search as `similar` ([`songrec_rank::search`]).
//!
//! - **From seeds** ([`from_seeds`]): each seed's nearest songs, taken in turn so every seed is
//!   represented, then ordered so each song is close to the one before (greedy chain + 2-opt,
//!   starting near the first seed). The seeds themselves are never in the playlist.
//! - **From A to B** ([`between`]): for evenly spaced points on the great circle from A to B,
//!   the nearest unused song whose progress along A→B is not behind the previous song's.
//!
//! Both hold one copy of each recording ([`songrec_identity::recording`]) and no copy of a seed
//! or an end. Constraints: at most one song per artist / per album, songs to leave out (e.g.
//! of recent playlists, [`crate::history`]) and any metadata [`Filter`].

pub mod order;

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use songrec_rank::{Question, Space};
use songrec_storage::listening::Listening;
use songrec_storage::query::MAX_EXCLUDE;
use songrec_storage::{
    Filter, Match, Ranking, SearchQuery, SongId, SongMetadata, StorageBackend, math,
};

use crate::error::{DiscoverError, DiscoverResult};
use crate::load::{fetch_vectors, unit};

/// Whether the listener's word on a song is "not this" (skipped more than played, last heard
/// as a skip, not starred: [`Listening::disliked`]): such a song never joins a mix, though it
/// may seed one. Playing or starring it brings it back.
fn disliked(m: &SongMetadata) -> bool {
    Listening::of(m).disliked()
}

/// Rules every playlist follows.
///
/// ```
/// let c = songrec_discover::playlist::Constraints { no_repeat_artist: true, ..Default::default() };
/// assert!(!c.no_repeat_album);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Constraints {
    /// At most one song per artist.
    pub no_repeat_artist: bool,
    /// At most one song per album.
    pub no_repeat_album: bool,
    /// Songs never to include.
    pub exclude: HashSet<SongId>,
    /// Metadata conditions on the songs.
    pub filter: Filter,
}

/// A playlist from seed songs.
#[derive(Clone, Debug)]
pub struct SeedRequest {
    /// The seed songs (at least one).
    pub seeds: Vec<SongId>,
    /// Whose vectors: one model or a blend (the same choice as `similar`).
    pub model: Space,
    /// Songs wanted.
    pub n: usize,
    pub constraints: Constraints,
}

/// A playlist travelling from one song to another.
#[derive(Clone, Debug)]
pub struct PathRequest {
    pub from: SongId,
    pub to: SongId,
    /// Whose vectors: one model or a blend (the same choice as `similar`).
    pub model: Space,
    /// Songs wanted, both ends included (at least 2).
    pub n: usize,
    /// Candidates searched per waypoint.
    pub candidates_per_point: usize,
    /// Rules (the ends count for "no repeat").
    pub constraints: Constraints,
}

/// One song of a playlist.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entry {
    pub song: SongMetadata,
    /// Cosine similarity to the previous song.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity_to_previous: Option<f32>,
    /// From-seeds playlists: similarity to the most similar seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_similarity: Option<f32>,
    /// A→B playlists: progress along the line from A (0) to B (1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<f32>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Playlist {
    /// `seeds` or `path`.
    pub kind: &'static str,
    /// Model key (or the blend's, see [`Space::key`]).
    pub model: String,
    /// The seeds, or the two ends.
    pub seeds: Vec<SongMetadata>,
    /// Songs in play order.
    pub entries: Vec<Entry>,
    /// Songs asked for (the playlist is shorter when the library or the rules allow no more).
    pub requested: usize,
}

impl Playlist {
    /// Ids in play order.
    pub fn ids(&self) -> Vec<SongId> {
        self.entries.iter().map(|e| e.song.id.clone()).collect()
    }
}

fn norm_key(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(|x| x.trim().to_lowercase())
        .filter(|x| !x.is_empty())
}

/// Tracks artists and albums already used.
#[derive(Default)]
struct Used {
    artists: HashSet<String>,
    albums: HashSet<String>,
}

impl Used {
    fn blocks(&self, c: &Constraints, m: &SongMetadata) -> bool {
        (c.no_repeat_artist && norm_key(&m.artist).is_some_and(|a| self.artists.contains(&a)))
            || (c.no_repeat_album && norm_key(&m.album).is_some_and(|a| self.albums.contains(&a)))
    }
    fn add(&mut self, m: &SongMetadata) {
        if let Some(a) = norm_key(&m.artist) {
            self.artists.insert(a);
        }
        if let Some(a) = norm_key(&m.album) {
            self.albums.insert(a);
        }
    }
}

/// A song and its unit vector of each of the space's models (all are needed to search).
async fn song_and_vectors(
    backend: &dyn StorageBackend,
    id: &SongId,
    space: &Space,
) -> DiscoverResult<(SongMetadata, Vec<Vec<f32>>)> {
    let meta = backend.get_metadata(id).await?.ok_or_else(|| {
        DiscoverError::Invalid(format!("song {} is not in the library", id.short()))
    })?;
    let mut out = Vec::with_capacity(space.parts.len());
    for p in &space.parts {
        let model = &p.model;
        let e = backend.get_embedding(id, model).await?.ok_or_else(|| {
            DiscoverError::Invalid(format!(
                "{} ({}) has no {} vector; re-ingest it with this embedder or choose another embedder",
                meta.display_name(),
                id.short(),
                model.key()
            ))
        })?;
        if math::norm(&e.vector) == 0.0 {
            return Err(DiscoverError::Invalid(format!(
                "{} has an all-zero {} vector; it cannot seed a playlist",
                meta.display_name(),
                model.key()
            )));
        }
        out.push(unit(&e.vector));
    }
    Ok((meta, out))
}

/// Each part's vectors of `ids` (`None` where a song has none).
async fn part_vectors(
    backend: &dyn StorageBackend,
    space: &Space,
    ids: &[SongId],
) -> DiscoverResult<Vec<Vec<Option<Vec<f32>>>>> {
    let mut out = Vec::with_capacity(space.parts.len());
    for p in &space.parts {
        let mut got = fetch_vectors(backend, &p.model, ids).await?;
        out.push(ids.iter().map(|id| got.remove(id)).collect());
    }
    Ok(out)
}

/// Combined vectors (see [`songrec_rank::combine`]) of known songs followed by fetched ones.
fn combined(
    space: &Space,
    known: &[Vec<Vec<f32>>],
    fetched: Vec<Vec<Option<Vec<f32>>>>,
) -> Vec<Vec<f32>> {
    let blocks: Vec<Vec<Option<Vec<f32>>>> = fetched
        .into_iter()
        .enumerate()
        .map(|(j, rest)| {
            known
                .iter()
                .map(|k| Some(k[j].clone()))
                .chain(rest)
                .collect()
        })
        .collect();
    let dims: Vec<usize> = space.parts.iter().map(|p| p.model.dim).collect();
    songrec_rank::combine(&blocks, &dims, &space.weights())
}

fn search_k(n: usize, excluded: usize, max: usize) -> usize {
    n.saturating_mul(4)
        .saturating_add(excluded)
        .saturating_add(20)
        .min(max)
}

/// A playlist of `n` songs around the seeds.
pub async fn from_seeds(
    backend: &dyn StorageBackend,
    req: &SeedRequest,
) -> DiscoverResult<Playlist> {
    if req.seeds.is_empty() {
        return Err(DiscoverError::Invalid("give at least one seed song".into()));
    }
    if req.seeds.len() > MAX_EXCLUDE {
        return Err(DiscoverError::Invalid(format!(
            "at most {MAX_EXCLUDE} seed songs, got {}",
            req.seeds.len()
        )));
    }
    if req.n == 0 {
        return Err(DiscoverError::Invalid(
            "a playlist needs at least 1 song".into(),
        ));
    }
    let mut seeds = Vec::new();
    let mut seed_vecs = Vec::new();
    for id in &req.seeds {
        let (m, v) = song_and_vectors(backend, id, &req.model).await?;
        if !seeds.iter().any(|s: &SongMetadata| s.id == m.id) {
            seeds.push(m);
            seed_vecs.push(v);
        }
    }
    let seed_ids: Vec<SongId> = seeds.iter().map(|m| m.id.clone()).collect();
    let k = search_k(req.n, req.constraints.exclude.len(), backend.max_results());
    // Each seed's neighbours: the search `similar` runs.
    let q = Question {
        space: req.model.clone(),
        ranking: Ranking {
            k,
            filter: req.constraints.filter.clone(),
            ..Ranking::default()
        },
    };
    let (q, ids) = (&q, &seed_ids);
    let lists: Vec<Vec<Match>> = futures::stream::iter(seed_vecs.iter().cloned())
        .map(|v| async move { songrec_rank::search(backend, q, &v, ids).await })
        .buffered(4)
        .try_collect()
        .await?;

    // Which recording each song is: the seeds first, then every candidate once.
    let mut pool: Vec<SongMetadata> = seeds.clone();
    let mut slot: HashMap<SongId, usize> = (seeds.iter().enumerate())
        .map(|(i, m)| (m.id.clone(), i))
        .collect();
    for m in lists.iter().flatten() {
        if !slot.contains_key(&m.id) {
            slot.insert(m.id.clone(), pool.len());
            pool.push(m.metadata.clone());
        }
    }
    let recording_of = songrec_identity::recording::groups(&pool);
    // The seeds' recordings are taken from the start: no copy of a seed joins the playlist.
    let mut recordings: HashSet<usize> = recording_of[..seeds.len()].iter().copied().collect();

    // Round robin over the seeds' lists.
    let mut used = Used::default();
    let mut taken: HashSet<SongId> = HashSet::new();
    let mut chosen: Vec<SongMetadata> = Vec::new();
    let mut cursors = vec![0usize; lists.len()];
    while chosen.len() < req.n {
        let mut progressed = false;
        for (s, list) in lists.iter().enumerate() {
            if chosen.len() >= req.n {
                break;
            }
            while cursors[s] < list.len() {
                let m = &list[cursors[s]];
                cursors[s] += 1;
                let recording = slot.get(&m.id).map(|&i| recording_of[i]);
                if taken.contains(&m.id)
                    || seed_ids.contains(&m.id)
                    || recording.is_some_and(|r| recordings.contains(&r))
                    || req.constraints.exclude.contains(&m.id)
                    || disliked(&m.metadata)
                    || used.blocks(&req.constraints, &m.metadata)
                {
                    continue;
                }
                taken.insert(m.id.clone());
                recordings.extend(recording);
                used.add(&m.metadata);
                chosen.push(m.metadata.clone());
                progressed = true;
                break;
            }
        }
        if !progressed {
            break;
        }
    }

    // Order for flow, starting with the song closest to the first seed.
    let ids: Vec<SongId> = chosen.iter().map(|m| m.id.clone()).collect();
    let fetched = part_vectors(backend, &req.model, &ids).await?;
    let mut vecs = combined(&req.model, &seed_vecs, fetched);
    let seed_vecs: Vec<Vec<f32>> = vecs.drain(..seeds.len()).collect();
    let start = (0..vecs.len())
        .max_by(|&a, &b| {
            math::dot(&vecs[a], &seed_vecs[0])
                .total_cmp(&math::dot(&vecs[b], &seed_vecs[0]))
                .then(b.cmp(&a))
        })
        .unwrap_or(0);
    let ord = order::flow_order(&vecs, start);
    let entries = ord
        .iter()
        .enumerate()
        .map(|(pos, &i)| Entry {
            song: chosen[i].clone(),
            similarity_to_previous: (pos > 0).then(|| math::dot(&vecs[ord[pos - 1]], &vecs[i])),
            seed_similarity: seed_vecs
                .iter()
                .map(|s| math::dot(s, &vecs[i]))
                .max_by(f32::total_cmp),
            progress: None,
        })
        .collect();
    Ok(Playlist {
        kind: "seeds",
        model: req.model.key(),
        seeds,
        entries,
        requested: req.n,
    })
}

/// A playlist of `n` songs from `from` to `to`, both included.
pub async fn between(backend: &dyn StorageBackend, req: &PathRequest) -> DiscoverResult<Playlist> {
    if req.from == req.to {
        return Err(DiscoverError::Invalid(
            "the first and the last song are the same; for a playlist around one song, give it as a seed"
                .into(),
        ));
    }
    if req.n < 2 {
        return Err(DiscoverError::Invalid(
            "a playlist from one song to another has at least 2 songs".into(),
        ));
    }
    let (ma, a_parts) = song_and_vectors(backend, &req.from, &req.model).await?;
    let (mb, b_parts) = song_and_vectors(backend, &req.to, &req.model).await?;
    let interior = req.n - 2;
    let ends = vec![req.from.clone(), req.to.clone()];
    let k = (req.candidates_per_point.max(1) + req.constraints.exclude.len())
        .min(backend.max_results());
    let ts: Vec<f32> = (1..=interior)
        .map(|i| i as f32 / (interior + 1) as f32)
        .collect();
    // Candidates: each model's nearest songs to each waypoint on that model's great circle.
    let searches: Vec<SearchQuery> = req
        .model
        .parts
        .iter()
        .enumerate()
        .flat_map(|(j, p)| {
            let (a, b, ends) = (&a_parts[j], &b_parts[j], &ends);
            ts.iter().map(move |&t| SearchQuery {
                exclude: ends.clone(),
                ..SearchQuery::new(p.model.clone(), order::slerp(a, b, t), k)
                    .with(|r| r.filter = req.constraints.filter.clone())
            })
        })
        .collect();
    let found: Vec<Vec<Match>> = futures::stream::iter(searches)
        .map(|q| async move { backend.search(&q).await })
        .buffered(4)
        .try_collect()
        .await?;

    // Candidate pool: every song any waypoint found, vectors fetched once.
    let mut pool: BTreeMap<SongId, SongMetadata> = BTreeMap::new();
    let wanted = |m: &&Match| {
        !req.constraints.exclude.contains(&m.id) && !ends.contains(&m.id) && !disliked(&m.metadata)
    };
    for m in found.iter().flatten().filter(wanted) {
        pool.entry(m.id.clone())
            .or_insert_with(|| m.metadata.clone());
    }
    let ids: Vec<SongId> = pool.keys().cloned().collect();
    let fetched = part_vectors(backend, &req.model, &ids).await?;
    let has_one: Vec<bool> = (0..ids.len())
        .map(|i| fetched.iter().any(|p| p[i].is_some()))
        .collect();
    let mut rows = combined(&req.model, &[a_parts, b_parts], fetched);
    let (a, b) = (rows[0].clone(), rows[1].clone());
    let ids: Vec<SongId> = ids
        .into_iter()
        .zip(&has_one)
        .filter_map(|(id, &h)| h.then_some(id))
        .collect();
    let vecs: Vec<Vec<f32>> = rows
        .drain(2..)
        .zip(&has_one)
        .filter_map(|(v, &h)| h.then_some(v))
        .collect();
    let metas: Vec<&SongMetadata> = ids.iter().map(|id| &pool[id]).collect();
    // Each waypoint's nearest candidates in the (combined) space, best first.
    let waypoints: Vec<Vec<usize>> = ts
        .iter()
        .map(|&t| {
            let p = order::slerp(&a, &b, t);
            let mut near: Vec<(usize, f32)> = vecs
                .iter()
                .enumerate()
                .map(|(i, v)| (i, math::dot(&p, v)))
                .collect();
            near.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
            near.into_iter().take(k).map(|(i, _)| i).collect()
        })
        .collect();
    // Recordings: the two ends (0 and 1), then the candidates (2..).
    let mut all: Vec<SongMetadata> = vec![ma.clone(), mb.clone()];
    all.extend(metas.iter().map(|m| (*m).clone()));
    let recording_of = songrec_identity::recording::groups(&all);
    let c = &req.constraints;
    let allowed = |cand: usize, picked: &[usize]| {
        let r = recording_of[cand + 2];
        if r == recording_of[0]
            || r == recording_of[1]
            || picked.iter().any(|&p| recording_of[p + 2] == r)
        {
            return false;
        }
        let mut used = Used::default();
        used.add(&ma);
        used.add(&mb);
        for &p in picked {
            used.add(metas[p]);
        }
        !used.blocks(c, metas[cand])
    };
    let picks = order::pick_path(&a, &b, &vecs, &waypoints, &allowed);

    let mut seq: Vec<(SongMetadata, Vec<f32>)> = vec![(ma.clone(), a.clone())];
    seq.extend(picks.iter().map(|&p| (metas[p].clone(), vecs[p].clone())));
    seq.push((mb.clone(), b.clone()));
    let entries = seq
        .iter()
        .enumerate()
        .map(|(i, (m, v))| Entry {
            song: m.clone(),
            similarity_to_previous: (i > 0).then(|| math::dot(&seq[i - 1].1, v)),
            seed_similarity: None,
            progress: Some(order::progress(v, &a, &b)),
        })
        .collect();
    Ok(Playlist {
        kind: "path",
        model: req.model.key(),
        seeds: vec![ma, mb],
        entries,
        requested: req.n,
    })
}
