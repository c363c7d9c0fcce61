//! Command dispatch and the database/keyspace-level commands.

mod read;
mod write;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::{ApiError, ApiResult, Code, err, field_invalid, field_unknown};
use crate::filter::Filter;
use crate::schema::{CollectionDef, valid_name};
use crate::sort::{Sort, cmp_docs};
use crate::store::{self, Catalog, Collection, Store, StoredDoc, db_error};
use crate::vector;

/// Server-side limits that commands obey.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) page_size: usize,
    pub(crate) max_collections: usize,
    /// A regular (in-memory) sort fails once this many documents match.
    pub(crate) max_sort_count: usize,
}

/// Documents per insertMany.
pub(crate) const MAX_INSERT_DOCS: usize = 100;
/// Most documents a vector sort may return.
pub(crate) const MAX_VECTOR_LIMIT: usize = 1000;
/// A regular (in-memory) sort fails once this many documents match (the real service's
/// `maxDocumentSortCount`, stargate/data-api `config/OperationsConfig.java`).
pub(crate) const MAX_SORT_CANDIDATES: usize = 10_000;
/// Documents deleted per deleteMany call.
pub(crate) const MAX_DELETE: usize = 20;
/// countDocuments cap.
pub(crate) const MAX_COUNT: usize = 1000;

/// Which URL a command was sent to.
#[derive(Clone, Debug)]
pub(crate) enum Target {
    Database,
    Keyspace(String),
    Collection(String, String),
}

/// A command's response: `data`, `status` and `errors` (empty ones omitted).
#[derive(Debug, Default)]
pub(crate) struct Response {
    pub(crate) data: Option<Map<String, Value>>,
    pub(crate) status: Option<Map<String, Value>>,
    pub(crate) errors: Vec<ApiError>,
}

impl Response {
    pub(crate) fn from_error(e: ApiError) -> Self {
        Response {
            errors: vec![e],
            ..Default::default()
        }
    }

    fn status(status: Value) -> Self {
        Response {
            status: status.as_object().cloned(),
            ..Default::default()
        }
    }

    fn ok() -> Self {
        Response::status(json!({"ok": 1}))
    }

    /// HTTP status: 200 unless an error forces another.
    pub(crate) fn http_status(&self) -> u16 {
        self.errors
            .iter()
            .map(ApiError::http_status)
            .find(|s| *s != 200)
            .unwrap_or(200)
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(d) = &self.data {
            m.insert("data".into(), Value::Object(d.clone()));
        }
        if let Some(s) = &self.status
            && !s.is_empty()
        {
            m.insert("status".into(), Value::Object(s.clone()));
        }
        if !self.errors.is_empty() {
            m.insert(
                "errors".into(),
                Value::Array(self.errors.iter().map(ApiError::to_json).collect()),
            );
        }
        Value::Object(m)
    }
}

const DATABASE_COMMANDS: &[&str] = &["createKeyspace", "dropKeyspace", "findKeyspaces"];
const KEYSPACE_COMMANDS: &[&str] = &["createCollection", "deleteCollection", "findCollections"];
const COLLECTION_COMMANDS: &[&str] = &[
    "countDocuments",
    "deleteMany",
    "deleteOne",
    "estimatedDocumentCount",
    "find",
    "findOne",
    "findOneAndDelete",
    "findOneAndReplace",
    "findOneAndUpdate",
    "insertMany",
    "insertOne",
    "updateMany",
    "updateOne",
];

/// Split a request body into its command name and command object.
pub(crate) fn split_command(request: Value) -> ApiResult<(String, Map<String, Value>)> {
    let Value::Object(top) = request else {
        return Err(err(
            Code::REQUEST_STRUCTURE_MISMATCH,
            "Request is valid JSON but has a structural mismatch: request body must be a JSON Object holding one command.",
        ));
    };
    if top.len() != 1 {
        return Err(err(
            if top.is_empty() {
                Code::COMMAND_UNKNOWN
            } else {
                Code::REQUEST_STRUCTURE_MISMATCH
            },
            format!(
                "Request is valid JSON but has a structural mismatch: request body must hold exactly one command, found {}.",
                top.len()
            ),
        ));
    }
    let Some((name, body)) = top.into_iter().next() else {
        return Err(err(Code::COMMAND_UNKNOWN, "No command."));
    };
    let body = match body {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        other => {
            return Err(err(
                Code::REQUEST_STRUCTURE_MISMATCH,
                format!(
                    "Request is valid JSON but has a structural mismatch: command '{name}' must be a JSON Object, not {}.",
                    crate::json::type_name(&other)
                ),
            ));
        }
    };
    Ok((name, body))
}

