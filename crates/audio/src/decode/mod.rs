//! Decoding: any symphonia-supported file, and Opus ([`opus`]: Ogg, Matroska/WebM), to mono
//! audio at [`ANALYSIS_RATE`].
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
//! The defaults (240 s, 8 × 30 s) are musicnn's rule; the DSP embedder asks for less
//! ([`DSP_DECODE`](crate::embed::DSP_DECODE): 90 s, 6 × 15 s) through
//! [`Embedder::decode_options`](crate::Embedder::decode_options).
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
use crate::tags::{Tags, TagsBuilder};

/// Facts about the file (from the container/codec, describing the whole file).
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

/// Result of decoding one file.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Container / codec facts.
    pub info: AudioInfo,
    /// Tags from the file's metadata (no file-name fallback applied here).
    pub tags: Tags,
    /// Mono audio at [`DecodeOptions::sample_rate`].
    pub audio: MonoAudio,
    /// The most mono samples at that rate held at once while decoding (at most
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

mod collector;
mod mono;
mod options;
mod opus;
mod refused;
#[cfg(test)]
mod tests;

/// symphonia's decoders plus Opus ([`opus`]): every file is decoded through this registry.
fn codecs() -> &'static symphonia::core::codecs::registry::CodecRegistry {
    static REGISTRY: std::sync::LazyLock<symphonia::core::codecs::registry::CodecRegistry> =
        std::sync::LazyLock::new(|| {
            let mut r = symphonia::core::codecs::registry::CodecRegistry::new();
            symphonia::default::register_enabled_codecs(&mut r);
            r.register_audio_decoder::<opus::OpusDecoder>();
            r
        });
    &REGISTRY
}

/// Average the channels of `buf` into `mono` (non-finite samples become 0). `f32` buffers (what
/// the Vorbis, MP3, AAC and Opus decoders give) are read in place; other formats are converted
/// into `planes` first.
fn downmix(
    buf: &symphonia::core::audio::GenericAudioBufferRef<'_>,
    planes: &mut Vec<Vec<f32>>,
    mono: &mut Vec<f32>,
) {
    use symphonia::core::audio::{Audio, GenericAudioBufferRef};
    fn mix<'a>(planes: impl Iterator<Item = &'a [f32]>, frames: usize, mono: &mut Vec<f32>) {
        let planes: Vec<&[f32]> = planes.collect();
        if let [a, b] = planes[..]
            && a.len() >= frames
            && b.len() >= frames
        {
            // Stereo in one pass, with the operations of the general loop below in its order:
            // (0 + left + right) / 2, non-finite to 0.
            mono.clear();
            mono.extend(a[..frames].iter().zip(&b[..frames]).map(|(l, r)| {
                let s = (0.0 + l + r) / 2.0;
                if s.is_finite() { s } else { 0.0 }
            }));
            return;
        }
        mono.clear();
        mono.resize(frames, 0.0);
        for p in &planes {
            for (m, s) in mono.iter_mut().zip(p.iter()) {
                *m += s;
            }
        }
        let n = planes.len().max(1) as f32;
        for m in mono.iter_mut() {
            let s = *m / n;
            *m = if s.is_finite() { s } else { 0.0 };
        }
    }
    let frames = buf.frames();
    if let GenericAudioBufferRef::F32(b) = buf {
        mix(b.iter_planes(), frames, mono);
    } else {
        buf.copy_to_vecs_planar::<f32>(planes);
        mix(planes.iter().map(|p| p.as_slice()), frames, mono);
    }
}

pub use collector::plan_windows;
use collector::{Collector, Plan};
pub use mono::{MonoAudio, Segment};
pub use options::{ANALYSIS_RATE, DecodeOptions};

