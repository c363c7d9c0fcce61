//! `insertMany`: chunking, bounded concurrency, per-document outcomes, safe retries.

use std::collections::HashMap;
use std::sync::Mutex;

use backon::Retryable as _;
use futures::{StreamExt as _, TryStreamExt as _};
use serde_json::{Value, json};

use super::client::CommandResponse;
use super::collection::Collection;
use super::error::{ApiError, ApiFailure, DataApiError, ErrorKind};
use super::vector::reencode_member;

/// Documents per `insertMany` request (the server maximum); `AstraBackend::connect` asks for
/// this many.
pub const INSERT_CHUNK: usize = 100;

/// One document that could not be inserted.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertFailure {
    /// Position in the input.
    pub index: usize,
    /// The document's `_id`, if it had one.
    pub id: Option<Value>,
    /// Canonical kind ([`ErrorKind::Other`] for transport failures).
    pub kind: ErrorKind,
    /// The server's `errorCode`, if any.
    pub code: Option<String>,
    /// Human-readable reason.
    pub message: String,
}

impl InsertFailure {
    /// True if the `_id` already existed (on a first attempt, i.e. inserted earlier).
    pub fn is_already_exists(&self) -> bool {
        self.kind == ErrorKind::DocumentAlreadyExists
    }
}

/// Outcome of [`Collection::insert_many`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InsertManyReport {
    /// `_id`s of inserted documents, in input order (includes documents that a retry found
    /// already present).
    pub inserted_ids: Vec<Value>,
    /// Documents that were not inserted, in input order.
    pub failures: Vec<InsertFailure>,
    /// How many of `inserted_ids` were answered `DOCUMENT_ALREADY_EXISTS` on a retry (an
    /// earlier attempt had in fact written them).
    pub already_present_on_retry: usize,
}

impl InsertManyReport {
    /// True if every document was inserted.
    pub fn is_complete(&self) -> bool {
        self.failures.is_empty()
    }
}

#[derive(Default)]
struct ChunkState {
    pending: Vec<(usize, Value)>,
    inserted: Vec<(usize, Value)>,
    failures: Vec<InsertFailure>,
    last_doc_error: HashMap<usize, ApiError>,
    already_present: usize,
    attempts: usize,
}

enum DocOutcome {
    Ok,
    Err(ApiError),
    Pending,
}

fn doc_id(doc: &Value) -> Option<Value> {
    doc.get("_id").filter(|v| !v.is_null()).cloned()
}

fn failure_from_api(index: usize, doc: &Value, e: &ApiError) -> InsertFailure {
    InsertFailure {
        index,
        id: doc_id(doc),
        kind: e.kind(),
        code: e.error_code.clone(),
        message: e.message.clone(),
    }
}

fn failure_from_error(index: usize, doc: &Value, e: &DataApiError) -> InsertFailure {
    let first = e.failure().and_then(|f| f.errors.first());
    InsertFailure {
        index,
        id: doc_id(doc),
        kind: e.kind().unwrap_or(ErrorKind::Other),
        code: first.and_then(|f| f.error_code.clone()),
        message: e.to_string(),
    }
}

