//! Astra DB Data API + S3 backend for songrec.
//!
//! - [`AstraBackend`]: the [`songrec_storage::StorageBackend`] implementation, built from
//!   [`AstraOptions`] (schema in `migrations/astra/`, created by [`AstraBackend::init`]).
//! - [`doctor`]: connectivity / credentials / schema checks for `songrec doctor`.
//! - `dataapi` (the Data API client) and `blobs` (the S3 audio store): private, public with the
//!   `internals` feature for the tests, the test kit and the benchmarks.

/// Declares modules private to the crate, public with the `internals` feature.
macro_rules! internals {
    ($($m:ident),*) => {
        $(#[cfg(feature = "internals")] pub mod $m; #[cfg(not(feature = "internals"))] mod $m;)*
    };
}

pub mod backend;
internals!(blobs, capped, dataapi);
pub mod origin;
pub mod s3_answer;
pub mod secret;

pub use backend::{
    AstraBackend, AstraOptions, CheckStatus, DoctorCheck, DoctorReport, INSERT_CHUNK, InitReport,
    OVERLAP_MS, S3Options, doctor,
};
