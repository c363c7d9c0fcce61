//! Write commands: inserts, updates, replace, deletes.

use std::collections::HashSet;

use rusqlite::Connection;
use serde_json::{Map, Value, json};

use super::catalog::{CollRef, counted, filter_only, lookup, lookup_mut, one};
use super::fields::{check_fields, no_options, opt_bool, opt_str, options};
use super::limits::{Limits, MAX_DELETE, MAX_INSERT_DOCS};
use super::read::{decode_page_state, encode_page_state, matches_after};
use super::response::Response;
use super::select::{candidates, select_one};
use crate::docid;
use crate::error::{ApiError, ApiResult, Code, err, field_invalid};
use crate::filter::Filter;
use crate::projection::Projection;
use crate::schema::CollectionDef;
use crate::shred::{self, MAX_DOC_CHARS, Prepared};
use crate::sort::Sort;
use crate::store::{self, Changes, Collection, Put, Store, StoredDoc};
use crate::update::Update;

/// The server time `$currentDate` writes: wall-clock milliseconds, but never the same value
/// twice and never going back (one more than the last when the wall clock has not moved on).
/// Two requests within one millisecond are thus still ordered, so a test that reads a time
/// and then writes sees its write stamped after that time, whatever the machine's speed.
/// Astra promises no such thing; songrec's change feed reads with an overlap window for that.
fn now_ms() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = wall.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

#[cfg(test)]
mod clock_tests {
    #[test]
    fn the_server_clock_never_repeats_a_millisecond() {
        let times: Vec<i64> = (0..1_000).map(|_| super::now_ms()).collect();
        assert!(times.windows(2).all(|w| w[1] > w[0]), "strictly increasing");
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        // 1,000 calls run ahead of the wall clock by at most 1,000 ms.
        assert!((times[0] - wall).abs() < 5_000);
    }
}

fn already_exists(id: &Value) -> ApiError {
    err(
        Code::DOCUMENT_ALREADY_EXISTS,
        format!("Cannot insert the document: a document already exists with given '_id' ({id})."),
    )
    .with_doc_id(id.clone())
}

