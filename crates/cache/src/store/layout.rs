//! Where things stand in a cache folder: the index file and its schema, and the audio folder.

/// The index schema (also in `migrations/cache/001_index.sql`).
pub(super) const SCHEMA: &str = include_str!("../../../../migrations/cache/001_index.sql");
/// `PRAGMA user_version` of the schema above.
pub(super) const SCHEMA_VERSION: i64 = 1;
/// Index file name inside the cache folder.
pub const INDEX_FILE: &str = "index.sqlite";
/// Audio folder inside the cache folder.
pub const BLOBS_DIR: &str = "blobs";
