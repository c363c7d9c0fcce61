//! Decoding: any symphonia-supported file to mono audio at [`ANALYSIS_RATE`].
//!
//! # Bounded memory
//! Original-rate audio is never accumulated: every decoded packet is downmixed and streamed
//! through a [`Resampler`](crate::resample::Resampler). What is kept is at most
//! [`DecodeOptions::max_analysed_secs`] of mono audio at 22 050 Hz (default 240 s = 21 MB):
//!
//! * files no longer than that budget are analysed completely (one [`Segment`]);
//! * longer files with a known duration are analysed as `max_analysed_secs / excerpt_secs`
//!   (default 8) evenly spaced excerpts of `excerpt_secs` (30 s); packets outside the excerpts are
//!   demuxed but not decoded, so a 2-hour mix costs about as much as a 4-minute song;
//! * when the container does not state a duration, everything is decoded and a reservoir keeps
//!   at most `max_excerpts` chunks on an evenly spaced grid whose stride doubles when full;
//! * a header is never trusted for memory: a file declared short is decoded completely only up
//!   to the budget (rounded up to whole excerpts); if the stream goes on (a header that
//!   understates the length, e.g. concatenated MP3s whose first frame carries a frame count),
//!   what was kept is cut into excerpt-sized chunks and the reservoir takes over.
//!
//! [`Decoded::peak_buffered_samples`] reports the most analysis-rate samples held at once; it
//! never exceeds [`DecodeOptions::max_buffered_samples`], whatever the header says.
//!
//! The reported [`AudioInfo::duration_secs`] describes the whole file: the declared length,
//! unless the stream ends more than a second before it ([`AudioInfo::truncated`]: then the
//! length that was actually there) or goes on more than a second past it (then the real one).

use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::codecs::audio::well_known as wk;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

use crate::error::AudioError;
use crate::resample::Resampler;
use crate::tags::{Tags, TagsBuilder};

/// Sample rate (Hz) of all analysed audio.
pub const ANALYSIS_RATE: u32 = 22_050;

/// Facts about the file (from the container/codec, describing the whole file).
///
/// ```
/// let i = songrec_audio::AudioInfo { duration_secs: 1.0, sample_rate: 44_100, channels: 2,
///     codec: "flac".into(), decode_errors: 0, truncated: false };
/// assert_eq!(i.channels, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioInfo {
    /// Duration of the whole file in seconds.
    pub duration_secs: f64,
    /// Original sample rate in Hz.
    pub sample_rate: u32,
    /// Original channel count.
    pub channels: u16,
    /// Codec short name, e.g. "mp3", "flac", "aac", "alac", "vorbis", "pcm_s16le".
    pub codec: String,
    /// Packets that failed to decode and were skipped (0 for a healthy file).
    pub decode_errors: u32,
    /// The stream ended more than a second before the length its header declares (a cut-off
    /// download or copy); `duration_secs` is then the part that was there and decoded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

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

    /// Samples over all segments.
    pub fn total_samples(&self) -> usize {
        self.segments.iter().map(|s| s.samples.len()).sum()
    }

    /// Seconds of audio held.
    pub fn analysed_secs(&self) -> f64 {
        self.total_samples() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Limits for decoding.
///
/// ```
/// let o = songrec_audio::DecodeOptions::default();
/// assert_eq!(o.max_excerpts(), 8);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecodeOptions {
    /// Files up to this long are analysed fully; longer ones as excerpts totalling this much.
    pub max_analysed_secs: f64,
    /// Length of one excerpt of a long file.
    pub excerpt_secs: f64,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_analysed_secs: 240.0,
            excerpt_secs: 30.0,
        }
    }
}

impl DecodeOptions {
    /// Number of excerpts taken from a long file.
    pub fn max_excerpts(&self) -> usize {
        ((self.max_analysed_secs / self.excerpt_secs.max(0.1)).floor() as usize).max(1)
    }

    /// The budget in whole excerpts, rounded up (a file declared short is decoded completely
    /// up to this many excerpts' worth of frames).
    fn budget_excerpts(&self) -> usize {
        ((self.max_analysed_secs / self.excerpt_secs.max(0.1)).ceil() as usize)
            .max(self.max_excerpts())
    }

