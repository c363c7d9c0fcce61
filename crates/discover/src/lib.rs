//! What listeners do with a library, on any [`songrec_storage::StorageBackend`] (which songs
//! are copies of one recording, and duplicates, are `songrec-identity`'s):
//!
//! - [`playlist`]: playlists that flow from seed songs, or that travel from one song to another;
//! - [`map`]: a self-contained HTML map of the library (2-D PCA, [`projection`]) and a PNG image
//!   of it;
//! - [`clusters`] and [`outliers`]: k-means groups with their dominant genres, and the songs
//!   least like the rest.
//!
//! Which vectors a ranking compares (one model or a weighted blend) and the one blended search
//! that `similar` and playlists share are [`songrec_rank`]'s.
//!
//! The algorithms are pure and unit-tested ([`linalg`], [`pca`], [`kmeans`],
//! [`playlist::order`]); the functions that touch a library only use the storage trait, so they work
//! the same on the local files and on Astra DB + S3. All vector comparisons use cosine similarity
//! (vectors are L2-normalised when loaded); a blend of models compares combined vectors that
//! rank like `similar`'s standardised mix (see [`songrec_rank`]).

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
