//! Reading songs: one or several by id, listings (storage order or sorted, with their cursors),
//! exact counts beyond the server's cap, and the version list sync compares.

use std::collections::{BTreeSet, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};
use songrec_storage::{
    Filter, LibrarySummary, ListQuery, Page, SongCount, SongId, SongMetadata, SortKey,
    StorageError, StorageResult, VersionEntry,
};

use super::docs::{self, META};
use super::errors;
use super::filter::{Translated, translate};
use super::handle::{AstraBackend, CONCURRENCY, base};
use super::list_cursor::{Cursor, Windows};
use super::storage::Ops;
use crate::dataapi::{Collection, DocumentCount, FindOptions, Sort, SortOrder};

/// Ids per `$in` lookup (the Data API's `$in` limit).
pub(super) const IN_CHUNK: usize = 100;

/// The distinct ids of `ids`, in id order.
pub(super) fn unique_ids(ids: &[SongId]) -> Vec<&str> {
    let unique: BTreeSet<&str> = ids.iter().map(SongId::as_str).collect();
    unique.into_iter().collect()
}

/// The Data API's in-memory sort cap (`maxDocumentSortCount`): a regularly sorted `find`
/// fails once this many documents match.
const SORT_CAP: f64 = 10_000.0;
/// Estimated matches one sorted request may span, as a share of the cap (sample gaps vary).
const WINDOW_SHARE: f64 = 0.4;
/// Narrowings after a sort-cap refusal before giving up.
const MAX_NARROWINGS: usize = 8;

/// Live songs whose stored sort keys are older than [`docs::SORT_KEYS_VERSION`].
fn stale_keys_filter() -> Value {
    json!({"deleted": false, "s.v": {"$ne": docs::SORT_KEYS_VERSION}})
}

/// The sort key of a listed document: `_id` or `s.<key>`.
fn key_of(doc: &Value, field: &str) -> StorageResult<String> {
    let v = match field.strip_prefix("s.") {
        Some(sub) => doc.get("s").and_then(|s| s.get(sub)),
        None => doc.get(field),
    };
    v.and_then(Value::as_str).map(str::to_owned).ok_or_else(|| {
        let id = doc.get("_id").and_then(Value::as_str).unwrap_or("?");
        errors::backend(format!(
            "song document {id} lacks its sort key {field}; re-store it (songrec sync / re-ingest)"
        ))
    })
}

/// `t` on live songs, with the sort key `field` beyond `lower` and up to `upper` (inclusive).
fn range_filter(
    t: &Translated,
    field: &str,
    descending: bool,
    lower: Option<&str>,
    upper: Option<&str>,
) -> Value {
    let mut t2 = t.clone();
    let (beyond, within) = if descending {
        ("$lt", "$gte")
    } else {
        ("$gt", "$lte")
    };
    if let Some(k) = lower {
        t2.clauses.push(json!({ field: { beyond: k } }));
    }
    if let Some(k) = upper {
        t2.clauses.push(json!({ field: { within: k } }));
    }
    t2.with_base(base("deleted", json!(false)))
}

/// `countDocuments` on `coll`; a failure is described as `what`.
async fn count_documents(
    coll: &Collection,
    filter: Value,
    what: &str,
) -> StorageResult<DocumentCount> {
    coll.count_documents(filter)
        .await
        .map_err(|e| errors::api(e, what))
}

fn with_key(filter: &Value, key: &str, value: Value) -> Value {
    let mut f = filter.as_object().cloned().unwrap_or_default();
    f.insert(key.into(), value);
    Value::Object(f)
}

impl AstraBackend {
    /// The sort cap in force: [`AstraBackend::with_sort_cap`]'s, else [`SORT_CAP`].
    fn sort_cap(&self) -> f64 {
        self.sort_cap.unwrap_or(SORT_CAP)
    }

