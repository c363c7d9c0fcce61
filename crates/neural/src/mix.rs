//! The default embedder, `songrec-mix`: musicnn, aisfx and the DSP analysis of one decode,
//! each part standardised with a fixed table, L2-normalised and weighted equally, in one
//! stored vector (one model, so one vector collection in the cloud).
//!
//! Why these parts and weights: `scripts/eval/RESULTS.md`, "aisfx, VGG and the new default".
//! The table (`models/mix/standardise.json`, from version 3 on with the texture row of
//! `models/mix/standardise-texture.json`) was computed once from a reference corpus disjoint
//! from every evaluation set; it never changes at run time, so every library ranks alike.
//!
//! The cosine of two mix vectors is the mean of the three parts' cosines (each part has norm
//! √⅓).

use serde::Deserialize;
use songrec_audio::{Analysis, AudioError, DSP_DIM, DSP_NAME, DspEmbedder, Embedder, MonoAudio};

use crate::aisfx::{AISFX_DECODE, AisfxConfig, AisfxEmbedder, AisfxNetwork, BLOCK_DIM};
use crate::error::{NeuralError, NeuralResult};
use crate::musicnn::{MUSICNN_DIM, MusicnnConfig, MusicnnEmbedder};
use crate::profile::{Lap, MixProfile};
use crate::runtime::Runtime;

/// Name under which mix vectors are stored.
pub const MIX_NAME: &str = "songrec-mix";
/// Version of the mix vectors (bump on any change of a part, the table or the weights).
///
/// * 1: musicnn@2 (400), aisfx's mean and max over ≤ 6 blocks before normalisation (1024) and
///   songrec-dsp@2 (120), each standardised with `models/mix/standardise.json`, L2-normalised
///   and scaled by √⅓.
/// * 2: the same parts and table, computed for half the CPU: aisfx's int8 network
///   ([`crate::aisfx::INT8_MODEL`]) on ≤ [`MIX_BLOCKS`] blocks, musicnn on ≤ [`MIX_PATCHES`]
///   patches (MSD on 2, MTT on 2) instead of 8. The counts were chosen out of sample
///   (`scripts/eval/RESULTS.md`, "Fast ears"): at this cost no other counts ranked better on
///   the held-out set in 4 of 5 folds, and 8 patches ranked no better than 4.
/// * 3: aisfx's part is its *texture* ([`crate::aisfx::TEXTURE_MODEL`], [`TEXTURE_PART`]):
///   the mean over the blocks of each block's per-channel mean and standard deviation of
///   `conv_block4.relu1`, `ln(1 + x)`, standardised with its own table
///   (`models/mix/standardise-texture.json`, same corpus). The network stops a convolution
///   earlier and its first block runs in int8 too, so aisfx costs about half as much; on the
///   labelled sets of `scripts/eval/RESULTS.md` ("Candidates for a next version") the texture
///   ranks better than the embedding, the layer chosen leave one set out.
/// * 4: the same parts and table, musicnn's five front-end convolutions in int8 on songrec's
///   own kernels ([`MusicnnConfig::int8`]): musicnn costs about 0.6× as much; its part is within
///   0.9995 cosine of version 3's, and same-label precision is unchanged on the labelled sets
///   (`docs/quality.md`, "Version 4").
pub const MIX_VERSION: u32 = 4;
/// aisfx's blocks per song in the mix (of 100 frames, 2.3 s each): 6 rank as well as more
/// (`scripts/eval/RESULTS.md`).
pub const MIX_BLOCKS: usize = 6;
/// musicnn's patches per song in the mix (MSD on the even two, MTT on the odd two): 8 ranked
/// no better (`scripts/eval/RESULTS.md`, "Fast ears").
pub const MIX_PATCHES: usize = 4;
/// Width of the aisfx part (mean and max of the blocks, not normalised).
pub const AISFX_PART_DIM: usize = 2 * BLOCK_DIM;
/// Embedding dimension: the three parts one after the other.
pub const MIX_DIM: usize = MUSICNN_DIM + AISFX_PART_DIM + DSP_DIM;
/// What the mix decodes of a file: aisfx's 44.1 kHz excerpts (the DSP rule); musicnn and the
/// DSP analysis share one resample of them to the analysis rate.
pub const MIX_DECODE: songrec_audio::DecodeOptions = AISFX_DECODE;