/// Maps a response to one outcome per sent document (same order as `batch`).
fn outcomes(
    env: CommandResponse,
    http_status: u16,
    batch: &[(usize, Value)],
) -> Result<Vec<DocOutcome>, DataApiError> {
    let errors = env.errors.unwrap_or_default();
    let status = env.status.unwrap_or_default();

    if let Some(Value::Array(responses)) = status.get("documentResponses") {
        let by_position = responses.len() == batch.len();
        let mut out = Vec::with_capacity(batch.len());
        for (pos, (_, doc)) in batch.iter().enumerate() {
            let resp = if by_position {
                responses.get(pos)
            } else {
                let id = doc_id(doc);
                responses
                    .iter()
                    .find(|r| id.is_some() && r.get("_id") == id.as_ref())
            };
            let Some(resp) = resp else {
                out.push(DocOutcome::Pending);
                continue;
            };
            let outcome = match resp.get("status").and_then(Value::as_str) {
                Some("OK") => DocOutcome::Ok,
                Some("ERROR") => {
                    let err = resp
                        .get("errorsIdx")
                        .and_then(Value::as_u64)
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| errors.get(i))
                        .or_else(|| errors.first())
                        .cloned()
                        .unwrap_or_else(|| ApiError {
                            message: "document reported as ERROR without an error object".into(),
                            ..ApiError::default()
                        });
                    DocOutcome::Err(err)
                }
                _ => DocOutcome::Pending, // SKIPPED or unknown
            };
            out.push(outcome);
        }
        return Ok(out);
    }

    if let Some(Value::Array(ids)) = status.get("insertedIds") {
        // Servers that ignore returnDocumentResponses: ids listed are OK; others are matched
        // to errors through `documentIds` when available.
        let mut out = Vec::with_capacity(batch.len());
        for (_, doc) in batch {
            let id = doc_id(doc);
            if id.as_ref().is_some_and(|id| ids.contains(id)) {
                out.push(DocOutcome::Ok);
                continue;
            }
            let err = errors
                .iter()
                .find(|e| {
                    id.as_ref()
                        .is_some_and(|id| e.document_ids.as_ref().is_some_and(|ds| ds.contains(id)))
                })
                .or_else(|| errors.first())
                .cloned();
            out.push(err.map_or(DocOutcome::Pending, DocOutcome::Err));
        }
        return Ok(out);
    }

    if !errors.is_empty() {
        return Err(DataApiError::from_failure(ApiFailure {
            http_status,
            errors,
            status: (!status.is_empty()).then_some(status),
        }));
    }
    Err(DataApiError::Decode(
        "insertMany response has neither status.documentResponses, status.insertedIds nor errors"
            .into(),
    ))
}

impl Collection {
    /// Inserts documents in chunks of `insert_chunk_size` (≤ 100) with `insert_concurrency`
    /// requests in flight, unordered, with `returnDocumentResponses: true`.
    ///
    /// Per-document failures are in the [`InsertManyReport`]; errors that fail every request
    /// (unauthorized, collection/keyspace missing, database unavailable) are `Err`. Only chunks
    /// whose documents all carry an `_id` are retried, re-sending the documents of unknown or
    /// transiently failed outcome; `DOCUMENT_ALREADY_EXISTS` on a retry counts as inserted.
    pub async fn insert_many(
        &self,
        documents: Vec<Value>,
    ) -> Result<InsertManyReport, DataApiError> {
        let encoding = self.encoding();
        let config = self.client.config();
        let chunk_size = config.insert_chunk_size.clamp(1, INSERT_CHUNK);
        let mut chunks: Vec<Vec<(usize, Value)>> = Vec::new();
        for (i, mut doc) in documents.into_iter().enumerate() {
            let Value::Object(o) = &mut doc else {
                let why = format!("document {i} is not a JSON object");
                return Err(DataApiError::InvalidArgument(why));
            };
            reencode_member(o, encoding);
            match chunks.last_mut() {
                Some(c) if c.len() < chunk_size => c.push((i, doc)),
                _ => chunks.push(vec![(i, doc)]),
            }
        }
        let results: Vec<ChunkState> = futures::stream::iter(chunks)
            .map(|chunk| self.insert_chunk(chunk))
            .buffer_unordered(config.insert_concurrency.max(1))
            .try_collect()
            .await?;

        let mut inserted = Vec::new();
        let mut report = InsertManyReport::default();
        for st in results {
            inserted.extend(st.inserted);
            report.failures.extend(st.failures);
            report.already_present_on_retry += st.already_present;
        }
        inserted.sort_by_key(|(i, _)| *i);
        report.failures.sort_by_key(|f| f.index);
        report.inserted_ids = inserted.into_iter().map(|(_, id)| id).collect();
        Ok(report)
    }

