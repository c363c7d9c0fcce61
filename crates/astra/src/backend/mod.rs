//! [`AstraBackend`]: songrec's [`StorageBackend`] on the Astra DB Data API (metadata and
//! vectors) plus S3-compatible object storage (audio).
//!
//! Layout (see `migrations/astra/README.md`): a songs collection with every song's canonical
//! metadata, version and tombstone (plus the model registry), and one cosine vector collection
//! per embedding model whose documents carry a copy of the song's metadata, so a filtered
//! similarity search is a single `find` request.
//!
//! | operation | requests |
//! |---|---|
//! | `search` (cosine, any pushed-down filter) | 1 |
//! | `search` (dot / l2, or a range filter on a multi-valued `extra` field) | one per page of candidates (exact, slower) |
//! | `put_songs` (n new songs, m models) | ≈ (m + 1) · ⌈n / chunk⌉ (chunk ≤ 100); re-puts add one upsert per existing document |
//! | `put_metadata` | 1 + one per registered model |
//! | `count` | 1 (≤ 1000 matches), else 1 + 16 (+ 16 per group above 1000) |
//! | `list` | ⌈limit / page⌉ (+1 at the end) |
//! | `list_versions` | one per page of 20–50 songs |
//!
//! Writers are assumed to be one process at a time per library (as with the local backend);
//! concurrent writers of the same song may leave a stale metadata copy in a vector collection.

mod docs;
mod doctor;
mod errors;
mod filter;
mod schema;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures::{StreamExt as _, TryStreamExt as _};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use songrec_storage::config::Config;
use songrec_storage::math::{self, TopK};
use songrec_storage::{
    BatchReport, Embedding, Filter, ListQuery, Match, Metric, ModelInfo, ModelStats, Page,
    PutOutcome, SearchQuery, SongId, SongMetadata, SongRecord, StorageBackend, StorageError,
    StorageResult, VersionEntry,
};
use tokio::sync::Mutex;

use crate::blobs::{self, BlobStore};
use crate::dataapi::{
    Collection, DataApiClient, DataApiConfig, DataApiError, DocumentCount, ErrorKind, FindOptions,
    Sort, SortOrder, UpdateOptions, decode_vector, document_similarity, encode_vector,
};

pub use doctor::{CheckStatus, DoctorCheck, DoctorReport, doctor, names as doctor_checks};
pub use schema::{InitReport, MAX_COLLECTION_NAME, MAX_PREFIX};

use docs::META;
use errors::BACKEND;
use filter::{Translated, translate};
use schema::{RegisteredModel, Registry, registry_key};

/// Documents per `insertMany` request used by [`AstraBackend::connect`] (the server maximum).
pub const INSERT_CHUNK: usize = 100;
/// Ids per `$in` lookup (the Data API's `$in` limit).
const IN_CHUNK: usize = 100;
/// Extra candidates fetched by a cosine search so client-side re-ranking (exact f32 cosine,
/// ties by id) cannot be affected by server rounding at the cut-off.
const SEARCH_MARGIN: usize = 8;
/// Concurrent single-document upserts (re-puts) and count partitions.
const CONCURRENCY: usize = 8;

/// songrec's storage on Astra DB (Data API) + S3.
///
/// ```no_run
/// # async fn demo() -> songrec_storage::StorageResult<()> {
/// use songrec_astra::AstraBackend;
/// use songrec_storage::{config::Config, Filter, StorageBackend};
///
/// let env: std::collections::HashMap<String, String> = std::env::vars().collect();
/// let cfg = Config::from_sources(None, &env)?;
/// AstraBackend::init(&cfg, &[]).await?; // once: creates the collections
/// let backend = AstraBackend::connect(&cfg)?;
/// println!("{backend}: {} songs", backend.count(&Filter::default()).await?);
/// # Ok(()) }
/// ```
pub struct AstraBackend {
    client: DataApiClient,
    blobs: BlobStore,
    prefix: String,
    songs: Collection,
    display: String,
    registry: Mutex<Option<Registry>>,
}

impl fmt::Debug for AstraBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AstraBackend")
            .field("display", &self.display)
            .field("prefix", &self.prefix)
            .field("client", &self.client)
            .field("blobs", &self.blobs)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for AstraBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

fn missing(var: &str, what: &str) -> StorageError {
    StorageError::InvalidInput(format!(
        "{what} is not set: set {var} (environment or .env) to use the astra backend"
    ))
}

