//! The [`AstraBackend`] value: its Data API client and songs collection, its blob store, the
//! model registry it caches, and the few helpers every operation uses. Built in `connection`;
//! the operations live in the submodules beside it.

use std::fmt;

use serde_json::{Map, Value, json};
use songrec_storage::SongId;
use tokio::sync::Mutex;

use super::errors;
use super::schema::Registry;
use crate::blobs::BlobStore;
use crate::dataapi::{Collection, DataApiClient, FindOptions};

/// Concurrent single-document upserts (re-puts) and count partitions.
pub(super) const CONCURRENCY: usize = 8;

/// songrec's storage on Astra DB (Data API) + S3.
pub struct AstraBackend {
    pub(super) client: DataApiClient,
    pub(super) blobs: BlobStore,
    pub(super) prefix: String,
    pub(super) songs: Collection,
    pub(super) display: String,
    pub(super) registry: Mutex<Option<Registry>>,
    /// Set by [`AstraBackend::with_feed_overlap`]; `None`: [`OVERLAP_MS`](super::feed::OVERLAP_MS).
    pub(super) feed_overlap_ms: Option<i64>,
    /// Set by [`AstraBackend::with_sort_cap`]; `None`: the Data API's (`listing::SORT_CAP`).
    pub(super) sort_cap: Option<f64>,
    /// Whether this process found every song's title and artist sort keys of the current form
    /// ([`docs::SORT_KEYS_VERSION`]).
    pub(super) sort_keys_checked: std::sync::atomic::AtomicBool,
    /// Whether this process said that older sort keys make it sort listings itself.
    pub(super) sort_keys_warned: std::sync::atomic::AtomicBool,
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

impl AstraBackend {
    /// The songs documents `filter` selects, with `projection` (`None`: every field but
    /// `$vector`); a failure is described as `what`.
    pub(super) async fn songs_where(
        &self,
        filter: Value,
        projection: Option<Value>,
        what: &str,
    ) -> songrec_storage::StorageResult<Vec<Value>> {
        let opts = FindOptions {
            projection,
            ..FindOptions::default()
        };
        let found = self.songs.find(filter, opts).collect_all().await;
        found.map_err(|e| errors::api(e, what))
    }

    /// The first songs document `filter` selects (see [`Self::songs_where`]).
    pub(super) async fn song_where(
        &self,
        filter: Value,
        projection: Option<Value>,
        what: &str,
    ) -> songrec_storage::StorageResult<Option<Value>> {
        let opts = FindOptions {
            projection,
            ..FindOptions::default()
        };
        let found = self.songs.find_one(filter, opts).await;
        found.map_err(|e| errors::api(e, what))
    }
}

/// The filter that selects one song's documents.
pub(super) fn id_filter(id: &SongId) -> Value {
    json!({"_id": id.as_str()})
}

/// A JSON object of one field.
pub(super) fn base(key: &str, value: Value) -> Map<String, Value> {
    Map::from_iter([(key.to_owned(), value)])
}