pub(crate) fn open_format(path: &Path) -> Result<Box<dyn FormatReader>, AudioError> {
    let io = |error| AudioError::Io {
        path: path.to_path_buf(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other("is a directory")));
    }
    if meta.len() == 0 {
        return Err(AudioError::Empty {
            path: path.to_path_buf(),
        });
    }
    let file = File::open(path).map_err(io)?;
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
            SymError::IoError(ref err) if err.kind() != std::io::ErrorKind::UnexpectedEof => {
                io(std::io::Error::new(err.kind(), e.to_string()))
            }
            other => {
                // A format or codec songrec knows it cannot decode: say so, and what to do;
                // else the first bytes name a format the reader then failed on: damaged.
                let refused = refused::refused_format(path);
                match (refused, format_by_magic(path)) {
                    (Some(codec), _) => {
                        tracing::info!("{}: the decoder says: {other}", path.display());
                        AudioError::UnsupportedCodec {
                            path: path.to_path_buf(),
                            codec,
                        }
                    }
                    (None, Some(format)) => damaged(path, format, probe_failure(&other), &other),
                    (None, None) => {
                        tracing::info!("{}: the decoder says: {other}", path.display());
                        AudioError::UnknownFormat {
                            path: path.to_path_buf(),
                            detail: "its content is in no format songrec reads".into(),
                        }
                    }
                }
            }
        })
}

/// A file's embedded tags as ingest reads them: lofty's reading first, what it leaves empty
/// from symphonia's metadata (and, for PCM in RIFF, the `LIST`/`INFO` chunk symphonia 0.6.1
/// drops). Reads the metadata revisions `format` has queued: call it before reading packets.
pub(crate) fn file_tags(
    path: &Path,
    format: &mut dyn FormatReader,
    track_id: u32,
    pcm: bool,
) -> Tags {
    let mut tags = TagsBuilder::default();
    tags.collect(format, track_id);
    if pcm && let Some(info) = crate::tags::riff_info(path) {
        tags.add_raw(&info);
    }
    crate::tags::read_lofty(path)
        .unwrap_or_default()
        .or(tags.build())
}

/// The format a file's first bytes announce, by their magic numbers only (strong signatures:
/// Ogg, FLAC, WAV, AIFF, MP4/M4A, Matroska/WebM, CAF, an MP3's ID3 tag), or `None`.
fn format_by_magic(path: &Path) -> Option<&'static str> {
    use std::io::Read as _;
    let mut head = [0u8; 12];
    let n = File::open(path)
        .and_then(|f| f.take(12).read(&mut head))
        .ok()?;
    let head = &head[..n];
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    let short = n < 12;
    [
        (at(0, b"OggS"), "Ogg"),
        (at(0, b"fLaC"), "FLAC"),
        (at(0, b"RIFF") && (short || at(8, b"WAVE")), "WAV"),
        (
            at(0, b"FORM") && (short || at(8, b"AIFF") || at(8, b"AIFC")),
            "AIFF",
        ),
        (at(4, b"ftyp"), "MP4/M4A"),
        (at(0, &[0x1A, 0x45, 0xDF, 0xA3]), "Matroska/WebM"),
        (at(0, b"caff"), "CAF"),
        (at(0, b"ID3"), "MP3"),
    ]
    .into_iter()
    .find_map(|(hit, format)| hit.then_some(format))
}

/// What a reader's failure to open a file of a known format means, in songrec's words.
fn probe_failure(e: &SymError) -> &'static str {
    match e {
        SymError::IoError(_) => "it ends early, as if cut off (truncated)",
        SymError::DecodeError(_) => "its data is corrupt",
        SymError::LimitError(_) => "its headers claim sizes no real file has",
        _ => "its headers cannot be read",
    }
}

