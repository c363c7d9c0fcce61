//! Ingest speed measurement (decode + DSP embedding).

use std::path::PathBuf;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::embed::{DspEmbedder, Embedder};
use crate::error::AudioError;

/// Result of [`bench_ingest`].
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

/// Decode and embed (DSP) every file sequentially on the calling thread and time it.
/// Per-file errors are counted, not returned.
///
/// ```no_run
/// let r = songrec_audio::bench::bench_ingest(&["a.mp3".into()]);
/// println!("{:.1} songs/s, {:.0}x realtime", r.songs_per_sec(), r.realtime_factor());
/// ```
pub fn bench_ingest(files: &[PathBuf]) -> IngestReport {
    let dsp = DspEmbedder::new();
    bench_ingest_with(files, &[&dsp as &dyn Embedder])
}

/// [`bench_ingest`] with any embedders (each file decoded once, then every embedder run).
///
/// ```no_run
/// use songrec_audio::{DspEmbedder, Embedder};
/// let dsp = DspEmbedder::new();
/// let r = songrec_audio::bench::bench_ingest_with(&["a.mp3".into()], &[&dsp as &dyn Embedder]);
/// assert_eq!(r.songs + r.failed, 1);
/// ```
pub fn bench_ingest_with(files: &[PathBuf], embedders: &[&dyn Embedder]) -> IngestReport {
    let t = Instant::now();
    let mut songs = 0;
    let mut failed = 0;
    let mut audio_secs = 0.0;
    for f in files {
        let r: Result<_, AudioError> = crate::analyze_file(f, embedders);
        match r {
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
