//! songrec-app's integration tests, in one test binary.

mod artists;
mod edges_model;
mod ingest;
mod migrate;
mod previews;
mod reembed;
