//! Where decoded samples go: the excerpt windows, the full-file plan and the reservoir
//! (see the parent module's "Bounded memory").

use super::mono::Segment;
use super::options::{ANALYSIS_RATE, DecodeOptions};
use crate::resample::Resampler;

/// Where decoded mono samples (at the original rate) go: planned windows or a reservoir.
pub(super) enum Plan {
    /// Absolute frame windows `[start, end)`, in order.
    Windows(Vec<(u64, u64)>),
    /// Declared short: everything up to frame `limit` in one segment; past it, the collected
    /// audio is cut into chunks of `chunk` frames and the reservoir takes over.
    Full { limit: u64, chunk: u64, max: usize },
    /// Unknown duration: chunks of `chunk` frames on a grid with a doubling stride.
    Reservoir { chunk: u64, max: usize, stride: u64 },
}

impl Plan {
    /// Declared short: everything up to the budget (in whole `chunk`-frame excerpts) in one
    /// segment, the reservoir past it.
    pub(super) fn full(chunk: u64, opts: &DecodeOptions) -> Self {
        Plan::Full {
            limit: chunk.saturating_mul(opts.budget_excerpts() as u64),
            chunk,
            max: opts.max_excerpts(),
        }
    }
}

pub(super) struct Collector {
    plan: Plan,
    in_rate: u32,
    resampler: Resampler,
    /// (window/chunk index, segment under construction or finished)
    segs: Vec<(u64, Segment)>,
    current: Option<u64>,
    /// Most samples held at once (over all segments).
    peak: usize,
}

impl Collector {
    #[cfg(test)]
    pub(super) fn new(plan: Plan, in_rate: u32) -> Self {
        Self::with_rate(plan, in_rate, ANALYSIS_RATE)
    }

    /// Collects at `out_rate` (the [`DecodeOptions::sample_rate`]).
    pub(super) fn with_rate(plan: Plan, in_rate: u32, out_rate: u32) -> Self {
        Collector {
            plan,
            in_rate,
            resampler: Resampler::new(in_rate, out_rate),
            segs: Vec::new(),
            current: None,
            peak: 0,
        }
    }

    /// Records the samples held now in [`Collector::peak`].
    fn note_held(&mut self) {
        let held: usize = self.segs.iter().map(|(_, s)| s.samples.len()).sum();
        self.peak = self.peak.max(held);
    }

    /// Does any window need frames in `[a, b)`? (Reservoir: always.)
    pub(super) fn wants(&self, a: u64, b: u64) -> bool {
        match &self.plan {
            Plan::Windows(w) => w.iter().any(|&(s, e)| a < e && b > s),
            Plan::Full { .. } | Plan::Reservoir { .. } => true,
        }
    }

    fn finish_current(&mut self) {
        if self.current.take().is_some() {
            // The resampler appends straight to the segment (no copy through a scratch buffer).
            match self.segs.last_mut() {
                Some((_, seg)) => self.resampler.flush(&mut seg.samples),
                None => self.resampler.reset(),
            }
            self.note_held();
        }
    }

    fn start(&mut self, idx: u64, frame: u64) {
        self.finish_current();
        self.resampler.reset();
        self.current = Some(idx);
        self.segs.push((
            idx,
            Segment {
                start_secs: frame as f64 / f64::from(self.in_rate),
                samples: Vec::new(),
            },
        ));
    }

    fn feed_run(&mut self, idx: u64, frame: u64, samples: &[f32]) {
        if samples.is_empty() {
            return;
        }
        if self.current != Some(idx) {
            self.start(idx, frame);
        }
        match self.segs.last_mut() {
            Some((_, seg)) => self.resampler.process(samples, &mut seg.samples),
            None => self.resampler.process(samples, &mut Vec::new()),
        }
        self.note_held();
    }

    /// The stream went on past what a short file may hold: cut the one segment collected so
    /// far into chunks of `chunk` frames (as the reservoir would have kept them), thin them to
    /// at most `max`, and let the reservoir take the rest.
    fn switch_to_reservoir(&mut self, chunk: u64, max: usize) {
        self.finish_current();
        let rate = f64::from(self.in_rate.max(1));
        let out_rate = f64::from(self.resampler.out_rate());
        let per = ((chunk as f64 * out_rate / rate).round() as usize).max(1);
        let mut chunks: Vec<(u64, Segment)> = Vec::new();
        for (_, seg) in std::mem::take(&mut self.segs) {
            let first = (seg.start_secs * rate).round() as u64 / chunk.max(1);
            let mut rest = seg.samples;
            let n = rest.len().div_ceil(per);
            // Split from the end so no more than one chunk is ever copied at a time.
            let mut pieces = Vec::with_capacity(n);
            for i in (1..n).rev() {
                let tail = rest.split_off(i * per);
                rest.shrink_to_fit();
                pieces.push((i, tail));
            }
            pieces.push((0, rest));
            for (i, samples) in pieces.into_iter().rev() {
                chunks.push((
                    first.saturating_add(i as u64),
                    Segment {
                        start_secs: seg.start_secs + (i * per) as f64 / f64::from(ANALYSIS_RATE),
                        samples,
                    },
                ));
            }
        }
        self.segs = chunks;
        let mut stride = 1u64;
        while self.segs.len() > max && stride < u64::MAX / 2 {
            stride *= 2;
            self.segs.retain(|(i, _)| i % stride == 0);
        }
        self.plan = Plan::Reservoir { chunk, max, stride };
    }

