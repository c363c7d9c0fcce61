//! A song's identity: a hash of its audio stream, not of the file's bytes.
//!
//! Taggers rewrite a file's tag blocks (ID3v2/v1 and APE in MP3, Vorbis comments in Ogg and
//! FLAC, FLAC's other metadata blocks, MP4 atoms outside `mdat`, RIFF `LIST`/`id3 ` chunks)
//! and leave the coded audio alone. The identity is SHA-256 over
//! [`IDENTITY_SCHEME`] followed by the data of every packet of the file's default audio
//! track, in order, as symphonia's demuxer hands them out (no timestamps, no packet
//! boundaries, nothing decoded): two files with the same identity hold the same coded audio,
//! whatever their tags, names or containers' padding. Re-encoding, transcoding or gain
//! changes written into the frames (MP3Gain's `-r`/`-a`) make a new identity.
//!
//! Per format (symphonia 0.6's demuxers): MP3 packets are whole MPEG frames with their
//! headers, the leading Xing/Info/VBRI frame left out; Ogg packets are the codec's audio
//! packets (the identification, comment and setup headers are not packets); FLAC packets are
//! the frames after the metadata blocks; MP4/M4A packets are the samples `mdat` holds; WAV
//! and AIFF packets are slices of the PCM data chunk.
//!
//! A chained stream (Ogg files joined end to end) is hashed section by section, with a mark
//! between sections; the packets of a file's other tracks are hashed apart, by track, and mixed
//! in after the default track's, so files that differ anywhere in their audio never share one.

use std::path::Path;

use sha2::{Digest, Sha256};
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::TrackType;

use crate::decode::{file_tags, open_format};
use crate::error::AudioError;
use crate::tags::Tags;

/// Names the identity scheme inside the hash, so that an identity never equals the SHA-256 of
/// a file's bytes and a later scheme gives other values.
pub const IDENTITY_SCHEME: &[u8] = b"songrec-audio-identity-1\n";

/// Hashed between the sections of a chained stream.
const SECTION_MARK: &[u8] = b"\nsongrec-next-section\n";
/// Hashed before the packets of each of the file's other tracks.
const OTHER_TRACK_MARK: &[u8] = b"\nsongrec-other-track\n";
/// Sections of a chained stream followed (a damaged file cannot make the demuxer loop).
const MAX_SECTIONS: u32 = 4096;

/// A file's audio identity and its tags, read in one pass without decoding.
#[derive(Debug, Clone, PartialEq)]
pub struct Identified {
    /// SHA-256 over [`IDENTITY_SCHEME`] and the default audio track's packet data.
    pub audio: [u8; 32],
    /// Bytes of packet data hashed.
    pub audio_bytes: u64,
    /// The file's tags (embedded only; no path fallback), read as ingest reads them.
    pub tags: Tags,
}

/// Reads `path`'s audio packets (demuxing only) and tags: see the module docs.
///
/// ```no_run
/// let a = songrec_audio::identity::identify(std::path::Path::new("a.flac"))?;
/// let b = songrec_audio::identity::identify(std::path::Path::new("a-retagged.flac"))?;
/// assert_eq!(a.audio, b.audio);
/// # Ok::<(), songrec_audio::AudioError>(())
/// ```
pub fn identify(path: &Path) -> Result<Identified, AudioError> {
    let mut format = open_format(path)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or_else(|| AudioError::UnknownFormat {
            path: path.to_path_buf(),
            detail: "no audio track".into(),
        })?
        .clone();
    // Tags first: the metadata revisions are queued before the first packet. Whether the
    // codec is PCM comes from the registry, without building a decoder (costly for Vorbis).
    let pcm = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .and_then(|p| symphonia::default::get_codecs().get_audio_decoder(p.codec))
        .is_some_and(|d| d.codec.info.short_name.starts_with("pcm"));
    let tags = file_tags(path, &mut *format, track.id, pcm);
    let mut h = Sha256::new();
    h.update(IDENTITY_SCHEME);
    // Packets of the file's other tracks (a second audio stream, multiplexed logical
    // streams), by track: mixed in at the end only where there are any, so the identity of a
    // file of one track is what it always was.
    let mut others: std::collections::BTreeMap<u32, Sha256> = Default::default();
    let mut track_id = track.id;
    let mut bytes = 0u64;
    let mut errors = 0u32;
    let mut sections = 0u32;
    loop {
        match format.next_packet() {
            Ok(Some(p)) if p.track_id == track_id => {
                bytes += p.data.len() as u64;
                h.update(&p.data);
            }
            Ok(Some(p)) => others.entry(p.track_id).or_default().update(&p.data),
            // A chained stream (Ogg files joined end to end) starts a new section: its audio is
            // the song's too, so two files that share only their first section differ.
            Err(SymError::ResetRequired) if sections < MAX_SECTIONS => {
                let Some(next) = format.default_track(TrackType::Audio) else {
                    break;
                };
                sections += 1;
                track_id = next.id;
                h.update(SECTION_MARK);
            }
            Ok(None) | Err(SymError::ResetRequired) | Err(SymError::IoError(_)) => break,
            // The same tolerance as decoding: a few damaged packets are skipped.
            Err(_) => {
                errors += 1;
                if errors > 64 {
                    break;
                }
            }
        }
    }
    if bytes == 0 {
        return Err(AudioError::ZeroLength {
            path: path.to_path_buf(),
        });
    }
    for (id, other) in others {
        h.update(OTHER_TRACK_MARK);
        h.update(id.to_le_bytes());
        h.update(other.finalize());
    }
    Ok(Identified {
        audio: h.finalize().into(),
        audio_bytes: bytes,
        tags,
    })
}
