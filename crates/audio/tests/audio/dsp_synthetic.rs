//! DSP embedder behaviour on synthetic audio (through real files and the public API).

use songrec_audio::{
    DSP_DIM, DspEmbedder, Embedder, MonoAudio, analyze_file, cosine_similarity, precision_at_k,
};
use songrec_testkit::audio::*;

fn embed(x: Vec<f32>, rate: u32) -> songrec_audio::Analysis {
    DspEmbedder::new()
        .embed(&MonoAudio::from_samples(x, rate))
        .expect("embed")
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

#[test]
fn very_short_clips_still_give_normalised_vectors() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 100 ms click (one 1 ms impulse burst), 30 ms drum-like hit, 5 ms blip.
    let mut click = vec![0f32; 4410];
    for (i, v) in click[100..144].iter_mut().enumerate() {
        *v = if i % 2 == 0 { 0.9 } else { -0.9 };
    }
    let hit: Vec<f32> = noise(1323, 9)
        .iter()
        .enumerate()
        .map(|(i, v)| v * (-(i as f32) / 200.0).exp())
        .collect();
    let blip = sine(1000.0, 44_100, 0.005, 0.5);
    for (name, x) in [("click.wav", click), ("hit.wav", hit), ("blip.wav", blip)] {
        let p = dir.path().join(name);
        write_mono(&p, &x, 44_100);
        let dsp = DspEmbedder::new();
        let fa =
            analyze_file(&p, &[&dsp as &dyn Embedder]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let a = &fa.analyses[0].analysis;
        assert_eq!(a.vector.len(), DSP_DIM);
        assert!(a.vector.iter().all(|v| v.is_finite()), "{name}");
        assert!((norm(&a.vector) - 1.0).abs() < 1e-4, "{name}");
        assert!(a.bpm.is_none(), "{name}: no tempo in a one-shot");
        assert!(a.key.is_none(), "{name}: no key in a one-shot");
        assert!(a.descriptors.analysed_secs < 0.11, "{name}");
    }
}

#[test]
fn silent_audio_is_analysed_without_nan() {
    let a = embed(vec![0.0; 22_050], 22_050);
    assert!(a.vector.iter().all(|v| v.is_finite()));
    assert!((norm(&a.vector) - 1.0).abs() < 1e-4);
}

#[test]
fn bpm_of_a_120_bpm_click_track() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("clicks.wav");
    write_mono(&p, &click_track(120.0, 44_100, 30.0), 44_100);
    let dsp = DspEmbedder::new();
    let fa = analyze_file(&p, &[&dsp as &dyn Embedder]).expect("analyse");
    let bpm = fa.analyses[0].analysis.bpm.expect("a tempo");
    assert!((bpm - 120.0).abs() <= 2.0, "bpm {bpm}");
    // Other tempi through the same path (in memory).
    for t in [96.0f32, 128.0, 140.0] {
        let b = embed(click_track(t, 22_050, 30.0), 22_050)
            .bpm
            .expect("tempo");
        assert!((b - t).abs() <= 2.0, "expected {t}, got {b}");
    }
}

fn chord(midis: &[f32], rate: u32, secs: f32) -> Vec<f32> {
    let amps = [1.0, 0.5, 0.33, 0.25, 0.2];
    let mut out = vec![0f32; (secs * rate as f32) as usize];
    for &m in midis {
        for (o, v) in out.iter_mut().zip(note(midi_hz(m), rate, secs, &amps, 0.8)) {
            *o += 0.15 * v;
        }
    }
    out
}

