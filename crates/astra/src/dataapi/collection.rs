//! Collection handle and document commands.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};
use url::Url;

use super::client::{CommandResponse, DataApiClient};
use super::config::VectorEncoding;
use super::cursor::FindCursor;
use super::error::DataApiError;
use super::vector::{encode_vector, reencode_member};

/// Similarity metric of a vector collection.
///
/// ```
/// use songrec_astra::dataapi::SimilarityMetric;
///
/// assert_eq!("dot_product".parse::<SimilarityMetric>().unwrap(), SimilarityMetric::DotProduct);
/// assert_eq!(SimilarityMetric::Cosine.as_str(), "cosine");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SimilarityMetric {
    /// `(1 + cos) / 2`.
    #[default]
    Cosine,
    /// `1 / (1 + squared distance)`.
    Euclidean,
    /// `(1 + dot) / 2`.
    DotProduct,
}

impl SimilarityMetric {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::Euclidean => "euclidean",
            Self::DotProduct => "dot_product",
        }
    }
}

impl FromStr for SimilarityMetric {
    type Err = DataApiError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Cosine, Self::Euclidean, Self::DotProduct]
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                DataApiError::InvalidArgument(format!("unknown similarity metric {s:?}"))
            })
    }
}

/// Which fields the server indexes (exactly one of allow/deny).
///
/// ```
/// use songrec_astra::dataapi::Indexing;
///
/// let i = Indexing::Deny(vec!["lyrics".into()]);
/// assert_eq!(i.to_json(), serde_json::json!({"deny": ["lyrics"]}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Indexing {
    /// Index only these paths.
    Allow(Vec<String>),
    /// Index everything except these paths.
    Deny(Vec<String>),
}

impl Indexing {
    /// Wire form.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Allow(p) => json!({ "allow": p }),
            Self::Deny(p) => json!({ "deny": p }),
        }
    }
}

/// One entry of `findCollections`.
///
/// ```
/// use songrec_astra::dataapi::CollectionInfo;
///
/// let info = CollectionInfo { name: "songs".into(), dimension: Some(512), metric: None, options: None };
/// assert_eq!(info.dimension, Some(512));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionInfo {
    pub name: String,
    /// Vector dimension (explain only; accepts the `size` alias).
    pub dimension: Option<usize>,
    /// Similarity metric (explain only; accepts the `function` alias).
    pub metric: Option<SimilarityMetric>,
    /// The raw `options` object (explain only).
    pub options: Option<Value>,
}

impl CollectionInfo {
    pub(crate) fn from_json(v: &Value) -> Result<Self, DataApiError> {
        match v {
            Value::String(name) => Ok(Self {
                name: name.clone(),
                ..Self::default()
            }),
            Value::Object(o) => {
                let name = o
                    .get("name")
                    .and_then(Value::as_str)
                    .ok_or_else(|| DataApiError::Decode("collection entry without name".into()))?
                    .to_owned();
                let options = o.get("options").cloned();
                let vector = options.as_ref().and_then(|opt| opt.get("vector"));
                let dimension = vector
                    .and_then(|v| v.get("dimension").or_else(|| v.get("size")))
                    .and_then(Value::as_u64)
                    .and_then(|d| usize::try_from(d).ok());
                let metric = vector
                    .and_then(|v| v.get("metric").or_else(|| v.get("function")))
                    .and_then(Value::as_str)
                    .and_then(|m| m.parse().ok());
                Ok(Self {
                    name,
                    dimension,
                    metric,
                    options,
                })
            }
            _ => Err(DataApiError::Decode(
                "findCollections entry is neither a string nor an object".into(),
            )),
        }
    }
}

/// Sort direction.
///
/// ```
/// use songrec_astra::dataapi::SortOrder;
/// assert_ne!(SortOrder::Ascending, SortOrder::Descending);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `1`
    Ascending,
    /// `-1`
    Descending,
}