/// Validate a document after an update (field names, size limit).
fn check_updated(doc: &StoredDoc, def: &CollectionDef) -> ApiResult<()> {
    shred::validate_body(&doc.body, def)?;
    let size = serde_json::to_string(&doc.body)
        .map(|s| s.len())
        .unwrap_or(0);
    if size > MAX_DOC_CHARS {
        return Err(err(
            Code::SHRED_DOC_LIMIT_VIOLATION,
            format!(
                "Document size limitation violated: document size ({size} chars) exceeds maximum allowed ({MAX_DOC_CHARS})."
            ),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Inserts

enum Outcome {
    Ok(Value),
    Failed(Value, ApiError),
    Skipped(Value),
}

fn input_id(doc: &Value) -> Value {
    doc.get("_id").cloned().unwrap_or(Value::Null)
}

/// Validate documents for a collection (CPU work done without the write lock).
fn prepare_all(docs: &[Value], def: &CollectionDef) -> Vec<ApiResult<Prepared>> {
    docs.iter()
        .map(|d| shred::prepare(d.clone(), def))
        .collect()
}

/// Insert documents, returning one outcome per input document. The
/// documents are validated under a read lock first, then written under the
/// write lock (re-validated only if the collection changed in between).
fn insert_docs(
    store: &Store,
    ks: &str,
    name: &str,
    docs: &[Value],
    ordered: bool,
) -> ApiResult<Vec<Outcome>> {
    let def = lookup(&store.read(), ks, name)?.def.clone();
    let prepared = prepare_all(docs, &def);
    let (mut cat, mut conn) = store.write();
    let coll = lookup_mut(&mut cat, ks, name)?;
    let prepared = if coll.def == def {
        prepared
    } else {
        prepare_all(docs, &coll.def)
    };
    let mut outcomes = Vec::with_capacity(docs.len());
    let mut changes = Changes::default();
    let mut batch_keys: HashSet<String> = HashSet::new();
    let mut stopped = false;
    for (doc, prepared) in docs.iter().zip(prepared) {
        if stopped {
            outcomes.push(Outcome::Skipped(input_id(doc)));
            continue;
        }
        let checked = prepared.and_then(|p: Prepared| {
            if coll.docs.contains_key(&p.key) || batch_keys.contains(&p.key) {
                Err(already_exists(&p.id))
            } else {
                Ok(p)
            }
        });
        match checked {
            Ok(p) => {
                batch_keys.insert(p.key.clone());
                outcomes.push(Outcome::Ok(p.id));
                changes.puts.push(Put {
                    key: p.key,
                    doc: StoredDoc {
                        body: p.body,
                        vector: p.vector,
                    },
                    json: Some(p.json),
                });
            }
            Err(e) => {
                let id = e
                    .document_ids
                    .first()
                    .cloned()
                    .unwrap_or_else(|| input_id(doc));
                outcomes.push(Outcome::Failed(id, e));
                stopped = ordered;
            }
        }
    }
    if let Err(e) = store::commit(&mut conn, ks, name, coll, changes) {
        // Nothing was written: every "ok" document failed with the database error.
        for o in outcomes.iter_mut() {
            if let Outcome::Ok(id) = o {
                let id = id.clone();
                *o = Outcome::Failed(id.clone(), e.clone().with_doc_id(id));
            }
        }
    }
    Ok(outcomes)
}

pub(super) fn insert_one(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["document", "options"])?;
    no_options("insertOne", body)?;
    let doc = match body.get("document") {
        None | Some(Value::Null) => {
            return Err(field_invalid("document", &Value::Null, "must not be null"));
        }
        Some(d) => d.clone(),
    };
    let outcome = insert_docs(t.store, t.ks, t.coll_name, &[doc], true)?;
    let mut resp = Response::status(json!({"insertedIds": []}));
    for o in outcome {
        match o {
            Outcome::Ok(id) => resp.status = Some(one("insertedIds", json!([id]))),
            Outcome::Failed(_, e) => resp.errors.push(e),
            Outcome::Skipped(_) => {}
        }
    }
    Ok(resp)
}

pub(super) fn insert_many(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["documents", "options"])?;
    let opts = options(body, &["ordered", "returnDocumentResponses"])?;
    let ordered = opt_bool(&opts, "ordered")?;
    let responses = opt_bool(&opts, "returnDocumentResponses")?;
    let docs = match body.get("documents") {
        Some(Value::Array(a)) if a.is_empty() => {
            return Err(field_invalid("documents", &json!([]), "must not be empty"));
        }
        Some(Value::Array(a)) if a.len() > MAX_INSERT_DOCS => {
            return Err(err(
                Code::COMMAND_FIELD_VALUE_INVALID,
                format!(
                    "Command field 'documents' value not valid: amount of documents to insert is over the max limit ({} vs {MAX_INSERT_DOCS}).",
                    a.len()
                ),
            ));
        }
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => {
            return Err(field_invalid("documents", &Value::Null, "must not be null"));
        }
        Some(other) => return Err(field_invalid("documents", other, "must be an Array")),
    };
    let outcomes = insert_docs(t.store, t.ks, t.coll_name, docs, ordered)?;
    let mut resp = Response::default();
    if responses {
        let mut errors: Vec<ApiError> = Vec::new();
        let mut list = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            list.push(match o {
                Outcome::Ok(id) => json!({"_id": id, "status": "OK"}),
                Outcome::Skipped(id) => json!({"_id": id, "status": "SKIPPED"}),
                Outcome::Failed(id, e) => {
                    let idx = match errors.iter().position(|x| x.same_kind(&e)) {
                        Some(i) => {
                            errors[i].document_ids.extend(e.document_ids);
                            i
                        }
                        None => {
                            errors.push(e);
                            errors.len() - 1
                        }
                    };
                    json!({"_id": id, "status": "ERROR", "errorsIdx": idx})
                }
            });
        }
        resp.status = Some(one("documentResponses", Value::Array(list)));
        resp.errors = errors;
    } else {
        let mut ids = Vec::new();
        for o in outcomes {
            match o {
                Outcome::Ok(id) => ids.push(id),
                Outcome::Failed(_, e) => resp.errors.push(e),
                Outcome::Skipped(_) => {}
            }
        }
        resp.status = Some(one("insertedIds", Value::Array(ids)));
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------
// Updates

#[derive(Default)]
struct UpdateOutcome {
    matched: usize,
    modified: usize,
    upserted: Option<Value>,
    before: Option<StoredDoc>,
    after: Option<StoredDoc>,
}

impl UpdateOutcome {
    /// One document matched, `before` and `after` the change.
    fn matched(before: StoredDoc, after: StoredDoc, modified: bool) -> Self {
        UpdateOutcome {
            matched: 1,
            modified: usize::from(modified),
            upserted: None,
            before: Some(before),
            after: Some(after),
        }
    }

    /// None matched, so `after` was inserted with `id`.
    fn upserted(id: Value, after: StoredDoc) -> Self {
        UpdateOutcome {
            upserted: Some(id),
            after: Some(after),
            ..Default::default()
        }
    }
}

/// Under the write lock, hands `then` the connection, the collection and a copy of the one
/// document (with its key) that `filter` and the sort `sort_v` select, if any.
fn with_selected<T>(
    t: CollRef,
    filter: &Filter,
    sort_v: Option<&Value>,
    then: impl FnOnce(&mut Connection, &mut Collection, Option<(String, StoredDoc)>) -> ApiResult<T>,
) -> ApiResult<T> {
    let (mut cat, mut conn) = t.store.write();
    let coll = lookup_mut(&mut cat, t.ks, t.coll_name)?;
    let sort = Sort::parse(sort_v, &coll.def)?;
    filter.check_indexed(&coll.def)?;
    let found =
        select_one(coll, filter, &sort, t.sort_cap)?.map(|(k, d, _)| (k.clone(), d.clone()));
    then(&mut conn, coll, found)
}

/// Commits `doc` stored at `key`.
fn commit_put(
    t: CollRef,
    conn: &mut Connection,
    coll: &mut Collection,
    key: String,
    doc: StoredDoc,
) -> ApiResult<()> {
    let changes = Changes {
        puts: vec![Put::new(key, doc)],
        ..Default::default()
    };
    t.commit(conn, coll, changes)
}

/// Build the document an upsert inserts: the filter's `_id` and top-level
/// equality fields, then the update (with `$setOnInsert`).
fn upsert_doc(
    filter: &Filter,
    update: &Update,
    def: &CollectionDef,
) -> ApiResult<(String, StoredDoc)> {
    let mut doc = StoredDoc {
        body: Map::new(),
        vector: None,
    };
    for (path, value) in filter.equality_fields() {
        if path.len() == 1 && path[0] == "_id" {
            docid::validate(value)?;
            doc.body.insert("_id".into(), value.clone());
            continue;
        }
        // Reuse the update machinery to create nested paths.
        let raw: Vec<String> = path.iter().map(|s| shred::escape_segment(s)).collect();
        let seed = Update::parse(Some(&json!({"$set": { raw.join("."): value }})))?;
        seed.apply(&mut doc, def, true, 0)?;
    }
    update.apply(&mut doc, def, true, now_ms())?;
    let id = match doc.body.get("_id") {
        Some(id) => {
            docid::validate(id)?;
            id.clone()
        }
        None => docid::generate(def.default_id),
    };
    // `_id` first.
    let mut body = Map::new();
    body.insert("_id".into(), id.clone());
    for (k, v) in std::mem::take(&mut doc.body) {
        if k != "_id" {
            body.insert(k, v);
        }
    }
    doc.body = body;
    check_updated(&doc, def)?;
    Ok((docid::key(&id), doc))
}

/// Update (or upsert) the one document selected by filter + sort.
fn update_single(
    t: CollRef,
    filter: &Filter,
    sort_v: Option<&Value>,
    update: &Update,
    upsert: bool,
) -> ApiResult<UpdateOutcome> {
    with_selected(t, filter, sort_v, |conn, coll, found| match found {
        Some((key, before)) => {
            let mut after = before.clone();
            update.apply(&mut after, &coll.def, false, now_ms())?;
            let modified = after != before;
            if modified {
                check_updated(&after, &coll.def)?;
                commit_put(t, conn, coll, key, after.clone())?;
            }
            Ok(UpdateOutcome::matched(before, after, modified))
        }
        None if upsert => {
            let (key, doc) = upsert_doc(filter, update, &coll.def)?;
            let id = doc.id();
            if coll.docs.contains_key(&key) {
                return Err(already_exists(&id));
            }
            commit_put(t, conn, coll, key, doc.clone())?;
            Ok(UpdateOutcome::upserted(id, doc))
        }
        None => Ok(UpdateOutcome::default()),
    })
}

fn update_status(o: &UpdateOutcome) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("matchedCount".into(), json!(o.matched));
    m.insert("modifiedCount".into(), json!(o.modified));
    if let Some(id) = &o.upserted {
        m.insert("upsertedId".into(), id.clone());
    }
    m
}

/// The filter and update of an updateOne or findOneAndUpdate.
struct OneUpdate {
    filter: Filter,
    update: Update,
}

impl OneUpdate {
    fn parse(body: &Map<String, Value>) -> ApiResult<Self> {
        Ok(OneUpdate {
            filter: Filter::parse(body.get("filter"))?,
            update: Update::parse(body.get("update"))?,
        })
    }

    /// Updates (or upserts) the document selected by the filter and `body`'s sort.
    fn apply(
        &self,
        t: CollRef,
        body: &Map<String, Value>,
        upsert: bool,
    ) -> ApiResult<UpdateOutcome> {
        let sort = body.get("sort");
        update_single(t, &self.filter, sort, &self.update, upsert)
    }
}

pub(super) fn update_one(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "update", "sort", "options"])?;
    let opts = options(body, &["upsert"])?;
    let upsert = opt_bool(&opts, "upsert")?;
    let o = OneUpdate::parse(body)?.apply(t, body, upsert)?;
    Ok(Response {
        status: Some(update_status(&o)),
        ..Default::default()
    })
}

