//! Mono audio as decoding gives it: one [`Segment`], or several excerpts of one file.

/// A contiguous piece of mono audio at [`MonoAudio::sample_rate`].
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    /// Where the segment starts in the original file, in seconds.
    pub start_secs: f64,
    /// Mono samples.
    pub samples: Vec<f32>,
}

/// Mono audio, possibly made of several excerpts ([`Segment`]s) of one file.
///
/// ```
/// let a = songrec_audio::MonoAudio::from_samples(vec![0.0; 22_050], 22_050);
/// assert_eq!(a.total_samples(), 22_050);
/// assert!((a.analysed_secs() - 1.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MonoAudio {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Excerpts in file order.
    pub segments: Vec<Segment>,
}

impl MonoAudio {
    /// One segment starting at 0.
    pub fn from_samples(samples: Vec<f32>, sample_rate: u32) -> Self {
        MonoAudio {
            sample_rate,
            segments: vec![Segment {
                start_secs: 0.0,
                samples,
            }],
        }
    }

    /// The same audio at `rate`: borrowed when it already is, else each segment resampled
    /// ([`crate::resample::resample`]) with its start kept.
    ///
    /// ```
    /// let a = songrec_audio::MonoAudio::from_samples(vec![0.0; 44_100], 44_100);
    /// assert_eq!(a.at_rate(22_050).total_samples(), 22_050);
    /// assert!(matches!(a.at_rate(44_100), std::borrow::Cow::Borrowed(_)));
    /// ```
    pub fn at_rate(&self, rate: u32) -> std::borrow::Cow<'_, MonoAudio> {
        if self.sample_rate == rate {
            return std::borrow::Cow::Borrowed(self);
        }
        std::borrow::Cow::Owned(MonoAudio {
            sample_rate: rate,
            segments: self
                .segments
                .iter()
                .map(|s| Segment {
                    start_secs: s.start_secs,
                    samples: crate::resample::resample(&s.samples, self.sample_rate, rate),
                })
                .collect(),
        })
    }

    /// Samples over all segments.
    pub fn total_samples(&self) -> usize {
        self.segments.iter().map(|s| s.samples.len()).sum()
    }

    /// Seconds of audio held.
    pub fn analysed_secs(&self) -> f64 {
        self.total_samples() as f64 / f64::from(self.sample_rate.max(1))
    }
}
