//! Where the 3-second model patches are cut from a song (pure).
//!
//! A song arrives as one or more contiguous segments (long files are decoded as evenly spaced
//! 30 s excerpts). Patches never straddle two segments. With `n` patches wanted, the start
//! positions are spread evenly over all valid starts of all segments at least one patch long,
//! each in the middle of its share (so a song's first and last seconds, often silence or a fade,
//! are not favoured). The number of patches is `ceil(audio / patch)` capped at the maximum, so a
//! 4-second clip gets 2 patches, not 16 copies of the same one.
//!
//! Shorter audio (a one-shot sample of 50 ms, a 2 s loop) gets one patch filled by the
//! [`ShortClip`] policy.

use songrec_audio::MonoAudio;
use songrec_audio::resample::{ratio, resample};

/// Samples per model patch at 16 kHz (187 STFT frames of hop 256 plus the 512 window).
pub const PATCH_LEN: usize = 48_128;
/// The model's sample rate.
pub const MODEL_RATE: u32 = 16_000;

/// How audio shorter than one patch is filled up to [`PATCH_LEN`] samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShortClip {
    /// Repeat the clip until the patch is full (what a loop-based sampler would play).
    Loop,
    /// The clip at the start, then silence (what the clip sounds like once).
    #[default]
    ZeroPad,
}

/// One patch: `len` samples of segment `segment` from `start`, padded to [`PATCH_LEN`] when
/// `len` is shorter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatchSpec {
    pub segment: usize,
    /// First sample in the segment.
    pub start: usize,
    /// Samples taken (`PATCH_LEN`, or the whole segment when it is shorter).
    pub len: usize,
}

/// Plans at most `max_patches` patches for segments of the given lengths. Empty when there is
/// no sample at all.
///
/// ```
/// use songrec_neural::patches::{plan, PATCH_LEN};
/// // 30 s at 16 kHz: 10 patches fit, 4 asked for.
/// let p = plan(&[480_000], 4);
/// assert_eq!(p.len(), 4);
/// assert!(p.windows(2).all(|w| w[1].start > w[0].start + PATCH_LEN / 2));
/// // A 0.1 s clip: one short patch.
/// assert_eq!(plan(&[1_600], 4)[0].len, 1_600);
/// ```
pub fn plan(seg_lens: &[usize], max_patches: usize) -> Vec<PatchSpec> {
    plan_units(seg_lens, PATCH_LEN, max_patches)
}

/// [`plan`] for windows of `unit` positions instead of [`PATCH_LEN`] samples (aisfx plans its
/// blocks of 100 spectrogram frames with it).
///
/// ```
/// use songrec_neural::patches::plan_units;
/// // 264 frames, blocks of 100: 3 blocks, starts floor((2k + 1) * 165 / 6).
/// let p = plan_units(&[264], 100, 8);
/// assert_eq!(p.iter().map(|b| b.start).collect::<Vec<_>>(), vec![27, 82, 137]);
/// ```
pub fn plan_units(seg_lens: &[usize], unit: usize, max_patches: usize) -> Vec<PatchSpec> {
    let unit = unit.max(1);
    let max_patches = max_patches.max(1);
    let long: Vec<(usize, usize)> = seg_lens
        .iter()
        .enumerate()
        .filter(|(_, l)| **l >= unit)
        .map(|(i, l)| (i, *l))
        .collect();
    if long.is_empty() {
        // The longest segment, padded.
        return seg_lens
            .iter()
            .enumerate()
            .filter(|(_, l)| **l > 0)
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(&a.0)))
            .map(|(i, l)| PatchSpec {
                segment: i,
                start: 0,
                len: *l,
            })
            .into_iter()
            .collect();
    }
    let audio: usize = long.iter().map(|(_, l)| l).sum();
    let n = audio.div_ceil(unit).clamp(1, max_patches);
    // Valid starts per segment, concatenated.
    let valid: Vec<usize> = long.iter().map(|(_, l)| l - unit + 1).collect();
    let total: usize = valid.iter().sum();
    (0..n)
        .map(|k| {
            // Middle of the k-th of n equal shares of [0, total).
            let mut pos = (((2 * k + 1) as u128 * total as u128) / (2 * n) as u128) as usize;
            pos = pos.min(total - 1);
            let mut si = 0;
            while pos >= valid[si] {
                pos -= valid[si];
                si += 1;
            }
            PatchSpec {
                segment: long[si].0,
                start: pos,
                len: unit,
            }
        })
        .collect()
}