/// Run one command against the store.
pub(crate) fn execute(
    store: &Store,
    limits: &Limits,
    target: &Target,
    name: &str,
    body: &Map<String, Value>,
) -> Response {
    let (known, kind) = match target {
        Target::Database => (DATABASE_COMMANDS, "database command"),
        Target::Keyspace(_) => (KEYSPACE_COMMANDS, "keyspace command"),
        Target::Collection(..) => (COLLECTION_COMMANDS, "collection command"),
    };
    if !known.contains(&name) {
        return Response::from_error(err(
            Code::COMMAND_UNKNOWN,
            format!(
                "Command '{name}' is not a {kind} recognized by Data API. Data API supports following {kind}s: [{}].",
                known.join(", ")
            ),
        ));
    }
    let result = match target {
        Target::Database => database_command(store, name, body),
        Target::Keyspace(ks) => keyspace_command(store, limits, ks, name, body),
        Target::Collection(ks, coll) => collection_command(store, limits, ks, coll, name, body),
    };
    result.unwrap_or_else(Response::from_error)
}

/// The collection a command is for, and the store it is in.
#[derive(Clone, Copy)]
pub(crate) struct CollRef<'a> {
    pub(crate) store: &'a Store,
    pub(crate) ks: &'a str,
    pub(crate) coll_name: &'a str,
    /// The in-memory sort cap ([`Limits::max_sort_count`]).
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

fn collection_command(
    store: &Store,
    limits: &Limits,
    ks: &str,
    coll: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    let t = CollRef {
        store,
        ks,
        coll_name: coll,
        sort_cap: limits.max_sort_count,
    };
    match name {
        "find" => read::find(t, limits, body),
        "findOne" => read::find_one(t, body),
        "countDocuments" => read::count_documents(t, body),
        "estimatedDocumentCount" => read::estimated_count(t, body),
        "insertOne" => write::insert_one(t, body),
        "insertMany" => write::insert_many(t, body),
        "updateOne" => write::update_one(t, body),
        "updateMany" => write::update_many(t, limits, body),
        "findOneAndUpdate" => write::find_one_and_update(t, body),
        "findOneAndReplace" => write::find_one_and_replace(t, body),
        "findOneAndDelete" => write::find_one_and_delete(t, body),
        "deleteOne" => write::delete_one(t, body),
        "deleteMany" => write::delete_many(t, body),
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}

// ---------------------------------------------------------------------------
// Request-field helpers

/// Reject fields of a command that are not in `allowed`.
pub(crate) fn check_fields(body: &Map<String, Value>, allowed: &[&str]) -> ApiResult<()> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(field_unknown(k, allowed)),
        None => Ok(()),
    }
}

/// The `options` object (absent/null = empty), with unknown keys rejected.
pub(crate) fn options<'a>(
    body: &'a Map<String, Value>,
    allowed: &[&str],
) -> ApiResult<BTreeMap<&'a str, &'a Value>> {
    let mut out = BTreeMap::new();
    match body.get("options") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !allowed.contains(&k.as_str()) {
                    return Err(field_unknown(&format!("options.{k}"), allowed));
                }
                if !v.is_null() {
                    out.insert(k.as_str(), v);
                }
            }
        }
        Some(other) => return Err(field_invalid("options", other, "must be an Object")),
    }
    Ok(out)
}

/// For commands that take no options: `{}` is fine, anything else is not.
pub(crate) fn no_options(cmd: &str, body: &Map<String, Value>) -> ApiResult<()> {
    match body.get("options") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) if m.is_empty() => Ok(()),
        Some(_) => Err(err(
            Code::COMMAND_ACCEPTS_NO_OPTIONS,
            format!(
                "Command '{cmd}' does not accept options but some were included. Resend command without options."
            ),
        )),
    }
}

pub(crate) fn opt_bool(opts: &BTreeMap<&str, &Value>, name: &str) -> ApiResult<bool> {
    match opts.get(name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(field_invalid(
            &format!("options.{name}"),
            v,
            "must be a Boolean",
        )),
    }
}

pub(crate) fn opt_int(
    opts: &BTreeMap<&str, &Value>,
    name: &str,
    min: i64,
) -> ApiResult<Option<i64>> {
    match opts.get(name) {
        None => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(field_invalid(
                &format!("options.{name}"),
                v,
                &if min > 0 {
                    format!("{name} should be greater than `{}`", min - 1)
                } else {
                    format!("{name} should be greater than or equal to `{min}`")
                },
            )),
        },
    }
}

pub(crate) fn opt_str<'a>(
    opts: &BTreeMap<&str, &'a Value>,
    name: &str,
) -> ApiResult<Option<&'a str>> {
    match opts.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(field_invalid(
            &format!("options.{name}"),
            v,
            "must be a String",
        )),
    }
}

