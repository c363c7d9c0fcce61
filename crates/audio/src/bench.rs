//! Ingest speed measurement (decode + DSP embedding).

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::embed::Embedder;

/// Result of [`bench_ingest_with`].
///
/// ```
/// let r = songrec_audio::bench::IngestReport { songs: 2, audio_secs: 360.0, wall_secs: 1.0, failed: 0 };
/// assert_eq!(r.songs_per_sec(), 2.0);
/// assert_eq!(r.realtime_factor(), 360.0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IngestReport {
    /// Files analysed successfully.
    pub songs: usize,
    /// Total duration of those files, seconds.
    pub audio_secs: f64,
    /// Wall-clock time, seconds.
    pub wall_secs: f64,
    /// Files that failed.
    pub failed: usize,
}

impl IngestReport {
    /// Songs per second.
    pub fn songs_per_sec(&self) -> f64 {
        self.songs as f64 / self.wall_secs.max(1e-9)
    }

    /// Seconds of audio processed per wall-clock second.
    pub fn realtime_factor(&self) -> f64 {
        self.audio_secs / self.wall_secs.max(1e-9)
    }
}

/// Decodes every file once and runs every embedder on it, sequentially on the calling thread,
/// and times it. Per-file errors are counted, not returned.
///
/// ```no_run
/// use songrec_audio::{DspEmbedder, Embedder};
/// let dsp = DspEmbedder::new();
/// let r = songrec_audio::bench::bench_ingest_with(&["a.mp3".into()], &[&dsp as &dyn Embedder]);
/// println!("{:.1} songs/s, {:.0}x realtime", r.songs_per_sec(), r.realtime_factor());
/// ```
pub fn bench_ingest_with(files: &[PathBuf], embedders: &[&dyn Embedder]) -> IngestReport {
    let t = Instant::now();
    let mut songs = 0;
    let mut failed = 0;
    let mut audio_secs = 0.0;
    for f in files {
        match crate::analyze_file(f, embedders) {
            Ok(a) => {
                songs += 1;
                audio_secs += a.info.duration_secs;
            }
            Err(_) => failed += 1,
        }
    }
    IngestReport {
        songs,
        audio_secs,
        wall_secs: t.elapsed().as_secs_f64(),
        failed,
    }
}
