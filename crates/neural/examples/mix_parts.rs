//! The raw parts of the default (`songrec-mix`) vector, one JSON line per file: the input of
//! `scripts/eval/mix_table.py` (the standardisation table) and `scripts/eval/mix_score.py`
//! (quality on labelled sets).
//!
//! ```text
//! cargo run --release -p songrec-neural --example mix_parts -- <dir> [--jobs 2] [--blocks 6] [--patches 8] [--version 3] > parts.jsonl
//! ```
//! `<dir>` holds one sub-folder per label (the label is the first folder below `<dir>`); every
//! audio file below it is decoded once as the mix decodes it and analysed exactly as
//! `MixEmbedder` does. Each line: label, path (relative to `<dir>`), duration, musicnn (400), aisfx
//! (1024, not normalised), dsp (120), mix (the stored vector with the bundled table), CPU
//! seconds. A file that fails is reported on stderr and skipped. The runtime comes from
//! SONGREC_ORT_LIBRARY (ONNX Runtime) or is tract.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use songrec_neural::Runtime;
use songrec_neural::mix::{MixConfig, MixEmbedder};

const AUDIO: &[&str] = &["ogg", "mp3", "wav", "flac", "m4a", "opus", "aiff", "aif"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            files(&p, out)?;
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| AUDIO.contains(&x.to_ascii_lowercase().as_str()))
        {
            out.push(p);
        }
    }
    Ok(())
}

use songrec_neural::profile::thread_cpu;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args
        .first()
        .filter(|a| !a.starts_with("--"))
        .map(PathBuf::from)
    else {
        eprintln!("usage: mix_parts <labelled-dir> [--jobs N] > parts.jsonl");
        std::process::exit(2);
    };
    let jobs: usize = args
        .iter()
        .position(|a| a == "--jobs")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(2), |j| j.parse())?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build_global()?;
    // For experiments: `--version 1|2|3` (an older version's networks, pooling and table),
    // `--blocks N` (aisfx's blocks per song), `--patches N` (musicnn's patches); the shipped
    // mix's unless given.
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let current = MixConfig::on(Runtime::from_env());
    let mut cfg = match opt("--version").map(String::as_str) {
        Some("1") => MixConfig::v1(current.musicnn),
        Some("2") => MixConfig::v2(current.musicnn),
        Some("3") => MixConfig::v3(current.musicnn),
        _ => current,
    };
    if let Some(b) = opt("--blocks") {
        cfg.aisfx.blocks = b.parse()?;
    }
    if let Some(p) = opt("--patches") {
        cfg.musicnn.patches = p.parse()?;
    }
    let mix = MixEmbedder::new(&cfg)?;
    eprintln!("runtime: {}", mix.runtime().describe());
    let mut all = Vec::new();
    files(&dir, &mut all)?;
    let out = Mutex::new(std::io::stdout());
    let done = std::sync::atomic::AtomicUsize::new(0);
    all.par_iter().for_each(|f| {
        let rel = f.strip_prefix(&dir).unwrap_or(f);
        let label = rel
            .components()
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .unwrap_or_default();
        let t0 = thread_cpu();
        let parts = songrec_audio::decode_file_with(f, &songrec_neural::mix::MIX_DECODE)
            .map_err(|e| e.to_string())
            .and_then(|d| {
                mix.parts(&d.audio)
                    .map(|p| (p, d.info.duration_secs))
                    .map_err(|e| e.to_string())
            });
        match parts {
            Ok((p, duration)) => {
                let line = serde_json::json!({
                    "label": label,
                    "path": rel.to_string_lossy(),
                    "duration_secs": duration,
                    "musicnn": p.musicnn,
                    "aisfx": p.aisfx,
                    "dsp": p.dsp.vector,
                    "mix": mix.vector(&p),
                    "cpu_secs": thread_cpu() - t0,
                });
                let mut o = out.lock().unwrap_or_else(|e| e.into_inner());
                let _ = writeln!(o, "{line}");
            }
            Err(e) => eprintln!("{}: {e}", f.display()),
        }
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        if n.is_multiple_of(25) {
            eprintln!("{n}/{}", all.len());
        }
    });
    Ok(())
}