    /// Exact count of documents matching `filter`, beyond the server's 1000 cap: past it, counts
    /// over groups of the 256 id buckets sized to stay under the cap (bucket by bucket if not).
    pub(super) async fn exact_count(&self, coll: &Collection, filter: Value) -> StorageResult<u64> {
        let what = format!("counting documents in {}", coll.name());
        if let DocumentCount::Exact(n) = count_documents(coll, filter.clone(), &what).await? {
            return Ok(n);
        }
        const PER_GROUP: u64 = 900;
        let estimate = coll
            .estimated_document_count()
            .await
            .map_err(|e| errors::api(e, &what))?
            .max(1);
        let per_group = usize::try_from((PER_GROUP * 256 / estimate).clamp(1, 16)).unwrap_or(1);
        let buckets: Vec<String> = (0..=255u8).map(|b| format!("{b:02x}")).collect();
        let groups: Vec<Vec<String>> = buckets.chunks(per_group).map(<[String]>::to_vec).collect();
        let filter = &filter;
        let counts: Vec<u64> = futures::stream::iter(groups)
            .map(|buckets| {
                let f = with_key(filter, "bucket", json!({ "$in": buckets }));
                let what = what.clone();
                async move {
                    match count_documents(coll, f, &what).await? {
                        DocumentCount::Exact(n) => Ok::<u64, StorageError>(n),
                        DocumentCount::AtLeast(_) => {
                            let mut n = 0;
                            for b in buckets {
                                n += self.bucket_count(coll, filter, &b, &what).await?;
                            }
                            Ok(n)
                        }
                    }
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect()
            .await?;
        Ok(counts.iter().sum())
    }

    async fn bucket_count(
        &self,
        coll: &Collection,
        filter: &Value,
        bucket: &str,
        what: &str,
    ) -> StorageResult<u64> {
        let f = with_key(filter, "bucket", json!(bucket));
        match count_documents(coll, f.clone(), what).await? {
            DocumentCount::Exact(n) => Ok(n),
            DocumentCount::AtLeast(_) => coll
                .find(f, FindOptions::default().projection(json!({"_id": 1})))
                .into_stream()
                .try_fold(0u64, |n, _| async move { Ok(n + 1) })
                .await
                .map_err(|e| errors::api(e, what)),
        }
    }

    /// Every songs document matching `filter` whose metadata satisfies `check` (slow path).
    async fn scan_songs(&self, filter: Value, check: &Filter) -> StorageResult<Vec<SongMetadata>> {
        let opts = FindOptions::default().projection(json!({ META: 1 }));
        let docs = self.songs.find(filter, opts).into_stream();
        docs.map_err(|e| errors::api(e, "reading songs"))
            .and_then(|doc| async move { docs::parse_meta(&doc) })
            .try_filter(|m| std::future::ready(check.matches(m)))
            .try_collect()
            .await
    }

    /// A sample of the sort keys matching `filter` beyond `lower` and within `upper` (one unsorted
    /// page, in hash order), in listing order, and whether they are all the matches.
    async fn sample_keys(
        &self,
        filter: &Translated,
        field: &str,
        descending: bool,
        lower: Option<&str>,
        upper: Option<&str>,
    ) -> StorageResult<(Vec<String>, bool)> {
        let f = range_filter(filter, field, descending, lower, upper);
        let mut cursor = self
            .songs
            .find(f, FindOptions::default().projection(json!({ field: 1 })));
        let page = cursor
            .next_page()
            .await
            .map_err(|e| errors::api(e, "sampling sort keys"))?
            .unwrap_or_default();
        let complete = cursor.next_page_state().is_none();
        let mut keys = page
            .iter()
            .map(|d| key_of(d, field))
            .collect::<StorageResult<Vec<_>>>()?;
        keys.sort_unstable();
        keys.dedup();
        if descending {
            keys.reverse();
        }
        Ok((keys, complete))
    }

    /// Samples bounds beyond `last` into an empty `w` and narrows its first window below
    /// `WINDOW_SHARE` of the cap; returns the next request's bound (`None`: the rest is small).
    async fn next_bound(
        &self,
        w: &mut Windows,
        filter: &Translated,
        field: &str,
        descending: bool,
        last: Option<&str>,
        cap: f64,
    ) -> StorageResult<Option<String>> {
        for _ in 0..64 {
            if w.bounds.is_empty() {
                let tail = match w.tail {
                    Some(t) => t,
                    None => self
                        .songs
                        .estimated_document_count()
                        .await
                        .map_err(|e| errors::api(e, "estimating the number of songs"))?
                        as f64,
                };
                if w.tail_exact || tail < cap * WINDOW_SHARE {
                    w.tail = Some(tail);
                    return Ok(None);
                }
                let (keys, complete) = self
                    .sample_keys(filter, field, descending, last, None)
                    .await?;
                let gap = Windows::gap(complete, tail, keys.len());
                w.bounds = keys.into_iter().map(|k| (k, gap)).collect();
                w.tail = Some(if complete { 0.0 } else { gap });
                w.tail_exact = complete;
                continue;
            }
            let first_gap = w.bounds.front().map_or(0.0, |b| b.1);
            if first_gap > cap * WINDOW_SHARE {
                let upper = w.bounds.front().map(|b| b.0.clone());
                let (keys, complete) = self
                    .sample_keys(filter, field, descending, last, upper.as_deref())
                    .await?;
                let gap = Windows::gap(complete, first_gap, keys.len());
                if let Some(front) = w.bounds.front_mut() {
                    front.1 = gap;
                }
                for k in keys.into_iter().rev() {
                    if Some(&k) != upper.as_ref() {
                        w.bounds.push_front((k, gap));
                    }
                }
                continue;
            }
            // The furthest bound whose cumulative estimate stays within the target.
            let mut sum = 0.0;
            let mut pick = 0;
            for (i, b) in w.bounds.iter().enumerate() {
                sum += b.1;
                if sum > cap * WINDOW_SHARE {
                    break;
                }
                pick = i;
            }
            return Ok(w.bounds.get(pick).map(|b| b.0.clone()));
        }
        Err(StorageError::Backend {
            backend: errors::BACKEND.into(),
            message: format!("listing songs sorted by {field}: could not narrow the sort window"),
            transient: true,
        })
    }

    /// A sorted listing at any library size: each `find` is narrowed to a key range estimated
    /// far below the Data API's in-memory sort cap; a refusal anyway narrows it and tries again.
    ///
    /// **Where a range ends.** A sorted `find` answers one page of the server's size (20 or 50 on
    /// Astra, any on another server) with `nextPageState: null`: no end signal. A range is done
    /// when a page is empty, or shorter than both what was asked for and the largest page the
    /// server has returned (it fills every page); the largest page seen rides in the cursor, so
    /// only a listing that ends within its first page pays one confirming request.
    async fn list_sorted(
        &self,
        q: &ListQuery,
        field: &str,
        t: &Translated,
        start: Option<Cursor>,
    ) -> StorageResult<Page<SongMetadata>> {
        let order = if q.descending {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        };
        let sub = field.strip_prefix("s.").unwrap_or(field).to_owned();
        let (mut last, mut w, mut page_cap) = match start {
            Some(Cursor::Keyset { k, w, p, .. }) => (Some(k), w, p),
            None => (None, Windows::default(), 0),
        };
        let mut items = Vec::new();
        let mut narrowings = 0;
        // The cap the windows are sized for: the configured one, a quarter of it after each
        // refusal that follows a refusal (the server's is smaller than this client was told).
        let mut cap = self.sort_cap();
        loop {
            let bound = self
                .next_bound(&mut w, t, field, q.descending, last.as_deref(), cap)
                .await?;
            let filter = range_filter(t, field, q.descending, last.as_deref(), bound.as_deref());
            let remaining = q.limit - items.len();
            let opts = FindOptions::default()
                .projection(json!({ META: 1, field: 1 }))
                .sort(Sort::Fields(vec![(field.to_owned(), order)]))
                .limit(remaining);
            let page = match self.songs.find(filter, opts).collect_all().await {
                Ok(p) => p,
                Err(e)
                    if e.kind() == Some(crate::dataapi::ErrorKind::SortRowLimit)
                        && narrowings < MAX_NARROWINGS =>
                {
                    // The estimate was stale or the server's cap is lower: split the windows
                    // up to the bound used, and size the next ones for a smaller cap.
                    narrowings += 1;
                    let was = cap;
                    if narrowings > 1 {
                        // Narrowing alone did not help: the server's cap is lower.
                        cap = (cap / 4.0).max(10.0);
                    }
                    match &bound {
                        Some(b) => {
                            for x in w.bounds.iter_mut() {
                                x.1 = x.1.max(was);
                                if &x.0 == b {
                                    break;
                                }
                            }
                        }
                        None => {
                            w.bounds.clear();
                            w.tail = Some(was);
                            w.tail_exact = false;
                        }
                    }
                    continue;
                }
                Err(e) => {
                    return Err(errors::api(e, &format!("listing songs sorted by {sub}")));
                }
            };
            narrowings = 0;
            page_cap = page_cap.max(page.len());
            for doc in &page {
                let key = key_of(doc, field)?;
                last = Some(key);
                let m = docs::parse_meta(doc)?;
                if !t.needs_recheck || q.filter.matches(&m) {
                    items.push(m);
                }
            }
            // Empty, or shorter than asked and than a page the server has already filled: the
            // range holds no more (see above). Never a guessed page size.
            let exhausted = page.is_empty() || page.len() < remaining.min(page_cap);
            if exhausted {
                match bound {
                    // Everything up to the bound is listed.
                    Some(b) => last = Some(b),
                    None => return Ok(Page { items, next: None }),
                }
            }
            // Drop the bounds now behind.
            if let Some(l) = &last {
                let behind = |b: &String| if q.descending { b >= l } else { b <= l };
                while w.bounds.front().is_some_and(|front| behind(&front.0)) {
                    w.bounds.pop_front();
                }
            }
            if items.len() >= q.limit {
                let c = Cursor::Keyset {
                    f: field.to_owned(),
                    d: q.descending,
                    k: last.unwrap_or_default(),
                    p: page_cap,
                    w: w.for_cursor(self.sort_cap()),
                };
                return Ok(Page {
                    items,
                    next: Some(c.encode()),
                });
            }
        }
    }

    /// How many live songs carry sort keys older than [`docs::SORT_KEYS_VERSION`] (not counted
    /// again once none were found); until `songrec init-astra` upgrades them, listings by title or
    /// artist are sorted here ([`Self::list_sorted_here`]), and the first says so once.
    pub(super) async fn stale_sort_keys(&self) -> StorageResult<u64> {
        use std::sync::atomic::Ordering;
        if self.sort_keys_checked.load(Ordering::Relaxed) {
            return Ok(0);
        }
        let what = "checking the songs' sort keys";
        let n = count_documents(&self.songs, stale_keys_filter(), what)
            .await?
            .value();
        if n == 0 {
            self.sort_keys_checked.store(true, Ordering::Relaxed);
        } else if !self.sort_keys_warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "{} of this cloud library {} sort keys of an earlier songrec: listings \
                 by title or artist are sorted on this machine (every song is read) until \
                 `songrec init-astra` upgrades them (it needs a token that can write)",
                songrec_storage::plural::count(n, "song"),
                if n == 1 { "carries" } else { "carry" }
            );
        }
        Ok(n)
    }

    /// A listing by title or artist sorted on this machine (stored keys partly old): every
    /// matching song is read, ordered by its current [`docs::sort_keys`] (the service's order
    /// and cursors after the upgrade) and paged from `start`. Writes nothing.
    async fn list_sorted_here(
        &self,
        q: &ListQuery,
        field: &str,
        t: &Translated,
        start: Option<Cursor>,
    ) -> StorageResult<Page<SongMetadata>> {
        let sub = field.strip_prefix("s.").unwrap_or(field);
        let songs = self
            .scan_songs(t.with_base(base("deleted", json!(false))), &q.filter)
            .await?;
        let mut keyed: Vec<(String, SongMetadata)> = songs
            .into_iter()
            .map(|m| {
                let k = docs::sort_keys(&m)[sub]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                (k, m)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.cmp(&b.0));
        if q.descending {
            keyed.reverse();
        }
        let from = match &start {
            Some(Cursor::Keyset { k, .. }) => {
                keyed.partition_point(|(key, _)| if q.descending { key >= k } else { key <= k })
            }
            None => 0,
        };
        let rest = &keyed[from..];
        let take = rest.len().min(q.limit);
        let next = (rest.len() > take && take > 0).then(|| {
            Cursor::Keyset {
                f: field.to_owned(),
                d: q.descending,
                k: rest[take - 1].0.clone(),
                p: 0,
                w: Windows::default(),
            }
            .encode()
        });
        Ok(Page {
            items: rest[..take].iter().map(|(_, m)| m.clone()).collect(),
            next,
        })
    }

    /// Rewrites old title and artist sort keys to the current form (by `songrec init-astra`), an
    /// update only applying while the song's version is the one read; returns how many were.
    pub(super) async fn upgrade_sort_keys(&self) -> StorageResult<u64> {
        let rewrite = "upgrading the sort keys of songs stored by an earlier songrec";
        let mut upgraded = 0;
        loop {
            let page = self
                .songs
                .find(
                    stale_keys_filter(),
                    FindOptions::default()
                        .projection(json!({ META: 1, "version": 1 }))
                        .limit(1000),
                )
                .collect_all()
                .await
                .map_err(|e| errors::api(e, rewrite))?;
            if page.is_empty() {
                break;
            }
            let matched: Vec<u64> = futures::stream::iter(page)
                .map(|doc| async move {
                    let m = docs::parse_meta(&doc)?;
                    let version = doc.get("version").cloned().unwrap_or(Value::Null);
                    self.songs
                        .update_one(
                            json!({"_id": m.id.as_str(), "version": version, "deleted": false}),
                            json!({"$set": {"s": docs::sort_keys(&m)}}),
                            crate::dataapi::UpdateOptions::default(),
                        )
                        .await
                        .map(|r| r.matched_count)
                        .map_err(|e| errors::api(e, rewrite))
                })
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
            upgraded += matched.iter().sum::<u64>();
            if matched.iter().all(|&m| m == 0) {
                // Every song changed under us: its writer stored current keys.
                break;
            }
        }
        Ok(upgraded)
    }
}

impl Ops<'_> {
    pub(super) async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let filter = json!({"_id": id.as_str(), "deleted": false});
        let what = format!("reading metadata of song {id}");
        let doc = self
            .song_where(filter, Some(json!({ META: 1 })), &what)
            .await?;
        doc.as_ref().map(docs::parse_meta).transpose()
    }

