//! The options of the approximate index: when it is used and how it is built and searched.

use crate::ann_check::AnnQuantization;

/// When and how the local backend uses an approximate nearest-neighbour index.
#[derive(Clone, Debug, PartialEq, smart_default::SmartDefault)]
pub struct AnnOptions {
    /// Vectors of a model from which its searches go through the index (`usize::MAX`: never).
    #[default(DEFAULT_MIN_VECTORS)]
    pub min_vectors: usize,
    /// HNSW connectivity (M).
    #[default = 16]
    pub connectivity: usize,
    /// Candidate list size while building (ef_construction).
    #[default = 128]
    pub expansion_add: usize,
    /// Candidate list size while searching (ef_search); widened for filters and paging.
    /// `None`: [`auto_expansion_search`] of the number of vectors indexed.
    pub expansion_search: Option<usize>,
    /// Storage of vectors in the index.
    pub quantization: AnnQuantization,
    /// Filters estimated to keep less than this share of the songs run the exact scan.
    #[default = 0.05]
    pub min_selectivity: f32,
}

impl AnnOptions {
    /// The ef_search used for an index of `n` vectors: the configured one, else
    /// [`auto_expansion_search`].
    pub fn ef_search_for(&self, n: usize) -> usize {
        self.expansion_search
            .unwrap_or_else(|| auto_expansion_search(n))
            .max(1)
    }
}

/// ef_search for an index of `n` vectors when none is configured: 64 up to 100k vectors (recall@10
/// 1.000 there), then 40 more per doubling, so about 197 at 1M. Measured at 1M × 512 (clustered,
/// M 16, efC 128, f16): recall@10 0.917 at 64, 0.945 at 96, 0.966 at 128, 0.990 at 192, 0.991 at
/// 256, with the median latency flat at about 2 ms from 96 up (`songrec bench search --songs
/// 1000000 --ef-search 64,96,128,192,256`, README "Large libraries").
///
/// ```
/// use songrec_local::auto_expansion_search as ef;
/// assert_eq!((ef(10_000), ef(100_000)), (64, 64));
/// assert!(ef(200_000) > 64 && ef(1_000_000) >= 192 && ef(10_000_000) > ef(1_000_000));
/// ```
pub fn auto_expansion_search(n: usize) -> usize {
    const BASE: usize = 64;
    const FROM: usize = 100_000;
    const PER_DOUBLING: f64 = 40.0;
    if n <= FROM {
        return BASE;
    }
    let doublings = (n as f64 / FROM as f64).log2();
    BASE + (doublings * PER_DOUBLING).round() as usize
}

/// Default of [`AnnOptions::min_vectors`]: below it the exact scan answers in under ~5 ms
/// (measured: 9.5 ms at 100k × 512 on two cores), so the index is not worth its upkeep.
pub const DEFAULT_MIN_VECTORS: usize = 50_000;

/// Options of a [`LocalBackend`](crate::LocalBackend).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LocalOptions {
    /// The approximate nearest-neighbour index.
    pub ann: AnnOptions,
    /// How `link_audio` keeps a user's file (`[library] audio`): a reference (the default), a
    /// clone or a copy.
    pub audio: songrec_storage::AudioMode,
    /// The user's music folder (`[library] music`): references to files below it are stored
    /// relative to it, so that pointing this setting at the collection's new place is all a
    /// moved collection needs.
    pub music: Option<std::path::PathBuf>,
    /// How long this process keeps the library's write lock once it writes.
    pub hold: LockHold,
    /// This process in the lock file, for the error another writer gets ("songrec serve on
    /// 127.0.0.1:4533"); `None`: the program's first two arguments.
    pub holder: Option<String>,
}

/// How long a [`LocalBackend`](crate::LocalBackend) keeps the library's write lock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LockHold {
    /// From the first write until the backend is dropped: a command's writes (an ingest, a
    /// sync) are one run that no other writer interleaves with.
    #[default]
    Session,
    /// Only for the moment of each write, released at once: long-running processes
    /// (`songrec serve`, the radio) that write now and then must never keep other writers out.
    /// Between writes the process is a reader and sees other processes' commits at its next
    /// call. A writer that finds the lock held by such a process waits for it (its writes
    /// take milliseconds) instead of failing.
    PerWrite,
}

impl LocalOptions {
    /// The defaults, with the approximate index used from `min_vectors` vectors of a model
    /// (`usize::MAX`: never).
    pub fn with_ann_threshold(min_vectors: usize) -> Self {
        Self {
            ann: AnnOptions {
                min_vectors,
                ..AnnOptions::default()
            },
            ..Self::default()
        }
    }
}
