//! Audio decoding, tags and embeddings for songrec.
//!
//! * [`decode`]: any symphonia-supported file to mono 22.05 kHz audio with bounded memory.
//! * [`tags`]: title/artist/album/genre/track/year from metadata, file-name fallback;
//!   [`path_tags`]: the same from `Artist/Album/03 Title.ext` for untagged files.
//! * [`embed`]: the [`Embedder`] trait and the model-free [`DspEmbedder`].
//! * [`analyze_file`]: decode once per excerpt rule ([`Embedder::decode_options`]), run several
//!   embedders.
//! * [`eval`]: leave-one-out precision@k.
//! * [`synth`]: deterministic songs in a few styles, for example libraries, tests and benchmarks.
//!
//! ```no_run
//! use songrec_audio::{analyze_file, DspEmbedder, Embedder};
//! let dsp = DspEmbedder::new();
//! let fa = analyze_file(std::path::Path::new("song.mp3"), &[&dsp as &dyn Embedder])?;
//! println!("{:?} {:?} {:?}", fa.tags.title, fa.analyses[0].analysis.bpm, fa.analyses[0].analysis.key);
//! # Ok::<(), songrec_audio::AudioError>(())
//! ```

pub mod bench;
pub mod decode;
pub mod dsp;
pub mod embed;
pub mod error;
pub mod eval;
pub mod identity;
mod norm_table;
pub mod path_tags;
pub mod resample;
pub mod synth;
pub mod tags;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use decode::{
    ANALYSIS_RATE, AudioInfo, DecodeOptions, Decoded, MonoAudio, Segment, decode_file,
    decode_file_with,
};
pub use embed::{
    Analysis, DSP_DECODE, DSP_DIM, DSP_NAME, DSP_VERSION, Descriptors, DspEmbedder, Embedder,
    cosine_similarity,
};
pub use error::AudioError;
pub use eval::precision_at_k;
pub use tags::{FieldSource, FieldSources, TagSource, Tags};

/// One embedder's result, labelled with the embedder's identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmbedderOutput {
    /// [`Embedder::name`].
    pub embedder: String,
    /// [`Embedder::version`].
    pub version: u32,
    pub analysis: Analysis,
}

/// Everything the app stores about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileAnalysis {
    pub path: PathBuf,
    /// Container / codec facts.
    pub info: AudioInfo,
    /// Tags (metadata, with the file-name fallback for missing title/artist/track).
    pub tags: Tags,
    /// One output per embedder, in the order given.
    pub analyses: Vec<EmbedderOutput>,
}

/// Decode `path` once and run every embedder on it. Safe to call from many rayon threads.
///
/// ```no_run
/// use songrec_audio::{analyze_file, DspEmbedder, Embedder};
/// let dsp = DspEmbedder::new();
/// let r = analyze_file(std::path::Path::new("a.flac"), &[&dsp as &dyn Embedder])?;
/// assert_eq!(r.analyses[0].analysis.vector.len(), dsp.dim());
/// # Ok::<(), songrec_audio::AudioError>(())
/// ```
///
/// Each embedder sees the excerpts its [`Embedder::decode_options`] asks for (the DSP embedder
/// fewer than musicnn), so its vector does not depend on which other embedders run. Embedders
/// that ask for the same excerpts share one decode; the file and tag facts come from the
/// first decode.
pub fn analyze_file(path: &Path, embedders: &[&dyn Embedder]) -> Result<FileAnalysis, AudioError> {
    analyze_file_and(path, embedders, |_| ()).map(|(fa, ())| fa)
}

/// [`analyze_file`], and `also` run on the same decoded audio (the first embedder's decode,
/// or the default one without embedders): one decode serves the embedders and, for example,
/// the acoustic fingerprint taken at ingest.
pub fn analyze_file_and<T>(
    path: &Path,
    embedders: &[&dyn Embedder],
    also: impl FnOnce(&MonoAudio) -> T,
) -> Result<(FileAnalysis, T), AudioError> {
    let mut decoded: Vec<(DecodeOptions, Decoded)> = Vec::new();
    let mut outputs = Vec::with_capacity(embedders.len());
    for e in embedders {
        let opts = e.decode_options();
        let i = match decoded.iter().position(|(o, _)| *o == opts) {
            Some(i) => i,
            None => {
                decoded.push((opts, decode_file_with(path, &opts)?));
                decoded.len() - 1
            }
        };
        outputs.push(EmbedderOutput {
            embedder: e.name().to_string(),
            version: e.version(),
            analysis: e.embed(&decoded[i].1.audio)?,
        });
    }
    let d = match decoded.into_iter().next() {
        Some((_, d)) => d,
        // No embedder: still decode once, for the file facts and tags.
        None => decode_file_with(path, &DecodeOptions::default())?,
    };
    let extra = also(&d.audio);
    Ok((
        FileAnalysis {
            path: path.to_path_buf(),
            info: d.info,
            tags: d.tags.with_file_name_fallback(path),
            analyses: outputs,
        },
        extra,
    ))
}
