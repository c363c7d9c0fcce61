//! Server-side limits that commands obey: the configured ones ([`Limits`]) and the service's
//! fixed caps.

/// Server-side limits that commands obey.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    pub(crate) page_size: usize,
    pub(crate) max_collections: usize,
    /// A regular (in-memory) sort fails once this many documents match.
    pub(crate) max_sort_count: usize,
}

/// Documents per insertMany.
pub(crate) const MAX_INSERT_DOCS: usize = 100;
/// Most documents a vector sort may return.
pub(crate) const MAX_VECTOR_LIMIT: usize = 1000;
/// A regular (in-memory) sort fails once this many documents match (the real service's
/// `maxDocumentSortCount`, stargate/data-api `config/OperationsConfig.java`).
pub(crate) const MAX_SORT_CANDIDATES: usize = 10_000;
/// Documents deleted per deleteMany call.
pub(crate) const MAX_DELETE: usize = 20;
/// countDocuments cap.
pub(crate) const MAX_COUNT: usize = 1000;