    /// Upper bound of the mono samples at [`ANALYSIS_RATE`] the decoder holds at any time,
    /// whatever the file's header claims: the budget rounded up to whole excerpts, plus the
    /// resampler's tail of at most 0.1 s per excerpt.
    ///
    /// ```
    /// let o = songrec_audio::DecodeOptions::default();
    /// assert_eq!(o.max_buffered_samples(), 8 * (30 * 22_050 + 2_205));
    /// ```
    pub fn max_buffered_samples(&self) -> usize {
        let per_excerpt = (self.excerpt_secs.max(0.1) * f64::from(ANALYSIS_RATE)).ceil() as usize;
        self.budget_excerpts()
            .saturating_mul(per_excerpt.saturating_add(ANALYSIS_RATE as usize / 10))
    }
}

/// Result of decoding one file.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Container / codec facts.
    pub info: AudioInfo,
    /// Tags from the file's metadata (no file-name fallback applied here).
    pub tags: Tags,
    /// Mono audio at [`ANALYSIS_RATE`].
    pub audio: MonoAudio,
    /// The most mono samples at [`ANALYSIS_RATE`] held at once while decoding (at most
    /// [`DecodeOptions::max_buffered_samples`]).
    pub peak_buffered_samples: usize,
}

/// Human name of a symphonia codec id (also for codecs symphonia cannot decode).
fn codec_name(id: symphonia::core::codecs::audio::AudioCodecId) -> String {
    let n = match id {
        wk::CODEC_ID_OPUS => "opus",
        wk::CODEC_ID_VORBIS => "vorbis",
        wk::CODEC_ID_MP1 => "mp1",
        wk::CODEC_ID_MP2 => "mp2",
        wk::CODEC_ID_MP3 => "mp3",
        wk::CODEC_ID_AAC => "aac",
        wk::CODEC_ID_AC3 => "ac3",
        wk::CODEC_ID_EAC3 => "eac3",
        wk::CODEC_ID_DCA => "dts",
        wk::CODEC_ID_WMA => "wma",
        wk::CODEC_ID_SPEEX => "speex",
        wk::CODEC_ID_MUSEPACK => "musepack",
        wk::CODEC_ID_FLAC => "flac",
        wk::CODEC_ID_WAVPACK => "wavpack",
        wk::CODEC_ID_MONKEYS_AUDIO => "ape",
        wk::CODEC_ID_ALAC => "alac",
        wk::CODEC_ID_TTA => "tta",
        wk::CODEC_ID_TRUEHD => "truehd",
        _ => return format!("codec {id}"),
    };
    n.to_string()
}

/// Where decoded mono samples (at the original rate) go: planned windows or a reservoir.
enum Plan {
    /// Absolute frame windows `[start, end)`, in order.
    Windows(Vec<(u64, u64)>),
    /// Declared short: everything up to frame `limit` in one segment; past it, the collected
    /// audio is cut into chunks of `chunk` frames and the reservoir takes over.
    Full { limit: u64, chunk: u64, max: usize },
    /// Unknown duration: chunks of `chunk` frames on a grid with a doubling stride.
    Reservoir { chunk: u64, max: usize, stride: u64 },
}

struct Collector {
    plan: Plan,
    in_rate: u32,
    resampler: Resampler,
    /// (window/chunk index, segment under construction or finished)
    segs: Vec<(u64, Segment)>,
    current: Option<u64>,
    scratch: Vec<f32>,
    /// Most samples held at once (over all segments).
    peak: usize,
}

impl Collector {
    fn new(plan: Plan, in_rate: u32) -> Self {
        Collector {
            plan,
            in_rate,
            resampler: Resampler::new(in_rate, ANALYSIS_RATE),
            segs: Vec::new(),
            current: None,
            scratch: Vec::new(),
            peak: 0,
        }
    }

    /// Records the samples held now in [`Collector::peak`].
    fn note_held(&mut self) {
        let held: usize = self.segs.iter().map(|(_, s)| s.samples.len()).sum();
        self.peak = self.peak.max(held);
    }

    /// Does any window need frames in `[a, b)`? (Reservoir: always.)
    fn wants(&self, a: u64, b: u64) -> bool {
        match &self.plan {
            Plan::Windows(w) => w.iter().any(|&(s, e)| a < e && b > s),
            Plan::Full { .. } | Plan::Reservoir { .. } => true,
        }
    }