    async fn insert_chunk(&self, chunk: Vec<(usize, Value)>) -> Result<ChunkState, DataApiError> {
        let retry_safe = chunk.iter().all(|(_, d)| doc_id(d).is_some());
        let state = Mutex::new(ChunkState {
            pending: chunk,
            ..ChunkState::default()
        });
        let last_error: Mutex<Option<String>> = Mutex::new(None);
        let poisoned = || DataApiError::Decode("internal state lock poisoned".into());

        let attempt = || async {
            let (batch, attempt_no) = {
                let mut st = state.lock().map_err(|_| poisoned())?;
                st.attempts += 1;
                (st.pending.clone(), st.attempts)
            };
            if batch.is_empty() {
                return Ok(());
            }
            let body = json!({"insertMany": {
                "documents": batch.iter().map(|(_, d)| d).collect::<Vec<_>>(),
                "options": {"ordered": false, "returnDocumentResponses": true},
            }});
            let (http_status, env) = self.client.send_once(&self.url, &body).await?;
            let outcomes = self.client.scrub(outcomes(env, http_status, &batch))?;

            let mut st = state.lock().map_err(|_| poisoned())?;
            let mut still_pending = Vec::new();
            let mut transient: Option<ApiError> = None;
            for ((index, doc), outcome) in batch.into_iter().zip(outcomes) {
                match outcome {
                    DocOutcome::Ok => {
                        st.last_doc_error.remove(&index);
                        if let Some(id) = doc_id(&doc) {
                            st.inserted.push((index, id));
                        }
                    }
                    DocOutcome::Err(e)
                        if attempt_no > 1 && e.kind() == ErrorKind::DocumentAlreadyExists =>
                    {
                        // An earlier attempt wrote it (ids are deterministic).
                        st.last_doc_error.remove(&index);
                        st.already_present += 1;
                        if let Some(id) = doc_id(&doc) {
                            st.inserted.push((index, id));
                        }
                    }
                    DocOutcome::Err(e) if retry_safe && e.kind().is_transient() => {
                        transient.get_or_insert_with(|| e.clone());
                        st.last_doc_error.insert(index, e);
                        still_pending.push((index, doc));
                    }
                    DocOutcome::Err(e) => {
                        st.last_doc_error.remove(&index);
                        st.failures.push(failure_from_api(index, &doc, &e));
                    }
                    DocOutcome::Pending => still_pending.push((index, doc)),
                }
            }
            let n_pending = still_pending.len();
            st.pending = still_pending;
            if n_pending == 0 {
                return Ok(());
            }
            // Ask backon for another round (only honoured when retry_safe).
            Err(match transient {
                Some(e) => DataApiError::Api(Box::new(ApiFailure {
                    http_status,
                    errors: vec![e],
                    status: None,
                })),
                None => DataApiError::Transport {
                    kind: super::error::TransportKind::Other,
                    message: format!("{n_pending} document(s) skipped or unreported by the server"),
                },
            })
        };

        let policy = &self.client.config().retry;
        let fut = attempt
            .retry(policy.backoff())
            .when(|e: &DataApiError| retry_safe && e.is_transient())
            .adjust(|e, d| super::client::retry_delay(e, d, policy.max_retry_after))
            .notify(|e, d| self.client.note_retry("insertMany", e, d, &last_error));
        let deadline = self.client.config().operation_timeout;
        let final_error = match tokio::time::timeout(deadline, fut).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                let attempts = state.lock().map(|s| s.attempts).unwrap_or(1);
                let e = self.client.finalize(e, attempts);
                if e.aborts_batch() {
                    return Err(e);
                }
                Some(e)
            }
            Err(_) => Some(DataApiError::Timeout {
                command: "insertMany".into(),
                after: deadline,
                last_error: last_error.lock().ok().and_then(|g| g.clone()),
            }),
        };
        let mut st = state.into_inner().map_err(|_| poisoned())?;
        if let Some(err) = final_error {
            let pending = std::mem::take(&mut st.pending);
            for (index, doc) in pending {
                let f = match st.last_doc_error.get(&index) {
                    Some(api) => failure_from_api(index, &doc, api),
                    None => failure_from_error(index, &doc, &err),
                };
                st.failures.push(f);
            }
        }
        Ok(st)
    }
}
