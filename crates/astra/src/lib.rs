//! Astra DB Data API + S3 backend for songrec.
//!
//! - [`AstraBackend`]: the [`songrec_storage::StorageBackend`] implementation
//!   (schema in `migrations/astra/`, created by [`AstraBackend::init`]).
//! - [`doctor`]: connectivity / credentials / schema checks for `songrec doctor`.
//! - `dataapi`: the Data API client; `blobs`: the S3 audio store. Both are private to the
//!   crate; the `internals` feature makes them public for this crate's tests, the test kit
//!   and the benchmarks, which drive the client and the bucket directly.
//! - [`lease`]: the sync lease as a conditionally written object in the bucket.

pub mod backend;
#[cfg(feature = "internals")]
pub mod blobs;
#[cfg(not(feature = "internals"))]
mod blobs;
#[cfg(feature = "internals")]
pub mod capped;
#[cfg(not(feature = "internals"))]
mod capped;
#[cfg(feature = "internals")]
pub mod dataapi;
#[cfg(not(feature = "internals"))]
mod dataapi;
pub mod lease;
pub mod origin;
pub mod secret;

pub use backend::{
    AstraBackend, CheckStatus, DoctorCheck, DoctorReport, INSERT_CHUNK, InitReport, OVERLAP_MS,
    doctor,
};
pub use lease::S3LeaseStore;