/// The shipped standardisation table (versions 1 and 2; version 3 takes its aisfx row from
/// [`TEXTURE_TABLE_JSON`]).
pub static TABLE_JSON: &str = include_str!("../models/mix/standardise.json");

/// The texture part's row of the standardisation table (version 3).
pub static TEXTURE_TABLE_JSON: &str = include_str!("../models/mix/standardise-texture.json");

/// Version 3's aisfx part: name and width.
pub const TEXTURE_PART: (&str, usize) = ("aisfx-texture@1", AISFX_PART_DIM);

/// One part of the mix: which vectors it standardises and how.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PartTable {
    /// The part, e.g. `musicnn@2`.
    pub part: String,
    /// Per-dimension mean on the reference corpus.
    pub mean: Vec<f32>,
    /// Per-dimension standard deviation on the reference corpus (floored, never zero).
    pub std: Vec<f32>,
}

/// The standardisation table of the three parts, in vector order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MixTable {
    /// The parts in the order their values are concatenated.
    pub parts: Vec<PartTable>,
}

/// The parts' names and widths, in vector order.
pub const PARTS: [(&str, usize); 3] = [
    ("musicnn@2", MUSICNN_DIM),
    ("aisfx@1-pooled", AISFX_PART_DIM),
    ("songrec-dsp@2", DSP_DIM),
];

impl MixTable {
    /// The table built into songrec for a version, checked against [`PARTS`]: from version 3
    /// on, [`TEXTURE_PART`]'s row from [`TEXTURE_TABLE_JSON`] in place of aisfx's.
    pub fn bundled_for(version: u32) -> NeuralResult<Self> {
        let mut t = Self::parse(TABLE_JSON)?;
        if version >= 3 {
            t.parts[1] = Self::texture_row(TEXTURE_TABLE_JSON)?;
        }
        Ok(t)
    }

    /// Parses and checks a one-part table holding [`TEXTURE_PART`]'s row.
    pub fn texture_row(json: &str) -> NeuralResult<PartTable> {
        let (name, dim) = TEXTURE_PART;
        match read_table(json)?.parts.as_slice() {
            [p] if p.part == name && p.mean.len() == dim && p.std.len() == dim => {
                check_values(p)?;
                Ok(p.clone())
            }
            _ => Err(bad_table(format!(
                "expected one part {name:?} with {dim} values"
            ))),
        }
    }

    /// Parses and checks a table: the three parts of [`PARTS`] in order, finite values,
    /// positive deviations.
    pub fn parse(json: &str) -> NeuralResult<Self> {
        let t = read_table(json)?;
        if t.parts.len() != PARTS.len() {
            return Err(bad_table(format!(
                "{} parts, expected {}",
                t.parts.len(),
                PARTS.len()
            )));
        }
        for (p, (name, dim)) in t.parts.iter().zip(PARTS) {
            if p.part != name || p.mean.len() != dim || p.std.len() != dim {
                return Err(bad_table(format!(
                    "part {:?} with {}/{} values, expected {name:?} with {dim}",
                    p.part,
                    p.mean.len(),
                    p.std.len()
                )));
            }
            check_values(p)?;
        }
        Ok(t)
    }
}

fn bad_table(reason: String) -> NeuralError {
    NeuralError::BadTable { reason }
}

/// A table's JSON, unchecked.
fn read_table(json: &str) -> NeuralResult<MixTable> {
    serde_json::from_str(json).map_err(|e| bad_table(format!("not a table: {e}")))
}

/// Finite means and positive deviations.
fn check_values(p: &PartTable) -> NeuralResult<()> {
    if p.mean.iter().any(|x| !x.is_finite()) || p.std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(bad_table(format!(
            "part {:?} holds a value that is not usable",
            p.part
        )));
    }
    Ok(())
}

/// The mix vector of three raw parts (pure): each part standardised with its table row,
/// L2-normalised (in f64) and scaled by √(1/parts), then concatenated. A part that is
/// constant after standardisation (norm 0) contributes zeros.
///
/// ```
/// use songrec_neural::mix::{combine, PartTable};
/// let t = |n: usize| PartTable { part: String::new(), mean: vec![0.0; n], std: vec![1.0; n] };
/// let v = combine(&[&[3.0, 4.0], &[0.0, 2.0]], &[t(2), t(2)]);
/// let h = 0.5f64.sqrt();
/// assert_eq!(v, vec![(0.6 * h) as f32, (0.8 * h) as f32, 0.0, h as f32]);
/// ```
pub fn combine(parts: &[&[f32]], table: &[PartTable]) -> Vec<f32> {
    let scale = (1.0 / parts.len().max(1) as f64).sqrt();
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.len()).sum());
    for (x, t) in parts.iter().zip(table) {
        let z: Vec<f64> = x
            .iter()
            .zip(t.mean.iter().zip(&t.std))
            .map(|(x, (m, s))| (f64::from(*x) - f64::from(*m)) / f64::from(*s))
            .collect();
        let norm = z.iter().map(|v| v * v).sum::<f64>().sqrt();
        out.extend(z.iter().map(|v| {
            if norm > 0.0 && norm.is_finite() {
                (v / norm * scale) as f32
            } else {
                0.0
            }
        }));
    }
    out
}

