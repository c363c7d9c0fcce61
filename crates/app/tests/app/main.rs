//! songrec-app's integration tests, in one test binary.

mod ingest;
mod migrate;
mod previews;
mod reembed;
