//! Print the analysis of one or more files as JSON lines (without the vector).
//!
//! `cargo run --release -p songrec-audio --example analyze -- <file>...`

use songrec_audio::{DspEmbedder, Embedder, analyze_file};

fn main() {
    let dsp = DspEmbedder::new();
    for f in std::env::args().skip(1) {
        match analyze_file(std::path::Path::new(&f), &[&dsp as &dyn Embedder]) {
            Ok(a) => {
                let an = &a.analyses[0].analysis;
                let j = serde_json::json!({"path": f, "info": a.info, "tags": a.tags,
                    "bpm": an.bpm, "key": an.key, "descriptors": an.descriptors});
                println!("{j}");
            }
            Err(e) => eprintln!("{e}"),
        }
    }
}