    pub(super) async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        query.validate()?;
        let t = translate(&query.filter);
        if t.never {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let cursor = query
            .cursor
            .as_deref()
            .map(Cursor::decode)
            .transpose()
            .map_err(StorageError::InvalidInput)?;
        let field = docs::sort_field(query.sort).unwrap_or("_id");
        if let Some(Cursor::Keyset { f, d, .. }) = &cursor
            && (f != field || *d != query.descending)
        {
            return Err(StorageError::InvalidInput(
                "this cursor belongs to a listing with another sort order; list with the same sort"
                    .into(),
            ));
        }
        if matches!(query.sort, SortKey::Title | SortKey::Artist)
            && self.stale_sort_keys().await? > 0
        {
            return self.list_sorted_here(query, field, &t, cursor).await;
        }
        self.list_sorted(query, field, &t, cursor).await
    }

    pub(super) async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        filter.validate()?;
        let t = translate(filter);
        if t.never {
            return Ok(0);
        }
        let f = t.with_base(base("deleted", json!(false)));
        if t.needs_recheck {
            return Ok(self.scan_songs(f, filter).await?.len() as u64);
        }
        self.exact_count(&self.songs, f).await
    }

    /// One `countDocuments` (a lower bound past the server's 1000 cap); a filter re-checked on
    /// the client says only "at least 0".
    pub(super) async fn quick_count(&self, filter: &Filter) -> StorageResult<SongCount> {
        filter.validate()?;
        let t = translate(filter);
        if t.never {
            return Ok(SongCount::Exact(0));
        }
        if t.needs_recheck {
            return Ok(SongCount::AtLeast(0));
        }
        let f = t.with_base(base("deleted", json!(false)));
        let what = format!("counting documents in {}", self.songs.name());
        count_documents(&self.songs, f, &what).await
    }

    /// One unsorted walk over every document, live songs and tombstones alike (the Data API has
    /// no aggregation; no sort, so no sort cap).
    pub(super) async fn summary(&self) -> StorageResult<LibrarySummary> {
        let every = json!({"deleted": {"$in": [true, false]}});
        let opts = FindOptions::default().projection(json!({ META: 1, "deleted": 1 }));
        let docs = self.songs.find(every, opts).into_stream();
        let add = |mut s: LibrarySummary, doc: Value| async move {
            match doc.get("deleted").and_then(Value::as_bool) {
                Some(true) => s.tombstones += 1,
                Some(false) => s.add(&docs::parse_meta(&doc)?),
                None => {}
            }
            Ok(s)
        };
        docs.map_err(|e| errors::api(e, "adding up the library"))
            .try_fold(LibrarySummary::default(), add)
            .await
    }

    pub(super) async fn get_metadata_many(
        &self,
        ids: &[SongId],
    ) -> StorageResult<Vec<SongMetadata>> {
        let mut found: HashMap<SongId, SongMetadata> = HashMap::new();
        for chunk in unique_ids(ids).chunks(IN_CHUNK) {
            let filter = json!({"_id": {"$in": chunk}, "deleted": false});
            let what = "reading metadata of several songs";
            let docs = self
                .songs_where(filter, Some(json!({ META: 1 })), what)
                .await?;
            for d in &docs {
                let m = docs::parse_meta(d)?;
                found.insert(m.id.clone(), m);
            }
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    pub(super) async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let mut out = self
            .find_versions(
                json!({"deleted": {"$in": [true, false]}}),
                "listing song versions",
            )
            .await?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The live songs in the range of ids that start with `prefix` (not a whole listing).
    pub(super) async fn ids_with_prefix(
        &self,
        prefix: &str,
        limit: usize,
    ) -> StorageResult<Vec<SongId>> {
        let prefix = prefix.to_ascii_lowercase();
        if !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let filter = match prefix.bytes().last() {
            None => json!({"deleted": false}),
            Some(last) => {
                // The ids that start with "3f" sort from "3f" up to "3g", exclusive.
                let upper = format!("{}{}", &prefix[..prefix.len() - 1], char::from(last + 1));
                let range = [
                    json!({"_id": {"$gte": prefix}}),
                    json!({"_id": {"$lt": upper}}),
                ];
                json!({"deleted": false, "$and": range})
            }
        };
        let what = "finding songs by id prefix";
        let docs = self
            .songs_where(filter, Some(json!({"_id": 1})), what)
            .await?;
        let mut ids = docs
            .iter()
            .map(docs::doc_id)
            .collect::<StorageResult<Vec<_>>>()?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_accept_every_sort_field_songrec_lists_by() {
        use super::super::list_cursor::SORT_FIELDS;
        for &key in SortKey::ALL {
            let f = docs::sort_field(key).unwrap_or("_id");
            assert!(SORT_FIELDS.contains(&f), "{f}");
        }
    }
}