#[test]
fn key_of_an_a_minor_progression() {
    // Am - Dm - E - Am, two rounds (A3 = MIDI 57).
    let prog: [&[f32]; 4] = [
        &[57.0, 60.0, 64.0, 45.0],
        &[62.0, 65.0, 69.0, 50.0],
        &[64.0, 68.0, 71.0, 52.0],
        &[57.0, 60.0, 64.0, 45.0],
    ];
    let mut x = Vec::new();
    for _ in 0..2 {
        for c in prog {
            x.extend(chord(c, 22_050, 1.5));
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("am.wav");
    write_mono(&p, &x, 22_050);
    let dsp = DspEmbedder::new();
    let fa = analyze_file(&p, &[&dsp as &dyn Embedder]).expect("analyse");
    let a = &fa.analyses[0].analysis;
    assert_eq!(
        a.key.as_deref(),
        Some("A minor"),
        "descriptors {:?}",
        a.descriptors
    );
    assert_eq!(a.descriptors.key_mode.as_deref(), Some("minor"));
    assert_eq!(a.descriptors.key_tonic.as_deref(), Some("A"));
    // And C major: C - F - G - C.
    let prog: [&[f32]; 4] = [
        &[60.0, 64.0, 67.0, 48.0],
        &[65.0, 69.0, 72.0, 53.0],
        &[67.0, 71.0, 74.0, 55.0],
        &[60.0, 64.0, 67.0, 48.0],
    ];
    let mut x = Vec::new();
    for c in prog {
        x.extend(chord(c, 22_050, 1.5));
    }
    assert_eq!(embed(x, 22_050).key.as_deref(), Some("C major"));
}

/// Plucked string (Karplus–Strong) — one synthetic "instrument".
fn pluck(freq: f32, rate: u32, secs: f32, seed: u32) -> Vec<f32> {
    let p = (rate as f32 / freq).round() as usize;
    let mut buf = noise(p, seed);
    let n = (secs * rate as f32) as usize;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let a = buf[i % p];
        let b = buf[(i + 1) % p];
        buf[i % p] = 0.996 * 0.5 * (a + b);
        out.push(0.6 * a);
    }
    out
}

/// Bowed/organ-like sustained tone with a slow attack — another "instrument".
fn organ(freq: f32, rate: u32, secs: f32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    let base = note(freq, rate, secs, &[0.6, 0.0, 0.4, 0.0, 0.3, 0.0, 0.2], 0.0);
    (0..n)
        .map(|i| base[i] * (i as f32 / (0.15 * rate as f32)).min(1.0) * 0.5)
        .collect()
}

/// Noisy drum hit with a pitch sweep — a third.
fn drum(freq: f32, rate: u32, secs: f32, seed: u32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    let nz = noise(n, seed);
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let f = freq * (1.0 + 2.0 * (-t * 30.0).exp());
            ((2.0 * std::f32::consts::PI * f * t).sin() * 0.7 + 0.3 * nz[i]) * (-t * 12.0).exp()
        })
        .collect()
}

#[test]
fn same_instrument_is_closer_than_different_instrument() {
    let rate = 22_050;
    let mut labels = Vec::new();
    let mut vecs = Vec::new();
    for (k, m) in [48.0f32, 55.0, 60.0, 64.0, 67.0].iter().enumerate() {
        let f = midi_hz(*m);
        for (label, x) in [
            ("pluck", pluck(f, rate, 1.0, k as u32 + 1)),
            ("organ", organ(f, rate, 1.0)),
            ("drum", drum(f / 2.0, rate, 0.6, k as u32 + 11)),
        ] {
            labels.push(label);
            vecs.push(embed(x, rate).vector);
        }
    }
    // Pairwise: the same instrument 7 semitones apart beats different instruments at one pitch.
    let idx = |k: usize, inst: usize| k * 3 + inst;
    for inst in 0..3 {
        let same = cosine_similarity(&vecs[idx(1, inst)], &vecs[idx(2, inst)]);
        for other in (0..3).filter(|&o| o != inst) {
            let diff = cosine_similarity(&vecs[idx(1, inst)], &vecs[idx(1, other)]);
            assert!(
                same > diff,
                "instrument {inst}: same {same} <= different {diff}"
            );
        }
    }
    let p1 = precision_at_k(&labels, &vecs, 1);
    assert!(p1 >= 0.9, "precision@1 {p1}");
}