/// Refuses a value still holding the placeholder `.env.example` ships (`https://<db-id>-...`,
/// `AstraCS:...`, `...`, `s3.example.com`, `my-music`), naming the variable. The value itself is
/// never printed (it may be a secret).
fn placeholder(var: &str, value: &str) -> StorageResult<()> {
    let v = value.trim();
    let is_placeholder = (v.contains('<') && v.contains('>'))
        || v.ends_with("...")
        || v.contains("example.com")
        || v == "my-music";
    if is_placeholder {
        return Err(StorageError::InvalidInput(format!(
            "{var} still holds the placeholder from .env.example: set it to your own value \
             (environment or .env)"
        )));
    }
    Ok(())
}

fn host_of(endpoint: &str) -> String {
    match url::Url::parse(endpoint.trim()) {
        Ok(u) => format!(
            "{}{}",
            u.host_str().unwrap_or("?"),
            u.port().map(|p| format!(":{p}")).unwrap_or_default()
        ),
        Err(_) => "?".into(),
    }
}

/// The Data API client settings for a configuration (validated: endpoint and token set).
pub(crate) fn data_api_config(cfg: &Config) -> StorageResult<DataApiConfig> {
    let a = &cfg.astra;
    if a.api_endpoint.trim().is_empty() {
        return Err(missing(
            "ASTRA_DB_API_ENDPOINT",
            "the Astra Data API endpoint",
        ));
    }
    if a.token.is_empty() {
        return Err(missing(
            "ASTRA_DB_APPLICATION_TOKEN",
            "the Astra application token",
        ));
    }
    placeholder("ASTRA_DB_API_ENDPOINT", &a.api_endpoint)?;
    placeholder("ASTRA_DB_APPLICATION_TOKEN", a.token.expose())?;
    let timeout = Duration::from_secs(a.request_timeout_secs.max(1));
    Ok(DataApiConfig::new(a.api_endpoint.trim(), a.token.clone())
        .with_keyspace(&a.keyspace)
        .with_api_path(&a.api_path)
        .with_request_timeout(timeout)
        .with_operation_timeout(timeout.max(Duration::from_secs(10)) * 3)
        .with_insert_chunk_size(INSERT_CHUNK))
}

/// The S3 settings for a configuration (validated: bucket and credentials set).
pub(crate) fn s3_config(cfg: &Config) -> StorageResult<blobs::S3Config> {
    let s = &cfg.s3;
    if s.bucket.trim().is_empty() {
        return Err(missing("SONGREC_S3_BUCKET", "the S3 bucket for audio"));
    }
    if s.access_key_id.is_empty() {
        return Err(missing("AWS_ACCESS_KEY_ID", "the S3 access key id"));
    }
    if s.secret_access_key.is_empty() {
        return Err(missing("AWS_SECRET_ACCESS_KEY", "the S3 secret key"));
    }
    placeholder("SONGREC_S3_ENDPOINT", &s.endpoint)?;
    placeholder("SONGREC_S3_BUCKET", &s.bucket)?;
    placeholder("AWS_ACCESS_KEY_ID", &s.access_key_id)?;
    placeholder("AWS_SECRET_ACCESS_KEY", s.secret_access_key.expose())?;
    let mut c = blobs::S3Config::new(
        s.bucket.trim(),
        &s.region,
        &s.access_key_id,
        s.secret_access_key.clone(),
    )
    .with_allow_http(s.allow_http)
    .with_prefix(&s.prefix)
    .with_request_timeout(Duration::from_secs(s.request_timeout_secs.max(1)));
    if !s.endpoint.trim().is_empty() {
        c = c.with_endpoint(s.endpoint.trim());
    }
    Ok(c)
}

/// Result of [`AstraBackend::write_docs`].
struct WriteOutcome {
    /// Input index → (error kind, message).
    failed: BTreeMap<usize, (Option<ErrorKind>, String)>,
    /// Input indices of documents that existed and were replaced.
    replaced: Vec<usize>,
}

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

fn id_filter(id: &SongId) -> Value {
    json!({"_id": id.as_str()})
}

fn base(key: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.into(), value);
    m
}

/// `$set` of every field but `_id` (a full replacement of songrec's fields).
fn upsert_update(doc: &Value) -> Value {
    let mut fields = doc.as_object().cloned().unwrap_or_default();
    fields.remove("_id");
    json!({ "$set": fields })
}

fn with_key(filter: &Value, key: &str, value: Value) -> Value {
    let mut f = filter.as_object().cloned().unwrap_or_default();
    f.insert(key.into(), value);
    Value::Object(f)
}

fn insert_failure_message(f: &crate::dataapi::InsertFailure) -> String {
    match &f.code {
        Some(c) => format!("{c}: {}", f.message),
        None => f.message.clone(),
    }
}