/// [`AudioError::Corrupt`] for `path` in the user's words; the decoder's own text (`why`)
/// goes to the log (`-v`).
fn damaged(path: &Path, format: &str, detail: &str, why: &dyn std::fmt::Display) -> AudioError {
    tracing::info!("{}: the decoder says: {why}", path.display());
    AudioError::Corrupt {
        path: path.to_path_buf(),
        format: format.to_owned(),
        detail: detail.to_owned(),
    }
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
        .ok_or_else(|| unknown("it holds no audio track"))?
        .clone();
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| unknown("its audio track does not say how it is encoded"))?
        .clone();
    // The file's format for a message about damage: its magic, else its codec.
    let format_name =
        || format_by_magic(path).map_or_else(|| codec_name(params.codec), str::to_owned);
    let mut decoder = codecs()
        .make_audio_decoder(&params, &AudioDecoderOptions::default())
        .map_err(|e| match e {
            SymError::Unsupported(what) => AudioError::UnsupportedCodec {
                path: path.to_path_buf(),
                codec: if what == opus::UNSUPPORTED_MAPPING {
                    what.to_owned()
                } else {
                    codec_name(params.codec)
                },
            },
            other => damaged(
                path,
                &format_name(),
                "its audio settings cannot be read",
                &other,
            ),
        })?;
    let codec = decoder.codec_info().short_name.to_string();
    let tags = file_tags(path, &mut *format, track.id, codec.starts_with("pcm"));

    // Opus always decodes at 48 kHz; Matroska may state the encoder's input rate instead.
    let mut sample_rate = match params.codec {
        wk::CODEC_ID_OPUS => opus::OPUS_RATE,
        _ => params.sample_rate.unwrap_or(0),
    };
    let mut channels = params
        .channels
        .as_ref()
        .map(|c| c.count() as u16)
        .unwrap_or(0);
    // Declared length in frames, if the container states it. symphonia's Ogg reader counts an
    // Opus stream's pre-skip (its `delay`) in it; the decoder cuts it, so it is no length.
    let opus_delay = match params.codec {
        wk::CODEC_ID_OPUS => u64::from(track.delay.unwrap_or(0)),
        _ => 0,
    };
    let declared_frames: Option<u64> = track
        .num_frames
        .map(|n| n.saturating_sub(opus_delay))
        .or_else(|| {
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
                    Plan::full(chunk, opts)
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
        Collector::with_rate(plan, rate, opts.sample_rate.max(1))
    };
    if sample_rate > 0 {
        collector = Some(make_collector(sample_rate));
    }

    let mut decode_errors = 0u32;
    let mut demux_errors = 0u32;
    let mut decoded_frames = 0u64; // frames decoded, when decoding sequentially
    let mut next_frame: Option<u64> = None; // frame position expected for the next packet
    let mut skipped_since_decode = false;
    let mut planes: Vec<Vec<f32>> = Vec::new();
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
            Err(e) => {
                decode_errors += 1;
                last_error = match &e {
                    SymError::DecodeError(m) => m.to_string(),
                    SymError::IoError(io) => io.to_string(),
                    other => other.to_string(),
                };
                if !matches!(e, SymError::DecodeError(_) | SymError::IoError(_)) {
                    break;
                }
                next_frame = None;
                continue;
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
        downmix(&buf, &mut planes, &mut mono);
        let c = collector.get_or_insert_with(|| make_collector(spec_rate));
        c.push(frame0, &mono);
        decoded_frames = decoded_frames.saturating_add(frames as u64);
        next_frame = Some(frame0.saturating_add(frames as u64));
        stream_end = stream_end.max(frame0.saturating_add(frames as u64));
    }

    let (segments, peak_buffered_samples) = collector.map(Collector::finish).unwrap_or_default();
    if segments.iter().all(|s| s.samples.is_empty()) {
        let bad = decode_errors + demux_errors;
        let detail = if ended_mid_packet && bad == 0 {
            "it ends early, as if cut off, before any audio (truncated)".to_owned()
        } else if bad > 0 || !last_error.is_empty() {
            "none of its audio could be decoded: its audio blocks are damaged".to_owned()
        } else if let Some(f) = declared_frames.filter(|&f| f > 0) {
            format!(
                "its header promises {:.1} s of audio but it ends before any (truncated)",
                f as f64 / f64::from(sample_rate.max(1))
            )
        } else if saw_packet {
            "it holds audio blocks but none yields a sample".into()
        } else {
            return Err(AudioError::ZeroLength {
                path: path.to_path_buf(),
            });
        };
        let said = if last_error.is_empty() {
            "no error".to_owned()
        } else {
            last_error
        };
        return Err(damaged(path, &format_name(), &detail, &said));
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
        tags,
        audio: MonoAudio {
            sample_rate: opts.sample_rate.max(1),
            segments,
        },
        peak_buffered_samples,
    })
}
