//! What a decode is asked for: the analysis rate ([`ANALYSIS_RATE`]) and the limits of
//! [`DecodeOptions`].

/// Sample rate (Hz) of all analysed audio.
pub const ANALYSIS_RATE: u32 = 22_050;

/// Limits for decoding.
///
/// ```
/// let o = songrec_audio::DecodeOptions::default();
/// assert_eq!(o.max_excerpts(), 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, smart_default::SmartDefault)]
pub struct DecodeOptions {
    /// Files up to this long are analysed fully; longer ones as excerpts totalling this much.
    #[default = 240.0]
    pub max_analysed_secs: f64,
    /// Length of one excerpt of a long file.
    #[default = 30.0]
    pub excerpt_secs: f64,
    /// Rate of the decoded mono audio ([`ANALYSIS_RATE`] for every embedder but aisfx,
    /// which hears up to 22 kHz and asks for 44.1 kHz).
    #[default(ANALYSIS_RATE)]
    pub sample_rate: u32,
}

impl DecodeOptions {
    /// Number of excerpts taken from a long file.
    pub fn max_excerpts(&self) -> usize {
        ((self.max_analysed_secs / self.excerpt_secs.max(0.1)).floor() as usize).max(1)
    }

    /// The budget in whole excerpts, rounded up (a file declared short is decoded completely
    /// up to this many excerpts' worth of frames).
    pub(super) fn budget_excerpts(&self) -> usize {
        ((self.max_analysed_secs / self.excerpt_secs.max(0.1)).ceil() as usize)
            .max(self.max_excerpts())
    }

    /// Upper bound of the mono samples at [`sample_rate`](Self::sample_rate) the decoder holds at any time,
    /// whatever the file's header claims: the budget rounded up to whole excerpts, plus the
    /// resampler's tail of at most 0.1 s per excerpt.
    ///
    /// ```
    /// let o = songrec_audio::DecodeOptions::default();
    /// assert_eq!(o.max_buffered_samples(), 8 * (30 * 22_050 + 2_205));
    /// ```
    pub fn max_buffered_samples(&self) -> usize {
        let rate = self.sample_rate.max(1);
        let per_excerpt = (self.excerpt_secs.max(0.1) * f64::from(rate)).ceil() as usize;
        self.budget_excerpts()
            .saturating_mul(per_excerpt.saturating_add(rate as usize / 10))
    }
}
