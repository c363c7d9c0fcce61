//! Opus, decoded by [opus-pure](https://crates.io/crates/opus-pure) behind symphonia's
//! [`AudioDecoder`] trait, so that Ogg Opus (`.opus`) and Opus in Matroska/WebM go through the
//! same demuxing, downmix, resampling and excerpt plan as every other codec.
//!
//! # What it promises
//! * Output at 48 kHz (what Opus decodes to; the caller resamples), the header's output gain
//!   applied (RFC 7845 §5.1).
//! * Gapless: the header's pre-skip is cut from the start of the stream (symphonia 0.6 trims
//!   it in neither container: its Ogg reader counts it in the timestamps, its Matroska reader
//!   shifts them back by the codec delay), and the end-trim the container states
//!   (`Packet::trim_end`: symphonia's Ogg reader derives it from the last page's granule
//!   position) is cut. Matroska's `DiscardPadding` (its end-trim) is not read by symphonia
//!   0.6: an Opus WebM/MKV keeps up to one packet (at most 120 ms, usually under 20 ms) of
//!   encoder padding at its end.
//! * Channel mapping family 0 (mono, stereo) and family 1 (1 to 8 channels, Vorbis order,
//!   e.g. 5.1) with the standard stream layout; other families (ambisonics, 255 "discrete")
//!   are refused as unsupported, with what they are, before any packet is read.
//! * A corrupt packet is a [`DecodeError`](SymError::DecodeError) (the caller skips it and
//!   counts it), never a panic: opus-pure checks every length it reads (its own robustness
//!   sweep and fuzzing, and `opus_garbage_never_panics` in this crate's tests).

use opus_pure::{ChannelLayout, OpusDecoder as Mono, OpusMSDecoder};
use symphonia::core::audio::{
    AsGenericAudioBufferRef, AudioBuffer, AudioMut, AudioSpec, Channels, GenericAudioBufferRef,
};
use symphonia::core::codecs::CodecInfo;
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{
    AudioCodecParameters, AudioDecoder, AudioDecoderOptions, FinalizeResult,
};
use symphonia::core::codecs::registry::{RegisterableAudioDecoder, SupportedAudioCodec};
use symphonia::core::errors::{Error as SymError, Result};
use symphonia::core::packet::PacketRef;

/// Opus always decodes to this rate here: its native one, whatever the encoder was given.
pub(crate) const OPUS_RATE: u32 = 48_000;

/// Samples per channel of the longest Opus packet (120 ms at 48 kHz).
const MAX_PACKET_SAMPLES: usize = 5_760;

/// The unsupported-codec text of a channel mapping this decoder refuses (reported to the user
/// as "<this> is not supported").
pub(crate) const UNSUPPORTED_MAPPING: &str =
    "opus with a channel mapping other than mono, stereo or 3 to 8 surround channels";

/// The identification header (`OpusHead`, RFC 7845 §5.1): Ogg's first packet, Matroska's
/// `CodecPrivate`; symphonia hands it over as the codec parameters' extra data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Head {
    pub channels: u8,
    pub pre_skip: u16,
    pub gain_q8: i16,
    pub family: u8,
    pub streams: u8,
    pub coupled: u8,
    pub mapping: Vec<u8>,
}

impl Head {
    /// Parses an `OpusHead` packet; `Err` says what is wrong with it.
    pub(crate) fn parse(b: &[u8]) -> std::result::Result<Head, &'static str> {
        if b.len() < 19 || &b[..8] != b"OpusHead" {
            return Err("opus: no identification header");
        }
        // Version: the major number (high nibble) must be 0; minor versions stay compatible.
        if b[8] >> 4 != 0 {
            return Err("opus: unknown header version");
        }
        let channels = b[9];
        if channels == 0 {
            return Err("opus: header declares no channels");
        }
        let family = b[18];
        let (streams, coupled, mapping) = if family == 0 {
            (1, channels.saturating_sub(1), Vec::new())
        } else {
            let table = b
                .get(19..21 + usize::from(channels))
                .ok_or("opus: channel mapping table cut short")?;
            (table[0], table[1], table[2..].to_vec())
        };
        Ok(Head {
            channels,
            pre_skip: u16::from_le_bytes([b[10], b[11]]),
            gain_q8: i16::from_le_bytes([b[16], b[17]]),
            family,
            streams,
            coupled,
            mapping,
        })
    }

    /// The linear factor of the header's output gain (Q7.8 dB).
    fn gain(&self) -> f32 {
        10f32.powf(f32::from(self.gain_q8) / (20.0 * 256.0))
    }
}

/// Whether this decoder takes `head`'s channel layout.
pub(crate) fn decodable(head: &Head) -> bool {
    Inner::for_head(head).is_some()
}

