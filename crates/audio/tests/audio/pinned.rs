//! The DSP vectors of real recordings, pinned to the bit.
//!
//! Speed work on the analysis must leave every stored `songrec-dsp@2` vector (and the mix's DSP
//! part) as it is, or bump the version. This pins the vectors of real recordings: a change of
//! one bit fails here. If it fails after a deliberate change of the features, bump
//! `DSP_VERSION` and the mix version, and pin the new digest.

use sha2::{Digest, Sha256};
use songrec_audio::{DspEmbedder, analyze_file};
use songrec_testkit::fixtures::real_recording;

const PIECES: [(&str, &str); 6] = [
    ("asc", "frontiers.mp3"),
    ("asc", "machine_wars.mp3"),
    ("asc", "time_to_strike.mp3"),
    ("freedesktop", "bell.oga"),
    ("freedesktop", "complete.oga"),
    ("freedesktop", "phone-incoming-call.oga"),
];

/// SHA-256 of every piece's vector (f32 bits, little-endian), tempo and key, in order.
const DSP_DIGEST: &str = "8c7e49c8845aaaaad07cd797032a7e862b25bca728c9514bf17bad35e036d005";

#[test]
fn dsp_vectors_of_real_recordings_keep_every_bit() {
    let dsp = DspEmbedder::new();
    let mut h = Sha256::new();
    for (sub, name) in PIECES {
        let file = analyze_file(&real_recording(sub, name), &[&dsp]).expect(name);
        let a = &file.analyses[0].analysis;
        for v in &a.vector {
            h.update(v.to_bits().to_le_bytes());
        }
        h.update(format!("{:?} {:?}", a.bpm, a.key).as_bytes());
    }
    let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, DSP_DIGEST, "the DSP vectors changed");
}