impl AstraBackend {
    /// Builds the backend from the configuration (no request is made). Fails with a message
    /// naming the environment variable to set when the endpoint, token, bucket or S3
    /// credentials are missing.
    pub fn connect(cfg: &Config) -> StorageResult<Self> {
        let api = data_api_config(cfg)?;
        let s3 = s3_config(cfg)?;
        let client = DataApiClient::new(api).map_err(|e| errors::api(e, "Data API client"))?;
        let blobs = BlobStore::new(s3).map_err(|e| StorageError::InvalidInput(e.to_string()))?;
        Self::from_parts(client, blobs, &cfg.astra.collection_prefix)
    }

    /// Builds the backend from a ready client and blob store (tests, benchmarks, custom
    /// retry policies). `prefix` names the collections (`<prefix>_songs`, `<prefix>_v_<model>`).
    pub fn from_parts(
        client: DataApiClient,
        blobs: BlobStore,
        prefix: &str,
    ) -> StorageResult<Self> {
        schema::validate_prefix(prefix)?;
        let display = format!(
            "Astra({}/{}, s3://{})",
            host_of(&client.config().endpoint),
            client.config().keyspace,
            blobs.bucket()
        );
        Ok(Self {
            songs: client.collection(&schema::songs_name(prefix)),
            client,
            blobs,
            prefix: prefix.to_owned(),
            display,
            registry: Mutex::new(None),
        })
    }

    /// Creates (idempotently) the songs collection and a vector collection per model, and
    /// registers the models. Existing collections with different settings are an error that
    /// names the collection, the difference and what to do.
    pub async fn init(cfg: &Config, models: &[ModelInfo]) -> StorageResult<InitReport> {
        Self::connect(cfg)?.init_schema(models).await
    }

    /// [`AstraBackend::init`] on this backend's client.
    pub async fn init_schema(&self, models: &[ModelInfo]) -> StorageResult<InitReport> {
        let infos = self
            .client
            .find_collections(true)
            .await
            .map_err(|e| errors::api(e, "listing collections"))?;
        let mut report = InitReport::default();
        let songs_cmd = schema::songs_command(&self.prefix)?;
        self.apply_collection(&songs_cmd, &infos, &mut report)
            .await?;
        let mut guard = self.registry.lock().await;
        let mut reg = self.load_registry().await?;
        for (_, r) in reg.iter() {
            let cmd = schema::vector_command(&self.prefix, &r.collection, r.model.dim)?;
            self.apply_collection(&cmd, &infos, &mut report).await?;
        }
        for m in models {
            if m.dim == 0 {
                return Err(StorageError::InvalidInput(format!(
                    "model {} has dimension 0",
                    m.key()
                )));
            }
            let r = match reg.get(&registry_key(m)) {
                Some(r) if r.model.dim != m.dim => {
                    return Err(StorageError::DimensionMismatch {
                        model: m.key(),
                        expected: r.model.dim,
                        got: m.dim,
                    });
                }
                Some(r) => r.clone(),
                None => {
                    let taken: BTreeSet<String> =
                        reg.values().map(|r| r.collection.clone()).collect();
                    let name = schema::vector_name(&self.prefix, m, &taken);
                    let cmd = schema::vector_command(&self.prefix, &name, m.dim)?;
                    self.apply_collection(&cmd, &infos, &mut report).await?;
                    let r = RegisteredModel {
                        model: m.clone(),
                        collection: name,
                    };
                    self.write_registry_doc(&r).await?;
                    reg.insert(registry_key(m), r.clone());
                    r
                }
            };
            report.models.push((r.model, r.collection));
        }
        *guard = Some(reg);
        Ok(report)
    }

    async fn apply_collection(
        &self,
        cmd: &Value,
        infos: &[crate::dataapi::CollectionInfo],
        report: &mut InitReport,
    ) -> StorageResult<()> {
        let name = schema::command_name(cmd);
        let want = schema::command_options(cmd);
        if let Some(info) = infos.iter().find(|i| i.name == name) {
            if let Some(diff) = schema::settings_difference(&want, info) {
                return Err(schema::different_settings(&name, &diff));
            }
            if !report.existing.contains(&name) {
                report.existing.push(name);
            }
            return Ok(());
        }
        self.client
            .run_command(None, cmd, true)
            .await
            .map_err(|e| schema::create_error(e, &name, None))?;
        report.created.push(name);
        Ok(())
    }

    /// Data API requests sent so far (every HTTP attempt, retries included).
    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    /// The Data API client.
    pub fn client(&self) -> &DataApiClient {
        &self.client
    }