/// Writes one patch (exactly [`PATCH_LEN`] samples) into `out`, filling short clips by `fill`.
///
/// ```
/// use songrec_neural::patches::{fill_patch, ShortClip, PATCH_LEN};
/// let mut out = Vec::new();
/// fill_patch(&[1.0, 2.0], ShortClip::Loop, &mut out);
/// assert_eq!(out.len(), PATCH_LEN);
/// assert_eq!(&out[..4], &[1.0, 2.0, 1.0, 2.0]);
/// ```
pub fn fill_patch(samples: &[f32], fill: ShortClip, out: &mut Vec<f32>) {
    let take = samples.len().min(PATCH_LEN);
    out.extend_from_slice(&samples[..take]);
    let missing = PATCH_LEN - take;
    if missing == 0 {
        return;
    }
    match fill {
        ShortClip::ZeroPad => out.extend(std::iter::repeat_n(0.0, missing)),
        ShortClip::Loop if take > 0 => {
            out.extend(samples.iter().copied().cycle().take(missing));
        }
        ShortClip::Loop => out.extend(std::iter::repeat_n(0.0, missing)),
    }
}

/// Input samples of context kept on each side of a patch when only that window is resampled
/// (the resampler's kernel spans about ±16 input samples at 22.05 → 16 kHz).
const MARGIN_IN: u64 = 64;

/// The model input for a song: `patches` × [`PATCH_LEN`] samples at 16 kHz.
#[derive(Debug, Clone, PartialEq)]
pub struct Cut {
    /// Row-major `[patches, PATCH_LEN]`.
    pub batch: Vec<f32>,
    pub patches: usize,
    /// Samples of real audio in the batch (without padding).
    pub real_samples: usize,
}

