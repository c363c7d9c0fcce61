//! Client for the Astra DB Data API (JSON over HTTP, collections with vectors).
//!
//! Written from the Data API's wire-protocol notes. Tolerates both the legacy (≤ v1.0.34) and
//! current error code names, page sizes 20/50, and HTTP 200 responses carrying `errors`. Transient
//! failures (transport errors after connecting, request timeouts, 429, 502/503/504, DATABASE-scope
//! timeout/unavailable codes) are retried with capped, jittered exponential backoff (`backon`),
//! honouring `Retry-After`, and only for operations that are safe to repeat.
//!
//! ```no_run
//! # async fn demo() -> Result<(), songrec_astra::dataapi::DataApiError> {
//! use serde_json::json;
//! use songrec_astra::dataapi::{DataApiClient, DataApiConfig, FindOptions, Sort};
//! use songrec_astra::secret::Secret;
//!
//! let client = DataApiClient::new(DataApiConfig::new("http://127.0.0.1:8181", Secret::new("Cassandra:Y2Fzcw==:Y2Fzcw=="))
//!     .with_api_path("/v1"))?;
//! let songs = client.collection("songs");
//! let report = songs.insert_many(vec![json!({"_id": "t1", "$vector": [0.1, 0.2, 0.3]})]).await?;
//! assert!(report.is_complete());
//! let near = FindOptions::default().sort(Sort::Vector(vec![0.1, 0.2, 0.3])).limit(10);
//! let hits = songs.find(json!({}), near).collect_all().await?;
//! # let _ = hits; Ok(()) }
//! ```

// The client's whole surface stays (its tests and the test kit use it through the
// `internals` feature); the backend itself uses part of it.
#![cfg_attr(not(feature = "internals"), allow(unused_imports, dead_code))]

mod client;
mod collection;
mod config;
mod cursor;
mod error;
mod insert;
mod vector;

pub use client::{CommandResponse, DataApiClient};
pub use collection::{
    Collection, CollectionInfo, DeleteManyResult, DocumentCount, FindOptions, SimilarityMetric,
    Sort, SortOrder, UpdateOptions, UpdateResult,
};
pub use config::{
    ASTRA_API_PATH, DEFAULT_MAX_RESPONSE_BYTES, DataApiConfig, RetryPolicy, SELF_HOSTED_API_PATH,
    VectorEncoding,
};
pub use cursor::FindCursor;
pub use error::{ApiError, ApiFailure, DataApiError, ErrorKind, TransportKind};
pub use insert::{InsertFailure, InsertManyReport};
pub use vector::{VectorError, decode_vector, document_vector, encode_vector};