    /// The audio blob store.
    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }

    /// Name of the songs collection.
    pub fn songs_collection(&self) -> &str {
        self.songs.name()
    }

    // ---- registry --------------------------------------------------------------------

    async fn load_registry(&self) -> StorageResult<Registry> {
        let docs = self
            .songs
            .find(json!({"kind": "model"}), FindOptions::default())
            .collect_all()
            .await
            .map_err(|e| {
                errors::api(
                    e,
                    &format!("reading the model registry in {}", self.songs.name()),
                )
            })?;
        Ok(docs
            .iter()
            .filter_map(RegisteredModel::from_doc)
            .map(|r| (registry_key(&r.model), r))
            .collect())
    }

    async fn registry(&self) -> StorageResult<Registry> {
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref() {
            return Ok(r.clone());
        }
        let r = self.load_registry().await?;
        *guard = Some(r.clone());
        Ok(r)
    }

    /// The registered entry of a model (cached; reloaded once on a miss).
    async fn lookup(&self, model: &ModelInfo) -> StorageResult<Option<RegisteredModel>> {
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref().and_then(|r| r.get(&registry_key(model))) {
            return Ok(Some(r.clone()));
        }
        let reg = self.load_registry().await?;
        let found = reg.get(&registry_key(model)).cloned();
        *guard = Some(reg);
        Ok(found)
    }

    async fn write_registry_doc(&self, r: &RegisteredModel) -> StorageResult<()> {
        let doc = schema::registry_doc(&self.prefix, r)?;
        let report = self
            .songs
            .insert_many(vec![doc])
            .await
            .map_err(|e| errors::api(e, "registering a model"))?;
        match report.failures.first() {
            None => Ok(()),
            Some(f) if f.is_already_exists() => Ok(()),
            Some(f) => Err(StorageError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "registering model {}: {}",
                    r.model.key(),
                    insert_failure_message(f)
                ),
                transient: false,
            }),
        }
    }

    /// The model's registry entry, registering it (and creating its collection) if new.
    async fn ensure_model(&self, model: &ModelInfo) -> StorageResult<RegisteredModel> {
        let check = |r: &RegisteredModel| {
            if r.model.dim == model.dim {
                Ok(r.clone())
            } else {
                Err(StorageError::DimensionMismatch {
                    model: model.key(),
                    expected: r.model.dim,
                    got: model.dim,
                })
            }
        };
        let mut guard = self.registry.lock().await;
        if let Some(r) = guard.as_ref().and_then(|g| g.get(&registry_key(model))) {
            return check(r);
        }
        let mut reg = self.load_registry().await?;
        if let Some(r) = reg.get(&registry_key(model)) {
            let out = check(r);
            *guard = Some(reg);
            return out;
        }
        let taken: BTreeSet<String> = reg.values().map(|r| r.collection.clone()).collect();
        let name = schema::vector_name(&self.prefix, model, &taken);
        let cmd = schema::vector_command(&self.prefix, &name, model.dim)?;
        if let Err(e) = self.client.run_command(None, &cmd, true).await {
            let diff = if e.kind() == Some(ErrorKind::ExistingCollectionDifferentSettings) {
                self.client
                    .find_collections(true)
                    .await
                    .ok()
                    .and_then(|infos| {
                        infos.iter().find(|i| i.name == name).and_then(|i| {
                            schema::settings_difference(&schema::command_options(&cmd), i)
                        })
                    })
            } else {
                None
            };
            return Err(schema::create_error(e, &name, diff));
        }
        let r = RegisteredModel {
            model: model.clone(),
            collection: name,
        };
        self.write_registry_doc(&r).await?;
        // Another process may have registered the model concurrently: trust the stored entry.
        reg = self.load_registry().await?;
        let out = match reg.get(&registry_key(model)) {
            Some(stored) => check(stored),
            None => Ok(r),
        };
        *guard = Some(reg);
        out
    }

    fn vectors(&self, r: &RegisteredModel) -> Collection {
        self.client.collection(&r.collection)
    }

    fn wire(&self, v: &[f32]) -> Value {
        encode_vector(v, self.client.config().vector_encoding)
    }

    // ---- helpers -----------------------------------------------------------------------

    /// Exact count of documents matching `filter`, beyond the server's 1000 cap.
    async fn exact_count(&self, coll: &Collection, filter: Value) -> StorageResult<u64> {
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

    /// Writes documents with `insertMany`; documents that already exist are replaced with
    /// one upsert each. Returns per-input-index failures and the indices that were replaced.
    async fn write_docs(
        &self,
        coll: &Collection,
        docs: Vec<Value>,
        what: &str,
    ) -> StorageResult<WriteOutcome> {
        let report = coll
            .insert_many(docs.clone())
            .await
            .map_err(|e| errors::api(e, what))?;
        let mut failed = BTreeMap::new();
        let mut upserts = Vec::new();
        for f in report.failures {
            if f.is_already_exists() {
                upserts.push(f.index);
            } else {
                failed.insert(f.index, (Some(f.kind), insert_failure_message(&f)));
            }
        }
        let results: Vec<(usize, Result<(), DataApiError>)> =
            futures::stream::iter(upserts.clone())
                .map(|i| {
                    let doc = docs.get(i).cloned().unwrap_or(Value::Null);
                    async move {
                        let id = doc.get("_id").cloned().unwrap_or(Value::Null);
                        let r = coll
                            .update_one(
                                json!({ "_id": id }),
                                upsert_update(&doc),
                                UpdateOptions::upsert(),
                            )
                            .await
                            .map(|_| ());
                        (i, r)
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
        for (i, r) in results {
            if let Err(e) = r {
                failed.insert(i, (e.kind(), e.to_string()));
            }
        }
        let replaced = upserts
            .into_iter()
            .filter(|i| !failed.contains_key(i))
            .collect();
        Ok(WriteOutcome { failed, replaced })
    }

    async fn search_ann(
        &self,
        q: &SearchQuery,
        coll: &Collection,
        filter: Value,
    ) -> StorageResult<Vec<Match>> {
        let want = q.offset + q.k;
        let fetch = (want + SEARCH_MARGIN).min(songrec_storage::query::MAX_RESULTS);
        let opts = FindOptions::default()
            .vector_sort(q.vector.clone())
            .limit(fetch)
            .include_similarity()
            .projection(json!({ META: 1, "$vector": 1 }));
        let docs = coll.find(filter, opts).collect_all().await.map_err(|e| {
            errors::api_vector(
                e,
                "similarity search",
                &q.model.key(),
                q.model.dim,
                q.vector.len(),
            )
        })?;
        let qn = math::norm(&q.vector);
        let mut top = TopK::new(want);
        for (i, doc) in docs.iter().enumerate() {
            let id = docs::doc_id(doc)?;
            let score = match doc.get("$vector").map(decode_vector) {
                Some(Ok(v)) => {
                    math::score(Metric::Cosine, math::dot(&q.vector, &v), qn, math::norm(&v)).0
                }
                _ => document_similarity(doc).map_or(0.0, |s| (2.0 * s - 1.0) as f32),
            };
            if q.threshold.is_some_and(|t| score < t) {
                continue;
            }
            top.push(score, (id, i));
        }
        top.into_sorted()
            .into_iter()
            .skip(q.offset)
            .map(|s| {
                let (id, i) = s.key;
                let doc = docs.get(i).unwrap_or(&Value::Null);
                Ok(Match {
                    metadata: docs::parse_meta(doc)?,
                    id,
                    similarity: s.score,
                    distance: None,
                })
            })
            .collect()
    }

    async fn search_scan(
        &self,
        q: &SearchQuery,
        coll: &Collection,
        filter: Value,
        recheck: bool,
    ) -> StorageResult<Vec<Match>> {
        let mut stream = std::pin::pin!(
            coll.find(
                filter,
                FindOptions::default().projection(json!({ META: 1, "$vector": 1 })),
            )
            .into_stream()
        );
        let qn = math::norm(&q.vector);
        // Key: (id, l2 distance bits, metadata text); ids are unique, so ties order by id.
        let mut top: TopK<(SongId, u32, String)> = TopK::new(q.offset + q.k);
        while let Some(doc) = stream.next().await {
            let doc = doc.map_err(|e| errors::api(e, "scanning vectors"))?;
            let id = docs::doc_id(&doc)?;
            let Some(Ok(v)) = doc.get("$vector").map(decode_vector) else {
                continue;
            };
            if v.len() != q.vector.len() {
                return Err(StorageError::DimensionMismatch {
                    model: q.model.key(),
                    expected: v.len(),
                    got: q.vector.len(),
                });
            }
            let meta = doc.get(META).and_then(Value::as_str).unwrap_or_default();
            if recheck {
                let m = docs::parse_meta(&doc)?;
                if !q.filter.matches(&m) {
                    continue;
                }
            }
            let (s, d) = math::score(q.metric, math::dot(&q.vector, &v), qn, math::norm(&v));
            if q.threshold.is_some_and(|t| s < t) {
                continue;
            }
            if top.floor().is_some_and(|f| s < f) {
                continue;
            }
            top.push(s, (id, d.unwrap_or(0.0).to_bits(), meta.to_owned()));
        }
        top.into_sorted()
            .into_iter()
            .skip(q.offset)
            .map(|s| {
                let (id, distance_bits, meta) = s.key;
                let doc = json!({"_id": id.as_str(), META: meta});
                let metadata = docs::parse_meta(&doc)?;
                let distance = (q.metric == Metric::L2).then(|| f32::from_bits(distance_bits));
                Ok(Match {
                    id,
                    similarity: s.score,
                    distance,
                    metadata,
                })
            })
            .collect()
    }
}

#[async_trait]
impl StorageBackend for AstraBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let out = self
            .blobs
            .put_file(id.as_str(), src)
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(match out {
            blobs::PutOutcome::Uploaded { bytes, .. } => PutOutcome {
                bytes,
                already_present: false,
            },
            blobs::PutOutcome::AlreadyPresent => PutOutcome {
                bytes: tokio::fs::metadata(src)
                    .await
                    .map_err(|e| StorageError::io(src, e))?
                    .len(),
                already_present: true,
            },
        })
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        self.blobs
            .get_to_file(id.as_str(), dest)
            .await
            .map_err(|e| errors::blob(e, id))
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.blobs
            .presigned_get_url(id.as_str(), expires_in)
            .await
            .map(String::from)
            .map_err(|e| errors::blob(e, id))
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.blobs
            .exists(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        if !self.has_audio(id).await? {
            return Ok(false);
        }
        self.blobs
            .delete(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(true)
    }

    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        embedding.validate()?;
        let r = self.ensure_model(&embedding.model).await?;
        let meta = self.get_metadata(id).await?;
        let mut set = match &meta {
            Some(m) => docs::copy_fields(m)?,
            None => {
                let mut s = Map::new();
                s.insert("live".into(), json!(false));
                s.insert("bucket".into(), json!(docs::bucket(id)));
                s
            }
        };
        set.insert("$vector".into(), self.wire(&embedding.vector));
        let mut update = Map::new();
        update.insert("$set".into(), Value::Object(set));
        if meta.is_none() {
            update.insert("$unset".into(), json!({ META: "", "f": "" }));
        }
        self.vectors(&r)
            .update_one(
                id_filter(id),
                Value::Object(update),
                UpdateOptions::upsert(),
            )
            .await
            .map_err(|e| {
                errors::api_vector(
                    e,
                    &format!("storing the {} vector of song {id}", r.model.key()),
                    &r.model.key(),
                    r.model.dim,
                    embedding.vector.len(),
                )
            })?;
        Ok(())
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let Some(r) = self.lookup(model).await? else {
            return Ok(None);
        };
        let doc = self
            .vectors(&r)
            .find_one(
                id_filter(id),
                FindOptions::default().projection(json!({"live": 1, "$vector": 1})),
            )
            .await
            .map_err(|e| {
                errors::api(
                    e,
                    &format!("reading the {} vector of song {id}", r.model.key()),
                )
            })?;
        let Some(doc) = doc else { return Ok(None) };
        let vector = match doc.get("$vector") {
            None | Some(Value::Null) => return Ok(None),
            Some(v) => decode_vector(v).map_err(|e| StorageError::Backend {
                backend: BACKEND.into(),
                message: format!(
                    "the stored {} vector of song {id} is unreadable: {e}",
                    r.model.key()
                ),
                transient: false,
            })?,
        };
        Ok(Some(Embedding {
            model: r.model,
            vector,
        }))
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        query.validate()?;
        let Some(r) = self.lookup(&query.model).await? else {
            return Ok(Vec::new());
        };
        if r.model.dim != query.model.dim {
            return Err(StorageError::DimensionMismatch {
                model: query.model.key(),
                expected: r.model.dim,
                got: query.model.dim,
            });
        }
        let t = translate(&query.filter);
        if t.never {
            return Ok(Vec::new());
        }
        let mut b = base("live", json!(true));
        if !query.exclude.is_empty() {
            let ids: Vec<&str> = query.exclude.iter().map(SongId::as_str).collect();
            b.insert("_id".into(), json!({ "$nin": ids }));
        }
        let filter = t.with_base(b);
        let coll = self.vectors(&r);
        if query.metric == Metric::Cosine && !t.needs_recheck {
            self.search_ann(query, &coll, filter).await
        } else {
            self.search_scan(query, &coll, filter, t.needs_recheck)
                .await
        }
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        let reg = {
            let mut guard = self.registry.lock().await;
            let reg = self.load_registry().await?;
            *guard = Some(reg.clone());
            reg
        };
        let mut out = Vec::new();
        for r in reg.into_values() {
            let count = self
                .exact_count(&self.vectors(&r), json!({"live": true}))
                .await?;
            out.push(ModelStats {
                model: r.model,
                count,
            });
        }
        Ok(out)
    }

    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        metadata.check_storable()?;
        let reg = self.registry().await?;
        let copy = json!({ "$set": docs::copy_fields(metadata)? });
        let id = &metadata.id;
        futures::stream::iter(reg.into_values())
            .map(|r| {
                let coll = self.vectors(&r);
                let copy = copy.clone();
                async move {
                    coll.update_one(id_filter(id), copy, UpdateOptions::default())
                        .await
                        .map_err(|e| {
                            errors::api(
                                e,
                                &format!("updating the metadata copy in {}", coll.name()),
                            )
                        })
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        self.songs
            .update_one(
                id_filter(id),
                json!({ "$set": docs::song_fields(metadata)? }),
                UpdateOptions::upsert(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("storing metadata of song {id}")))?;
        Ok(())
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
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

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
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

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
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

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let doc = self
            .songs
            .find_one(
                json!({"_id": id.as_str(), "deleted": false}),
                FindOptions::default().projection(json!({"version": 1, "content_hash": 1})),
            )
            .await
            .map_err(|e| errors::api(e, &format!("reading song {id}")))?;
        let Some(doc) = doc else { return Ok(false) };
        let version = doc.get("version").and_then(Value::as_u64).unwrap_or(1);
        let content_hash = doc
            .get("content_hash")
            .and_then(Value::as_str)
            .unwrap_or(id.as_str())
            .to_owned();
        let reg = self.registry().await?;
        futures::stream::iter(reg.into_values())
            .map(|r| {
                let coll = self.vectors(&r);
                async move {
                    coll.delete_one(id_filter(id)).await.map_err(|e| {
                        errors::api(
                            e,
                            &format!("deleting the vector of song {id} in {}", coll.name()),
                        )
                    })
                }
            })
            .buffer_unordered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await?;
        self.blobs
            .delete(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))?;
        self.songs
            .update_one(
                id_filter(id),
                json!({
                    "$set": {"deleted": true, "version": version + 1, "content_hash": content_hash},
                    "$unset": {META: "", "f": "", "s": ""},
                }),
                UpdateOptions::default(),
            )
            .await
            .map_err(|e| errors::api(e, &format!("writing the tombstone of song {id}")))?;
        Ok(true)
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        // Last record per id wins; outcomes are reported for every input record.
        let mut last: HashMap<&SongId, usize> = HashMap::new();
        for (i, s) in songs.iter().enumerate() {
            last.insert(&s.metadata.id, i);
        }
        let mut failed: HashMap<SongId, String> = HashMap::new();
        let mut batch: Vec<(&SongMetadata, Vec<&Embedding>)> = Vec::new();
        for (i, s) in songs.iter().enumerate() {
            if last.get(&s.metadata.id) != Some(&i) {
                continue;
            }
            let mut by_model: BTreeMap<(String, String), &Embedding> = BTreeMap::new();
            let mut err = s.metadata.check_finite().err().map(|e| e.to_string());
            for e in &s.embeddings {
                if let Err(x) = e.validate() {
                    err = Some(x.to_string());
                }
                by_model.insert(registry_key(&e.model), e);
            }
            match err {
                Some(m) => {
                    failed.insert(s.metadata.id.clone(), m);
                }
                None => batch.push((&s.metadata, by_model.into_values().collect())),
            }
        }
        // Distinct models (a name@version offered with two dimensions counts twice: the one
        // matching the registry is stored, the other fails with DimensionMismatch).
        let models: BTreeSet<&ModelInfo> = batch
            .iter()
            .flat_map(|(_, es)| es.iter().map(|e| &e.model))
            .collect();
        // Vectors first, per model; the songs document (the commit point) last.
        for model in models {
            let users: Vec<(&SongMetadata, &Embedding)> = batch
                .iter()
                .filter(|(m, _)| !failed.contains_key(&m.id))
                .filter_map(|(m, es)| es.iter().find(|e| e.model == *model).map(|e| (*m, *e)))
                .collect();
            let r = match self.ensure_model(model).await {
                Ok(r) => r,
                Err(e @ StorageError::DimensionMismatch { .. }) => {
                    for (m, _) in &users {
                        failed.insert(m.id.clone(), e.to_string());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut docs_out = Vec::new();
            let mut owners = Vec::new();
            for (m, e) in &users {
                if e.model.dim != r.model.dim {
                    let err = StorageError::DimensionMismatch {
                        model: e.model.key(),
                        expected: r.model.dim,
                        got: e.model.dim,
                    };
                    failed.insert(m.id.clone(), err.to_string());
                    continue;
                }
                match docs::vector_doc(m, self.wire(&e.vector)) {
                    Ok(d) => {
                        docs_out.push(d);
                        owners.push(*m);
                    }
                    Err(err) => {
                        failed.insert(m.id.clone(), err.to_string());
                    }
                }
            }
            let what = format!("storing {} vectors in {}", r.model.key(), r.collection);
            let written = self.write_docs(&self.vectors(&r), docs_out, &what).await?;
            for (i, (kind, msg)) in written.failed {
                if let Some(m) = owners.get(i) {
                    let msg = if kind == Some(ErrorKind::VectorDimensionMismatch) {
                        format!(
                            "{} vector: {msg} (collection {} does not hold the registered {}-d vectors; run `songrec doctor`)",
                            r.model.key(),
                            r.collection,
                            r.model.dim
                        )
                    } else {
                        format!("{} vector: {msg}", r.model.key())
                    };
                    failed.insert(m.id.clone(), msg);
                }
            }
        }
        let mut song_docs = Vec::new();
        let mut owners = Vec::new();
        for (m, _) in &batch {
            if failed.contains_key(&m.id) {
                continue;
            }
            match docs::song_doc(m) {
                Ok(d) => {
                    song_docs.push(d);
                    owners.push(*m);
                }
                Err(e) => {
                    failed.insert(m.id.clone(), e.to_string());
                }
            }
        }
        let written = self
            .write_docs(&self.songs, song_docs, "storing song metadata")
            .await?;
        for (i, (_, msg)) in &written.failed {
            if let Some(m) = owners.get(*i) {
                failed.insert(m.id.clone(), format!("metadata: {msg}"));
            }
        }
        // Songs that already existed may have vectors of models not in this batch: refresh
        // the metadata copy there too (one updateOne per such song and model).
        let replaced: Vec<&SongMetadata> = written
            .replaced
            .iter()
            .filter_map(|i| owners.get(*i).copied())
            .collect();
        if !replaced.is_empty() {
            let reg = self.registry().await?;
            let mut jobs = Vec::new();
            for m in replaced {
                let given: BTreeSet<(String, String)> = batch
                    .iter()
                    .find(|(b, _)| b.id == m.id)
                    .map(|(_, es)| es.iter().map(|e| registry_key(&e.model)).collect())
                    .unwrap_or_default();
                for r in reg.values() {
                    if !given.contains(&registry_key(&r.model)) {
                        jobs.push((m.clone(), self.vectors(r)));
                    }
                }
            }
            let results: Vec<(SongId, StorageResult<()>)> = futures::stream::iter(jobs)
                .map(|(m, coll): (SongMetadata, Collection)| async move {
                    let r = async {
                        let copy = json!({ "$set": docs::copy_fields(&m)? });
                        coll.update_one(id_filter(&m.id), copy, UpdateOptions::default())
                            .await
                            .map_err(|e| errors::api(e, "refreshing a metadata copy"))?;
                        Ok(())
                    }
                    .await;
                    (m.id.clone(), r)
                })
                .buffer_unordered(CONCURRENCY)
                .collect()
                .await;
            for (id, r) in results {
                if let Err(e) = r {
                    failed.insert(id, format!("metadata copy: {e}"));
                }
            }
        }
        let mut report = BatchReport::default();
        for s in songs {
            match failed.get(&s.metadata.id) {
                Some(msg) => report.failed.push((s.metadata.id.clone(), msg.clone())),
                None => report.stored.push(s.metadata.id.clone()),
            }
        }
        Ok(report)
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
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

    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let docs = self
            .songs
            .find(
                json!({"deleted": {"$in": [true, false]}}),
                FindOptions::default()
                    .projection(json!({"version": 1, "content_hash": 1, "deleted": 1})),
            )
            .collect_all()
            .await
            .map_err(|e| errors::api(e, "listing song versions"))?;
        let mut out = Vec::with_capacity(docs.len());
        for d in &docs {
            let id = docs::doc_id(d)?;
            out.push(VersionEntry {
                version: d.get("version").and_then(Value::as_u64).unwrap_or(1),
                content_hash: d
                    .get("content_hash")
                    .and_then(Value::as_str)
                    .unwrap_or(id.as_str())
                    .to_owned(),
                deleted: d.get("deleted").and_then(Value::as_bool).unwrap_or(false),
                id,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    async fn flush(&self) -> StorageResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod placeholder_tests {
    use super::placeholder;

    #[test]
    fn env_example_values_are_recognised_and_named() {
        // Every value .env.example ships for the cloud settings.
        let example = include_str!("../../../../.env.example");
        let vars = [
            "ASTRA_DB_API_ENDPOINT",
            "ASTRA_DB_APPLICATION_TOKEN",
            "SONGREC_S3_ENDPOINT",
            "SONGREC_S3_BUCKET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ];
        for var in vars {
            let line = example
                .lines()
                .find(|l| l.starts_with(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} in .env.example"));
            let value = &line[var.len() + 1..];
            let e = placeholder(var, value).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains("placeholder"), "{e}");
            assert!(!e.contains(value), "the value is not echoed: {e}");
        }
        for real in [
            "https://0123-eu-west-1.apps.astra.datastax.com",
            "AstraCS:abcdef:0123456789",
            "http://127.0.0.1:9000",
            "music-bucket",
        ] {
            assert!(placeholder("X", real).is_ok(), "{real}");
        }
    }
}
