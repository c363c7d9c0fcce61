//! Ingest speed: decode + DSP embedding of every file in a folder, sequentially on one thread.
//!
//! `cargo run --release -p songrec-audio --example bench_ingest -- <dir> [--split]`
//!
//! Prints songs/s and the realtime factor (seconds of audio per wall-clock second).
//! `--split` also reports decode and embedding time separately.

use std::path::PathBuf;
use std::time::Instant;

use songrec_audio::bench::bench_ingest_with;
use songrec_audio::{DspEmbedder, Embedder, decode_file_with};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: bench_ingest <dir> [--split]");
        std::process::exit(2);
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    if args.iter().any(|a| a == "--split") {
        let emb = DspEmbedder::new();
        let (mut td, mut te) = (0.0, 0.0);
        for f in &files {
            let t = Instant::now();
            let d = decode_file_with(f, &emb.decode_options())?;
            td += t.elapsed().as_secs_f64();
            let t = Instant::now();
            let _ = emb.embed(&d.audio)?;
            te += t.elapsed().as_secs_f64();
        }
        println!(
            "decode {td:.3} s, embed {te:.3} s over {} files",
            files.len()
        );
    }
    let r = bench_ingest_with(&files, &[&DspEmbedder::new() as &dyn Embedder]);
    println!(
        "songrec-dsp ingest: {} songs ({} failed), {:.1} s of audio in {:.2} s -> {:.2} songs/s, realtime factor {:.0}x (1 thread)",
        r.songs,
        r.failed,
        r.audio_secs,
        r.wall_secs,
        r.songs_per_sec(),
        r.realtime_factor()
    );
    Ok(())
}
