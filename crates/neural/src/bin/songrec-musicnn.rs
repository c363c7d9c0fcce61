//! `songrec-musicnn`: runs the musicnn embedder on audio files (or the reference signal) and
//! prints JSON lines. A debugging and cross-checking tool; the tests use it to compare the two
//! runtimes, which cannot share one process.
//!
//! ```text
//! songrec-musicnn [--runtime tract|onnxruntime] [--library PATH] [--model PATH] [--patches N]
//!                 (--reference | FILE...)
//! ```
//! Without `--runtime`, the runtime comes from SONGREC_ORT_LIBRARY / ORT_DYLIB_PATH (tract when
//! unset). `--reference` prints the raw `penultimate` and `taggram` rows for the 3-patch
//! reference signal of `models/musicnn/expected.json`; files print `embedding` and `tags`.

use std::path::PathBuf;
use std::process::ExitCode;

use songrec_neural::musicnn::reference_signal;
use songrec_neural::{MusicnnConfig, MusicnnEmbedder, Runtime};

fn usage() -> ExitCode {
    eprintln!(
        "usage: songrec-musicnn [--runtime tract|onnxruntime] [--library PATH] [--model PATH] [--patches N] (--reference | FILE...)"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut cfg = MusicnnConfig::from_env();
    let mut runtime: Option<String> = None;
    let mut library: Option<PathBuf> = None;
    let mut reference = false;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--runtime" => runtime = args.next(),
            "--library" => library = args.next().map(PathBuf::from),
            "--model" => cfg.model = args.next().map(PathBuf::from),
            "--patches" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) => cfg.patches = n,
                None => return usage(),
            },
            "--reference" => reference = true,
            "-h" | "--help" => return usage(),
            _ if a.starts_with("--") => return usage(),
            _ => files.push(PathBuf::from(a)),
        }
    }
    cfg.runtime = match (runtime.as_deref(), library) {
        (Some("tract"), _) => Runtime::Tract,
        (Some("onnxruntime" | "ort"), Some(l)) => Runtime::OnnxRuntime { library: l },
        (Some("onnxruntime" | "ort"), None) => match Runtime::from_env() {
            Runtime::Tract => {
                eprintln!("--runtime onnxruntime needs --library or SONGREC_ORT_LIBRARY");
                return ExitCode::from(2);
            }
            r => r,
        },
        (Some(_), _) => return usage(),
        (None, Some(l)) => Runtime::OnnxRuntime { library: l },
        (None, None) => cfg.runtime,
    };
    if !reference && files.is_empty() {
        return usage();
    }
    let e = match MusicnnEmbedder::new(&cfg) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(1);
        }
    };
    eprintln!("runtime: {}", e.runtime().describe());
    let mut status = ExitCode::SUCCESS;
    if reference {
        match e.run_batch(&reference_signal()) {
            Ok(out) => println!(
                "{}",
                serde_json::json!({"reference": true, "runtime": e.runtime().describe(),
                    "penultimate": out.penultimate, "taggram": out.taggram})
            ),
            Err(err) => {
                eprintln!("error: {err}");
                status = ExitCode::from(1);
            }
        }
    }
    for f in files {
        let r = songrec_audio::decode_file(&f)
            .map_err(|e| e.to_string())
            .and_then(|d| e.analyze(&d.audio).map_err(|e| e.to_string()));
        match r {
            Ok(a) => println!(
                "{}",
                serde_json::json!({"path": f, "runtime": e.runtime().describe(),
                    "embedding": a.embedding, "tags": a.tags, "patches": a.patches})
            ),
            Err(err) => {
                eprintln!("{}: {err}", f.display());
                status = ExitCode::from(1);
            }
        }
    }
    status
}