/// A sort clause.
///
/// ```
/// use songrec_astra::dataapi::{Sort, SortOrder, VectorEncoding};
///
/// let s = Sort::Vector(vec![1.0, 0.0]);
/// assert_eq!(s.to_json(VectorEncoding::Array), serde_json::json!({"$vector": [1.0, 0.0]}));
/// let s = Sort::Fields(vec![("year".into(), SortOrder::Descending)]);
/// assert_eq!(s.to_json(VectorEncoding::Binary), serde_json::json!({"year": -1}));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Sort {
    /// ANN search by similarity to this vector (one page, no paging; limit ≤ 1000).
    Vector(Vec<f32>),
    /// Regular (in-memory, ≤ 10 000 candidates) sort on fields.
    ///
    /// The clause is sent as a JSON object, whose keys serde_json orders alphabetically
    /// unless its `preserve_order` feature is enabled: with several keys the server may see
    /// them in another priority order. Prefer one (composite) key.
    Fields(Vec<(String, SortOrder)>),
}

impl Sort {
    /// Wire form.
    pub fn to_json(&self, encoding: VectorEncoding) -> Value {
        match self {
            Self::Vector(v) => json!({ "$vector": encode_vector(v, encoding) }),
            Self::Fields(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(f, o)| {
                        let dir = if *o == SortOrder::Ascending { 1 } else { -1 };
                        (f.clone(), json!(dir))
                    })
                    .collect(),
            ),
        }
    }
}

/// Options of `find` / `find_one`.
///
/// `projection: None` sends no projection, so the server leaves `$vector` out.
///
/// ```
/// use songrec_astra::dataapi::FindOptions;
///
/// let o = FindOptions::default().vector_sort(vec![0.1, 0.2]).limit(10).include_similarity();
/// assert_eq!(o.limit, Some(10));
/// assert!(o.include_similarity);
/// let o = FindOptions::default().include_vector();
/// assert_eq!(o.projection, Some(serde_json::json!({"$vector": 1})));
/// ```
#[derive(Debug, Clone, Default, PartialEq, derive_setters::Setters)]
#[setters(strip_option)]
pub struct FindOptions {
    /// Projection (`None` = server default, i.e. everything but `$vector`).
    pub projection: Option<Value>,
    pub sort: Option<Sort>,
    /// Maximum number of documents in total (across pages).
    pub limit: Option<usize>,
    /// Documents to skip (regular sort only).
    pub skip: Option<usize>,
    /// Ask for `$similarity` (vector sort only).
    #[setters(skip)]
    pub include_similarity: bool,
}

impl FindOptions {
    /// Adds `$vector` to the projection.
    pub fn include_vector(mut self) -> Self {
        let mut p = match self.projection.take() {
            Some(Value::Object(o)) => o,
            _ => Map::new(),
        };
        p.insert("$vector".into(), json!(1));
        self.projection = Some(Value::Object(p));
        self
    }

    /// Sorts by vector similarity.
    pub fn vector_sort(mut self, vector: Vec<f32>) -> Self {
        self.sort = Some(Sort::Vector(vector));
        self
    }

    /// Requests `$similarity` on each document.
    pub fn include_similarity(mut self) -> Self {
        self.include_similarity = true;
        self
    }
}

/// Options of `update_one`.
///
/// ```
/// use songrec_astra::dataapi::UpdateOptions;
/// assert!(UpdateOptions::upsert().upsert);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptions {
    /// Insert if nothing matches.
    pub upsert: bool,
    /// Which match to update.
    pub sort: Option<Sort>,
}

impl UpdateOptions {
    /// `upsert: true`.
    pub fn upsert() -> Self {
        Self {
            upsert: true,
            ..Self::default()
        }
    }
}

/// Result of `update_one`.
///
/// ```
/// use songrec_astra::dataapi::UpdateResult;
/// let r = UpdateResult { matched_count: 0, modified_count: 0, upserted_id: Some(serde_json::json!("a")) };
/// assert!(r.upserted_id.is_some());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateResult {
    pub matched_count: u64,
    pub modified_count: u64,
    /// `_id` of an upserted document.
    pub upserted_id: Option<Value>,
}

/// Result of `update_many` (summed over its pages).
///
/// ```
/// use songrec_astra::dataapi::UpdateManyResult;
/// let r = UpdateManyResult { matched_count: 60, modified_count: 60, requests: 2 };
/// assert_eq!(r.requests, 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateManyResult {
    pub matched_count: u64,
    pub modified_count: u64,
    /// `updateMany` calls it took (one page each).
    pub requests: u64,
}