fn return_after(opts: &std::collections::BTreeMap<&str, &Value>) -> ApiResult<bool> {
    match opt_str(opts, "returnDocument")? {
        None | Some("before") => Ok(false),
        Some("after") => Ok(true),
        Some(other) => Err(field_invalid(
            "options.returnDocument",
            &json!(other),
            "value must be 'before' or 'after'",
        )),
    }
}

/// The reply of findOneAndUpdate/Replace: the document before or after, plus the counts.
fn find_one_and_response(proj: &Projection, o: &UpdateOutcome, after: bool) -> Response {
    let doc = if after {
        o.after.as_ref()
    } else {
        o.before.as_ref()
    };
    Response {
        data: Some(document_data(proj, doc)),
        status: Some(update_status(o)),
        errors: Vec::new(),
    }
}

fn document_data(proj: &Projection, doc: Option<&StoredDoc>) -> Map<String, Value> {
    let v = doc.map_or(Value::Null, |d| Value::Object(proj.apply(d)));
    one("document", v)
}

pub(super) fn find_one_and_update(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "update", "sort", "projection", "options"])?;
    let opts = options(body, &["returnDocument", "upsert"])?;
    let upsert = opt_bool(&opts, "upsert")?;
    let after = return_after(&opts)?;
    let one = OneUpdate::parse(body)?;
    let proj = Projection::parse(body.get("projection"))?;
    let o = one.apply(t, body, upsert)?;
    Ok(find_one_and_response(&proj, &o, after))
}

