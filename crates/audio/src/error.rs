//! Typed errors of the audio crate.

use std::path::PathBuf;

/// Everything that can go wrong while decoding, tagging or embedding one file.
///
/// Every message names the file and says what the user can do about it.
///
/// ```
/// use songrec_audio::AudioError;
/// let e = AudioError::Empty { path: "a.mp3".into() };
/// assert!(e.to_string().contains("a.mp3"));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The file could not be opened or read.
    #[error("{}: cannot read file: {error}; check that it exists and is readable", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file has zero bytes.
    #[error("{}: file is empty (0 bytes); re-copy or re-rip it", path.display())]
    Empty { path: PathBuf },
    /// The content is not a container/stream format we know (probed by content, not extension).
    #[error(
        "{}: not an audio file ({detail}); supported: mp3, flac, wav, ogg/vorbis, opus, m4a (aac, alac), aiff",
        path.display()
    )]
    UnknownFormat {
        path: PathBuf,
        /// Why, in songrec's words (the decoder's own text goes to the log).
        detail: String,
    },
    /// A format or codec songrec knows and cannot decode (its container's reader names the
    /// codec, or its first bytes name the format: WMA, APE, WavPack, DSD, Musepack, TTA…).
    #[error("{}: {codec} is not supported; convert to flac/ogg/mp3 (e.g. `ffmpeg -i in out.flac`)", path.display())]
    UnsupportedCodec {
        path: PathBuf,
        /// Codec or format name, e.g. "wma (asf)", "wavpack", "ac3".
        codec: String,
    },
    /// A file of a known format (its first bytes say which) that is damaged or cut short so
    /// badly that no audio could be decoded.
    #[error(
        "{}: damaged {format} file: {detail}; copy it again, or re-encode it from a good source",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        /// Its format (`Ogg`, `FLAC`, `MP3`…), or `audio` when its first bytes do not say.
        format: String,
        /// What is wrong, in songrec's words (the decoder's own text goes to the log).
        detail: String,
    },
    /// The stream is valid but contains no samples.
    #[error("{}: audio stream has zero length (no samples); nothing to analyse", path.display())]
    ZeroLength { path: PathBuf },
    /// An embedder failed on audio that decoded fine.
    #[error("embedder {embedder} failed: {reason}")]
    Embed { embedder: String, reason: String },
}

impl AudioError {
    /// A short stable identifier of the error kind (useful for logs and tests).
    ///
    /// ```
    /// use songrec_audio::AudioError;
    /// assert_eq!(AudioError::ZeroLength { path: "x.wav".into() }.kind(), "zero_length");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            AudioError::Io { .. } => "io",
            AudioError::Empty { .. } => "empty",
            AudioError::UnknownFormat { .. } => "unknown_format",
            AudioError::UnsupportedCodec { .. } => "unsupported_codec",
            AudioError::Corrupt { .. } => "corrupt",
            AudioError::ZeroLength { .. } => "zero_length",
            AudioError::Embed { .. } => "embed",
        }
    }
}
