//! Similarity search over a model's candidate rows (ranking, split across threads for large
//! libraries) and the sort order of listings.

use std::collections::HashSet;
use std::sync::Arc;

use songrec_storage::math::{self, TopK};
use songrec_storage::query::{sort_songs, sort_text};
use songrec_storage::{
    Filter, Match, SearchQuery, SongId, SongMetadata, SortKey, StorageError, StorageResult,
};

use crate::pack::{CandRow, Pack};
use crate::songs::ListOrder;
use crate::state::{Inner, State};

/// Rows above which a search is split across threads.
const PARALLEL_ROWS: usize = 4096;

impl Inner {
    pub(crate) fn search(&self, st: &mut State, q: &SearchQuery) -> StorageResult<Vec<Match>> {
        q.validate()?;
        let Some(m) = st.model(&q.model).cloned() else {
            return Ok(Vec::new());
        };
        q.model.same_dim_as(&m.model)?;
        if math::checked_norm(&q.vector).is_none() {
            return Err(StorageError::InvalidInput(
                "the query vector's norm overflows float32".into(),
            ));
        }
        let rows = self.candidates(st, &m)?;
        let exclude: HashSet<[u8; 32]> = q.exclude.iter().map(SongId::to_bytes).collect();
        let (ranked, approximate) = match self.search_ann(st, &m, q, &rows, &exclude)? {
            Some(top) => (top, true),
            None => (rank(pack_of(st, &m)?, &rows, &st.songs, q, &exclude), false),
        };
        let pack = pack_of(st, &m)?;
        let qn = math::norm(&q.vector);
        ranked
            .into_iter()
            .skip(q.ranking.offset)
            .map(|s| {
                // Rows and songs come from one state (see `State::meta_gen`): a miss is a bug,
                // reported as an error rather than a panic.
                let c = rows.get(s.key.1 as usize).copied();
                let meta = c.and_then(|c| st.songs.get(c.slot as usize).map(|m| (c, m)));
                let Some((c, meta)) = meta.filter(|(c, m)| m.id.to_bytes() == c.row.id) else {
                    return Err(StorageError::backend(
                        "local",
                        format!("search of {}: a result names no song", m.model.key()),
                    ));
                };
                let d = math::dot(&q.vector, pack.vector(&c.row));
                let (similarity, distance) = math::score(q.ranking.metric, d, qn, c.row.norm);
                Ok(Match {
                    id: meta.id.clone(),
                    similarity,
                    distance,
                    metadata: meta.clone(),
                    approximate,
                })
            })
            .collect()
    }
}

fn pack_of<'a>(st: &'a State, m: &crate::layout::RegisteredModel) -> StorageResult<&'a Pack> {
    let cache = st.packs.get(&m.model.file_key());
    Ok(&cache
        .ok_or_else(|| StorageError::NotFound(m.model.key()))?
        .pack)
}