pub(super) fn find_one_and_replace(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(
        body,
        &["filter", "replacement", "sort", "projection", "options"],
    )?;
    let opts = options(body, &["returnDocument", "upsert"])?;
    let upsert = opt_bool(&opts, "upsert")?;
    let want_after = return_after(&opts)?;
    let filter = Filter::parse(body.get("filter"))?;
    let proj = Projection::parse(body.get("projection"))?;
    let replacement = match body.get("replacement") {
        Some(Value::Object(m)) => m.clone(),
        None | Some(Value::Null) => {
            return Err(field_invalid(
                "replacement",
                &Value::Null,
                "must not be null",
            ));
        }
        Some(other) => return Err(field_invalid("replacement", other, "must be an Object")),
    };
    let different = |a: &Value, b: &Value| {
        err(
            Code::DOCUMENT_REPLACE_DIFFERENT_DOCID,
            format!(
                "The replace document and document resolved using filter have different '_id's: {a} (replace document) vs. {b} (document that filter matches)."
            ),
        )
    };
    let sort = body.get("sort");
    let outcome = with_selected(t, &filter, sort, |conn, coll, found| {
        Ok(match found {
            Some((key, before)) => {
                let id = before.id();
                if let Some(rid) = replacement.get("_id")
                    && docid::key_if_valid(rid).as_deref() != Some(key.as_str())
                {
                    return Err(different(rid, &id));
                }
                let mut doc = Map::new();
                doc.insert("_id".into(), id);
                doc.extend(replacement.into_iter().filter(|(k, _)| k != "_id"));
                let p = shred::prepare(Value::Object(doc), &coll.def)?;
                let after = StoredDoc {
                    body: p.body,
                    vector: p.vector,
                };
                let modified = after != before;
                if modified {
                    commit_put(t, conn, coll, key, after.clone())?;
                }
                UpdateOutcome::matched(before, after, modified)
            }
            None if upsert => {
                let filter_id = filter
                    .equality_fields()
                    .into_iter()
                    .find(|(p, _)| p.len() == 1 && p[0] == "_id")
                    .map(|(_, v)| v.clone());
                let mut doc = replacement;
                match (doc.get("_id"), &filter_id) {
                    (Some(rid), Some(fid))
                        if docid::key_if_valid(rid) != docid::key_if_valid(fid) =>
                    {
                        return Err(different(rid, fid));
                    }
                    (None, Some(fid)) => {
                        doc.insert("_id".into(), fid.clone());
                    }
                    _ => {}
                }
                let p = shred::prepare(Value::Object(doc), &coll.def)?;
                if coll.docs.contains_key(&p.key) {
                    return Err(already_exists(&p.id));
                }
                let after = StoredDoc {
                    body: p.body,
                    vector: p.vector,
                };
                commit_put(t, conn, coll, p.key, after.clone())?;
                UpdateOutcome::upserted(p.id, after)
            }
            None => UpdateOutcome::default(),
        })
    })?;
    Ok(find_one_and_response(&proj, &outcome, want_after))
}

