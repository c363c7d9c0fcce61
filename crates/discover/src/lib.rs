//! What listeners do with a library, on any [`songrec_storage::StorageBackend`]: [`playlist`]s,
//! a [`map`] (HTML page and PNG image), k-means [`clusters`] and [`outliers`]. The algorithms
//! are pure and unit-tested; the rest only uses the storage trait. All vector comparisons use
//! cosine similarity (vectors are L2-normalised when loaded); blends are [`songrec_rank`]'s.

pub mod clusters;
pub mod error;
pub mod fsutil;
pub mod history;
pub mod kmeans;
pub mod linalg;
pub mod load;
pub mod m3u;
pub mod map;
pub mod outliers;
pub mod pca;
pub mod playlist;
pub mod png;
pub mod projection;
pub use songrec_storage::rng;

#[cfg(test)]
mod fuzz_replay;

pub use error::{DiscoverError, DiscoverResult};
pub use linalg::Matrix;
pub use load::{SongSet, load_songs};
