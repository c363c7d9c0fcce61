//! Opus decode speed beside Vorbis: the same recording decoded from Ogg Opus and from an Ogg
//! Vorbis copy of it (ffmpeg's libvorbis, default quality), both through songrec's decoding
//! path at 48 kHz (demux, decode, downmix; no resampling), on one thread.
//!
//! `cargo run --release -p songrec-audio --example opus_speed -- [file.opus] [rounds]`
//!
//! The default file is Jami's `03_AcousticGuitar.opus` (50.4 s of stereo, 30 kbit/s) from
//! `$SONGREC_TEST_AUDIO/jami` (scripts/test-deps.sh). Prints the best of `rounds` (default 10)
//! per format, in milliseconds and as a realtime factor. Nothing is asserted: a measurement.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use songrec_audio::{DecodeOptions, decode_file_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let opus = match args.next() {
        Some(p) => PathBuf::from(p),
        None => {
            PathBuf::from(std::env::var("SONGREC_TEST_AUDIO")?).join("jami/03_AcousticGuitar.opus")
        }
    };
    let rounds: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let vorbis = dir.path().join("same.ogg");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(&opus)
        .args(["-c:a", "libvorbis", "-ar", "48000"])
        .arg(&vorbis)
        .status()?;
    if !status.success() {
        return Err("ffmpeg could not make the Vorbis copy".into());
    }
    let opts = DecodeOptions {
        sample_rate: 48_000,
        ..DecodeOptions::default()
    };
    for (name, path) in [("opus", &opus), ("vorbis", &vorbis)] {
        let mut best = f64::INFINITY;
        let mut secs = 0.0;
        for _ in 0..rounds.max(1) {
            let t = Instant::now();
            let d = decode_file_with(path, &opts)?;
            best = best.min(t.elapsed().as_secs_f64());
            secs = d.info.duration_secs;
        }
        println!(
            "{name:6} {secs:6.1} s of audio: {:7.1} ms, {:5.0}x realtime ({} kB)",
            best * 1e3,
            secs / best,
            std::fs::metadata(path)?.len() / 1000
        );
    }
    Ok(())
}
