//! What bounds the media answers: re-encodings at once (and how long one waits for its turn or
//! may sit unread), pictures decoded and scaled at once, the scaled pictures kept, and the
//! songs whose missing file was already logged.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use songrec_storage::SongId;
use tokio::sync::Semaphore;

use super::picture::ScaledCache;

/// Default of [`MediaOptions::transcode_wait`].
pub const DEFAULT_TRANSCODE_WAIT: Duration = Duration::from_secs(30);
/// Default of [`MediaOptions::transcode_idle`].
pub const DEFAULT_TRANSCODE_IDLE: Duration = Duration::from_secs(60);
/// Bytes of scaled pictures kept in memory (a 300-pixel JPEG cover is about 15 kB; a 512-pixel
/// picture kept to be scaled again is 768 kB of pixels).
pub const SCALED_CACHE_BYTES: usize = 16 << 20;
/// Songs whose missing file is remembered as logged (beyond, the log may say it again).
const GONE_REMEMBERED: usize = 10_000;

/// Limits of `stream`'s re-encodings and `getCoverArt`'s scaling (`ServerOptions::media`).
#[derive(Clone, Debug, PartialEq, Eq, smart_default::SmartDefault)]
pub struct MediaOptions {
    /// Re-encodings running at once; `None`: one per core.
    pub transcode_slots: Option<usize>,
    /// How long a `stream` that needs a re-encoding waits for a free slot; then it is answered
    /// HTTP 503 with `Retry-After` and a Subsonic error.
    #[default(DEFAULT_TRANSCODE_WAIT)]
    pub transcode_wait: Duration,
    /// A re-encoding whose answer the client has not read for this long (a paused player) is
    /// stopped: ffmpeg is killed and its slot freed, and the connection is cut (a player that
    /// resumes asks again, from a `timeOffset` or a `Range`).
    #[default(DEFAULT_TRANSCODE_IDLE)]
    pub transcode_idle: Duration,
    /// Pictures decoded and scaled at once; `None`: one per core.
    pub cover_slots: Option<usize>,
}

/// The media answers' shared state, made from [`MediaOptions`].
pub struct MediaState {
    /// Turns of re-encoding.
    pub transcodes: Arc<Semaphore>,
    /// How many turns there are.
    pub transcode_slots: usize,
    /// Turns of picture decoding and scaling.
    pub covers: Arc<Semaphore>,
    /// Scaled pictures.
    pub scaled: Mutex<ScaledCache>,
    gone_logged: Mutex<HashSet<SongId>>,
}

impl MediaState {
    /// State for these limits.
    pub fn new(o: &MediaOptions) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let transcode_slots = o.transcode_slots.unwrap_or(cores).max(1);
        Self {
            transcodes: Arc::new(Semaphore::new(transcode_slots)),
            transcode_slots,
            covers: Arc::new(Semaphore::new(o.cover_slots.unwrap_or(cores).max(1))),
            scaled: Mutex::new(ScaledCache::new(SCALED_CACHE_BYTES)),
            gone_logged: Mutex::new(HashSet::new()),
        }
    }

    /// Whether the missing file of song `id` is to be logged now: the first time only.
    pub fn first_time_gone(&self, id: &SongId) -> bool {
        let Ok(mut seen) = self.gone_logged.lock() else {
            return true;
        };
        if seen.len() >= GONE_REMEMBERED {
            seen.clear();
        }
        seen.insert(id.clone())
    }
}

impl Default for MediaState {
    fn default() -> Self {
        Self::new(&MediaOptions::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_logged_once_per_song() {
        let st = MediaState::default();
        let (a, b) = (SongId::from_bytes(b"a"), SongId::from_bytes(b"b"));
        assert!(st.first_time_gone(&a));
        assert!(!st.first_time_gone(&a));
        assert!(st.first_time_gone(&b));
        assert!(st.transcode_slots >= 1);
    }
}
