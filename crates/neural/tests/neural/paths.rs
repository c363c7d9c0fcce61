//! The default embedder's vectors of real recordings on every kernel path this CPU runs, each
//! forced as `SONGREC_KERNELS` would: the same to the bit, and pinned by SHA-256 so a machine
//! with other instructions (AVX-512 VNNI, AMX, ARM64's NEON) is held to the same bytes.
//!
//! If the digest fails after a deliberate change of what the mix hears, bump `MIX_VERSION` and
//! pin the new digest; if it fails on one kind of CPU only, a kernel path is wrong there.

use sha2::{Digest, Sha256};
use songrec_audio::analyze_file;
use songrec_neural::{KernelPath, MixConfig, MixEmbedder, MusicnnConfig};
use songrec_testkit::fixtures::real_recording;

const PIECES: [(&str, &str); 3] = [
    ("asc", "frontiers.mp3"),
    ("freedesktop", "complete.oga"),
    ("freedesktop", "phone-incoming-call.oga"),
];

/// SHA-256 of every piece's `songrec-mix` vector (f32 bits, little-endian), in order.
const MIX_DIGEST: &str = "cc75c72d22d47da981ca8e3cff984eda864ca66111722142664cd6bca3eaca79";

#[test]
fn mix_vectors_of_real_recordings_are_the_same_on_every_path_and_pinned() {
    let paths: Vec<KernelPath> = KernelPath::here()
        .into_iter()
        .filter(|p| p.is_own())
        .collect();
    assert!(paths.contains(&KernelPath::Portable));
    for path in paths {
        let mix = MixEmbedder::new(&MixConfig::with_musicnn(MusicnnConfig {
            kernels: path,
            ..MusicnnConfig::default()
        }))
        .expect("the mix");
        let mut h = Sha256::new();
        for (sub, name) in PIECES {
            let file = analyze_file(&real_recording(sub, name), &[&mix]).expect(name);
            for v in &file.analyses[0].analysis.vector {
                h.update(v.to_bits().to_le_bytes());
            }
        }
        let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, MIX_DIGEST, "{path}");
    }
}