    fn finish_current(&mut self) {
        if self.current.take().is_some() {
            self.scratch.clear();
            self.resampler.flush(&mut self.scratch);
            if let Some((_, seg)) = self.segs.last_mut() {
                seg.samples.extend_from_slice(&self.scratch);
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
        self.scratch.clear();
        self.resampler.process(samples, &mut self.scratch);
        if let Some((_, seg)) = self.segs.last_mut() {
            seg.samples.extend_from_slice(&self.scratch);
        }
        self.note_held();
    }

    /// The stream went on past what a short file may hold: cut the one segment collected so
    /// far into chunks of `chunk` frames (as the reservoir would have kept them), thin them to
    /// at most `max`, and let the reservoir take the rest.
    fn switch_to_reservoir(&mut self, chunk: u64, max: usize) {
        self.finish_current();
        let rate = f64::from(self.in_rate.max(1));
        let per = ((chunk as f64 * f64::from(ANALYSIS_RATE) / rate).round() as usize).max(1);
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
    fn push(&mut self, frame0: u64, mono: &[f32]) {
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
    fn finish(mut self) -> (Vec<Segment>, usize) {
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

fn open_format(path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let meta = std::fs::metadata(path).map_err(|error| AudioError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    if meta.is_dir() {
        return Err(AudioError::Io {
            path: path.to_path_buf(),
            error: std::io::Error::other("is a directory"),
        });
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(|error| AudioError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    let mss = MediaSourceStream::new(Box::new(file), Default::default());
    // No extension hint on purpose: the format is probed from the content only.
    let hint = Hint::new();
    symphonia::default::get_probe()
        .probe(
            &hint,
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|e| match e {
            SymError::IoError(ref io) if io.kind() != std::io::ErrorKind::UnexpectedEof => {
                AudioError::Io {
                    path: path.to_path_buf(),
                    error: std::io::Error::new(io.kind(), e.to_string()),
                }
            }
            other => AudioError::UnknownFormat {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })
}

/// Decode `path` to mono [`ANALYSIS_RATE`] audio with the default [`DecodeOptions`].
///
/// ```no_run
/// let d = songrec_audio::decode_file(std::path::Path::new("song.flac"))?;
/// println!("{} s, {} Hz, {}", d.info.duration_secs, d.info.sample_rate, d.info.codec);
/// # Ok::<(), songrec_audio::AudioError>(())
/// ```
pub fn decode_file(path: &Path) -> Result<Decoded, AudioError> {
    decode_file_with(path, &DecodeOptions::default())
}

/// Decode `path` with explicit limits (see the module docs for the memory policy).
pub fn decode_file_with(path: &Path, opts: &DecodeOptions) -> Result<Decoded, AudioError> {
    let mut format = open_format(path)?;
    let unknown = |detail: &str| AudioError::UnknownFormat {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| unknown("no audio track"))?
        .clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unknown("audio track without codec parameters"))?
        .clone();
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(_) => AudioError::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: codec_name(params.codec),
            },
            other => AudioError::Corrupt {
                path: path.to_path_buf(),
                detail: other.to_string(),
            },
        })?;
    let codec = decoder.codec_info().short_name.to_string();
    let mut tags = TagsBuilder::default();
    tags.collect(&mut *format, track.id);
    // symphonia 0.6.1's WAV reader parses LIST/INFO chunks but drops them; read them here.
    if codec.starts_with("pcm")
        && let Some(info) = crate::tags::riff_info(path)
    {
        tags.add_raw(&info);
    }

    let mut sample_rate = params.sample_rate.unwrap_or(0);
    let mut channels = params
        .channels
        .as_ref()
        .map(|c| c.count() as u16)
        .unwrap_or(0);
    // Declared length in frames, if the container states it.
    let declared_frames: Option<u64> = track.num_frames.or_else(|| {
        let tb = track.time_base?;
        let d = track.duration?;
        let secs = tb.calc_duration(d)?.as_secs_f64();
        (sample_rate > 0).then(|| (secs * f64::from(sample_rate)).round() as u64)
    });

    // The plan needs the rate; if the codec params lack it, the first decoded buffer decides.
    let mut collector: Option<Collector> = None;
    let make_collector = |rate: u32| {
        let chunk = (opts.excerpt_secs * f64::from(rate)).max(1.0) as u64;
        let max = opts.max_excerpts();
        let plan = match declared_frames {
            Some(total) if total > 0 => {
                let w = plan_windows(total, rate, opts);
                if w == [(0, u64::MAX)] {
                    Plan::Full {
                        limit: chunk.saturating_mul(opts.budget_excerpts() as u64),
                        chunk,
                        max,
                    }
                } else {
                    Plan::Windows(w)
                }
            }
            _ => Plan::Reservoir {
                chunk,
                max,
                stride: 1,
            },
        };
        Collector::new(plan, rate)
    };
    if sample_rate > 0 {
        collector = Some(make_collector(sample_rate));
    }

    let mut decode_errors = 0u32;
    let mut demux_errors = 0u32;
    let mut decoded_frames = 0u64; // frames decoded, when decoding sequentially
    let mut next_frame: Option<u64> = None; // frame position expected for the next packet
    let mut skipped_since_decode = false;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut last_error = String::new();
    let tb = track.time_base;
    let mut saw_packet = false;
    // End (in frames) of the last packet seen, decoded or not: how long the stream really is.
    let mut stream_end = 0u64;
    // The demuxer hit the end of the file inside a packet.
    let mut ended_mid_packet = false;

    loop {
        let packet = match format.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(SymError::ResetRequired) => break,
            Err(SymError::IoError(e)) => {
                // A truncated file ends like this: keep what was decoded (players do the same).
                ended_mid_packet = e.kind() == std::io::ErrorKind::UnexpectedEof;
                last_error = e.to_string();
                break;
            }
            Err(e) => {
                demux_errors += 1;
                last_error = e.to_string();
                if demux_errors > 64 {
                    break;
                }
                continue;
            }
        };
        if packet.track_id != track.id {
            continue;
        }
        saw_packet = true;
        // Absolute frame position of this packet.
        let pts_frames = {
            let ts = packet.pts.get().max(0) as u64;
            match (tb, sample_rate) {
                (Some(tb), sr) if sr > 0 => tb
                    .calc_time(packet.pts)
                    .map(|t| (t.as_secs_f64().max(0.0) * f64::from(sr)).round() as u64)
                    .unwrap_or(ts),
                _ => ts,
            }
        };
        let frame0 = next_frame.unwrap_or(pts_frames);
        let dur = packet.dur.get();
        stream_end = stream_end.max(pts_frames.saturating_add(dur));
        if let Some(c) = &collector {
            // Skip decoding packets no window needs (with ~0.2 s of pre-roll for the decoder).
            let pre = u64::from(sample_rate) / 5;
            if dur > 0
                && !c.wants(
                    pts_frames,
                    pts_frames.saturating_add(dur).saturating_add(pre),
                )
            {
                skipped_since_decode = true;
                next_frame = None;
                continue;
            }
        }
        if skipped_since_decode {
            decoder.reset();
            skipped_since_decode = false;
        }
        let buf = match decoder.decode(&packet) {
            Ok(b) => b,
            Err(SymError::DecodeError(e)) => {
                decode_errors += 1;
                last_error = e.to_string();
                next_frame = None;
                continue;
            }
            Err(SymError::IoError(e)) => {
                decode_errors += 1;
                last_error = e.to_string();
                next_frame = None;
                continue;
            }
            Err(e) => {
                decode_errors += 1;
                last_error = e.to_string();
                break;
            }
        };
        let frames = buf.frames();
        if frames == 0 {
            continue;
        }
        let spec_rate = buf.spec().rate();
        let ch = buf.spec().channels().count().max(1);
        if sample_rate == 0 {
            sample_rate = spec_rate;
        }
        if channels == 0 {
            channels = ch as u16;
        }
        buf.copy_to_vec_interleaved::<f32>(&mut interleaved);
        mono.clear();
        mono.extend(interleaved.chunks_exact(ch).map(|f| {
            let s: f32 = f.iter().sum::<f32>() / ch as f32;
            if s.is_finite() { s } else { 0.0 }
        }));
        let c = collector.get_or_insert_with(|| make_collector(spec_rate));
        c.push(frame0, &mono);
        decoded_frames = decoded_frames.saturating_add(frames as u64);
        next_frame = Some(frame0.saturating_add(frames as u64));
        stream_end = stream_end.max(frame0.saturating_add(frames as u64));
    }

    let (segments, peak_buffered_samples) = collector.map(Collector::finish).unwrap_or_default();
    let path_buf = path.to_path_buf();
    if segments.iter().all(|s| s.samples.is_empty()) {
        if decode_errors > 0 || demux_errors > 0 || !last_error.is_empty() {
            return Err(AudioError::Corrupt {
                path: path_buf,
                detail: format!(
                    "no audio decoded; {} bad packets; last error: {}",
                    decode_errors + demux_errors,
                    if last_error.is_empty() {
                        "none"
                    } else {
                        &last_error
                    }
                ),
            });
        }
        if let Some(f) = declared_frames.filter(|&f| f > 0) {
            return Err(AudioError::Corrupt {
                path: path_buf,
                detail: format!(
                    "header declares {:.1} s of audio but the stream ended before any was decoded (truncated?)",
                    f as f64 / f64::from(sample_rate.max(1))
                ),
            });
        }
        if saw_packet {
            return Err(AudioError::Corrupt {
                path: path_buf,
                detail: "packets present but no samples decoded".into(),
            });
        }
        return Err(AudioError::ZeroLength { path: path_buf });
    }
    let rate_f = f64::from(sample_rate.max(1));
    // A second of slack: encoder delay and padding make the decoded length differ slightly
    // from the declared one in healthy files.
    let slack = u64::from(sample_rate.max(1));
    let (duration_secs, truncated) = match declared_frames {
        Some(f) if f > 0 && (stream_end.saturating_add(slack) < f || ended_mid_packet) => {
            (stream_end as f64 / rate_f, true)
        }
        Some(f) if f > 0 && stream_end > f.saturating_add(slack) => {
            (stream_end as f64 / rate_f, false)
        }
        Some(f) if f > 0 => (f as f64 / rate_f, false),
        _ => (decoded_frames as f64 / rate_f, ended_mid_packet),
    };
    Ok(Decoded {
        info: AudioInfo {
            duration_secs,
            sample_rate,
            channels,
            codec,
            decode_errors: decode_errors + demux_errors,
            truncated,
        },
        tags: crate::tags::read_lofty(path)
            .unwrap_or_default()
            .or(tags.build()),
        audio: MonoAudio {
            sample_rate: ANALYSIS_RATE,
            segments,
        },
        peak_buffered_samples,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_evenly_spaced_and_bounded() {
        let opts = DecodeOptions::default();
        let rate = 48_000;
        let total = 2 * 3600 * rate as u64;
        let w = plan_windows(total, rate, &opts);
        assert_eq!(w.len(), 8);
        let len = 30 * rate as u64;
        for (i, &(s, e)) in w.iter().enumerate() {
            assert_eq!(e - s, len);
            assert!(e <= total);
            let center = (s + e) / 2;
            let expect = (2 * i as u64 + 1) * total / 16;
            assert!(center.abs_diff(expect) <= 1);
        }
    }

    #[test]
    fn reservoir_keeps_bounded_evenly_spaced_chunks() {
        let rate = 1000;
        let mut c = Collector::new(
            Plan::Reservoir {
                chunk: 1000,
                max: 4,
                stride: 1,
            },
            rate,
        );
        // 20 chunks of 1 s fed in odd-sized pieces.
        let data = vec![0.1f32; 20_000];
        let mut pos = 0;
        for piece in data.chunks(777) {
            c.push(pos, piece);
            pos += piece.len() as u64;
        }
        let (segs, _) = c.finish();
        assert!(segs.len() <= 4 && segs.len() >= 2, "{} chunks", segs.len());
        let starts: Vec<f64> = segs.iter().map(|s| s.start_secs).collect();
        // Stride became 8 chunks: kept chunk starts 0, 8, 16.
        assert_eq!(starts, vec![0.0, 8.0, 16.0]);
        for s in &segs {
            // 1 s at 1 kHz resampled to 22.05 kHz.
            assert_eq!(s.samples.len(), 22_050);
        }
    }

    #[test]
    fn huge_declared_lengths_do_not_overflow() {
        let opts = DecodeOptions::default();
        for total in [u64::MAX, u64::MAX / 3, 1 << 62] {
            let w = plan_windows(total, 48_000, &opts);
            assert_eq!(w.len(), 8);
            for (i, &(s, e)) in w.iter().enumerate() {
                assert!(s < e && e <= total, "{total}: window {i} = {s}..{e}");
                let expect = (u128::from(2 * i as u64 + 1) * u128::from(total) / 16) as u64;
                assert!((s + (e - s) / 2).abs_diff(expect) <= 1);
            }
        }
        // Frames near the end of the u64 range are routed without overflow.
        let mut c = Collector::new(
            Plan::Reservoir {
                chunk: 1000,
                max: 4,
                stride: 1,
            },
            22_050,
        );
        c.push(u64::MAX - 10, &[0.5; 100]);
        let mut w = Collector::new(Plan::Windows(vec![(u64::MAX - 50, u64::MAX)]), 22_050);
        w.push(u64::MAX - 10, &[0.5; 100]);
        assert_eq!(w.finish().0.len(), 1);
    }

    /// A file declared short whose stream goes on: what is held stays within the budget.
    #[test]
    fn a_header_that_understates_the_length_cannot_grow_the_buffer() {
        let rate = 22_050;
        let opts = DecodeOptions {
            max_analysed_secs: 20.0,
            excerpt_secs: 5.0,
        };
        let chunk = 5 * rate as u64;
        let mut c = Collector::new(
            Plan::Full {
                limit: chunk * opts.budget_excerpts() as u64,
                chunk,
                max: opts.max_excerpts(),
            },
            rate,
        );
        // 10 minutes of audio in 1152-frame packets (the header said 10 s).
        let packet = vec![0.25f32; 1152];
        let mut frame = 0u64;
        while frame < 600 * rate as u64 {
            c.push(frame, &packet);
            frame += packet.len() as u64;
        }
        let (segs, peak) = c.finish();
        assert!(
            peak <= opts.max_buffered_samples(),
            "peak {peak} > bound {}",
            opts.max_buffered_samples()
        );
        let held: usize = segs.iter().map(|s| s.samples.len()).sum();
        assert!(held <= opts.max_buffered_samples());
        // Excerpts spread over the whole stream, not only its first 20 s.
        assert!(
            segs.len() >= 2 && segs.len() <= 4,
            "{} excerpts",
            segs.len()
        );
        let last = segs.last().unwrap().start_secs;
        assert!(last > 300.0, "last excerpt at {last} s");
        assert_eq!(segs[0].start_secs, 0.0);
        for w in segs.windows(2) {
            assert!(w[0].start_secs < w[1].start_secs);
        }
    }

    /// A file declared short that is short: decoded completely, in one segment, as before.
    #[test]
    fn a_short_file_within_the_budget_stays_one_segment() {
        let rate = 22_050;
        let opts = DecodeOptions::default();
        let chunk = 30 * rate as u64;
        let mut c = Collector::new(
            Plan::Full {
                limit: chunk * opts.budget_excerpts() as u64,
                chunk,
                max: opts.max_excerpts(),
            },
            rate,
        );
        let data: Vec<f32> = (0..240 * rate).map(|i| (i % 97) as f32).collect();
        for (k, piece) in data.chunks(1152).enumerate() {
            c.push((k * 1152) as u64, piece);
        }
        let (segs, peak) = c.finish();
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].samples, data, "same rate: samples pass through");
        assert_eq!(peak, data.len());
    }

    #[test]
    fn windows_collector_cuts_exactly() {
        let rate = 22_050;
        let mut c = Collector::new(Plan::Windows(vec![(100, 1100), (5000, 5500)]), rate);
        let data: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        for (k, piece) in data.chunks(333).enumerate() {
            c.push((k * 333) as u64, piece);
        }
        let (segs, _) = c.finish();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].samples.len(), 1000);
        assert_eq!(segs[0].samples[0], 100.0);
        assert_eq!(segs[1].samples.len(), 500);
        assert_eq!(segs[1].samples[499], 5499.0);
    }
}