    /// Route mono samples whose first frame is `frame0` (absolute, original rate).
    pub(super) fn push(&mut self, frame0: u64, mono: &[f32]) {
        // Frames past u64::MAX cannot be placed; a sane file never gets near it.
        let n = (mono.len() as u64).min(u64::MAX - frame0);
        let mono = &mono[..n as usize];
        match &mut self.plan {
            Plan::Full { limit, chunk, max } => {
                let (limit, chunk, max) = (*limit, *chunk, *max);
                let cut = limit.saturating_sub(frame0).min(n) as usize;
                if cut > 0 {
                    self.feed_run(0, frame0, &mono[..cut]);
                }
                if cut < mono.len() {
                    self.switch_to_reservoir(chunk, max);
                    self.push(frame0 + cut as u64, &mono[cut..]);
                }
            }
            Plan::Windows(w) => {
                let runs: Vec<(u64, u64, u64)> = w
                    .iter()
                    .enumerate()
                    .filter_map(|(i, &(s, e))| {
                        let a = s.max(frame0);
                        let b = e.min(frame0 + n);
                        (a < b).then_some((i as u64, a, b))
                    })
                    .collect();
                for (i, a, b) in runs {
                    let slice = &mono[(a - frame0) as usize..(b - frame0) as usize];
                    self.feed_run(i, a, slice);
                }
            }
            Plan::Reservoir { chunk, max, stride } => {
                let (chunk, max, mut stride_v) = ((*chunk).max(1), *max, *stride);
                let mut pos = 0u64;
                while pos < n {
                    let f = frame0 + pos;
                    let ci = f / chunk;
                    let end = ci.saturating_add(1).saturating_mul(chunk).min(frame0 + n);
                    let len = end - f;
                    if len == 0 {
                        break;
                    }
                    let mut keep = ci.is_multiple_of(stride_v);
                    if keep && self.current != Some(ci) && self.segs.len() >= max {
                        // A new chunk is about to start and the reservoir is full:
                        // double the stride and drop the chunks that fall off the grid.
                        stride_v = stride_v.saturating_mul(2);
                        self.finish_current();
                        self.segs.retain(|(i, _)| i % stride_v == 0);
                        keep = ci.is_multiple_of(stride_v);
                    }
                    if keep {
                        let slice = &mono[pos as usize..(pos + len) as usize];
                        self.feed_run(ci, f, slice);
                    } else if self.current.is_some() {
                        self.finish_current();
                    }
                    pos += len;
                }
                if let Plan::Reservoir { stride, .. } = &mut self.plan {
                    *stride = stride_v;
                }
                self.note_held();
            }
        }
    }

    /// The kept segments and the peak number of samples held.
    pub(super) fn finish(mut self) -> (Vec<Segment>, usize) {
        self.finish_current();
        let segs = self
            .segs
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| !s.samples.is_empty())
            .collect();
        (segs, self.peak)
    }
}

/// Evenly spaced excerpt windows (in frames) for a file of `total` frames.
///
/// ```
/// use songrec_audio::{DecodeOptions, decode::plan_windows};
/// let w = plan_windows(44_100 * 7200, 44_100, &DecodeOptions::default());
/// assert_eq!(w.len(), 8);
/// assert_eq!(w[0].1 - w[0].0, 44_100 * 30);
/// let short = plan_windows(44_100 * 60, 44_100, &DecodeOptions::default());
/// assert_eq!(short, vec![(0, u64::MAX)]);
/// ```
pub fn plan_windows(total: u64, rate: u32, opts: &DecodeOptions) -> Vec<(u64, u64)> {
    let budget = (opts.max_analysed_secs * f64::from(rate)) as u64;
    if total <= budget {
        return vec![(0, u64::MAX)];
    }
    let k = opts.max_excerpts() as u64;
    let len = (opts.excerpt_secs * f64::from(rate)) as u64;
    (0..k)
        .map(|i| {
            // In u128: (2i + 1) * total overflows u64 for a header declaring a huge length.
            let center = (u128::from(2 * i + 1) * u128::from(total) / u128::from(2 * k)) as u64;
            let s = center
                .saturating_sub(len / 2)
                .min(total.saturating_sub(len));
            (s, s.saturating_add(len))
        })
        .collect()
}