#[test]
fn resampled_input_gives_nearly_the_same_embedding() {
    // The same content at 44.1 kHz and 22.05 kHz lands in the same place.
    let x44 = organ(220.0, 44_100, 2.0);
    let x22 = organ(220.0, 22_050, 2.0);
    let a = embed(x44, 44_100);
    let b = embed(x22, 22_050);
    let c = embed(pluck(220.0, 22_050, 2.0, 3), 22_050);
    let ab = cosine_similarity(&a.vector, &b.vector);
    assert!(ab > 0.98, "cosine {ab}");
    assert!(ab > cosine_similarity(&b.vector, &c.vector));
}

#[test]
fn descriptors_reflect_brightness_and_loudness() {
    let dark = embed(sine(200.0, 22_050, 2.0, 0.1), 22_050).descriptors;
    let bright = embed(noise(44_100, 5).iter().map(|v| v * 0.5).collect(), 22_050).descriptors;
    assert!(
        bright.centroid_hz > 4.0 * dark.centroid_hz,
        "{} vs {}",
        bright.centroid_hz,
        dark.centroid_hz
    );
    assert!(
        (dark.centroid_hz - 200.0).abs() < 60.0,
        "{}",
        dark.centroid_hz
    );
    assert!(bright.flatness_db > dark.flatness_db + 10.0);
    // 0.1-amplitude sine = -23 dBFS RMS.
    assert!(
        (dark.loudness_db + 23.0).abs() < 1.0,
        "{}",
        dark.loudness_db
    );
}

#[test]
fn embedder_identity_is_stable() {
    let e = DspEmbedder::new();
    assert_eq!(e.name(), "songrec-dsp");
    assert_eq!(e.version(), songrec_audio::DSP_VERSION);
    assert_eq!(e.dim(), DSP_DIM);
    // A fixed input gives a fixed vector (guards against silent changes of the format:
    // if this changes, bump DSP_VERSION and update the expected values).
    let v = embed(organ(330.0, 22_050, 1.0), 22_050).vector;
    let w = embed(organ(330.0, 22_050, 1.0), 22_050).vector;
    assert_eq!(v, w);
}

/// An embedder with the default (musicnn) excerpt rule that reports how much audio it saw.
struct SecondsSeen;

impl Embedder for SecondsSeen {
    fn name(&self) -> &str {
        "seconds-seen"
    }
    fn version(&self) -> u32 {
        1
    }
    fn dim(&self) -> usize {
        1
    }
    fn embed(
        &self,
        audio: &MonoAudio,
    ) -> Result<songrec_audio::Analysis, songrec_audio::AudioError> {
        Ok(songrec_audio::Analysis {
            vector: vec![audio.analysed_secs() as f32],
            bpm: None,
            key: None,
            descriptors: Default::default(),
            tags: Vec::new(),
            sound_tags: Vec::new(),
        })
    }
}

#[test]
fn each_embedder_gets_its_own_excerpts_and_the_dsp_vector_does_not_depend_on_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("long.wav");
    // 150 s: over the DSP budget (90 s), under the default one (240 s).
    write_mono(&path, &music(150.0, 3), 22_050);
    let dsp = DspEmbedder::new();
    let alone = analyze_file(&path, &[&dsp as &dyn Embedder]).expect("dsp alone");
    let both = analyze_file(&path, &[&SecondsSeen as &dyn Embedder, &dsp]).expect("both");
    assert_eq!(
        alone.analyses[0].analysis.vector,
        both.analyses[1].analysis.vector
    );
    assert_eq!(both.analyses[0].embedder, "seconds-seen");
    let seen = both.analyses[0].analysis.vector[0];
    assert!(
        (seen - 150.0).abs() < 0.5,
        "default rule sees the whole file: {seen}"
    );
    let dsp_secs = alone.analyses[0].analysis.descriptors.analysed_secs;
    let want = songrec_audio::DSP_DECODE.max_analysed_secs as f32;
    assert!((dsp_secs - want).abs() < 0.5, "DSP analysed {dsp_secs} s");
    assert!((both.info.duration_secs - 150.0).abs() < 0.5);
}