enum Inner {
    Single(Box<Mono>),
    Multi(OpusMSDecoder),
}

impl Inner {
    /// A decoder for `head`'s layout, `None` for a layout this decoder does not handle.
    fn for_head(head: &Head) -> Option<Inner> {
        let ch = usize::from(head.channels);
        match head.family {
            0 if ch <= 2 => Mono::new(OPUS_RATE as i32, ch)
                .ok()
                .map(|d| Inner::Single(Box::new(d))),
            1 => {
                let std = ChannelLayout::surround(ch, 1).ok()?;
                // opus-pure decodes family 1 with its standard stream layout. A file whose
                // table orders the channels differently decodes to the same channels in
                // another order, which the mono downmix does not see; anything else (other
                // stream counts, silent or repeated channels) is refused.
                let mut sorted = head.mapping.clone();
                sorted.sort_unstable();
                let permutation = sorted.iter().copied().eq(0..head.channels);
                (usize::from(head.streams) == std.nb_streams
                    && usize::from(head.coupled) == std.nb_coupled_streams
                    && permutation)
                    .then(|| OpusMSDecoder::new(OPUS_RATE as i32, ch, 1).ok())
                    .flatten()
                    .map(Inner::Multi)
            }
            _ => None,
        }
    }

    fn decode(&mut self, packet: &[u8], out: &mut [f32]) -> opus_pure::Result<usize> {
        match self {
            Inner::Single(d) => d.decode(packet, MAX_PACKET_SAMPLES, out),
            Inner::Multi(d) => d.decode(packet, MAX_PACKET_SAMPLES, out),
        }
    }

    fn reset(&mut self) {
        // Resetting only clears state opus-pure allocated when the decoder was made; a failure
        // would leave the old state, which the next packets overwrite within a frame or two.
        let _ = match self {
            Inner::Single(d) => d.reset_state(),
            Inner::Multi(d) => d.reset_state(),
        };
    }
}

/// Opus as a symphonia [`AudioDecoder`] (see the module docs).
pub(crate) struct OpusDecoder {
    params: AudioCodecParameters,
    opts: AudioDecoderOptions,
    head: Head,
    inner: Inner,
    gain: f32,
    /// Interleaved output of one packet.
    pcm: Vec<f32>,
    buf: AudioBuffer<f32>,
    /// No packet decoded since the decoder was made (not since a reset: a reset is a seek
    /// within the stream, where no pre-skip applies).
    fresh: bool,
    /// Pre-skip still to cut (samples per channel).
    skip: usize,
}

impl OpusDecoder {
    pub(crate) fn try_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<OpusDecoder> {
        let extra = params
            .extra_data
            .as_deref()
            .ok_or(SymError::DecodeError("opus: no identification header"))?;
        let head = Head::parse(extra).map_err(SymError::DecodeError)?;
        let inner = Inner::for_head(&head).ok_or(SymError::Unsupported(UNSUPPORTED_MAPPING))?;
        let ch = usize::from(head.channels);
        let spec = AudioSpec::new(OPUS_RATE, Channels::Discrete(u16::from(head.channels)));
        Ok(OpusDecoder {
            params: params.clone(),
            opts: *opts,
            gain: head.gain(),
            inner,
            pcm: vec![0.0; MAX_PACKET_SAMPLES * ch],
            buf: AudioBuffer::new(spec, MAX_PACKET_SAMPLES),
            fresh: true,
            skip: 0,
            head,
        })
    }

    fn decode_inner(&mut self, packet: &PacketRef<'_>) -> Result<()> {
        self.buf.clear();
        if self.fresh {
            self.fresh = false;
            // The stream's start, where no container trimmed the pre-skip: symphonia's Ogg
            // reader counts it in its timestamps (the first packet at 0), Matroska shifts them
            // back by it (the first packet below 0).
            if packet.pts.get() <= 0 && packet.trim_start.get() == 0 {
                self.skip = usize::from(self.head.pre_skip);
            }
        }
        // An empty packet is a lost frame of unknown length in Ogg Opus (RFC 7845 §3): nothing
        // to decode, and the next packet's timestamp places it.
        if packet.data.is_empty() {
            return Ok(());
        }
        let ch = usize::from(self.head.channels);
        let n = self
            .inner
            .decode(packet.data, &mut self.pcm)
            .map_err(|e| SymError::DecodeError(opus_error(&e)))?;
        if n > MAX_PACKET_SAMPLES {
            return Err(SymError::DecodeError("opus: packet longer than 120 ms"));
        }
        self.buf.render_uninit(Some(n));
        for c in 0..ch {
            if let Some(plane) = self.buf.plane_mut(c) {
                for (i, s) in plane.iter_mut().enumerate() {
                    *s = self.pcm[i * ch + c] * self.gain;
                }
            }
        }
        if self.opts.gapless {
            let from_skip = self.skip.min(n);
            self.skip -= from_skip;
            let start = (packet.trim_start.get() as usize).max(from_skip);
            self.buf.trim(start, packet.trim_end.get() as usize);
        }
        Ok(())
    }
}