pub(super) fn update_many(
    t: CollRef,
    limits: &Limits,
    body: &Map<String, Value>,
) -> ApiResult<Response> {
    check_fields(body, &["filter", "update", "options"])?;
    let opts = options(body, &["upsert", "pageState"])?;
    let upsert = opt_bool(&opts, "upsert")?;
    let page_state = opt_str(&opts, "pageState")?.filter(|s| !s.is_empty());
    let filter = Filter::parse(body.get("filter"))?;
    let update = Update::parse(body.get("update"))?;
    let after = page_state
        .map(decode_page_state)
        .transpose()?
        .map(|(_, k)| k);

    let (mut cat, mut conn) = t.store.write();
    let coll = lookup_mut(&mut cat, t.ks, t.coll_name)?;
    filter.check_indexed(&coll.def)?;
    let now = now_ms();
    let mut changes = Changes::default();
    let mut matched = 0;
    let mut error = None;
    let mut next = None;
    {
        let mut iter = matches_after(coll, &filter, after.as_deref());
        let mut last_key = None;
        for (key, before) in iter.by_ref().take(limits.page_size) {
            matched += 1;
            last_key = Some(key.clone());
            let mut doc = before.clone();
            let applied = update
                .apply(&mut doc, &coll.def, false, now)
                .and_then(|()| check_updated(&doc, &coll.def));
            match applied {
                Ok(()) if doc != *before => changes.puts.push(Put::new(key.clone(), doc)),
                Ok(()) => {}
                Err(e) => {
                    error = Some(e.with_doc_id(before.id()));
                    break;
                }
            }
        }
        if error.is_none()
            && let Some(k) = last_key
            && iter.next().is_some()
        {
            next = Some(encode_page_state(0, &k));
        }
    }
    let modified = changes.puts.len();
    t.commit(&mut conn, coll, changes)?;
    let mut outcome = UpdateOutcome {
        matched,
        modified,
        ..Default::default()
    };
    if matched == 0 && upsert && after.is_none() && error.is_none() {
        let (key, doc) = upsert_doc(&filter, &update, &coll.def)?;
        let id = doc.id();
        if coll.docs.contains_key(&key) {
            return Err(already_exists(&id));
        }
        commit_put(t, &mut conn, coll, key, doc)?;
        outcome.upserted = Some(id);
    }
    let mut status = update_status(&outcome);
    if let Some(n) = next {
        status.insert("moreData".into(), json!(true));
        status.insert("nextPageState".into(), json!(n));
    }
    Ok(Response {
        data: None,
        status: Some(status),
        errors: error.into_iter().collect(),
    })
}

