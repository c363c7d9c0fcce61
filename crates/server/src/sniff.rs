//! Recognising audio by content (magic numbers), never by file name or the client's word.

/// How many leading bytes [`audio_mime`] looks at.
pub const SNIFF_LEN: usize = 64;

/// The media type of an audio container recognised from its first bytes, or `None`.
pub fn audio_mime(head: &[u8]) -> Option<&'static str> {
    let at = |off: usize, magic: &[u8]| head.get(off..off + magic.len()) == Some(magic);
    let containers = [
        (
            (at(0, b"RIFF") || at(0, b"RF64")) && at(8, b"WAVE"),
            "audio/wav",
        ),
        (at(0, b"fLaC"), "audio/flac"),
        (at(0, b"OggS"), "audio/ogg"),
        (at(0, b"ID3"), "audio/mpeg"),
        (
            at(0, b"FORM") && (at(8, b"AIFF") || at(8, b"AIFC")),
            "audio/aiff",
        ),
        (at(0, b"caff"), "audio/x-caf"),
        (at(0, &[0x1A, 0x45, 0xDF, 0xA3]), "audio/webm"),
        // MP4 family; video-only files are refused later by the decoder.
        (at(4, b"ftyp"), "audio/mp4"),
    ];
    if let Some((_, mime)) = containers.into_iter().find(|(found, _)| *found) {
        return Some(mime);
    }
    if let [0xFF, b1, ..] = head
        && b1 & 0xE0 == 0xE0
    {
        // Frame sync: layer bits 00 are ADTS (AAC), anything else MPEG audio (mp3/mp2).
        return Some(if b1 & 0x06 == 0 {
            "audio/aac"
        } else {
            "audio/mpeg"
        });
    }
    None
}

/// A short description of what a non-audio upload looks like, for error messages.
pub fn describe(head: &[u8]) -> &'static str {
    const KINDS: [(&[u8], &str); 7] = [
        (b"\x89PNG", "a PNG image"),
        (b"\xFF\xD8\xFF", "a JPEG image"),
        (b"GIF8", "a GIF image"),
        (b"%PDF", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"\x7FELF", "an executable"),
    ];
    if head.is_empty() {
        "an empty file"
    } else if let Some((_, kind)) = KINDS.iter().find(|(magic, _)| head.starts_with(magic)) {
        kind
    } else if head
        .iter()
        .take(SNIFF_LEN)
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
    {
        "text"
    } else {
        "unrecognised binary data"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers() {
        assert_eq!(audio_mime(b"RIFF\0\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(audio_mime(b"RIFF\0\0\0\0AVI "), None);
        assert_eq!(audio_mime(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(audio_mime(b"ID3\x04\0"), Some("audio/mpeg"));
        assert_eq!(audio_mime(&[0xFF, 0xFB, 0x90, 0x64]), Some("audio/mpeg"));
        assert_eq!(audio_mime(&[0xFF, 0xF1, 0x50, 0x80]), Some("audio/aac"));
        assert_eq!(audio_mime(b"\0\0\0\x20ftypM4A \0"), Some("audio/mp4"));
        assert_eq!(audio_mime(b"FORM\0\0\0\0AIFFCOMM"), Some("audio/aiff"));
        assert_eq!(audio_mime(b"fLaC\0\0\0\x22"), Some("audio/flac"));
        assert_eq!(audio_mime(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(audio_mime(b"hello world"), None);
        assert_eq!(audio_mime(b""), None);
        assert_eq!(audio_mime(&[0xFF]), None);
    }

    #[test]
    fn descriptions() {
        assert_eq!(describe(b"\x89PNG\r\n"), "a PNG image");
        assert_eq!(describe(b"%PDF-1.7"), "a PDF document");
        assert_eq!(describe(b"just some words\n"), "text");
        assert_eq!(describe(&[0, 1, 2, 3]), "unrecognised binary data");
    }
}
