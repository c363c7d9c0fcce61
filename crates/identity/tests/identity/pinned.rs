//! The duplicate records of real recordings, pinned to the bit.
//!
//! Other builds compare their records with these (the PCM hash for exact copies, the
//! fingerprint and the waveform signature for the same recording), so speed work must leave
//! every record as it is, or bump `RECORD_VERSION`. If this fails after a deliberate change,
//! bump the version and pin the new digest.

use sha2::{Digest, Sha256};
use songrec_audio::DecodeOptions;
use songrec_identity::fingerprint::{analyse_audio, analyse_file};
use songrec_testkit::fixtures::real_recording;

const PIECES: [(&str, &str); 5] = [
    ("asc", "frontiers.mp3"),
    ("asc", "machine_wars.mp3"),
    ("asc", "time_to_strike.mp3"),
    ("freedesktop", "bell.oga"),
    ("freedesktop", "phone-incoming-call.oga"),
];

/// What `ingest` decodes (the mix's: 44.1 kHz, 6 excerpts of 15 s beyond 90 s).
const INGEST_DECODE: DecodeOptions = DecodeOptions {
    max_analysed_secs: 90.0,
    excerpt_secs: 15.0,
    sample_rate: 44_100,
};

/// SHA-256 of every piece's record (JSON), as `ingest` and then `dupes` compute it, in order.
const RECORDS_DIGEST: &str = "aeaa25aaf54fcfe5cf5f513af5a368dc0c06dfcf8e2aa0b9ad029b09043780c2";

#[test]
fn duplicate_records_of_real_recordings_keep_every_bit() {
    let mut h = Sha256::new();
    for (sub, name) in PIECES {
        let path = real_recording(sub, name);
        let d = songrec_audio::decode_file_with(&path, &INGEST_DECODE).expect(name);
        for record in [analyse_audio(&d.audio), analyse_file(&path).expect(name)] {
            assert!(
                !record.fp.is_empty() && record.wf.is_some(),
                "{name}: {record:?}"
            );
            h.update(serde_json::to_vec(&record).expect("json"));
        }
    }
    let got: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(got, RECORDS_DIGEST, "the records changed");
}