/// Cuts the model input for `audio` (any rate): plans patches on the 16 kHz timeline with
/// [`plan`] and resamples **only the planned windows** (plus a little context), not the whole
/// song. Patch starts are rounded down to the rate ratio's grid (at most 20 ms at 22.05 kHz) so
/// each window starts on an exact input sample; the result equals resampling everything and
/// cutting afterwards, up to float rounding. `None` when there is no sample.
///
/// ```
/// use songrec_audio::MonoAudio;
/// use songrec_neural::patches::{cut, ShortClip, PATCH_LEN};
/// let c = cut(&MonoAudio::from_samples(vec![0.1; 22_050 * 30], 22_050), 4, ShortClip::ZeroPad).unwrap();
/// assert_eq!((c.patches, c.batch.len()), (4, 4 * PATCH_LEN));
/// ```
pub fn cut(audio: &MonoAudio, max_patches: usize, fill: ShortClip) -> Option<Cut> {
    let sr = audio.sample_rate.max(1);
    let (up, down) = ratio(sr, MODEL_RATE);
    // Odd rates with a huge ratio grid: resample whole segments.
    let windowed = sr != MODEL_RATE && up <= 1600;
    let whole: Vec<Vec<f32>>;
    let lens: Vec<usize> = if sr == MODEL_RATE {
        whole = Vec::new();
        audio.segments.iter().map(|s| s.samples.len()).collect()
    } else if windowed {
        whole = Vec::new();
        // The resampler's output length: ceil(n * up / down).
        audio
            .segments
            .iter()
            .map(|s| (s.samples.len() as u64 * up).div_ceil(down) as usize)
            .collect()
    } else {
        whole = audio
            .segments
            .iter()
            .map(|s| resample(&s.samples, sr, MODEL_RATE))
            .collect();
        whole.iter().map(Vec::len).collect()
    };
    let specs = plan(&lens, max_patches);
    if specs.is_empty() {
        return None;
    }
    let mut batch = Vec::with_capacity(specs.len() * PATCH_LEN);
    let mut real = 0usize;
    for p in &specs {
        let src = &audio.segments[p.segment].samples;
        real += p.len;
        if sr == MODEL_RATE {
            fill_patch(&src[p.start..p.start + p.len], fill, &mut batch);
        } else if !windowed {
            fill_patch(
                &whole[p.segment][p.start..p.start + p.len],
                fill,
                &mut batch,
            );
        } else if p.len < PATCH_LEN {
            // Shorter than a patch: the whole (short) segment.
            let r = resample(src, sr, MODEL_RATE);
            fill_patch(&r[..p.len.min(r.len())], fill, &mut batch);
        } else {
            let st = (p.start as u64 / up) * up;
            let in_start = st / up * down;
            let k = MARGIN_IN.div_ceil(down).min(in_start / down);
            let in_a = (in_start - k * down) as usize;
            let in_b = (in_start
                + (PATCH_LEN as u64 * down).div_ceil(up)
                + MARGIN_IN.div_ceil(down) * down)
                .min(src.len() as u64) as usize;
            let r = resample(&src[in_a..in_b], sr, MODEL_RATE);
            let off = (k * up) as usize;
            let end = (off + PATCH_LEN).min(r.len());
            fill_patch(&r[off.min(end)..end], fill, &mut batch);
        }
    }
    Some(Cut {
        batch,
        patches: specs.len(),
        real_samples: real,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, sr: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let t = i as f32 / sr as f32;
                (2.0 * std::f32::consts::PI * 440.0 * t).sin() * 0.5
                    + (2.0 * std::f32::consts::PI * 3000.0 * t).sin() * 0.2
                    + if i % 5000 < 30 { 0.4 } else { 0.0 }
            })
            .collect()
    }

    #[test]
    fn windowed_resampling_matches_resampling_everything() {
        for sr in [22_050u32, 44_100, 48_000, 8_000] {
            let segs = vec![
                songrec_audio::Segment {
                    start_secs: 0.0,
                    samples: tone(sr as usize * 20, sr),
                },
                songrec_audio::Segment {
                    start_secs: 60.0,
                    samples: tone(sr as usize * 7, sr),
                },
            ];
            let audio = MonoAudio {
                sample_rate: sr,
                segments: segs.clone(),
            };
            let c = cut(&audio, 6, ShortClip::ZeroPad).unwrap();
            assert_eq!(c.patches, 6);
            // Reference: resample whole segments, then cut at the same (grid-rounded) starts.
            let whole: Vec<Vec<f32>> = segs
                .iter()
                .map(|s| resample(&s.samples, sr, MODEL_RATE))
                .collect();
            let up = ratio(sr, MODEL_RATE).0 as usize;
            let lens: Vec<usize> = whole.iter().map(Vec::len).collect();
            for (i, p) in plan(&lens, 6).iter().enumerate() {
                let st = p.start / up * up;
                let reference = &whole[p.segment][st..st + PATCH_LEN];
                let mine = &c.batch[i * PATCH_LEN..(i + 1) * PATCH_LEN];
                let d = reference
                    .iter()
                    .zip(mine)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(d < 1e-4, "rate {sr}, patch {i}: max diff {d}");
            }
        }
    }

    #[test]
    fn short_and_native_rate_audio() {
        let c = cut(
            &MonoAudio::from_samples(vec![0.5; 2205], 22_050),
            8,
            ShortClip::Loop,
        )
        .unwrap();
        assert_eq!(c.patches, 1);
        assert_eq!(c.real_samples, 1600);
        assert!(
            (0..PATCH_LEN - 1600).all(|i| c.batch[i] == c.batch[i + 1600]),
            "the 1600-sample clip repeats"
        );
        let mean = c.batch.iter().sum::<f32>() / PATCH_LEN as f32;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        let native = tone(PATCH_LEN * 2, MODEL_RATE);
        let c = cut(
            &MonoAudio::from_samples(native.clone(), 16_000),
            1,
            ShortClip::ZeroPad,
        )
        .unwrap();
        assert_eq!(c.batch, native[PATCH_LEN / 2..PATCH_LEN / 2 + PATCH_LEN]);
        assert!(cut(&MonoAudio::from_samples(vec![], 22_050), 8, ShortClip::Loop).is_none());
    }

    #[test]
    fn patches_stay_inside_their_segments() {
        let segs = [PATCH_LEN * 10, 1000, PATCH_LEN + 5, PATCH_LEN * 3];
        for n in 1..=24 {
            let p = plan(&segs, n);
            assert_eq!(p.len(), n.min(15));
            for s in &p {
                assert_ne!(s.segment, 1, "a too-short segment is never used");
                assert!(s.start + s.len <= segs[s.segment]);
                assert_eq!(s.len, PATCH_LEN);
            }
            // In file order, strictly increasing.
            assert!(
                p.windows(2)
                    .all(|w| (w[0].segment, w[0].start) < (w[1].segment, w[1].start))
            );
        }
    }

    #[test]
    fn one_patch_is_centred() {
        let p = plan(&[PATCH_LEN * 3], 1);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].start, PATCH_LEN);
    }

    #[test]
    fn count_follows_length() {
        assert_eq!(plan(&[PATCH_LEN], 8).len(), 1);
        assert_eq!(plan(&[PATCH_LEN + 1], 8).len(), 2);
        assert_eq!(plan(&[PATCH_LEN * 100], 8).len(), 8);
        assert!(plan(&[], 8).is_empty());
        assert!(plan(&[0, 0], 8).is_empty());
    }

    #[test]
    fn short_audio_uses_the_longest_segment() {
        let p = plan(&[100, 3000, 2000], 8);
        assert_eq!(
            p,
            vec![PatchSpec {
                segment: 1,
                start: 0,
                len: 3000
            }]
        );
    }

    #[test]
    fn fills() {
        let mut z = Vec::new();
        fill_patch(&[0.5; 10], ShortClip::ZeroPad, &mut z);
        assert_eq!(z.len(), PATCH_LEN);
        assert_eq!(z.iter().filter(|x| **x != 0.0).count(), 10);
        let mut l = Vec::new();
        fill_patch(&[0.5; 10], ShortClip::Loop, &mut l);
        assert!(l.iter().all(|x| *x == 0.5));
        let mut long = Vec::new();
        fill_patch(&vec![0.1; PATCH_LEN + 7], ShortClip::Loop, &mut long);
        assert_eq!(long.len(), PATCH_LEN);
    }
}
