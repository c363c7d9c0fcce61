//! [`AisfxEmbedder`]: the bundled aisfx network on the active runtime, run on a song's blocks.

use std::borrow::Cow;
use std::sync::Arc;

use songrec_audio::resample::resample;
use songrec_audio::{Analysis, AudioError, Embedder, MonoAudio};

use super::analysis::{AisfxAnalysis, pool_blocks, pool_texture};
use super::config::AisfxConfig;
use super::frontend::{Blocks, FrontEnd, SAMPLE_RATE};
use super::model::{
    AISFX_DECODE, AISFX_DIM, AISFX_NAME, AISFX_VERSION, AisfxNetwork, BLOCK_DIM, SIGNATURE,
};
use super::native::NativeAisfx;
use crate::error::{NeuralError, NeuralResult};
use crate::kernels::path::check_path;
use crate::network::{Network, whole_items};
use crate::runtime::{ActiveRuntime, activate};

/// The aisfx embedder (name `aisfx`, version [`AISFX_VERSION`], dim 1024).
///
/// Per song: 44.1 kHz mono (resampled if needed), at most `blocks` evenly spaced blocks of 100
/// log-mel frames ([`FrontEnd::blocks`]), the network's 512 values per block, then the mean
/// and the max over the blocks, concatenated and L2-normalised ([`pool_blocks`]).
/// Deterministic; thread-safe like [`crate::MusicnnEmbedder`].
pub struct AisfxEmbedder {
    runtime: Arc<ActiveRuntime>,
    /// The graph's bytes (FLOPs are counted on it).
    model: &'static [u8],
    label: &'static str,
    engine: Engine,
    frontend: FrontEnd,
    blocks: usize,
    network: AisfxNetwork,
}

impl std::fmt::Debug for AisfxEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AisfxEmbedder")
            .field("runtime", &self.runtime.describe())
            .field("blocks", &self.blocks)
            .finish()
    }
}

impl AisfxEmbedder {
    /// Starts the runtime (once per process) and loads the bundled network.
    pub fn new(cfg: &AisfxConfig) -> NeuralResult<Self> {
        let runtime = activate(&cfg.runtime)?;
        let (model, label, signature) = cfg.network.graph()?;
        // songrec's kernels run the int8 networks on every runtime (the same vectors with or
        // without ONNX Runtime); a path this CPU cannot run is refused here, before any work.
        let engine = if cfg.network != AisfxNetwork::Float32 && cfg.kernels.is_own() {
            check_path(cfg.kernels)?;
            Engine::Native(NativeAisfx::load(model, cfg.kernels).map_err(|reason| {
                NeuralError::InvalidModel {
                    model: label.into(),
                    runtime: "songrec kernels".into(),
                    reason,
                }
            })?)
        } else {
            Engine::Graph(Network::load(
                Cow::Borrowed(model),
                label.into(),
                signature,
                &runtime,
                cfg.max_sessions,
                cfg.intra_threads,
                cfg.tract_batch,
            )?)
        };
        Ok(AisfxEmbedder {
            runtime,
            model,
            label,
            engine,
            frontend: FrontEnd::new(),
            blocks: cfg.blocks.max(1),
            network: cfg.network,
        })
    }

    /// The runtime this embedder runs on.
    pub fn runtime(&self) -> &ActiveRuntime {
        &self.runtime
    }

    /// The network's outputs per block for `logmel` = whole blocks `[n, 100, 96]`: row-major
    /// `[n, 512]`, or `[n, 1024]` for the texture network.
    pub fn run_blocks(&self, logmel: &[f32]) -> NeuralResult<Vec<f32>> {
        let net = match &self.engine {
            Engine::Graph(net) => net,
            Engine::Native(native) => {
                let blocks = whole_items(logmel, SIGNATURE.item_len(), "blocks", || self.engine())?;
                let mut rows = Vec::with_capacity(blocks.len() * native.width());
                for block in blocks {
                    native.run(block, &mut rows);
                }
                return Ok(rows);
            }
        };
        net.run(logmel)?
            .into_iter()
            .next()
            .ok_or_else(|| NeuralError::Inference {
                runtime: self.runtime.describe(),
                reason: "the network returned no output".into(),
            })
    }

    /// The blocks this embedder feeds the network for `audio` (any rate).
    pub fn blocks_for(&self, audio: &MonoAudio) -> NeuralResult<Blocks> {
        let resampled: Vec<Cow<'_, [f32]>> = audio
            .segments
            .iter()
            .map(|s| {
                if audio.sample_rate == SAMPLE_RATE {
                    Cow::Borrowed(s.samples.as_slice())
                } else {
                    Cow::Owned(resample(&s.samples, audio.sample_rate, SAMPLE_RATE))
                }
            })
            .collect();
        let segs: Vec<&[f32]> = resampled.iter().map(|s| s.as_ref()).collect();
        self.frontend
            .blocks(&segs, self.blocks)
            .ok_or(NeuralError::NoAudio)
    }

    /// What runs the network: songrec's own kernels and their path (e.g. "songrec kernels
    /// (avx2)"), or the runtime.
    pub fn engine(&self) -> String {
        match &self.engine {
            Engine::Native(n) => format!("songrec kernels ({})", n.path()),
            Engine::Graph(_) => self.runtime.describe(),
        }
    }

    /// Whether this embedder runs an int8 network.
    pub fn int8(&self) -> bool {
        self.network != AisfxNetwork::Float32
    }

    /// A song's aisfx part from its blocks' outputs, before standardisation: the texture's
    /// [`pool_texture`] for the texture network, else the mean and the max over the blocks
    /// ([`pool_blocks`], not normalised).
    pub fn pool(&self, rows: &[f32]) -> Vec<f32> {
        match self.network {
            AisfxNetwork::Texture => pool_texture(rows),
            AisfxNetwork::Float32 | AisfxNetwork::Int8 => pool_blocks(rows, BLOCK_DIM).1,
        }
    }

    /// FLOPs of one block through the network (counted by tract on the graph).
    pub fn flops_per_block(&self) -> NeuralResult<f64> {
        crate::network::count_flops(self.model, self.label, self.network.graph()?.2)
    }

    /// Embedding of one song.
    pub fn analyze(&self, audio: &MonoAudio) -> NeuralResult<AisfxAnalysis> {
        let b = self.blocks_for(audio)?;
        let rows = self.run_blocks(&b.data)?;
        let (embedding, pooled) = pool_blocks(&rows, BLOCK_DIM);
        Ok(AisfxAnalysis {
            embedding,
            pooled,
            blocks: b.count(),
        })
    }
}

impl Embedder for AisfxEmbedder {
    fn name(&self) -> &str {
        AISFX_NAME
    }

    fn version(&self) -> u32 {
        AISFX_VERSION
    }

    fn dim(&self) -> usize {
        AISFX_DIM
    }

    fn decode_options(&self) -> songrec_audio::DecodeOptions {
        AISFX_DECODE
    }

    fn embed(&self, audio: &MonoAudio) -> Result<Analysis, AudioError> {
        let analysed = self
            .analyze(audio)
            .map(|a| (a.embedding, Vec::new(), Vec::new()));
        crate::network::song_analysis(AISFX_NAME, analysed)
    }
}

/// What runs the network.
enum Engine {
    /// songrec's own kernels (the int8 network where the CPU has AVX-512 VNNI or AVX-VNNI; on ONNX Runtime
    /// only where it has AMX-INT8 too).
    Native(NativeAisfx),
    /// The active runtime on the graph.
    Graph(Network),
}
