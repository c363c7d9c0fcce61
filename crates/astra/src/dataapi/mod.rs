//! Client for the Astra DB Data API (JSON over HTTP, collections with vectors).
//!
//! Tolerates legacy (≤ v1.0.34) and current error code names, any page size, and HTTP 200
//! responses carrying `errors`. Transient failures of operations safe to repeat are retried with
//! capped, jittered exponential backoff (`backon`), honouring `Retry-After`.
//!
//! Modules, bottom to top (each imports only those before it): `config`, `error`, `vector`,
//! `client` (the HTTP transport), `collection` (handles and document commands), `cursor`
//! (`find`), `insert` (`insertMany`).

// Part of the surface is for the tests and the test kit (the `internals` feature).
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
    Collection, CollectionInfo, DeleteManyResult, DocumentCount, FindOptions, Sort, SortOrder,
    UpdateOptions, UpdateResult,
};
pub use config::{
    ASTRA_API_PATH, DEFAULT_MAX_RESPONSE_BYTES, DataApiConfig, RetryPolicy, SELF_HOSTED_API_PATH,
    VectorEncoding,
};
pub use cursor::FindCursor;
pub use error::{ApiError, ApiFailure, DataApiError, ErrorKind, TransportKind};
pub use insert::{INSERT_CHUNK, InsertFailure, InsertManyReport};
pub use vector::{VectorError, decode_vector, document_vector, encode_vector};
