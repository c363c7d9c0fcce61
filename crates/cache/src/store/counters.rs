//! Hit, miss, eviction and corruption counters: this process's session and the folder's
//! lifetime totals kept in the index.

use std::path::PathBuf;

use serde::Serialize;
use songrec_storage::plural::count;

pub(super) const COUNTER_NAMES: [&str; 6] = [
    "hits",
    "misses",
    "bytes_served",
    "bytes_fetched",
    "evictions",
    "corrupt",
];

/// Cache counters: what was served, fetched and evicted.
///
/// ```
/// use songrec_cache::CacheCounters;
/// let c = CacheCounters { hits: 3, misses: 1, ..CacheCounters::default() };
/// assert_eq!(c.hit_ratio(), Some(0.75));
/// assert_eq!(CacheCounters::default().hit_ratio(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheCounters {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads the cache could not answer (passed to the remote).
    pub misses: u64,
    /// Bytes answered from the cache (audio bytes, vector bytes).
    pub bytes_served: u64,
    /// Bytes fetched from the remote on misses.
    pub bytes_fetched: u64,
    /// Entries removed to stay under the size limit.
    pub evictions: u64,
    /// Damaged entries found on read (dropped and fetched again).
    pub corrupt: u64,
}

impl CacheCounters {
    /// `hits / (hits + misses)`, if there was any read.
    pub fn hit_ratio(&self) -> Option<f64> {
        let n = self.hits + self.misses;
        (n > 0).then(|| self.hits as f64 / n as f64)
    }

    pub(super) fn get(mut self, name: &str) -> u64 {
        *self.slot(name)
    }

    /// The counter named `name` (one of [`COUNTER_NAMES`]).
    pub(super) fn slot(&mut self, name: &str) -> &mut u64 {
        match name {
            "hits" => &mut self.hits,
            "misses" => &mut self.misses,
            "bytes_served" => &mut self.bytes_served,
            "bytes_fetched" => &mut self.bytes_fetched,
            "evictions" => &mut self.evictions,
            _ => &mut self.corrupt,
        }
    }

    pub(super) fn add(&mut self, d: &CacheCounters) {
        for n in COUNTER_NAMES {
            *self.slot(n) += d.get(n);
        }
    }
}

/// A snapshot of a cache folder: this process's counters, everyone's cumulative counters,
/// and what the folder holds now. `Display` renders a short report.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CacheStats {
    pub path: PathBuf,
    /// Counters of this process.
    pub session: CacheCounters,
    /// Counters of every process since the cache was created or cleared.
    pub total: CacheCounters,
    pub entries: u64,
    /// Audio blobs held.
    pub audio_entries: u64,
    pub embedding_entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

pub(super) fn ratio(c: &CacheCounters) -> String {
    c.hit_ratio()
        .map_or_else(|| "-".to_owned(), |r| format!("{:.1} %", r * 100.0))
}

impl std::fmt::Display for CacheStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "cache:        {}", self.path.display())?;
        writeln!(
            f,
            "held:         {} ({} audio, {}), {} of {}",
            count(self.entries, "entry"),
            self.audio_entries,
            count(self.embedding_entries, "embedding"),
            self.bytes,
            count(self.max_bytes, "byte")
        )?;
        for (what, c) in [("this run", &self.session), ("all runs", &self.total)] {
            writeln!(
                f,
                "{what:<13} {}, {} (hit ratio {}), {} served, {} fetched, {}, {} corrupt",
                count(c.hits, "hit"),
                count(c.misses, "miss"),
                ratio(c),
                count(c.bytes_served, "byte"),
                count(c.bytes_fetched, "byte"),
                count(c.evictions, "eviction"),
                c.corrupt
            )?;
        }
        Ok(())
    }
}
