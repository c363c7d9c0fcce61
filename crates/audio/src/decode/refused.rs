//! The formats songrec knows it cannot decode, recognised by their first bytes so that a file
//! the demuxers refuse gets "X is not supported; convert…" rather than "not an audio file" or
//! "damaged". Asked only after symphonia's probe failed: a file it reads is never refused here.

use std::io::Read as _;
use std::path::Path;

use super::opus::{Head, UNSUPPORTED_MAPPING};

/// What a file the probe could not open is, when it is a format or codec songrec refuses:
/// the name the user sees in "<name> is not supported".
pub(super) fn refused_format(path: &Path) -> Option<String> {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(path)
        .and_then(|f| f.take(head.len() as u64).read(&mut head))
        .ok()?;
    refused(&head[..n]).map(str::to_owned)
}

fn refused(b: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| b.get(i..i + magic.len()) == Some(magic);
    const ASF: [u8; 16] = [
        0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE,
        0x6C,
    ];
    let found = [
        (at(0, &ASF), "wma (asf)"),
        (at(0, b"MAC "), "ape (Monkey's Audio)"),
        (at(0, b"wvpk"), "wavpack"),
        (at(0, b"TTA1"), "tta (True Audio)"),
        (at(0, b"MPCK") || at(0, b"MP+"), "musepack"),
        (at(0, b"DSD "), "dsf (DSD audio)"),
        (at(0, b"FRM8"), "dff (DSD audio)"),
        (at(0, b"riff") && at(24, b"wave"), "wave64"),
        (at(0, b".snd"), "au (Sun audio)"),
        (at(0, b"#!AMR"), "amr"),
        (at(0, &[0x0B, 0x77]), "ac3"),
        (at(0, &[0x7F, 0xFE, 0x80, 0x01]), "dts"),
    ]
    .into_iter()
    .find_map(|(hit, name)| hit.then_some(name));
    found.or_else(|| in_ogg(b))
}

/// The codec of an Ogg file's first stream, when songrec refuses it: Speex, CELT, or Opus
/// with a channel mapping the Opus decoder does not handle (symphonia's Ogg reader does not
/// open those, so they would read as damaged).
fn in_ogg(b: &[u8]) -> Option<&'static str> {
    if b.get(..4) != Some(b"OggS") {
        return None;
    }
    let segments = usize::from(*b.get(26)?);
    let first = b.get(27 + segments..)?;
    if first.starts_with(b"Speex   ") {
        Some("speex")
    } else if first.starts_with(b"CELT    ") {
        Some("celt")
    } else if first.starts_with(b"OpusHead") {
        // A header this decoder would take is not refused: the file is damaged elsewhere.
        let head = Head::parse(first).ok()?;
        (!super::opus::decodable(&head)).then_some(UNSUPPORTED_MAPPING)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_formats_are_named_and_others_are_not() {
        assert_eq!(refused(b"wvpk\x20\0\0\0"), Some("wavpack"));
        assert_eq!(refused(b"MAC \x96\x0f"), Some("ape (Monkey's Audio)"));
        assert_eq!(refused(b"MP+\x07"), Some("musepack"));
        let mut ogg = b"OggS\0\x02".to_vec();
        ogg.extend_from_slice(&[0; 20]);
        ogg.push(1); // one segment
        ogg.push(80);
        let speex = [ogg.clone(), b"Speex   1.2".to_vec()].concat();
        assert_eq!(refused(&speex), Some("speex"));
        let mut opus = [ogg.clone(), b"OpusHead".to_vec()].concat();
        // version 1, 2 channels, pre-skip, rate, gain, family 255, 2 streams, 0 coupled, map
        opus.extend_from_slice(&[1, 2, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 255, 2, 0, 0, 1]);
        assert_eq!(refused(&opus), Some(UNSUPPORTED_MAPPING));
        let mut stereo = [ogg.clone(), b"OpusHead".to_vec()].concat();
        stereo.extend_from_slice(&[1, 2, 0x38, 1, 0x80, 0xBB, 0, 0, 0, 0, 0]);
        assert_eq!(
            refused(&stereo),
            None,
            "a decodable Opus stream is not refused"
        );
        for ok in [
            &b"fLaC"[..],
            b"RIFF\0\0\0\0WAVE",
            b"ID3\x04",
            b"",
            b"Og",
            &ogg[..10],
        ] {
            assert_eq!(refused(ok), None, "{ok:?}");
        }
    }
}
