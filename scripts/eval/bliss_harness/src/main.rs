//! Scratch harness for the bliss-audio baseline (NOT part of the songrec repo).
//! Usage:
//!   bliss-eval eval <labelled-dir>      -> precision@1/5/10 (bliss distance and cosine) + timing
//!   bliss-eval bench <dir-of-songs>     -> songs/s and realtime factor (decode + analysis, 1 core)
use bliss_audio::decoder::symphonia::SymphoniaDecoder;
use bliss_audio::decoder::Decoder;
use bliss_audio::AnalysisOptions;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn opts() -> AnalysisOptions {
    AnalysisOptions { number_cores: NonZeroUsize::new(1).unwrap(), ..Default::default() }
}

fn p_at_k(labels: &[usize], dist: &dyn Fn(usize, usize) -> f32, k: usize) -> f64 {
    let n = labels.len();
    let mut total = 0.0;
    for i in 0..n {
        let mut d: Vec<(f32, usize)> = (0..n).filter(|&j| j != i).map(|j| (dist(i, j), j)).collect();
        d.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
        let kk = k.min(d.len());
        let hits = d[..kk].iter().filter(|(_, j)| labels[*j] == labels[i]).count();
        total += hits as f64 / kk as f64;
    }
    total / n as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args[1].as_str();
    let dir = Path::new(&args[2]);
    match mode {
        "eval" => {
            let mut labels = vec![];
            let mut names = vec![];
            let mut an = vec![];
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_dir()).collect();
            dirs.sort();
            let mut failed = 0;
            for (li, d) in dirs.iter().enumerate() {
                for f in files(d) {
                    match SymphoniaDecoder::song_from_path_with_options(&f, opts()) {
                        Ok(s) => { labels.push(li); names.push(f); an.push(s.analysis); }
                        Err(e) => { eprintln!("bliss failed on {}: {e}", f.display()); failed += 1; }
                    }
                }
            }
            let vecs: Vec<Vec<f32>> = an.iter().map(|a| a.as_vec()).collect();
            let bd = |i: usize, j: usize| an[i].distance(&an[j]);
            let cos = |i: usize, j: usize| {
                let (a, b) = (&vecs[i], &vecs[j]);
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
                let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
                1.0 - dot / (na * nb).max(1e-12)
            };
            if let Ok(p) = std::env::var("BLISS_OK_LIST") {
                let txt: String = names.iter().map(|n| format!("{}\n", n.display())).collect();
                std::fs::write(p, txt).unwrap();
            }
            println!("bliss: {} files analysed, {} failed, {} labels", labels.len(), failed, dirs.len());
            for k in [1, 5, 10] {
                println!("bliss-distance p@{k} = {:.3}   bliss-cosine p@{k} = {:.3}", p_at_k(&labels, &bd, k), p_at_k(&labels, &cos, k));
            }
        }
        "bench" => {
            let fs = files(dir);
            let t = Instant::now();
            let mut audio_secs = 0.0;
            for f in &fs {
                let s = SymphoniaDecoder::song_from_path_with_options(f, opts()).unwrap();
                audio_secs += s.duration.as_secs_f64();
            }
            let el = t.elapsed().as_secs_f64();
            // bliss leaves `duration` at zero for some containers (Ogg Vorbis among them): then
            // the audio length is unknown and no realtime factor is printed.
            let rt = if audio_secs > 0.0 {
                format!(", {audio_secs:.1} s of audio, realtime factor {:.1}x", audio_secs / el)
            } else {
                String::new()
            };
            println!("bliss bench: {} songs in {:.2} s -> {:.2} songs/s{rt}", fs.len(), el, fs.len() as f64 / el);
        }
        _ => panic!("mode must be eval or bench"),
    }
}
