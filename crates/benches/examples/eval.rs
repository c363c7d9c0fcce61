//! Retrieval evaluation of the DSP embedder on a labelled folder.
//!
//! `cargo run --release -p songrec-benches --example eval -- <dir> [--dump raw.jsonl]
//! [--max-secs S] [--excerpt-secs E]`
//!
//! `<dir>` holds one sub-folder per label. Every file is decoded and embedded; the program
//! prints leave-one-out same-label precision@1/5/10 (cosine) and the chance level.
//! `--dump` writes one JSON line per file with the label and the *raw* (un-normalised)
//! features, used by `scripts/eval/calibrate.py` and `scripts/eval/tune_weights.py`, and the
//! final vector, used by `scripts/eval/dsp_compare.py` (paired before/after precision@5).
//! `--max-secs` / `--excerpt-secs` override the DSP excerpt rule (`DSP_DECODE`) (for measuring
//! how much audio the features need).

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;
use songrec_audio::eval::chance_precision;
use songrec_audio::{DecodeOptions, DspEmbedder, Embedder, decode_file_with, precision_at_k};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: eval <labelled-dir> [--dump raw.jsonl]");
        std::process::exit(2);
    };
    let dump = args
        .iter()
        .position(|a| a == "--dump")
        .and_then(|i| args.get(i + 1));
    let num = |name: &str| -> Option<f64> {
        let i = args.iter().position(|a| a == name)?;
        args.get(i + 1).and_then(|v| v.parse().ok())
    };
    let emb = DspEmbedder::new();
    let mut opts: DecodeOptions = emb.decode_options();
    if let Some(v) = num("--max-secs") {
        opts.max_analysed_secs = v;
    }
    if let Some(v) = num("--excerpt-secs") {
        opts.excerpt_secs = v;
    }
    let items = songrec_testkit::audio::labelled_files(Path::new(dir))?;
    let t = std::time::Instant::now();
    let results: Vec<_> = items
        .par_iter()
        .map(|(label, f)| {
            let r = decode_file_with(f, &opts).and_then(|d| {
                let raw = emb.raw_features(&d.audio);
                let a = emb.embed(&d.audio)?;
                Ok((a, raw))
            });
            (label.clone(), f.clone(), r)
        })
        .collect();
    let mut labels = Vec::new();
    let mut vecs = Vec::new();
    let mut out = match dump {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    for (label, f, r) in results {
        match r {
            Ok((a, raw)) => {
                if let (Some(o), Some(raw)) = (out.as_mut(), raw) {
                    let line = serde_json::json!({"label": label, "path": f, "raw": raw.values,
                        "vector": a.vector, "bpm": a.bpm, "key": a.key});
                    writeln!(o, "{line}")?;
                }
                labels.push(label);
                vecs.push(a.vector);
            }
            Err(e) => eprintln!("skipped: {e}"),
        }
    }
    let n_labels = {
        let mut l = labels.clone();
        l.sort();
        l.dedup();
        l.len()
    };
    println!(
        "{}: {} files, {} labels, {} {} dim {}, {:.1}s",
        dir,
        labels.len(),
        n_labels,
        emb.name(),
        emb.version(),
        emb.dim(),
        t.elapsed().as_secs_f64()
    );
    for k in [1, 5, 10] {
        println!("p@{k:<2} = {:.3}", precision_at_k(&labels, &vecs, k));
    }
    println!("chance = {:.3}", chance_precision(&labels));
    Ok(())
}
