//! Read commands: find, findOne, countDocuments, estimatedDocumentCount.

use std::ops::Bound;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::catalog::{CollRef, counted, filter_only, lookup, lookup_sorted, one};
use super::fields::{check_fields, no_options, opt_bool, opt_int, opt_str, options};
use super::limits::{Limits, MAX_COUNT, MAX_VECTOR_LIMIT};
use super::response::Response;
use super::select::{candidates, select_one, sorted_matches, vector_search};
use crate::error::{ApiError, ApiResult, Code, err, field_invalid};
use crate::filter::Filter;
use crate::json::f32_to_json;
use crate::projection::Projection;
use crate::sort::Sort;
use crate::store::{Collection, StoredDoc};

/// Opaque paging state: how many documents were returned so far and the
/// key of the last one.
pub(super) fn encode_page_state(returned: usize, last_key: &str) -> String {
    STANDARD.encode(format!("{returned}|{last_key}"))
}

/// Most documents a page state may claim were returned: far beyond any real listing, and
/// low enough that adding a page to it cannot overflow.
const MAX_PAGE_STATE_COUNT: usize = u32::MAX as usize;

pub(super) fn decode_page_state(s: &str) -> ApiResult<(usize, String)> {
    let bad = || field_invalid("options.pageState", &json!(s), "not a valid page state");
    let bytes = STANDARD.decode(s).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (n, key) = text.split_once('|').ok_or_else(bad)?;
    let n: usize = n.parse().map_err(|_| bad())?;
    if n > MAX_PAGE_STATE_COUNT {
        return Err(bad());
    }
    Ok((n, key.to_owned()))
}

/// Documents strictly after `after` (all when `None`), in key order, matching `filter`.
pub(super) fn matches_after<'a>(
    coll: &'a Collection,
    filter: &'a Filter,
    after: Option<&str>,
) -> Box<dyn Iterator<Item = (&'a String, &'a StoredDoc)> + 'a> {
    match after {
        None => candidates(coll, filter),
        Some(k) => {
            if filter.id_keys().is_some() {
                let k = k.to_owned();
                Box::new(candidates(coll, filter).filter(move |(key, _)| **key > k))
            } else {
                let range = coll
                    .docs
                    .range::<str, _>((Bound::Excluded(k), Bound::Unbounded));
                Box::new(range.filter(move |(_, d)| filter.matches(d)))
            }
        }
    }
}

fn render(proj: &Projection, doc: &StoredDoc, similarity: Option<f32>) -> Value {
    let mut m = proj.apply(doc);
    if let Some(s) = similarity {
        m.insert("$similarity".into(), f32_to_json(s));
    }
    Value::Object(m)
}

fn sort_vector_status(status: &mut Map<String, Value>, sort: &Sort) {
    let v = match sort.vector() {
        Some(q) => Value::Array(q.values.iter().map(|&x| f32_to_json(x)).collect()),
        None => Value::Null,
    };
    status.insert("sortVector".into(), v);
}

