//! Searching the index: the graph search with filters inside it, the unindexed tail scanned
//! exactly, and the fallback to the exact scan.

use std::sync::Arc;

use songrec_storage::math::{self, Scored};
use songrec_storage::{Metric, SearchQuery, StorageResult};

use super::{Ranked, ann_err, record_no, unit};
use crate::ann_cache::AnnMap;
use crate::layout::RegisteredModel;
use crate::pack::{self, CandRow};
use crate::state::{Inner, State};

impl Inner {
    /// An approximate search, or `None` when the exact scan must answer (below the size
    /// threshold, `exact` asked, a metric or filter the index cannot serve, no usable index,
    /// or widening ran out before `offset + k` results passed).
    pub(crate) fn search_ann(
        &self,
        st: &mut State,
        m: &RegisteredModel,
        q: &SearchQuery,
        rows: &Arc<Vec<CandRow>>,
        exclude: &std::collections::HashSet<[u8; 32]>,
    ) -> StorageResult<Option<Vec<Ranked>>> {
        let o = &self.opts.ann;
        let n = rows.len();
        let Some(want) = q.ranking.offset.checked_add(q.ranking.k) else {
            return Ok(None);
        };
        if q.ranking.exact
            || n < o.min_vectors
            || !matches!(q.ranking.metric, Metric::Cosine | Metric::Dot)
            || want == 0
            || want > n / 8
        {
            return Ok(None);
        }
        if !q.ranking.filter.is_empty() {
            let step = (n / 2000).max(1);
            let (mut seen, mut kept) = (0usize, 0usize);
            for c in rows.iter().step_by(step) {
                seen += 1;
                kept += usize::from(st.songs.matches(c.slot as usize, &q.ranking.filter));
            }
            let share = kept as f32 / seen.max(1) as f32;
            if share < o.min_selectivity || (share * n as f32) < (4 * want) as f32 {
                tracing::debug!(
                    "filter keeps ~{:.1}% of the songs: exact scan",
                    share * 100.0
                );
                return Ok(None);
            }
        }
        let qn = math::norm(&q.vector);
        let Some(qv) = unit(&q.vector, qn) else {
            return Ok(None);
        };
        if !self.ensure_ann(st, m)? {
            return Ok(None);
        }
        let key = m.model.file_key();
        let dim = m.model.dim;
        let State {
            anns, packs, songs, ..
        } = st;
        let (Some(ann), Some(cache)) = (anns.get_mut(&key), packs.get(&key)) else {
            return Ok(None);
        };
        if q.ranking.metric == Metric::Dot && !ann.entry.unit_norm {
            return Ok(None);
        }
        let pack = &cache.pack;
        let committed = pack.committed();
        let map = match &ann.map {
            Some((r, c, map)) if Arc::ptr_eq(r, rows) && *c == committed => Arc::clone(map),
            _ => {
                let map = Arc::new(ann_map(rows, dim, committed, ann.entry.covered));
                ann.map = Some((Arc::clone(rows), committed, Arc::clone(&map)));
                map
            }
        };
        let rows: &[CandRow] = rows;
        let songs: &crate::songs::Songs = songs;
        let pass = |ci: usize| {
            rows.get(ci).is_some_and(|c| {
                (exclude.is_empty() || !exclude.contains(&c.row.id))
                    && songs.matches(c.slot as usize, &q.ranking.filter)
            })
        };
        let scored = |ci: usize| -> Option<Ranked> {
            let c = rows.get(ci)?;
            let (s, _) = math::score(
                q.ranking.metric,
                math::dot(&q.vector, pack.vector(&c.row)),
                qn,
                c.row.norm,
            );
            (!s.is_nan() && q.ranking.threshold.is_none_or(|t| s >= t)).then_some(Scored {
                score: s,
                key: (c.row.id, ci as u32),
            })
        };
        // The candidate a graph key names.
        let cand = |k: u64| {
            let c = usize::try_from(k).ok().and_then(|k| map.by_record.get(k));
            c.filter(|&&c| c != 0).map(|&c| c as usize - 1)
        };
        // The rows the graph does not hold, scanned exactly once.
        let tail: Vec<Ranked> = map
            .unindexed
            .iter()
            .map(|&ci| ci as usize)
            .filter(|&ci| pass(ci))
            .filter_map(scored)
            .collect();
        let mut count = (2 * want).max(20);
        let limit = (64 * want).max(4096).min(n);
        let base_ef = o.ef_search_for(ann.index.size());
        loop {
            let ef = base_ef.max(count);
            ann.index.change_expansion_search(ef);
            let found = ann
                .index
                .filtered_search(&qv, count, |k| cand(k).is_some_and(pass));
            ann.index.change_expansion_search(base_ef);
            let found = found.map_err(|e| ann_err("search", e))?;
            let mut all: Vec<Ranked> = tail.clone();
            let exhausted = found.keys.len() < count;
            all.extend(
                found
                    .keys
                    .into_iter()
                    .filter_map(|k| cand(k).and_then(scored)),
            );
            if all.len() >= want {
                all.sort();
                all.truncate(want);
                return Ok(Some(all));
            }
            if exhausted || count >= limit {
                tracing::debug!(
                    "approximate search found {} of {want} results: exact scan",
                    all.len()
                );
                return Ok(None);
            }
            count = (count * 4).min(limit);
        }
    }
}

fn ann_map(rows: &[CandRow], dim: usize, committed: usize, covered: usize) -> AnnMap {
    let mut by_record = vec![0u32; record_no(committed.max(pack::HEADER), dim) as usize];
    let mut unindexed = Vec::new();
    for (ci, c) in rows.iter().enumerate() {
        if let Some(slot) = by_record.get_mut(record_no(c.row.offset, dim) as usize) {
            *slot = ci as u32 + 1;
        }
        if c.row.offset >= covered || !(c.row.norm.is_finite() && c.row.norm > 0.0) {
            unindexed.push(ci as u32);
        }
    }
    AnnMap {
        by_record,
        unindexed,
    }
}