/// What opus-pure's error says, in a fixed string for symphonia's error type.
fn opus_error(e: &opus_pure::Error) -> &'static str {
    match e {
        opus_pure::Error::InvalidPacket(_) => "opus: invalid packet",
        opus_pure::Error::BufferTooSmall { .. } => "opus: packet longer than 120 ms",
        _ => "opus: the packet cannot be decoded",
    }
}

impl AudioDecoder for OpusDecoder {
    fn reset(&mut self) {
        self.inner.reset();
        self.skip = 0;
    }

    fn codec_info(&self) -> &CodecInfo {
        &SUPPORTED[0].info
    }

    fn codec_params(&self) -> &AudioCodecParameters {
        &self.params
    }

    fn decode_ref(&mut self, packet: &PacketRef<'_>) -> Result<GenericAudioBufferRef<'_>> {
        if let Err(e) = self.decode_inner(packet) {
            self.buf.clear();
            return Err(e);
        }
        Ok(self.buf.as_generic_audio_buffer_ref())
    }

    fn finalize(&mut self) -> FinalizeResult {
        FinalizeResult::default()
    }

    fn last_decoded(&self) -> GenericAudioBufferRef<'_> {
        self.buf.as_generic_audio_buffer_ref()
    }
}

static SUPPORTED: [SupportedAudioCodec; 1] = [SupportedAudioCodec {
    id: CODEC_ID_OPUS,
    info: CodecInfo {
        short_name: "opus",
        long_name: "Opus (opus-pure)",
        profiles: &[],
    },
}];

impl RegisterableAudioDecoder for OpusDecoder {
    fn try_registry_new(
        params: &AudioCodecParameters,
        opts: &AudioDecoderOptions,
    ) -> Result<Box<dyn AudioDecoder>> {
        Ok(Box::new(OpusDecoder::try_new(params, opts)?))
    }

    fn supported_codecs() -> &'static [SupportedAudioCodec] {
        &SUPPORTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(channels: u8, family: u8, table: &[u8]) -> Vec<u8> {
        let mut b = b"OpusHead".to_vec();
        b.extend_from_slice(&[1, channels]);
        b.extend_from_slice(&312u16.to_le_bytes());
        b.extend_from_slice(&48_000u32.to_le_bytes());
        b.extend_from_slice(&(-256i16).to_le_bytes());
        b.push(family);
        b.extend_from_slice(table);
        b
    }

    #[test]
    fn heads_parse_and_layouts_are_chosen() {
        let h = Head::parse(&head(2, 0, &[])).expect("stereo head");
        assert_eq!(
            (h.channels, h.pre_skip, h.gain_q8, h.family),
            (2, 312, -256, 0)
        );
        assert!((h.gain() - 10f32.powf(-1.0 / 20.0)).abs() < 1e-6);
        assert!(matches!(Inner::for_head(&h), Some(Inner::Single(_))));
        // 5.1 in Vorbis order: 4 streams, 2 coupled.
        let h = Head::parse(&head(6, 1, &[4, 2, 0, 4, 1, 2, 3, 5])).expect("5.1 head");
        assert!(matches!(Inner::for_head(&h), Some(Inner::Multi(_))));
        // The same channels in another order still decode (the downmix does not see it).
        let h = Head::parse(&head(6, 1, &[4, 2, 5, 4, 1, 2, 3, 0])).expect("reordered");
        assert!(Inner::for_head(&h).is_some());
        // A silenced channel, another stream layout, discrete and ambisonic families: refused.
        for (ch, fam, table) in [
            (6u8, 1u8, &[4u8, 2, 0, 4, 1, 2, 3, 255][..]),
            (6, 1, &[6, 0, 0, 1, 2, 3, 4, 5]),
            (2, 255, &[2, 0, 0, 1]),
            (4, 2, &[4, 0, 0, 1, 2, 3]),
            (3, 0, &[]),
        ] {
            let h = Head::parse(&head(ch, fam, table)).expect("parses");
            assert!(Inner::for_head(&h).is_none(), "{ch} ch family {fam}");
        }
        // Broken headers are errors, not panics.
        let full = head(6, 1, &[4, 2, 0, 4, 1, 2, 3, 5]);
        for cut in 0..full.len() {
            let _ = Head::parse(&full[..cut]);
        }
        assert!(Head::parse(&full[..22]).is_err());
        assert!(Head::parse(&head(0, 0, &[])).is_err());
    }
}