/// Result of `delete_many`.
///
/// ```
/// use songrec_astra::dataapi::DeleteManyResult;
/// let r = DeleteManyResult { deleted_count: 45, requests: 3 };
/// assert_eq!(r.deleted_count, 45);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteManyResult {
    /// Documents deleted in total.
    pub deleted_count: u64,
    /// `deleteMany` rounds it took (the server deletes ≤ 20 per call).
    pub requests: u64,
}

/// Result of `count_documents`: [`SongCount::AtLeast`](songrec_storage::SongCount::AtLeast)
/// when the server stopped counting (`moreData`).
///
/// ```
/// use songrec_astra::dataapi::DocumentCount;
/// assert_eq!(DocumentCount::AtLeast(1000).value(), 1000);
/// assert!(!DocumentCount::AtLeast(1000).is_exact());
/// ```
pub type DocumentCount = songrec_storage::SongCount;

/// A handle to one collection. Cheap to clone.
///
/// ```no_run
/// # async fn demo(client: songrec_astra::dataapi::DataApiClient) -> Result<(), songrec_astra::dataapi::DataApiError> {
/// use serde_json::json;
/// use songrec_astra::dataapi::{FindOptions, UpdateOptions};
///
/// let songs = client.collection("songs");
/// songs.update_one(json!({"_id": "t1"}), json!({"$set": {"title": "A", "$vector": [0.1, 0.2]}}), UpdateOptions::upsert()).await?;
/// let near = songs.find(json!({}), FindOptions::default().vector_sort(vec![0.1, 0.2]).limit(5).include_similarity()).collect_all().await?;
/// # let _ = near; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Collection {
    pub(crate) client: DataApiClient,
    pub(crate) name: String,
    pub(crate) url: Url,
}

impl fmt::Debug for Collection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collection")
            .field("name", &self.name)
            .field("client", &self.client)
            .finish()
    }
}