/// The raw parts of one song, before standardisation, and what the DSP analysis and musicnn
/// say about it besides.
#[derive(Debug, Clone)]
pub struct MixParts {
    /// musicnn@2's stored vector (400).
    pub musicnn: Vec<f32>,
    /// aisfx's part before standardisation (1024): the mean and the max of its embedding over
    /// the blocks (versions 1, 2) or its texture ([`crate::aisfx::pool_texture`], version 3).
    pub aisfx: Vec<f32>,
    /// The DSP analysis: its songrec-dsp@2 vector, tempo, key and descriptors.
    pub dsp: Analysis,
    /// musicnn's style tags.
    pub tags: Vec<(String, f32)>,
    /// musicnn's sound tags.
    pub sound_tags: Vec<(String, f32)>,
}

/// How to build a [`MixEmbedder`].
#[derive(Debug, Clone, PartialEq)]
pub struct MixConfig {
    /// musicnn's settings (its runtime is the mix's).
    pub musicnn: MusicnnConfig,
    /// aisfx's blocks and sessions (its runtime is taken from `musicnn`).
    pub aisfx: AisfxConfig,
    /// The version the vectors are filed under ([`MIX_VERSION`], or an older one:
    /// [`MixConfig::v3`], [`MixConfig::v2`], [`MixConfig::v1`]).
    pub version: u32,
}

impl Default for MixConfig {
    fn default() -> Self {
        Self::on(Runtime::Tract)
    }
}

impl MixConfig {
    /// Both networks on `runtime`: musicnn on [`MIX_PATCHES`] patches, aisfx's int8 network on
    /// [`MIX_BLOCKS`] blocks, everything else default.
    pub fn on(runtime: Runtime) -> Self {
        Self::with_musicnn(MusicnnConfig {
            runtime,
            ..MusicnnConfig::default()
        })
    }

    /// The mix with `musicnn`'s runtime and model files (the patch count stays the mix's).
    pub fn with_musicnn(musicnn: MusicnnConfig) -> Self {
        MixConfig {
            aisfx: AisfxConfig {
                runtime: musicnn.runtime.clone(),
                blocks: MIX_BLOCKS,
                network: AisfxNetwork::Texture,
                kernels: musicnn.kernels,
                ..AisfxConfig::default()
            },
            musicnn: MusicnnConfig {
                patches: MIX_PATCHES,
                int8: true,
                ..musicnn
            },
            version: MIX_VERSION,
        }
    }

    /// Version 3 (musicnn in float32), with `musicnn`'s runtime and model files: what a
    /// library made with it keeps computing for new songs until `songrec reembed` has brought
    /// every song to the current version.
    pub fn v3(musicnn: MusicnnConfig) -> Self {
        let mut c = Self::with_musicnn(musicnn);
        c.musicnn.int8 = false;
        c.version = 3;
        c
    }

    /// Version 2 (aisfx's int8 embedding, mean and max over the blocks), with `musicnn`'s
    /// runtime and model files, for a library made with it (as [`Self::v3`]).
    pub fn v2(musicnn: MusicnnConfig) -> Self {
        let mut c = Self::v3(musicnn);
        c.aisfx.network = AisfxNetwork::Int8;
        c.version = 2;
        c
    }

    /// Version 1 (aisfx's float32 network, musicnn on 8 patches), with `musicnn`'s runtime
    /// and model files, for a library made with it (as [`Self::v2`]).
    pub fn v1(musicnn: MusicnnConfig) -> Self {
        let mut c = Self::v2(musicnn);
        c.aisfx.network = AisfxNetwork::Float32;
        c.musicnn.patches = crate::musicnn::DEFAULT_PATCHES;
        c.version = 1;
        c
    }
}