// ---------------------------------------------------------------------------
// Deletes

fn delete_single(
    t: CollRef,
    filter: &Filter,
    sort_v: Option<&Value>,
) -> ApiResult<Option<StoredDoc>> {
    with_selected(t, filter, sort_v, |conn, coll, found| {
        let Some((key, doc)) = found else {
            return Ok(None);
        };
        let changes = Changes {
            deletes: vec![key],
            ..Default::default()
        };
        t.commit(conn, coll, changes)?;
        Ok(Some(doc))
    })
}

pub(super) fn delete_one(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "sort", "options"])?;
    no_options("deleteOne", body)?;
    let filter = Filter::parse(body.get("filter"))?;
    let deleted = delete_single(t, &filter, body.get("sort"))?;
    Ok(Response::status(
        json!({"deletedCount": usize::from(deleted.is_some())}),
    ))
}

pub(super) fn find_one_and_delete(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    check_fields(body, &["filter", "sort", "projection", "options"])?;
    options(body, &[])?;
    let filter = Filter::parse(body.get("filter"))?;
    let proj = Projection::parse(body.get("projection"))?;
    let deleted = delete_single(t, &filter, body.get("sort"))?;
    Ok(Response {
        data: Some(document_data(&proj, deleted.as_ref())),
        status: Some(one("deletedCount", json!(usize::from(deleted.is_some())))),
        errors: Vec::new(),
    })
}

pub(super) fn delete_many(t: CollRef, body: &Map<String, Value>) -> ApiResult<Response> {
    let filter = filter_only("deleteMany", body)?;
    let (mut cat, mut conn) = t.store.write();
    let coll = lookup_mut(&mut cat, t.ks, t.coll_name)?;
    filter.check_indexed(&coll.def)?;
    if filter.is_empty() {
        let changes = Changes {
            truncate: true,
            ..Default::default()
        };
        t.commit(&mut conn, coll, changes)?;
        return Ok(Response::status(json!({"deletedCount": -1})));
    }
    let keys: Vec<String> = candidates(coll, &filter)
        .take(MAX_DELETE + 1)
        .map(|(k, _)| k.clone())
        .collect();
    let more = keys.len() > MAX_DELETE;
    let deletes: Vec<String> = keys.into_iter().take(MAX_DELETE).collect();
    let n = deletes.len();
    let changes = Changes {
        deletes,
        ..Default::default()
    };
    t.commit(&mut conn, coll, changes)?;
    Ok(counted("deletedCount", n, more))
}
