//! Prints how many fingerprint bits differ between copies of a synthesised song (noisy,
//! trimmed, mp3 when ffmpeg is installed) and between different songs of one style; the
//! numbers behind `fingerprint::MAX_BIT_ERROR`.
//!
//! `cargo run -p songrec-benches --example fingerprint_errors`

use songrec_audio::synth::{STYLES, SongSpec, render, write_wav};
use songrec_identity::fingerprint::{compare, fingerprint_samples};

const SR: u32 = 22_050;

fn fp(samples: &[f32]) -> Vec<u32> {
    fingerprint_samples(samples, SR).expect("fingerprint")
}

fn main() {
    let orig = render(&SongSpec::for_style("techno", 1, 20.0));
    let fo = fp(&orig);
    let noisy = songrec_testkit::audio::noisy_copy(&orig);
    let mut copies = vec![
        ("noisy (-50 dB)", noisy),
        ("trimmed 2.5 s", orig[(2.5 * SR as f32) as usize..].to_vec()),
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let wav = dir.path().join("o.wav");
    let mp3 = dir.path().join("o.mp3");
    write_wav(&wav, &orig).expect("write wav");
    let encoded = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-i"])
        .arg(&wav)
        .args(["-ar", "44100", "-ac", "2", "-b:a", "128k"])
        .arg(&mp3)
        .status()
        .is_ok_and(|s| s.success());
    if encoded && let Ok(d) = songrec_audio::decode_file(&mp3) {
        copies.push(("mp3 128k", d.audio.segments[0].samples.clone()));
    }
    for (name, s) in copies {
        if let Some(al) = compare(&fo, &fp(&s)) {
            println!(
                "copy {name}: {:.1} % bits differ, offset {:.2} s",
                100.0 * al.bit_error,
                al.offset_secs()
            );
        }
    }
    for style in STYLES {
        let songs: Vec<(SongSpec, Vec<u32>)> = (1..=4)
            .map(|i| {
                let spec = SongSpec::for_style(style, i, 20.0);
                let f = fp(&render(&spec));
                (spec, f)
            })
            .collect();
        for i in 0..songs.len() {
            for j in i + 1..songs.len() {
                let (a, b) = (&songs[i], &songs[j]);
                if let Some(al) = compare(&a.1, &b.1) {
                    println!(
                        "{style} {} vs {}: tonic {} / {}, {:.0} / {:.0} bpm: {:.1} % bits differ",
                        a.0.seed,
                        b.0.seed,
                        a.0.tonic,
                        b.0.tonic,
                        a.0.bpm,
                        b.0.bpm,
                        100.0 * al.bit_error
                    );
                }
            }
        }
    }
}
