//! [`SubsonicState`]: the sign-in limiter, the write budgets, the catalog and the song playing
//! now, kept in the server's state.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use songrec_storage::SongMetadata;

use super::auth::{Limiter, SubsonicOptions};
use super::catalog::CatalogCache;
use super::writes;

/// What `/rest/` keeps between requests.
pub struct SubsonicState {
    /// Settings (the user).
    pub options: SubsonicOptions,
    /// Failed sign-ins by user (or API key) and address, and by address.
    pub limiter: Limiter,
    /// Each client's budget of writes.
    pub writes: writes::WriteBudget,
    /// The library grouped into artists and albums.
    pub catalog: CatalogCache,
    /// The song playing now (`scrobble` with `submission=false`).
    pub now_playing: NowPlaying,
}

impl SubsonicState {
    /// State for these settings.
    pub fn new(options: SubsonicOptions) -> Self {
        Self {
            limiter: Limiter::new(&options),
            writes: writes::WriteBudget::new(options.write_burst, options.writes_per_second),
            options,
            catalog: CatalogCache::default(),
            now_playing: NowPlaying::default(),
        }
    }
}

/// The song playing now, and since when.
#[derive(Default)]
pub struct NowPlaying(Mutex<Option<(SongMetadata, DateTime<Utc>)>>);

impl NowPlaying {
    pub(crate) fn slot(&self) -> MutexGuard<'_, Option<(SongMetadata, DateTime<Utc>)>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
