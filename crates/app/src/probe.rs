//! [`Probe`]: a similarity query as vectors, made by `similar` and steered by `words`.

use songrec_storage::{SongId, SongMetadata};

/// The query as vectors: one per part of the space, the ids to leave out of the results, and
/// what is known of it as a song (a file's tags and duration), for recognising its copies.
pub(crate) struct Probe {
    pub vectors: Vec<Vec<f32>>,
    pub exclude: Vec<SongId>,
    pub song: SongMetadata,
}