/// The default embedder (name [`MIX_NAME`], version [`MIX_VERSION`] or the configured older
/// one, dim [`MIX_DIM`]).
pub struct MixEmbedder {
    version: u32,
    musicnn: MusicnnEmbedder,
    aisfx: AisfxEmbedder,
    dsp: DspEmbedder,
    table: MixTable,
}

impl std::fmt::Debug for MixEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MixEmbedder")
            .field("musicnn", &self.musicnn)
            .field("aisfx", &self.aisfx)
            .finish()
    }
}

impl MixEmbedder {
    /// Starts both networks on musicnn's runtime and reads the bundled table.
    pub fn new(cfg: &MixConfig) -> NeuralResult<Self> {
        let aisfx = AisfxConfig {
            runtime: cfg.musicnn.runtime.clone(),
            ..cfg.aisfx.clone()
        };
        Ok(MixEmbedder {
            version: cfg.version,
            musicnn: MusicnnEmbedder::new(&cfg.musicnn)?,
            aisfx: AisfxEmbedder::new(&aisfx)?,
            dsp: DspEmbedder::new(),
            table: MixTable::bundled_for(cfg.version)?,
        })
    }

    /// Whether aisfx runs its int8 network.
    pub fn aisfx_int8(&self) -> bool {
        self.aisfx.int8()
    }

    /// Whether musicnn's front end runs in int8.
    pub fn musicnn_int8(&self) -> bool {
        self.musicnn.is_int8()
    }

    /// What runs musicnn's and aisfx's networks: songrec's own kernels or the runtime.
    pub fn engines(&self) -> [String; 2] {
        [self.musicnn.engine(), self.aisfx.engine()]
    }

    /// The runtime both networks run on.
    pub fn runtime(&self) -> &crate::runtime::ActiveRuntime {
        self.musicnn.runtime()
    }

    /// The three parts of one song: aisfx on `audio` (any rate; 44.1 kHz is what it hears),
    /// musicnn and the DSP analysis on one resample of it to the analysis rate.
    pub fn parts(&self, audio: &MonoAudio) -> NeuralResult<MixParts> {
        self.parts_profiled(audio).map(|(p, _)| p)
    }

    /// [`parts`](Self::parts), and the CPU seconds each stage took on the calling thread.
    pub fn parts_profiled(&self, audio: &MonoAudio) -> NeuralResult<(MixParts, MixProfile)> {
        let mut prof = MixProfile::default();
        let mut lap = Lap::start();
        let low = audio.at_rate(songrec_audio::ANALYSIS_RATE);
        prof.resample = lap.lap();
        let dsp = self.dsp.embed(&low).map_err(|e| NeuralError::Inference {
            runtime: DSP_NAME.into(),
            reason: e.to_string(),
        })?;
        prof.dsp = lap.lap();
        let cut = self.musicnn.patches_for(&low)?;
        prof.musicnn_cut = lap.lap();
        let (msd, mtt) = self.musicnn.run_both(&cut)?;
        prof.musicnn_net = lap.lap();
        prof.patches = msd.patches + mtt.patches;
        let n = self.musicnn.pool(&cut, &msd, &mtt);
        let blocks = self.aisfx.blocks_for(audio)?;
        prof.aisfx_frontend = lap.lap();
        let rows = self.aisfx.run_blocks(&blocks.data)?;
        prof.aisfx_net = lap.lap();
        prof.blocks = blocks.count();
        let pooled = self.aisfx.pool(&rows);
        prof.combine = lap.lap();
        Ok((
            MixParts {
                musicnn: n.embedding,
                aisfx: pooled,
                dsp,
                tags: n.tags,
                sound_tags: n.sound_tags,
            },
            prof,
        ))
    }

    /// FLOPs of one item through each network (MSD patch, MTT patch, aisfx block), counted by
    /// tract on the graphs ([`crate::profile`]).
    pub fn flops_per_item(&self) -> NeuralResult<[f64; 3]> {
        let [msd, mtt] = self.musicnn.flops_per_patch()?;
        Ok([msd, mtt, self.aisfx.flops_per_block()?])
    }

    /// The mix vector of a song's parts.
    pub fn vector(&self, p: &MixParts) -> Vec<f32> {
        combine(&[&p.musicnn, &p.aisfx, &p.dsp.vector], &self.table.parts)
    }
}

impl Embedder for MixEmbedder {
    fn name(&self) -> &str {
        MIX_NAME
    }

