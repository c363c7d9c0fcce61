//! Retrieval quality and cost of musicnn vs the DSP embedder on labelled folders.
//!
//! ```text
//! cargo run --release -p songrec-benches --example eval_neural -- <labelled-dir>
//!     [--patches 4,8,16,24] [--short zero|loop|both] [--jobs 2] [--dump vectors.jsonl]
//! ```
//! `<labelled-dir>` holds one sub-folder per label. Each file is decoded for musicnn, and for the
//! DSP with its own (shorter) excerpt rule; the DSP
//! embedding and one musicnn embedding per patch count (and short-clip policy) are computed.
//! Prints leave-one-out same-label precision@1/5/10 (cosine) for each, for blends of the two
//! (score = w·cos(musicnn) + (1−w)·cos(dsp), w = 0.4 and 0.6), the chance level, and musicnn's
//! CPU time per song (thread CPU time, so it stays meaningful on a busy machine).
//! `--dump` writes one JSON line per file: label, path, duration_secs, the DSP vector and per
//! musicnn variant the stored vector and `pooled` (mean `penultimate` before normalisation),
//! the input of `scripts/eval/musicnn_norm.py` and `scripts/eval/neural_quality.py`.
//! The runtime comes from SONGREC_ORT_LIBRARY (ONNX Runtime) or is tract.

use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use songrec_audio::eval::chance_precision;
use songrec_audio::{DspEmbedder, Embedder, precision_at_k};
use songrec_neural::{MusicnnConfig, MusicnnEmbedder, ShortClip};

use songrec_neural::profile::thread_cpu;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

struct Variant {
    label: String,
    embedder: MusicnnEmbedder,
}

fn blend(a: &[f32], b: &[f32], w: f32) -> Vec<f32> {
    // Concatenating sqrt(w)·a and sqrt(1-w)·b (both unit vectors) makes the cosine of two
    // blends exactly w·cos_a + (1-w)·cos_b.
    a.iter()
        .map(|x| x * w.sqrt())
        .chain(b.iter().map(|x| x * (1.0 - w).sqrt()))
        .collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: eval_neural <labelled-dir> [--patches 4,8,16] [--short zero|loop|both] [--jobs N] [--dump out.jsonl]"
        );
        std::process::exit(2);
    };
    let patches: Vec<usize> = arg(&args, "--patches")
        .unwrap_or("8")
        .split(',')
        .map(|p| p.trim().parse())
        .collect::<Result<_, _>>()?;
    let shorts: Vec<ShortClip> = match arg(&args, "--short").unwrap_or("zero") {
        "zero" => vec![ShortClip::ZeroPad],
        "loop" => vec![ShortClip::Loop],
        _ => vec![ShortClip::ZeroPad, ShortClip::Loop],
    };
    let jobs: usize = arg(&args, "--jobs").unwrap_or("2").parse()?;
    let mut variants = Vec::new();
    for &s in &shorts {
        for &p in &patches {
            let cfg = MusicnnConfig {
                patches: p,
                short_clip: s,
                max_sessions: jobs,
                ..MusicnnConfig::from_env()
            };
            variants.push(Variant {
                label: format!(
                    "musicnn p={p}{}",
                    if s == ShortClip::Loop { " loop" } else { "" }
                ),
                embedder: MusicnnEmbedder::new(&cfg)?,
            });
        }
    }
    let runtime = variants[0].embedder.runtime().describe();
    let items = songrec_testkit::audio::labelled_files(Path::new(dir))?;
    let dsp = DspEmbedder::new();
    let cpu = Mutex::new(vec![0f64; variants.len()]);
    let audio_secs = Mutex::new(0f64);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let t = std::time::Instant::now();
    let results: Vec<_> = pool.install(|| {
        items
            .par_iter()
            .map(|(label, f)| {
                let r = (|| -> Result<_, String> {
                    // musicnn decodes what its `decode_options` asks for, as ingest does.
                    let d = songrec_audio::decode_file_with(f, &songrec_neural::MUSICNN_DECODE)
                        .map_err(|e| e.to_string())?;
                    let secs = d.info.duration_secs;
                    *audio_secs.lock().unwrap() += secs;
                    // The DSP analyses its own excerpts (its `decode_options`), as ingest does.
                    let dv = songrec_audio::decode_file_with(f, &dsp.decode_options())
                        .and_then(|dd| dsp.embed(&dd.audio))
                        .map_err(|e| e.to_string())?
                        .vector;
                    let mut mv = Vec::new();
                    for (i, v) in variants.iter().enumerate() {
                        let c0 = thread_cpu();
                        let a = v.embedder.analyze(&d.audio).map_err(|e| e.to_string())?;
                        cpu.lock().unwrap()[i] += thread_cpu() - c0;
                        let tags = a.top_tags(3).to_vec();
                        mv.push((a.embedding, a.pooled, tags));
                    }
                    Ok((dv, mv, secs))
                })();
                (label.clone(), f.clone(), r)
            })
            .collect()
    });
    let mut labels = Vec::new();
    let mut dsp_v = Vec::new();
    let mut mnn_v: Vec<Vec<Vec<f32>>> = vec![Vec::new(); variants.len()];
    let mut dump = match arg(&args, "--dump") {
        Some(p) => Some(std::io::BufWriter::new(std::fs::File::create(p)?)),
        None => None,
    };
    for (label, f, r) in results {
        match r {
            Ok((dv, mv, secs)) => {
                if let Some(o) = dump.as_mut() {
                    let m: Vec<_> = variants
                        .iter()
                        .zip(&mv)
                        .map(|(v, (e, pooled, tags))| serde_json::json!({"variant": v.label, "vector": e, "pooled": pooled, "top_tags": tags}))
                        .collect();
                    writeln!(
                        o,
                        "{}",
                        serde_json::json!({"label": label, "path": f, "duration_secs": secs, "dsp": dv, "musicnn": m})
                    )?;
                }
                labels.push(label);
                dsp_v.push(dv);
                for (i, (e, _, _)) in mv.into_iter().enumerate() {
                    mnn_v[i].push(e);
                }
            }
            Err(e) => eprintln!("skipped {}: {e}", f.display()),
        }
    }
    let n = labels.len();
    let mut distinct = labels.clone();
    distinct.sort();
    distinct.dedup();
    println!(
        "{dir}: {n} files, {} labels, {:.0} s of audio, runtime {runtime}, {jobs} threads, {:.1} s wall",
        distinct.len(),
        audio_secs.lock().unwrap(),
        t.elapsed().as_secs_f64()
    );
    println!("chance p@5 = {:.3}", chance_precision(&labels));
    let row = |name: &str, v: &[Vec<f32>], extra: String| {
        println!(
            "{name:<24} p@1 {:.3}  p@5 {:.3}  p@10 {:.3}{extra}",
            precision_at_k(&labels, v, 1),
            precision_at_k(&labels, v, 5),
            precision_at_k(&labels, v, 10)
        );
    };
    row("songrec-dsp", &dsp_v, String::new());
    let cpu = cpu.lock().unwrap().clone();
    for (i, v) in variants.iter().enumerate() {
        row(
            &v.label,
            &mnn_v[i],
            format!("  cpu {:.3} s/song", cpu[i] / n.max(1) as f64),
        );
        for w in [0.4f32, 0.6] {
            let b: Vec<Vec<f32>> = mnn_v[i]
                .iter()
                .zip(&dsp_v)
                .map(|(m, d)| blend(m, d, w))
                .collect();
            row(&format!("  blend {w:.1}·musicnn"), &b, String::new());
        }
    }
    Ok(())
}
