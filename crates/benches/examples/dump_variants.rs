//! Dumps musicnn's pooled layers for an evaluation of pooling variants (tract only).
//!
//! ```text
//! cargo run --release -p songrec-benches --example dump_variants -- <labelled-dir> --out F.jsonl
//!     [--mtt mtt_musicnn.onnx [--no-msd]] [--patches 8] [--jobs 1]
//! dump_variants --list MODEL.onnx      # node names (to find the pooling nodes)
//! ```
//! `<labelled-dir>` holds one sub-folder per label. Each file is decoded exactly as the musicnn
//! embedder does (default decode rule, [`songrec_neural::patches::cut`] with `ShortClip::ZeroPad`),
//! and every patch is run through the bundled MSD model (and the MTT model with `--mtt`) at batch
//! 1, with the outputs `penultimate` (200-d), `model/Max` and `model/moments/mean` (the backend's
//! max and mean pools over time, 753-d each). One JSON line per file: label, path,
//! duration_secs, the current DSP vector (`dsp`, its own decode rule), and per model
//! (`msd`, `mtt`) the patch means of the three layers (`pen`, `max`, `mean`, unnormalised) and
//! the per-patch penultimate rows (`pen_patches`). Input of `scripts/eval/pool_variants.py`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;
use songrec_audio::{DecodeOptions, DspEmbedder, Embedder, decode_file_with};
use songrec_neural::patches::{PATCH_LEN, ShortClip, cut};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::internal::ensure;

const OUTPUTS: [&str; 3] = ["penultimate", "model/Max", "model/moments/mean"];
const KEYS: [&str; 3] = ["pen", "max", "mean"];

type Runnable = Arc<TypedRunnableModel>;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn load(bytes: &[u8]) -> TractResult<Runnable> {
    let mut r = bytes;
    tract_onnx::onnx()
        .model_for_read(&mut r)?
        .with_input_fact(0, f32::fact([1, PATCH_LEN]).into())?
        .with_outputs_by_name(OUTPUTS)?
        .into_optimized()?
        .into_runnable()
}

/// Rows of values: one per output, or one per patch.
type Rows = Vec<Vec<f32>>;

/// Per output: the mean over the patches (f64 sum, as `pooled_penultimate`) and, for
/// `penultimate`, every row.
fn run(model: &Runnable, batch: &[f32]) -> TractResult<(Rows, Rows)> {
    let mut sums: Vec<Vec<f64>> = vec![Vec::new(); OUTPUTS.len()];
    let mut rows = Vec::new();
    let n = batch.len() / PATCH_LEN;
    for p in batch.chunks_exact(PATCH_LEN) {
        let x: Tensor = tract_ndarray::Array2::from_shape_vec((1, PATCH_LEN), p.to_vec())?.into();
        let out = model.run(tvec!(x.into()))?;
        for (i, t) in out.iter().enumerate() {
            let view = t.try_as_plain_ram()?;
            let v = view.as_slice::<f32>()?;
            if sums[i].is_empty() {
                sums[i] = vec![0.0; v.len()];
            }
            ensure!(
                sums[i].len() == v.len(),
                "output {} changed length",
                OUTPUTS[i]
            );
            for (s, x) in sums[i].iter_mut().zip(v) {
                *s += f64::from(*x);
            }
            if i == 0 {
                rows.push(v.to_vec());
            }
        }
    }
    let means = sums
        .into_iter()
        .map(|s| s.into_iter().map(|x| (x / n as f64) as f32).collect())
        .collect();
    Ok((means, rows))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(p) = arg(&args, "--list") {
        let bytes = std::fs::read(p)?;
        let m = tract_onnx::onnx().model_for_read(&mut bytes.as_slice())?;
        for n in m.nodes() {
            println!("{}  {}", n.name, n.op.name());
        }
        return Ok(());
    }
    let Some(dir) = args.first().filter(|a| !a.starts_with("--")) else {
        eprintln!(
            "usage: dump_variants <labelled-dir> --out F.jsonl [--mtt PATH [--no-msd]] [--patches 8] [--jobs 1]"
        );
        std::process::exit(2);
    };
    let out_path = arg(&args, "--out").ok_or("--out is required")?;
    let patches: usize = arg(&args, "--patches").unwrap_or("8").parse()?;
    let jobs: usize = arg(&args, "--jobs").unwrap_or("1").parse()?;
    let mut models: Vec<(&str, Runnable)> = Vec::new();
    if !args.iter().any(|a| a == "--no-msd") {
        models.push(("msd", load(songrec_neural::musicnn::BUNDLED_MODEL)?));
    }
    if let Some(p) = arg(&args, "--mtt") {
        models.push(("mtt", load(&std::fs::read(p)?)?));
    }
    let items = songrec_testkit::audio::labelled_files(Path::new(dir))?;
    let dsp = DspEmbedder::new();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs).build()?;
    let t = std::time::Instant::now();
    let lines: Vec<Result<String, String>> = pool.install(|| {
        items
            .par_iter()
            .map(|(label, f)| {
                let d =
                    decode_file_with(f, &DecodeOptions::default()).map_err(|e| e.to_string())?;
                let dv = decode_file_with(f, &dsp.decode_options())
                    .and_then(|dd| dsp.embed(&dd.audio))
                    .map_err(|e| e.to_string())?
                    .vector;
                let c = cut(&d.audio, patches, ShortClip::ZeroPad).ok_or("no audio")?;
                let mut j = serde_json::json!({
                    "label": label, "path": f, "duration_secs": d.info.duration_secs,
                    "patches": c.patches, "dsp": dv,
                });
                for (name, m) in &models {
                    let (means, rows) = run(m, &c.batch).map_err(|e| e.to_string())?;
                    let mut o = serde_json::Map::new();
                    for (k, v) in KEYS.iter().zip(means) {
                        o.insert((*k).into(), serde_json::json!(v));
                    }
                    o.insert("pen_patches".into(), serde_json::json!(rows));
                    j[*name] = serde_json::Value::Object(o);
                }
                Ok(j.to_string())
            })
            .collect()
    });
    let mut o = std::io::BufWriter::new(std::fs::File::create(out_path)?);
    let mut ok = 0;
    for (l, (_, f)) in lines.into_iter().zip(&items) {
        match l {
            Ok(s) => {
                writeln!(o, "{s}")?;
                ok += 1;
            }
            Err(e) => eprintln!("skipped {}: {e}", f.display()),
        }
    }
    eprintln!(
        "{dir}: {ok}/{} files, {jobs} threads, {:.1} s wall",
        items.len(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