    fn version(&self) -> u32 {
        self.version
    }

    fn dim(&self) -> usize {
        MIX_DIM
    }

    fn decode_options(&self) -> songrec_audio::DecodeOptions {
        MIX_DECODE
    }

    fn embed(&self, audio: &MonoAudio) -> Result<Analysis, AudioError> {
        let p = self.parts(audio).map_err(|e| AudioError::Embed {
            embedder: MIX_NAME.into(),
            reason: e.to_string(),
        })?;
        let vector = self.vector(&p);
        Ok(Analysis {
            vector,
            tags: p.tags,
            sound_tags: p.sound_tags,
            ..p.dsp
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_table_fits_the_parts() {
        for v in 1..=MIX_VERSION {
            let t = MixTable::bundled_for(v).expect("bundled table");
            let names: Vec<&str> = t.parts.iter().map(|p| p.part.as_str()).collect();
            let aisfx = if v >= 3 { TEXTURE_PART.0 } else { PARTS[1].0 };
            assert_eq!(names, [PARTS[0].0, aisfx, PARTS[2].0], "version {v}");
            assert_eq!(t.parts.iter().map(|p| p.mean.len()).sum::<usize>(), MIX_DIM);
        }
    }

    #[test]
    fn a_texture_row_of_the_wrong_shape_is_refused() {
        let row = |name: &str, n: usize, s: f32| {
            serde_json::json!({"parts": [{"part": name, "mean": vec![0.0; n], "std": vec![s; n]}]})
                .to_string()
        };
        assert!(MixTable::texture_row(&row(TEXTURE_PART.0, AISFX_PART_DIM, 1.0)).is_ok());
        assert!(MixTable::texture_row(&row("aisfx@1-pooled", AISFX_PART_DIM, 1.0)).is_err());
        assert!(MixTable::texture_row(&row(TEXTURE_PART.0, 3, 1.0)).is_err());
        assert!(MixTable::texture_row(&row(TEXTURE_PART.0, AISFX_PART_DIM, 0.0)).is_err());
        assert!(MixTable::texture_row(TABLE_JSON).is_err());
    }

    #[test]
    fn a_table_of_the_wrong_shape_is_refused() {
        let part = |name: &str, n: usize, s: f32| serde_json::json!({"part": name, "mean": vec![0.0; n], "std": vec![s; n]});
        let good = [
            part("musicnn@2", MUSICNN_DIM, 1.0),
            part("aisfx@1-pooled", AISFX_PART_DIM, 1.0),
            part("songrec-dsp@2", DSP_DIM, 1.0),
        ];
        let json = |p: &[serde_json::Value]| serde_json::json!({ "parts": p }).to_string();
        assert!(MixTable::parse(&json(&good)).is_ok());
        assert!(MixTable::parse(&json(&good[..2])).is_err());
        let mut zero = good.clone();
        zero[2] = part("songrec-dsp@2", DSP_DIM, 0.0);
        assert!(MixTable::parse(&json(&zero)).is_err());
        let mut short = good.clone();
        short[0] = part("musicnn@2", 3, 1.0);
        assert!(MixTable::parse(&json(&short)).is_err());
        assert!(MixTable::parse("[1,2").is_err());
    }

    #[test]
    fn the_whole_cosine_is_the_mean_of_the_parts() {
        let t = |n: usize, m: f32, s: f32| PartTable {
            part: String::new(),
            mean: vec![m; n],
            std: vec![s; n],
        };
        let table = [t(3, 0.5, 2.0), t(4, -1.0, 0.5), t(2, 0.0, 1.0)];
        let a = combine(
            &[&[1.0, 2.0, 3.0], &[0.0, 1.0, -1.0, 2.0], &[1.0, 1.0]],
            &table,
        );
        let b = combine(
            &[&[3.0, 1.0, 0.0], &[2.0, 1.0, 0.5, -2.0], &[1.0, -1.0]],
            &table,
        );
        let norm = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
        assert!((norm - 1.0).abs() < 1e-6, "{norm}");
        let whole = songrec_audio::cosine_similarity(&a, &b);
        let mut parts = Vec::new();
        let mut s = 0;
        for n in [3, 4, 2] {
            parts.push(songrec_audio::cosine_similarity(&a[s..s + n], &b[s..s + n]));
            s += n;
        }
        let mean = parts.iter().sum::<f32>() / 3.0;
        assert!((whole - mean).abs() < 1e-6, "{whole} vs {mean}");
    }
}
