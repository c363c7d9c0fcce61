//! An open approximate index as the shared state holds it, one per model: opened, searched and
//! kept up to date by [`crate::ann`], which reads and writes its fields.

use std::sync::Arc;

use usearch::Index;

use crate::manifest::AnnEntry;
use crate::pack::CandRow;

/// An open index, and the map from its keys to the candidate rows of the current state.
pub(crate) struct AnnCache {
    pub(crate) entry: AnnEntry,
    pub(crate) index: Index,
    /// Loaded into memory (can be changed and saved) rather than a read-only view.
    pub(crate) writable: bool,
    /// Keyed by the candidate rows it was computed from (held, so never mistaken for other
    /// rows at the same address) and the pack length.
    pub(crate) map: Option<(Arc<Vec<CandRow>>, usize, Arc<AnnMap>)>,
}

/// For one list of candidate rows: candidate index + 1 of each record number (0: not a
/// candidate), and the candidates the graph does not hold (scanned exactly).
pub(crate) struct AnnMap {
    pub(crate) by_record: Vec<u32>,
    pub(crate) unindexed: Vec<u32>,
}