/// Scores candidate rows and keeps the best `offset + k`, best first, keyed by (id, row).
fn rank(
    pack: &Pack,
    rows: &[CandRow],
    songs: &crate::songs::Songs,
    q: &SearchQuery,
    exclude: &HashSet<[u8; 32]>,
) -> Vec<crate::ann::Ranked> {
    let qn = math::norm(&q.vector);
    let want = q.ranking.offset.saturating_add(q.ranking.k);
    let scan = |base: usize, chunk: &[CandRow]| {
        let mut top: TopK<([u8; 32], u32)> = TopK::new(want);
        for (i, c) in chunk.iter().enumerate() {
            if (!exclude.is_empty() && exclude.contains(&c.row.id))
                || !songs.matches(c.slot as usize, &q.ranking.filter)
            {
                continue;
            }
            let d = math::dot(&q.vector, pack.vector(&c.row));
            let (s, _) = math::score(q.ranking.metric, d, qn, c.row.norm);
            if q.ranking.threshold.is_some_and(|t| s < t) || top.floor().is_some_and(|f| s < f) {
                continue;
            }
            top.push(s, (c.row.id, (base + i) as u32));
        }
        top
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let top = if rows.len() >= PARALLEL_ROWS && threads > 1 {
        let chunk = rows.len().div_ceil(threads);
        std::thread::scope(|s| {
            let handles: Vec<_> = rows
                .chunks(chunk)
                .enumerate()
                .map(|(j, c)| s.spawn(move || scan(j * chunk, c)))
                .collect();
            let mut all = TopK::new(want);
            for h in handles {
                all.merge(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            all
        })
    } else {
        scan(0, rows)
    };
    top.into_sorted()
}

/// The slots of the songs `filter` keeps, in listing order (see [`ListOrder`]). Songs not
/// decoded yet are read without their free-form fields unless the filter tests one, and are
/// not kept decoded: only the page returned is.
///
/// `first`: only the first this many are needed (a first page). Then, for an order other than by
/// id, just those are selected and sorted (linear in the songs), nothing is kept for later pages,
/// and the returned count is the number of matches. Otherwise the whole order is computed and kept.
pub(crate) fn list_order(
    st: &mut State,
    filter: &Filter,
    sort: SortKey,
    descending: bool,
    first: Option<usize>,
) -> (Arc<Vec<u32>>, usize) {
    if let Some(o) = &st.list_order
        && o.meta_gen == st.meta_gen
        && o.sort == sort
        && o.descending == descending
        && &o.filter == filter
    {
        return (Arc::clone(&o.slots), o.slots.len());
    }
    let songs = &st.songs;
    let slots: Vec<u32> = if sort == SortKey::Id {
        let mut keyed: Vec<([u8; 32], u32)> = (0..songs.len())
            .filter(|&i| songs.matches(i, filter))
            .map(|i| (songs.raw_id(i), i as u32))
            .collect();
        keyed.sort_unstable();
        if descending {
            keyed.reverse();
        }
        keyed.into_iter().map(|(_, i)| i).collect()
    } else {
        // Sorting by title or artist without a filter reads just those two fields.
        let head_only = filter.is_empty() && matches!(sort, SortKey::Title | SortKey::Artist);
        if head_only && let Some(n) = first.filter(|&n| n < songs.len()) {
            return (
                Arc::new(first_by_text(songs, sort, descending, n)),
                songs.len(),
            );
        }
        let metas: Vec<(u32, std::borrow::Cow<'_, SongMetadata>)> = (0..songs.len())
            .filter_map(|i| {
                if !filter.is_empty() {
                    // Filtered: decoded (and kept) like a filtered search.
                    let m = &songs[i];
                    return filter
                        .matches(m)
                        .then_some((i as u32, std::borrow::Cow::Borrowed(m)));
                }
                let m = if head_only {
                    songs.head(i)
                } else {
                    songs.light(i)
                };
                Some((i as u32, m))
            })
            .collect();
        let mut hits: Vec<(u32, &SongMetadata)> = metas.iter().map(|(i, m)| (*i, &**m)).collect();
        let total = hits.len();
        sort_songs(&mut hits, sort, descending, first);
        if first.is_some_and(|n| n < total) {
            return (Arc::new(hits.into_iter().map(|(i, _)| i).collect()), total);
        }
        hits.into_iter().map(|(i, _)| i).collect()
    };
    let slots = Arc::new(slots);
    st.list_order = Some(ListOrder {
        filter: filter.clone(),
        sort,
        descending,
        meta_gen: st.meta_gen,
        slots: Arc::clone(&slots),
    });
    let n = slots.len();
    (slots, n)
}

/// The key [`sort_songs`] orders by title or artist with: (has an artist, lowercased text,
/// raw id); raw ids order like their hex strings.
fn text_key(m: &SongMetadata, raw_id: [u8; 32], key: SortKey) -> (bool, String, [u8; 32]) {
    (
        key == SortKey::Artist && m.artist.is_some(),
        sort_text(m, key),
        raw_id,
    )
}

/// The first `n` slots in title or artist order (as [`sort_songs`] would put them), reading
/// just those two fields of each song and keeping only `n` keys: a first page of a million
/// songs costs one pass and O(n) memory, not a sort of every key.
pub(crate) fn first_by_text(
    songs: &crate::songs::Songs,
    key: SortKey,
    descending: bool,
    n: usize,
) -> Vec<u32> {
    /// The `n` smallest of `keyed` in order, keeping `n` at a time (the heap's top is the
    /// worst kept); keys are unique (they end with the raw id).
    fn smallest<K: Ord>(n: usize, cap: usize, keyed: impl Iterator<Item = (K, u32)>) -> Vec<u32> {
        let mut heap = std::collections::BinaryHeap::with_capacity(cap);
        for k in keyed {
            if heap.len() < n {
                heap.push(k);
            } else if heap.peek().is_some_and(|top| k < *top) {
                heap.pop();
                heap.push(k);
            }
        }
        heap.into_sorted_vec().into_iter().map(|k| k.1).collect()
    }
    if n == 0 {
        return Vec::new();
    }
    // `n` may be a user's count: reserve no more than the songs there are.
    let cap = n.min(songs.len()) + 1;
    let keyed =
        (0..songs.len()).map(|i| (text_key(&songs.head(i), songs.raw_id(i), key), i as u32));
    if descending {
        smallest(n, cap, keyed.map(|(k, i)| (std::cmp::Reverse(k), i)))
    } else {
        smallest(n, cap, keyed)
    }
}
