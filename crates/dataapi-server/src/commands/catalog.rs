//! Catalog lookups: the collection a command is for ([`CollRef`]), and finding it in the
//! catalog.

use serde_json::{Map, Value, json};

use super::fields::{check_fields, no_options};
use super::response::Response;
use crate::error::{ApiError, ApiResult, Code, err};
use crate::filter::Filter;
use crate::sort::Sort;
use crate::store::{self, Catalog, Collection, Store};

/// The collection a command is for, and the store it is in.
#[derive(Clone, Copy)]
pub(crate) struct CollRef<'a> {
    pub(crate) store: &'a Store,
    pub(crate) ks: &'a str,
    pub(crate) coll_name: &'a str,
    /// The in-memory sort cap ([`Limits::max_sort_count`](super::limits::Limits::max_sort_count)).
    pub(crate) sort_cap: usize,
}

impl CollRef<'_> {
    /// Commits `changes` to the collection `coll` (this target's, locked for writing).
    pub(crate) fn commit(
        self,
        conn: &mut rusqlite::Connection,
        coll: &mut Collection,
        changes: store::Changes,
    ) -> ApiResult<()> {
        store::commit(conn, self.ks, self.coll_name, coll, changes)
    }
}

/// The filter of a command that takes nothing else (countDocuments, deleteMany).
pub(crate) fn filter_only(cmd: &str, body: &Map<String, Value>) -> ApiResult<Filter> {
    check_fields(body, &["filter", "options"])?;
    no_options(cmd, body)?;
    Filter::parse(body.get("filter"))
}

/// A status of `{key: n}`, with `moreData` when there was more than `n`.
pub(crate) fn counted(key: &str, n: usize, more: bool) -> Response {
    let mut status = one(key, json!(n));
    if more {
        status.insert("moreData".into(), json!(true));
    }
    Response {
        status: Some(status),
        ..Default::default()
    }
}

/// A map of one entry.
pub(crate) fn one(k: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(k.into(), v);
    m
}

pub(crate) fn unknown_keyspace(ks: &str) -> ApiError {
    err(
        Code::UNKNOWN_KEYSPACE,
        format!(
            "The command tried to use a Keyspace that does not exist in the Database. The keyspace used by the command: {ks}."
        ),
    )
}

pub(crate) fn lookup<'a>(cat: &'a Catalog, ks: &str, coll: &str) -> ApiResult<&'a Collection> {
    cat.keyspaces
        .get(ks)
        .ok_or_else(|| unknown_keyspace(ks))?
        .get(coll)
        .ok_or_else(|| unknown_collection(coll))
}

/// The collection, and the sort of `body` checked against it; `filter` must be indexed.
pub(crate) fn lookup_sorted<'a>(
    cat: &'a Catalog,
    t: CollRef,
    body: &Map<String, Value>,
    filter: &Filter,
) -> ApiResult<(&'a Collection, Sort)> {
    let coll = lookup(cat, t.ks, t.coll_name)?;
    let sort = Sort::parse(body.get("sort"), &coll.def)?;
    filter.check_indexed(&coll.def)?;
    Ok((coll, sort))
}

pub(crate) fn lookup_mut<'a>(
    cat: &'a mut Catalog,
    ks: &str,
    coll: &str,
) -> ApiResult<&'a mut Collection> {
    cat.keyspaces
        .get_mut(ks)
        .ok_or_else(|| unknown_keyspace(ks))?
        .get_mut(coll)
        .ok_or_else(|| unknown_collection(coll))
}

fn unknown_collection(coll: &str) -> ApiError {
    err(
        Code::UNKNOWN_COLLECTION_OR_TABLE,
        format!("No collection or table with name '{coll}' exists."),
    )
}
