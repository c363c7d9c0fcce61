//! Reading songs: one or several by id, listings (storage order or sorted, with their cursors),
//! exact counts beyond the server's cap, and the version list sync compares.

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use songrec_storage::{
    Filter, ListQuery, Page, SongId, SongMetadata, StorageError, StorageResult, VersionEntry,
};

use super::docs::{self, META};
use super::errors::{self, BACKEND};
use super::filter::{Translated, translate};
use super::{AstraBackend, CONCURRENCY, base};
use crate::dataapi::{Collection, DocumentCount, FindOptions, Sort, SortOrder};

/// Ids per `$in` lookup (the Data API's `$in` limit).
const IN_CHUNK: usize = 100;

#[derive(Serialize, Deserialize)]
#[serde(tag = "t")]
enum Cursor {
    /// Storage order: resume at `o` documents into the page fetched with `p`.
    #[serde(rename = "p")]
    Storage { p: Option<String>, o: usize },
    /// Keyset: continue after sort key `k` of sort field `f`.
    #[serde(rename = "k")]
    Keyset { f: String, d: bool, k: String },
}

impl Cursor {
    fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(s: &str) -> StorageResult<Self> {
        URL_SAFE_NO_PAD
            .decode(s.trim())
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| {
                StorageError::InvalidInput(format!(
                    "bad list cursor {:?}: pass the `next` of the previous page unchanged",
                    s.chars().take(40).collect::<String>()
                ))
            })
    }
}

fn with_key(filter: &Value, key: &str, value: Value) -> Value {
    let mut f = filter.as_object().cloned().unwrap_or_default();
    f.insert(key.into(), value);
    Value::Object(f)
}