pub(super) fn find(t: CollRef, limits: &Limits, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "projection", "sort", "options"])?;
    let opts = options(
        body,
        &[
            "limit",
            "skip",
            "pageState",
            "includeSimilarity",
            "includeSortVector",
        ],
    )?;
    let filter = Filter::parse(body.get("filter"))?;
    let proj = Projection::parse(body.get("projection"))?;
    let limit = opt_int(&opts, "limit", 1)?.map(|n| n as usize);
    let skip = opt_int(&opts, "skip", 0)?.map(|n| n as usize);
    let page_state = opt_str(&opts, "pageState")?.filter(|s| !s.is_empty());
    let include_similarity = opt_bool(&opts, "includeSimilarity")?;
    let include_sort_vector = opt_bool(&opts, "includeSortVector")?;

    let cat = t.store.read();
    let (coll, sort) = lookup_sorted(&cat, t, body, &filter)?;
    if page_state.is_some() && !sort.is_none() {
        return Err(err(
            Code::SORT_CLAUSE_INVALID,
            "Sort clause used by command not valid. Problem: pageState is not supported with non-empty sort clause.",
        ));
    }

    let mut docs = Vec::new();
    let mut next: Option<String> = None;
    match &sort {
        Sort::Vector(q) => {
            if let Some(l) = limit
                && l > MAX_VECTOR_LIMIT
            {
                return Err(field_invalid(
                    "options.limit",
                    &json!(l),
                    &format!(
                        "limit should be less than or equal to `{MAX_VECTOR_LIMIT}` for vector search"
                    ),
                ));
            }
            if skip.is_some() {
                return Err(field_invalid(
                    "options.skip",
                    &json!(skip),
                    "skip options should not be used with vector search",
                ));
            }
            let limit = limit.unwrap_or(MAX_VECTOR_LIMIT);
            for (_, d, s) in vector_search(coll, &filter, q, limit) {
                docs.push(render(&proj, d, include_similarity.then_some(s)));
            }
        }
        Sort::Regular(keys) => {
            let take = limit.unwrap_or(usize::MAX).min(limits.page_size);
            for (_, d) in sorted_matches(coll, &filter, keys, t.sort_cap)?
                .into_iter()
                .skip(skip.unwrap_or(0))
                .take(take)
            {
                docs.push(render(&proj, d, None));
            }
        }
        Sort::None => {
            if skip.is_some() {
                return Err(field_invalid(
                    "options.skip",
                    &json!(skip),
                    "skip option is only supported with a sort clause",
                ));
            }
            let (returned, after) = match page_state {
                Some(s) => {
                    let (n, k) = decode_page_state(s)?;
                    (n, Some(k))
                }
                None => (0, None),
            };
            let remaining = limit.map_or(usize::MAX, |l| l.saturating_sub(returned));
            let take = remaining.min(limits.page_size);
            let mut iter = matches_after(coll, &filter, after.as_deref());
            let mut last_key = None;
            for (k, d) in iter.by_ref().take(take) {
                docs.push(render(&proj, d, None));
                last_key = Some(k);
            }
            if let Some(k) = last_key
                && docs.len() < remaining
                && iter.next().is_some()
            {
                let so_far = returned.checked_add(docs.len()).ok_or_else(|| {
                    field_invalid(
                        "options.pageState",
                        &json!(page_state),
                        "not a valid page state",
                    )
                })?;
                next = Some(encode_page_state(so_far, k));
            }
        }
    }
    let mut status = Map::new();
    if include_sort_vector {
        sort_vector_status(&mut status, &sort);
        next = None;
    }
    let mut data = Map::new();
    data.insert("documents".into(), Value::Array(docs));
    data.insert(
        "nextPageState".into(),
        next.map_or(Value::Null, Value::String),
    );
    Ok(Response {
        data: Some(data),
        status: Some(status),
        errors: Vec::<ApiError>::new(),
    })
}

pub(super) fn find_one(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "projection", "sort", "options"])?;
    let opts = options(body, &["includeSimilarity", "includeSortVector"])?;
    let filter = Filter::parse(body.get("filter"))?;
    let proj = Projection::parse(body.get("projection"))?;
    let include_similarity = opt_bool(&opts, "includeSimilarity")?;
    let include_sort_vector = opt_bool(&opts, "includeSortVector")?;
    let cat = t.store.read();
    let (coll, sort) = lookup_sorted(&cat, t, body, &filter)?;
    let doc = select_one(coll, &filter, &sort, t.sort_cap)?
        .map(|(_, d, s)| render(&proj, d, s.filter(|_| include_similarity)))
        .unwrap_or(Value::Null);
    let mut status = Map::new();
    if include_sort_vector {
        sort_vector_status(&mut status, &sort);
    }
    Ok(Response {
        data: Some(one("document", doc)),
        status: Some(status),
        errors: Vec::new(),
    })
}

pub(super) fn count_documents(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    let filter = filter_only("countDocuments", body)?;
    let cat = t.store.read();
    let coll = lookup(&cat, t.ks, t.coll_name)?;
    filter.check_indexed(&coll.def)?;
    let n = if filter.is_empty() {
        coll.docs.len()
    } else {
        candidates(coll, &filter).take(MAX_COUNT + 1).count()
    };
    Ok(counted("count", n.min(MAX_COUNT), n > MAX_COUNT))
}

pub(super) fn estimated_count(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["options"])?;
    no_options("estimatedDocumentCount", body)?;
    let cat = t.store.read();
    let coll = lookup(&cat, t.ks, t.coll_name)?;
    Ok(Response::status(json!({"count": coll.docs.len()})))
}