pub(crate) fn required_name(body: &Map<String, Value>) -> ApiResult<&str> {
    match body.get("name") {
        Some(Value::String(s)) if valid_name(s) => Ok(s),
        Some(v) => Err(field_invalid(
            "name",
            v,
            "name must be 1-48 characters long and contain only letters, digits and underscores",
        )),
        None => Err(field_invalid("name", &Value::Null, "must not be null")),
    }
}

// ---------------------------------------------------------------------------
// Catalog lookups

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

// ---------------------------------------------------------------------------
// Document selection shared by reads and writes

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

// ---------------------------------------------------------------------------
// Database-level commands (keyspaces)

fn database_command(store: &Store, name: &str, body: &Map<String, Value>) -> ApiResult<Response> {
    match name {
        "findKeyspaces" => {
            check_fields(body, &["options"])?;
            let cat = store.read();
            let names: Vec<&String> = cat.keyspaces.keys().collect();
            Ok(Response::status(json!({ "keyspaces": names })))
        }
        "createKeyspace" => {
            check_fields(body, &["name", "options"])?;
            let ks = required_name(body)?;
            let (mut cat, conn) = store.write();
            if !cat.keyspaces.contains_key(ks) {
                store::persist_keyspace(&conn, ks).map_err(db_error)?;
                cat.keyspaces.insert(ks.to_owned(), BTreeMap::new());
            }
            Ok(Response::ok())
        }
        "dropKeyspace" => {
            check_fields(body, &["name"])?;
            let ks = required_name(body)?;
            let (mut cat, mut conn) = store.write();
            if cat.keyspaces.contains_key(ks) {
                store::persist_drop_keyspace(&mut conn, ks).map_err(db_error)?;
                cat.keyspaces.remove(ks);
            }
            Ok(Response::ok())
        }
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}

// ---------------------------------------------------------------------------
// Keyspace-level commands (collections)

fn keyspace_command(
    store: &Store,
    limits: &Limits,
    ks: &str,
    name: &str,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    match name {
        "createCollection" => {
            check_fields(body, &["name", "options"])?;
            let coll = required_name(body)?;
            let def = CollectionDef::from_options(body.get("options"))?;
            let (mut cat, conn) = store.write();
            let count = cat.collection_count();
            let space = cat
                .keyspaces
                .get_mut(ks)
                .ok_or_else(|| unknown_keyspace(ks))?;
            if let Some(existing) = space.get(coll) {
                return if existing.def.same_settings(&def) {
                    Ok(Response::ok())
                } else {
                    Err(err(
                        Code::EXISTING_COLLECTION_DIFFERENT_SETTINGS,
                        format!(
                            "Collection '{coll}' already exists but with settings different from ones passed with 'createCollection' command."
                        ),
                    ))
                };
            }
            if count >= limits.max_collections {
                return Err(err(
                    Code::TOO_MANY_COLLECTIONS,
                    format!(
                        "Cannot create collection '{coll}': the maximum number of collections per database is {}, database already has {count}.",
                        limits.max_collections
                    ),
                ));
            }
            store::persist_collection(&conn, ks, coll, &def.to_options_json()).map_err(db_error)?;
            space.insert(
                coll.to_owned(),
                Collection {
                    def,
                    docs: BTreeMap::new(),
                },
            );
            Ok(Response::ok())
        }
        "findCollections" => {
            check_fields(body, &["options"])?;
            let opts = options(body, &["explain"])?;
            let explain = opt_bool(&opts, "explain")?;
            let cat = store.read();
            let space = cat.keyspaces.get(ks).ok_or_else(|| unknown_keyspace(ks))?;
            let list: Vec<Value> = space
                .iter()
                .map(|(n, c)| {
                    if explain {
                        json!({"name": n, "options": c.def.to_options_json()})
                    } else {
                        json!(n)
                    }
                })
                .collect();
            Ok(Response::status(json!({ "collections": list })))
        }
        "deleteCollection" => {
            check_fields(body, &["name"])?;
            let coll = required_name(body)?;
            let (mut cat, mut conn) = store.write();
            let space = cat
                .keyspaces
                .get_mut(ks)
                .ok_or_else(|| unknown_keyspace(ks))?;
            if space.contains_key(coll) {
                store::persist_drop_collection(&mut conn, ks, coll).map_err(db_error)?;
                space.remove(coll);
            }
            Ok(Response::ok())
        }
        _ => Err(err(
            Code::COMMAND_UNKNOWN,
            format!("Command '{name}' is unknown."),
        )),
    }
}