impl Collection {
    pub(crate) fn new(client: DataApiClient, name: &str, url: Url) -> Self {
        Self {
            client,
            name: name.to_owned(),
            url,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn client(&self) -> &DataApiClient {
        &self.client
    }

    pub(crate) fn encoding(&self) -> VectorEncoding {
        self.client.config().vector_encoding
    }

    pub(crate) async fn command(
        &self,
        name: &str,
        body: impl Into<Value>,
        retry_safe: bool,
    ) -> Result<CommandResponse, DataApiError> {
        let body = json!({ name: body.into() });
        self.client
            .execute(&self.url, name, &body, retry_safe)
            .await
    }

    /// Starts a `find`; the returned cursor pages lazily following `nextPageState`.
    ///
    /// A vector sort returns one page (the server never pages ANN results), so iterating a
    /// vector search costs exactly one request.
    pub fn find(&self, filter: Value, options: FindOptions) -> FindCursor {
        FindCursor::new(self.clone(), filter, options)
    }

    /// One vector search: the `limit` documents most similar to `vector` (with
    /// `$similarity`), in one request.
    pub async fn find_similar(
        &self,
        vector: &[f32],
        limit: usize,
        filter: Value,
        projection: Option<Value>,
    ) -> Result<Vec<Value>, DataApiError> {
        let mut options = FindOptions::default()
            .vector_sort(vector.to_vec())
            .limit(limit)
            .include_similarity();
        options.projection = projection;
        self.find(filter, options).collect_all().await
    }

    /// `findOne` (`limit`/`skip` in `options` are ignored).
    pub async fn find_one(
        &self,
        filter: Value,
        options: FindOptions,
    ) -> Result<Option<Value>, DataApiError> {
        let mut cmd = json!({ "filter": object_or_empty(filter, "filter")? });
        if let Some(p) = options.projection {
            cmd["projection"] = p;
        }
        if let Some(s) = &options.sort {
            cmd["sort"] = s.to_json(self.encoding());
        }
        if options.include_similarity {
            cmd["options"] = json!({"includeSimilarity": true});
        }
        let resp = self.command("findOne", cmd, true).await?;
        match resp.data.as_ref().and_then(|d| d.get("document")) {
            None | Some(Value::Null) => Ok(None),
            Some(doc @ Value::Object(_)) => Ok(Some(doc.clone())),
            Some(_) => Err(DataApiError::Decode(
                "findOne data.document is not an object".into(),
            )),
        }
    }

    /// `updateOne`. Retried on transient failures only when the filter selects by `_id`
    /// and the update uses idempotent operators (`$set`, `$unset`, `$setOnInsert`, `$min`,
    /// `$max`, `$addToSet`).
    pub async fn update_one(
        &self,
        filter: Value,
        update: Value,
        options: UpdateOptions,
    ) -> Result<UpdateResult, DataApiError> {
        let filter = object_or_empty(filter, "filter")?;
        let mut update = update_operators(update)?;
        for op in ["$set", "$setOnInsert"] {
            if let Some(Value::Object(fields)) = update.get_mut(op) {
                reencode_member(fields, self.encoding());
            }
        }
        let retry_safe = filter_selects_by_id(&filter) && update_is_idempotent(&update);
        let mut cmd = json!({ "filter": filter, "update": update });
        if let Some(s) = &options.sort {
            cmd["sort"] = s.to_json(self.encoding());
        }
        if options.upsert {
            cmd["options"] = json!({"upsert": true});
        }
        let resp = self.command("updateOne", cmd, retry_safe).await?;
        Ok(UpdateResult {
            matched_count: resp.status_u64("matchedCount").unwrap_or(0),
            modified_count: resp.status_u64("modifiedCount").unwrap_or(0),
            upserted_id: resp
                .status_value("upsertedId")
                .filter(|v| !v.is_null())
                .cloned(),
        })
    }

    /// `deleteOne`; returns the number deleted (0 or 1). Retried only when the filter
    /// selects by `_id`.
    pub async fn delete_one(&self, filter: Value) -> Result<u64, DataApiError> {
        let filter = non_empty_filter(filter, "delete_one needs a non-empty filter")?;
        let retry_safe = filter_selects_by_id(&filter);
        let resp = self
            .command("deleteOne", json!({ "filter": filter }), retry_safe)
            .await?;
        Ok(resp.status_u64("deletedCount").unwrap_or(0))
    }

    /// `updateMany` (no upsert), following `nextPageState` while the server reports
    /// `moreData` (it updates one page per call). Retried on transient failures only when the
    /// update is idempotent (`$currentDate` counts: repeating it only moves the time on).
    pub async fn update_many(
        &self,
        filter: Value,
        update: Value,
    ) -> Result<UpdateManyResult, DataApiError> {
        let filter = object_or_empty(filter, "filter")?;
        let update = update_operators(update)?;
        let retry_safe = update_is_idempotent(&update);
        let mut out = UpdateManyResult::default();
        let mut page_state: Option<String> = None;
        loop {
            let mut cmd = json!({ "filter": filter, "update": update });
            if let Some(p) = &page_state {
                cmd["options"] = json!({"pageState": p});
            }
            let resp = self.command("updateMany", cmd, retry_safe).await?;
            out.requests += 1;
            out.matched_count += resp.status_u64("matchedCount").unwrap_or(0);
            out.modified_count += resp.status_u64("modifiedCount").unwrap_or(0);
            let next = resp
                .status_value("nextPageState")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            match next {
                Some(n) if resp.status_flag("moreData") && page_state.as_ref() != Some(&n) => {
                    page_state = Some(n);
                }
                _ => return Ok(out),
            }
        }
    }

    /// `deleteMany`, repeated while the server reports `moreData`. An empty filter is
    /// refused.
    pub async fn delete_many(&self, filter: Value) -> Result<DeleteManyResult, DataApiError> {
        let filter = non_empty_filter(
            filter,
            "delete_many with an empty filter would delete everything",
        )?;
        let body = json!({ "filter": filter });
        let mut out = DeleteManyResult::default();
        let mut idle_rounds = 0;
        loop {
            let resp = self.command("deleteMany", body.clone(), true).await?;
            out.requests += 1;
            let deleted = resp.status_u64("deletedCount").unwrap_or(0);
            out.deleted_count += deleted;
            if !resp.status_flag("moreData") {
                return Ok(out);
            }
            idle_rounds = if deleted == 0 { idle_rounds + 1 } else { 0 };
            if idle_rounds >= 3 {
                return Err(DataApiError::Decode(
                    "deleteMany keeps reporting moreData without deleting anything".into(),
                ));
            }
        }
    }

    /// `countDocuments`. The server counts exactly up to its cap (1000) and then reports
    /// `moreData`, which gives [`DocumentCount::AtLeast`] with the capped count.
    pub async fn count_documents(&self, filter: Value) -> Result<DocumentCount, DataApiError> {
        let filter = object_or_empty(filter, "filter")?;
        let resp = self
            .command("countDocuments", json!({ "filter": filter }), true)
            .await?;
        let count = resp.status_u64("count").ok_or_else(|| {
            DataApiError::Decode("countDocuments response lacks status.count".into())
        })?;
        if resp.status_flag("moreData") {
            Ok(DocumentCount::AtLeast(count))
        } else {
            Ok(DocumentCount::Exact(count))
        }
    }

    /// `estimatedDocumentCount` (fast, may lag).
    pub async fn estimated_document_count(&self) -> Result<u64, DataApiError> {
        let resp = self
            .command("estimatedDocumentCount", json!({}), true)
            .await?;
        resp.status_u64("count").ok_or_else(|| {
            DataApiError::Decode("estimatedDocumentCount response lacks status.count".into())
        })
    }
}

pub(crate) fn object_or_empty(v: Value, what: &str) -> Result<Value, DataApiError> {
    match v {
        Value::Null => Ok(json!({})),
        Value::Object(_) => Ok(v),
        _ => Err(DataApiError::InvalidArgument(format!(
            "{what} must be a JSON object"
        ))),
    }
}

/// A filter that is a non-empty object; `refusal` says why an empty one is refused.
fn non_empty_filter(filter: Value, refusal: &str) -> Result<Value, DataApiError> {
    let filter = object_or_empty(filter, "filter")?;
    if filter.as_object().is_some_and(Map::is_empty) {
        return Err(DataApiError::InvalidArgument(refusal.into()));
    }
    Ok(filter)
}

/// The update operators of an update, which must be a non-empty object.
fn update_operators(update: Value) -> Result<Map<String, Value>, DataApiError> {
    match update {
        Value::Object(o) if !o.is_empty() => Ok(o),
        _ => Err(DataApiError::InvalidArgument(
            "update must be a non-empty object of update operators".into(),
        )),
    }
}

/// True if the filter pins `_id` to a single value.
pub(crate) fn filter_selects_by_id(filter: &Value) -> bool {
    match filter.get("_id") {
        None | Some(Value::Array(_)) => false,
        Some(Value::Object(o)) => {
            o.len() == 1
                && o.keys()
                    .all(|k| matches!(k.as_str(), "$uuid" | "$objectId" | "$date" | "$eq"))
        }
        Some(_) => true,
    }
}

fn update_is_idempotent(update: &Map<String, Value>) -> bool {
    update.keys().all(|k| {
        matches!(
            k.as_str(),
            "$set" | "$unset" | "$setOnInsert" | "$min" | "$max" | "$addToSet" | "$currentDate"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_filters() {
        assert!(filter_selects_by_id(&json!({"_id": "a"})));
        assert!(filter_selects_by_id(&json!({"_id": 5, "x": 1})));
        assert!(filter_selects_by_id(&json!({"_id": {"$uuid": "u"}})));
        assert!(filter_selects_by_id(&json!({"_id": {"$eq": "a"}})));
        assert!(!filter_selects_by_id(&json!({"_id": {"$in": ["a", "b"]}})));
        assert!(!filter_selects_by_id(&json!({"title": "a"})));
    }

    #[test]
    fn idempotent_updates() {
        let set = json!({"$set": {"a": 1}, "$setOnInsert": {"b": 2}});
        assert!(update_is_idempotent(set.as_object().unwrap_or(&Map::new())));
        let inc = json!({"$inc": {"plays": 1}});
        assert!(!update_is_idempotent(
            inc.as_object().unwrap_or(&Map::new())
        ));
    }

    #[test]
    fn collection_info_tolerates_aliases() {
        let info = CollectionInfo::from_json(&json!({
            "name": "s", "options": {"vector": {"size": 3, "function": "euclidean"}}
        }));
        let info = info.map_err(|e| e.to_string());
        assert_eq!(info.as_ref().map(|i| i.dimension), Ok(Some(3)));
        assert_eq!(
            info.as_ref().map(|i| i.metric),
            Ok(Some(SimilarityMetric::Euclidean))
        );
    }
}