impl AstraBackend {
    /// Exact count of documents matching `filter`, beyond the server's 1000 cap.
    pub(super) async fn exact_count(&self, coll: &Collection, filter: Value) -> StorageResult<u64> {
        let what = format!("counting documents in {}", coll.name());
        match coll
            .count_documents(filter.clone())
            .await
            .map_err(|e| errors::api(e, &what))?
        {
            DocumentCount::Exact(n) => return Ok(n),
            DocumentCount::AtLeast(_) => {}
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let groups: Vec<Vec<String>> = HEX
            .iter()
            .map(|&hi| {
                HEX.iter()
                    .map(|&lo| String::from_utf8_lossy(&[hi, lo]).into_owned())
                    .collect()
            })
            .collect();
        let filter = &filter;
        let counts: Vec<u64> = futures::stream::iter(groups)
            .map(|buckets| {
                let f = with_key(filter, "bucket", json!({ "$in": buckets }));
                let what = what.clone();
                async move {
                    match coll
                        .count_documents(f)
                        .await
                        .map_err(|e| errors::api(e, &what))?
                    {
                        DocumentCount::Exact(n) => Ok(n),
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
        match coll
            .count_documents(f.clone())
            .await
            .map_err(|e| errors::api(e, what))?
        {
            DocumentCount::Exact(n) => Ok(n),
            DocumentCount::AtLeast(_) => {
                let ids = coll
                    .find(f, FindOptions::default().projection(json!({"_id": 1})))
                    .into_stream()
                    .try_fold(0u64, |n, _| async move { Ok(n + 1) })
                    .await
                    .map_err(|e| errors::api(e, what))?;
                Ok(ids)
            }
        }
    }

    /// Every songs document matching `filter` whose metadata satisfies `check` (slow path).
    async fn scan_songs(&self, filter: Value, check: &Filter) -> StorageResult<Vec<SongMetadata>> {
        let mut stream = std::pin::pin!(
            self.songs
                .find(
                    filter,
                    FindOptions::default().projection(json!({ META: 1 }))
                )
                .into_stream()
        );
        let mut out = Vec::new();
        while let Some(doc) = stream.next().await {
            let doc = doc.map_err(|e| errors::api(e, "reading songs"))?;
            let m = docs::parse_meta(&doc)?;
            if check.matches(&m) {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// One raw `find` page (for listings that resume at a page state).
    async fn find_page(
        &self,
        filter: &Value,
        projection: &Value,
        page_state: Option<&str>,
    ) -> StorageResult<(Vec<Value>, Option<String>)> {
        let mut cmd = Map::new();
        cmd.insert("filter".into(), filter.clone());
        cmd.insert("projection".into(), projection.clone());
        if let Some(p) = page_state {
            cmd.insert("options".into(), json!({"pageState": p}));
        }
        let resp = self
            .client
            .run_command(Some(self.songs.name()), &json!({ "find": cmd }), true)
            .await
            .map_err(|e| errors::api(e, "listing songs"))?;
        let data = resp.data.unwrap_or_default();
        let docs = match data.get("documents") {
            Some(Value::Array(d)) => d.clone(),
            _ => Vec::new(),
        };
        let next = match data.get("nextPageState") {
            Some(Value::String(s)) if !s.is_empty() && Some(s.as_str()) != page_state => {
                Some(s.clone())
            }
            _ => None,
        };
        Ok((docs, next))
    }

    async fn list_storage_order(
        &self,
        q: &ListQuery,
        filter: Value,
        recheck: bool,
        start: (Option<String>, usize),
    ) -> StorageResult<Page<SongMetadata>> {
        let projection = json!({ META: 1 });
        let (mut state, mut skip) = start;
        let mut items = Vec::new();
        loop {
            let (docs, next) = self
                .find_page(&filter, &projection, state.as_deref())
                .await?;
            for (i, doc) in docs.iter().enumerate().skip(skip) {
                if items.len() == q.limit {
                    let c = Cursor::Storage { p: state, o: i };
                    return Ok(Page {
                        items,
                        next: Some(c.encode()),
                    });
                }
                let m = docs::parse_meta(doc)?;
                if !recheck || q.filter.matches(&m) {
                    items.push(m);
                }
            }
            match next {
                None => return Ok(Page { items, next: None }),
                Some(s) => {
                    state = Some(s);
                    skip = 0;
                    if items.len() == q.limit {
                        let c = Cursor::Storage { p: state, o: 0 };
                        return Ok(Page {
                            items,
                            next: Some(c.encode()),
                        });
                    }
                }
            }
        }
    }

    async fn list_sorted(
        &self,
        q: &ListQuery,
        field: &str,
        t: &Translated,
        after: Option<String>,
    ) -> StorageResult<Page<SongMetadata>> {
        let order = if q.descending {
            SortOrder::Descending
        } else {
            SortOrder::Ascending
        };
        let sub = field.strip_prefix("s.").unwrap_or(field).to_owned();
        let mut last = after;
        let mut items = Vec::new();
        loop {
            let mut t2 = t.clone();
            if let Some(k) = &last {
                let op = if q.descending { "$lt" } else { "$gt" };
                t2.clauses.push(json!({ field: { op: k } }));
            }
            let filter = t2.with_base(base("deleted", json!(false)));
            let remaining = q.limit - items.len();
            let opts = FindOptions::default()
                .projection(json!({ META: 1, "s": 1 }))
                .sort(Sort::Fields(vec![(field.to_owned(), order)]))
                .limit(remaining);
            let page = self
                .songs
                .find(filter, opts)
                .collect_all()
                .await
                .map_err(|e| errors::api(e, &format!("listing songs sorted by {sub}")))?;
            if page.is_empty() {
                return Ok(Page { items, next: None });
            }
            for doc in &page {
                let key = doc
                    .pointer(&format!("/s/{sub}"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| StorageError::Backend {
                        backend: BACKEND.into(),
                        message: format!(
                            "song document {} lacks its sort key s.{sub}; re-store it (songrec sync / re-ingest)",
                            doc.get("_id").and_then(Value::as_str).unwrap_or("?")
                        ),
                        transient: false,
                    })?;
                last = Some(key.to_owned());
                let m = docs::parse_meta(doc)?;
                if !t.needs_recheck || q.filter.matches(&m) {
                    items.push(m);
                }
            }
            if items.len() >= q.limit {
                let c = Cursor::Keyset {
                    f: field.to_owned(),
                    d: q.descending,
                    k: last.unwrap_or_default(),
                };
                return Ok(Page {
                    items,
                    next: Some(c.encode()),
                });
            }
        }
    }

    /// Implements `StorageBackend::get_metadata`.
    pub(super) async fn read_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let doc = self
            .songs
            .find_one(
                json!({"_id": id.as_str(), "deleted": false}),
                FindOptions::default().projection(json!({ META: 1 })),
            )
            .await
            .map_err(|e| errors::api(e, &format!("reading metadata of song {id}")))?;
        doc.as_ref().map(docs::parse_meta).transpose()
    }

    /// Implements `StorageBackend::list`.
    pub(super) async fn list_page(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        query.validate()?;
        let t = translate(&query.filter);
        if t.never {
            return Ok(Page {
                items: Vec::new(),
                next: None,
            });
        }
        let cursor = query.cursor.as_deref().map(Cursor::decode).transpose()?;
        match docs::sort_field(query.sort) {
            None => {
                let start = match cursor {
                    None => (None, 0),
                    Some(Cursor::Storage { p, o }) => (p, o),
                    Some(Cursor::Keyset { .. }) => {
                        return Err(StorageError::InvalidInput(
                            "this cursor belongs to a sorted listing; list with the same sort"
                                .into(),
                        ));
                    }
                };
                let filter = t.with_base(base("deleted", json!(false)));
                self.list_storage_order(query, filter, t.needs_recheck, start)
                    .await
            }
            Some(field) => {
                let after = match cursor {
                    None => None,
                    Some(Cursor::Keyset { f, d, k }) if f == field && d == query.descending => {
                        Some(k)
                    }
                    Some(_) => {
                        return Err(StorageError::InvalidInput(
                            "this cursor belongs to a listing with another sort order; list with the same sort".into(),
                        ));
                    }
                };
                self.list_sorted(query, field, &t, after).await
            }
        }
    }

    /// Implements `StorageBackend::count`.
    pub(super) async fn count_songs(&self, filter: &Filter) -> StorageResult<u64> {
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

    /// Implements `StorageBackend::get_metadata_many`.
    pub(super) async fn read_metadata_many(
        &self,
        ids: &[SongId],
    ) -> StorageResult<Vec<SongMetadata>> {
        let mut found: HashMap<SongId, SongMetadata> = HashMap::new();
        let unique: Vec<&str> = ids
            .iter()
            .map(SongId::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for chunk in unique.chunks(IN_CHUNK) {
            let docs = self
                .songs
                .find(
                    json!({"_id": {"$in": chunk}, "deleted": false}),
                    FindOptions::default().projection(json!({ META: 1 })),
                )
                .collect_all()
                .await
                .map_err(|e| errors::api(e, "reading metadata of several songs"))?;
            for d in &docs {
                let m = docs::parse_meta(d)?;
                found.insert(m.id.clone(), m);
            }
        }
        Ok(ids.iter().filter_map(|id| found.get(id).cloned()).collect())
    }

    /// Implements `StorageBackend::list_versions`.
    pub(super) async fn read_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let mut out = self
            .find_versions(
                json!({"deleted": {"$in": [true, false]}}),
                "listing song versions",
            )
            .await?;
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}
