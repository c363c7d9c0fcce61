//! `--embedder` / `--blend` / `--model`: which vectors a ranking command compares. One set of
//! options with one default for `similar`, `playlist`, `map`, `clusters` and `outliers`, so the
//! same question gets the same neighbours whichever command asks it.

use anyhow::Result;
use clap::Args;
use songrec_app::similar::Choice;

/// Which vectors to compare.
#[derive(Args, Debug, Clone)]
pub struct VectorArgs {
    /// Which vectors to compare: auto (the default embedder's, mix, once every song has them;
    /// before `songrec reembed` has given them to a library made without them, musicnn and dsp
    /// blended where the songs have both, else the one they have), mix, dsp, musicnn, aisfx, or
    /// both (musicnn and dsp, the default blend).
    #[arg(long, default_value = "auto")]
    pub embedder: String,
    /// Blend neural and DSP similarity with this neural weight (0..1), e.g. --blend 0.6.
    #[arg(long, conflicts_with = "model")]
    pub blend: Option<f32>,
    /// Compare the stored vectors of any model by NAME@VERSION (e.g. legacy@0 for vectors
    /// from the Python tool); overrides --embedder.
    #[arg(long)]
    pub model: Option<String>,
}

/// The options every ranking command but `similar` shares: the vectors compared, the songs
/// considered and the output's form.
#[derive(Args, Debug, Clone)]
pub struct RankedArgs {
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[command(flatten)]
    pub filter: crate::args::FilterArgs,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

impl VectorArgs {
    /// The user's choice.
    pub fn choice(&self) -> Result<Choice> {
        Ok(Choice::from_options(
            Some(&self.embedder),
            self.blend,
            self.model.as_deref(),
        )?)
    }
}
