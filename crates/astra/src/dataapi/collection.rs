//! Collection handles (`DataApiClient::collection`, `find_collections`) and document commands.

use std::fmt;

use serde_json::{Map, Value, json};
use url::Url;

use super::client::{CommandResponse, DataApiClient};
use super::config::VectorEncoding;
use super::error::DataApiError;
use super::vector::{encode_vector, reencode_member};

/// One entry of `findCollections`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionInfo {
    pub name: String,
    /// Vector dimension (explain only; accepts the `size` alias).
    pub dimension: Option<usize>,
    /// Similarity metric: `cosine`, `euclidean` or `dot_product` (explain only; accepts the
    /// `function` alias; another name is left out).
    pub metric: Option<String>,
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
                    .filter(|m| matches!(*m, "cosine" | "euclidean" | "dot_product"))
                    .map(str::to_owned);
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// `1`
    Ascending,
    /// `-1`
    Descending,
}

/// A sort clause.
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
#[derive(Debug, Clone, Default, PartialEq, derive_setters::Setters)]
#[setters(strip_option)]
pub struct FindOptions {
    /// Projection (`None` = server default, i.e. everything but `$vector`).
    pub projection: Option<Value>,
    pub sort: Option<Sort>,
    /// Maximum number of documents in total (across pages).
    pub limit: Option<usize>,
    /// Ask for `$similarity` (vector sort only).
    pub include_similarity: bool,
}

/// Options of `update_one`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateOptions {
    /// Insert if nothing matches.
    pub upsert: bool,
}

impl UpdateOptions {
    /// `upsert: true`.
    pub fn upsert() -> Self {
        Self { upsert: true }
    }
}

/// Result of `update_one`.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateResult {
    pub matched_count: u64,
    /// `_id` of an upserted document.
    pub upserted_id: Option<Value>,
}

/// Result of `delete_many`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteManyResult {
    /// Documents deleted in total.
    pub deleted_count: u64,
    /// `deleteMany` rounds it took (the server deletes ≤ 20 per call).
    pub requests: u64,
}

/// Result of `count_documents`: [`SongCount::AtLeast`](songrec_storage::SongCount::AtLeast)
/// when the server stopped counting (`moreData`).
pub type DocumentCount = songrec_storage::SongCount;

/// A handle to one collection. Cheap to clone.
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

impl DataApiClient {
    /// A handle for a collection (no request is made).
    pub fn collection(&self, name: &str) -> Collection {
        Collection {
            client: self.clone(),
            name: name.to_owned(),
            url: self.url_for(Some(name)),
        }
    }

    /// Lists collections; with `explain` the options (dimension, metric, ...) are filled in.
    pub async fn find_collections(
        &self,
        explain: bool,
    ) -> Result<Vec<CollectionInfo>, DataApiError> {
        let body = if explain {
            json!({"findCollections": {"options": {"explain": true}}})
        } else {
            json!({"findCollections": {}})
        };
        let resp = self
            .execute(&self.url_for(None), "findCollections", &body, true)
            .await?;
        let list = resp
            .status_value("collections")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                DataApiError::Decode("findCollections response lacks status.collections".into())
            })?;
        list.iter().map(CollectionInfo::from_json).collect()
    }
}

impl Collection {
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

    /// `findOne` (only the projection of `options` is sent).
    pub async fn find_one(
        &self,
        filter: Value,
        options: FindOptions,
    ) -> Result<Option<Value>, DataApiError> {
        let mut cmd = json!({ "filter": object_or_empty(filter, "filter")? });
        if let Some(p) = options.projection {
            cmd["projection"] = p;
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
        if options.upsert {
            cmd["options"] = json!({"upsert": true});
        }
        let resp = self.command("updateOne", cmd, retry_safe).await?;
        Ok(UpdateResult {
            matched_count: resp.status_u64("matchedCount").unwrap_or(0),
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
    pub async fn update_many(&self, filter: Value, update: Value) -> Result<(), DataApiError> {
        let filter = object_or_empty(filter, "filter")?;
        let update = update_operators(update)?;
        let retry_safe = update_is_idempotent(&update);
        let mut page_state: Option<String> = None;
        loop {
            let mut cmd = json!({ "filter": filter, "update": update });
            if let Some(p) = &page_state {
                cmd["options"] = json!({"pageState": p});
            }
            let resp = self.command("updateMany", cmd, retry_safe).await?;
            let next = resp
                .status_value("nextPageState")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            match next {
                Some(n) if resp.status_flag("moreData") && page_state.as_ref() != Some(&n) => {
                    page_state = Some(n);
                }
                _ => return Ok(()),
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
            info.as_ref().map(|i| i.metric.clone()),
            Ok(Some("euclidean".to_owned()))
        );
    }
}
