//! What the networks give ([`ModelOutput`]) and what musicnn says about a song
//! ([`NeuralAnalysis`]); which network ([`Net`]).

use super::model::{BUNDLED_MODEL, BUNDLED_MTT_MODEL, EXPECTED_JSON, MTT_EXPECTED_JSON};

/// Raw model outputs for a batch of patches (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    pub patches: usize,
    /// `[patches, 200]` ([`PENULTIMATE_DIM`](super::model::PENULTIMATE_DIM)).
    pub penultimate: Vec<f32>,
    /// `[patches, 50]`, sigmoid probabilities.
    pub taggram: Vec<f32>,
}

/// What musicnn says about one song.
///
/// ```
/// let a = songrec_neural::NeuralAnalysis { embedding: vec![1.0], pooled: vec![2.0],
///     tags: vec![("rock".into(), 0.9)], sound_tags: vec![("piano".into(), 0.8)], patches: 1,
///     analysed_secs: 3.0 };
/// assert_eq!(a.top_tags(1)[0].0, "rock");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct NeuralAnalysis {
    /// The stored vector (400-d): the MSD and MTT halves of [`pooled`](Self::pooled), each
    /// L2-normalised, times 1/√2; compare by cosine.
    pub embedding: Vec<f32>,
    /// Mean `penultimate` over each network's patches, before any normalisation: MSD's 200
    /// values then MTT's ([`pooled_penultimate`](super::pooling::pooled_penultimate)).
    pub pooled: Vec<f32>,
    /// MSD's mean tag probability over its patches, all 50 tags, most probable first.
    pub tags: Vec<(String, f32)>,
    /// MTT's mean tag probability over its patches, all 50 [`MTT_TAGS`](super::tags::MTT_TAGS), most probable first.
    pub sound_tags: Vec<(String, f32)>,
    /// Patches cut from the audio (each through one network; a lone patch through both).
    pub patches: usize,
    /// Seconds of audio the patches cover (without padding).
    pub analysed_secs: f32,
}

impl NeuralAnalysis {
    /// The `k` most probable tags.
    pub fn top_tags(&self, k: usize) -> &[(String, f32)] {
        &self.tags[..k.min(self.tags.len())]
    }
}

/// Which of the two networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum Net {
    /// `MSD_musicnn` (last.fm tags of the Million Song Dataset: genre, style, era).
    Msd,
    /// `MTT_musicnn` (MagnaTagATune tags: instruments, voice, tempo, mood).
    Mtt,
}

impl Net {
    /// "msd" or "mtt".
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub(super) fn bundled(self) -> (&'static [u8], &'static str) {
        match self {
            Net::Msd => (BUNDLED_MODEL, EXPECTED_JSON),
            Net::Mtt => (BUNDLED_MTT_MODEL, MTT_EXPECTED_JSON),
        }
    }
}
