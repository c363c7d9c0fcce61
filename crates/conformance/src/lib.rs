//! The backend-agnostic conformance suite, a dev-dependency of every crate with a backend or a
//! layer (it is test code: nothing the product ships links it).
//!
//! Every [`StorageBackend`] implementation (and every layer wrapping one) runs this from its
//! own tests, like `object_store`'s integration suite:
//!
//! ```text
//! #[tokio::test]
//! async fn conformance() {
//!     let backend = make_empty_backend().await;
//!     songrec_conformance::run_all(&backend).await;
//! }
//! ```
//!
//! [`MemoryBackend`] is the suite's exact in-memory backend: the oracle the layers' own tests
//! stack over.
//!
//! The backend must be empty at the start. Checks panic with a message naming the check.
//! Expected search results are computed here by brute force with [`songrec_storage::math`], so a
//! backend that pushes search into a remote service is checked against an independent answer.

mod audio;
mod feed;
mod fidelity;
mod fixtures;
pub mod floats;
mod memory;
mod metadata;
mod playlists;
mod search;

pub use audio::*;
pub use feed::*;
pub use fidelity::*;
pub use memory::MemoryBackend;
pub use metadata::*;
pub use playlists::*;
pub use search::*;

use songrec_storage::backend::StorageBackend;
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::query::{ListQuery, SearchQuery};

use fixtures::model_a;

/// Runs every check in order. The backend must start empty and is left empty.
pub async fn run_all(b: &dyn StorageBackend) {
    empty_backend(b).await;
    metadata_roundtrip(b).await;
    compare_and_set_metadata(b).await;
    awkward_floats_roundtrip(b).await;
    non_finite_numbers_refused(b).await;
    songs_over_cloud_limits_refused(b).await;
    list_filter_and_paging(b).await;
    listing_natural_order(b).await;
    any_text_orders_alike(b).await;
    listing_cursor_survives_writers(b).await;
    times_at_the_edges_order_alike(b).await;
    embeddings_roundtrip_and_models(b).await;
    search_matches_brute_force(b).await;
    invalid_queries(b).await;
    audio_roundtrip(b).await;
    link_audio_leaves_the_file(b).await;
    link_audio_as_serves_this_file_or_refuses(b).await;
    delete_leaves_tombstone(b).await;
    change_feed(b).await;
    summary_adds_up(b).await;
    playlists_roundtrip(b).await;
    b.flush().await.expect("flush");
}

/// The listing checks alone (filters, paging by cursor, sorted listings and windows, natural
/// order), for running a backend again under other server settings: the Astra backend runs
/// them at server page sizes 1, 10 and 20, so that a listing ends on the service's own
/// signal, never on a page size it assumed. The backend must start empty and is left empty.
pub async fn run_listings(b: &dyn StorageBackend) {
    empty_backend(b).await;
    list_filter_and_paging(b).await;
    listing_natural_order(b).await;
    times_at_the_edges_order_alike(b).await;
}

/// An empty backend answers every read with nothing.
pub async fn empty_backend(b: &dyn StorageBackend) {
    assert_eq!(
        b.count(&Filter::default()).await.expect("count"),
        0,
        "backend must start empty"
    );
    let page = b.list(&ListQuery::default()).await.expect("list");
    assert!(page.items.is_empty() && page.next.is_none(), "empty list");
    let id = SongId::from_bytes(b"nothing");
    assert!(b.get_metadata(&id).await.expect("get_metadata").is_none());
    assert!(
        b.get_embedding(&id, &model_a())
            .await
            .expect("get_embedding")
            .is_none()
    );
    let q = SearchQuery::new(model_a(), vec![1.0; 8], 5);
    assert!(b.search(&q).await.expect("search on empty").is_empty());
    assert!(!b.has_audio(&id).await.expect("has_audio"));
    assert!(
        !b.delete_song(&id).await.expect("delete unknown"),
        "deleting an unknown song returns false"
    );
}
