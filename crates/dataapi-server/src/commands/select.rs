//! Document selection shared by reads and writes.

use crate::error::{ApiError, ApiResult, Code, err};
use crate::filter::Filter;
use crate::sort::{Sort, cmp_docs};
use crate::store::{Collection, StoredDoc};
use crate::vector;

/// Documents that may match (by `_id` lookup when the filter names ids), in key order.
pub(crate) fn candidates<'a>(
    coll: &'a Collection,
    filter: &'a Filter,
) -> Box<dyn Iterator<Item = (&'a String, &'a StoredDoc)> + 'a> {
    match filter.id_keys() {
        Some(mut keys) => {
            keys.sort();
            keys.dedup();
            Box::new(
                keys.into_iter()
                    .filter_map(move |k| coll.docs.get_key_value(&k))
                    .filter(move |(_, d)| filter.matches(d)),
            )
        }
        None => Box::new(coll.docs.iter().filter(move |(_, d)| filter.matches(d))),
    }
}

/// Vector search: top `limit` matches by similarity (ties by key).
pub(crate) fn vector_search<'a>(
    coll: &'a Collection,
    filter: &'a Filter,
    q: &vector::StoredVector,
    limit: usize,
) -> Vec<(&'a String, &'a StoredDoc, f32)> {
    let Some(vd) = &coll.def.vector else {
        return Vec::new();
    };
    let mut hits: Vec<(&String, &StoredDoc, f32)> = candidates(coll, filter)
        .filter_map(|(k, d)| {
            let v = d.vector.as_ref()?;
            if v.values.len() != q.values.len() {
                return None;
            }
            vector::similarity(vd.metric, q, v).map(|s| (k, d, s))
        })
        .collect();
    let order = |a: &(&String, &StoredDoc, f32), b: &(&String, &StoredDoc, f32)| {
        b.2.total_cmp(&a.2).then_with(|| a.0.cmp(b.0))
    };
    if limit == 0 {
        return Vec::new();
    }
    if hits.len() > limit {
        hits.select_nth_unstable_by(limit - 1, order);
        hits.truncate(limit);
    }
    hits.sort_by(order);
    hits
}

fn overloaded_sort(cap: usize) -> ApiError {
    err(
        Code::OVERLOADED_SORT_ROW_LIMIT,
        format!(
            "The command used in-memory sorting which has a limit of {cap} documents. Resend the command using a more specific filter to reduce the number of documents sorted."
        ),
    )
}

/// All matches sorted by regular sort keys. Like the real service
/// (`service/operation/collections/CollectionReadOperation.java`, `findOrderDocument`), the
/// command fails as soon as the number of matches reaches `cap`: 10,000 matches already fail.
pub(crate) fn sorted_matches<'a>(
    coll: &'a Collection,
    filter: &'a Filter,
    keys: &[crate::sort::SortKey],
    cap: usize,
) -> ApiResult<Vec<(&'a String, &'a StoredDoc)>> {
    let mut all = Vec::new();
    for item in candidates(coll, filter) {
        all.push(item);
        if all.len() >= cap {
            return Err(overloaded_sort(cap));
        }
    }
    all.sort_by(|a, b| cmp_docs(keys, a.1, b.1));
    Ok(all)
}

/// The single document a *One command acts on, with its similarity.
pub(crate) fn select_one<'a>(
    coll: &'a Collection,
    filter: &'a Filter,
    sort: &Sort,
    cap: usize,
) -> ApiResult<Option<(&'a String, &'a StoredDoc, Option<f32>)>> {
    Ok(match sort {
        Sort::None => candidates(coll, filter).next().map(|(k, d)| (k, d, None)),
        Sort::Regular(keys) => sorted_matches(coll, filter, keys, cap)?
            .into_iter()
            .next()
            .map(|(k, d)| (k, d, None)),
        Sort::Vector(q) => vector_search(coll, filter, q, 1)
            .into_iter()
            .next()
            .map(|(k, d, s)| (k, d, Some(s))),
    })
}
