//! A small synthesiser for example libraries, tests and benchmarks: songs in a few styles that
//! differ the way real genres do (tempo, drums, timbre, harmony), written as 16-bit WAV.
//! Deterministic for a given seed.

use std::f32::consts::PI;
use std::io::Write;
use std::path::Path;

/// Styles the synthesiser knows.
pub const STYLES: &[&str] = &["techno", "rock", "ballad", "ambient", "jazz"];

/// Sample rate of every generated song (Hz).
pub const SR: u32 = 22_050;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
    fn noise(&mut self) -> f32 {
        self.next() * 2.0 - 1.0
    }
}

fn hz(midi: f32) -> f32 {
    440.0 * 2f32.powf((midi - 69.0) / 12.0)
}

/// Parameters of one generated song.
#[derive(Clone, Debug, PartialEq)]
pub struct SongSpec {
    /// One of [`STYLES`].
    pub style: String,
    /// Tempo.
    pub bpm: f32,
    /// Tonic as a MIDI note number (57 = A3).
    pub tonic: u8,
    pub minor: bool,
    /// Length in seconds.
    pub seconds: f32,
    pub seed: u64,
}

impl SongSpec {
    /// A style's typical song, varied by `seed`.
    ///
    /// ```
    /// let s = songrec_audio::synth::SongSpec::for_style("techno", 3, 10.0);
    /// assert!(s.bpm > 120.0 && s.bpm < 135.0);
    /// ```
    pub fn for_style(style: &str, seed: u64, seconds: f32) -> Self {
        let mut r = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xABCD);
        let (lo, hi, minor) = match style {
            "techno" => (124.0, 132.0, true),
            "rock" => (110.0, 140.0, false),
            "ballad" => (62.0, 76.0, false),
            "ambient" => (60.0, 80.0, true),
            _ => (100.0, 160.0, false),
        };
        Self {
            style: style.to_owned(),
            bpm: lo + (hi - lo) * r.next(),
            tonic: 50 + (r.next() * 12.0) as u8,
            minor,
            seconds,
            seed,
        }
    }
}

/// Renders a song to mono samples at 22.05 kHz in [-1, 1].
pub fn render(spec: &SongSpec) -> Vec<f32> {
    let n = (spec.seconds * SR as f32) as usize;
    let mut out = vec![0f32; n];
    let mut r = Rng(spec.seed ^ 0x5EED);
    let beat = 60.0 / spec.bpm;
    let third = if spec.minor { 3.0 } else { 4.0 };
    // I–VI–IV–V style progression in the mode.
    let degrees: [f32; 4] = if spec.minor {
        [0.0, 8.0, 3.0, 10.0]
    } else {
        [0.0, 9.0, 5.0, 7.0]
    };
    let tonic = f32::from(spec.tonic);
    let bar = 4.0 * beat;
    for (i, s) in out.iter_mut().enumerate() {
        let t = i as f32 / SR as f32;
        let bar_idx = (t / bar) as usize;
        let root = tonic + degrees[bar_idx % 4];
        let tb = t % beat; // time since beat
        let beat_idx = (t / beat) as usize;
        let chord = [root, root + third, root + 7.0];
        let mut v = 0.0;
        match spec.style.as_str() {
            "techno" => {
                v += 0.8
                    * (2.0 * PI * (50.0 + 100.0 * (-tb * 30.0).exp()) * tb).sin()
                    * (-tb * 8.0).exp();
                let eighth = t % (beat / 2.0);
                if ((t / (beat / 2.0)) as usize) % 2 == 1 {
                    v += 0.15 * r.noise() * (-eighth * 60.0).exp();
                }
                let f = hz(root - 12.0);
                let saw = 2.0 * ((t * f) % 1.0) - 1.0;
                v += 0.25 * saw * (-(t % (beat / 4.0)) * 12.0).exp();
            }
            "rock" => {
                if beat_idx.is_multiple_of(2) {
                    v += 0.7 * (2.0 * PI * 70.0 * tb).sin() * (-tb * 10.0).exp();
                } else {
                    v += 0.5 * r.noise() * (-tb * 18.0).exp();
                }
                let g: f32 = [root - 12.0, root - 5.0]
                    .iter()
                    .map(|&m| 2.0 * ((t * hz(m)) % 1.0) - 1.0)
                    .sum();
                v += 0.35 * (g * 3.0).tanh();
            }
            "ballad" => {
                let tbar = t % (2.0 * beat);
                for (j, m) in chord.iter().enumerate() {
                    let f = hz(m + 12.0);
                    let env = (-tbar * 1.5).exp();
                    v += 0.2
                        * env
                        * ((2.0 * PI * f * t).sin()
                            + 0.4 * (4.0 * PI * f * t).sin()
                            + 0.15 * (6.0 * PI * f * t).sin())
                        / (1.0 + j as f32 * 0.2);
                }
            }
            "ambient" => {
                for m in chord {
                    let f = hz(m);
                    v += 0.12 * ((2.0 * PI * f * t).sin() + (2.0 * PI * f * 1.003 * t).sin());
                }
                v *= 0.6 + 0.4 * (2.0 * PI * 0.1 * t).sin();
                v += 0.02 * r.noise();
            }
            _ => {
                // jazz-ish: swung ride, walking bass, seventh chords with soft attack
                let swing = if beat_idx.is_multiple_of(2) {
                    0.0
                } else {
                    0.66
                };
                let tr = (t - swing * beat / 2.0).rem_euclid(beat);
                v += 0.08 * r.noise() * (-tr * 25.0).exp() * (2.0 * PI * 5000.0 * t).sin().abs();
                let walk = [0.0, 4.0, 7.0, 9.0][beat_idx % 4];
                v += 0.35 * (2.0 * PI * hz(root - 12.0 + walk) * t).sin() * (-tb * 3.0).exp();
                for m in [root, root + third, root + 7.0, root + 10.0] {
                    v += 0.07 * (2.0 * PI * hz(m + 12.0) * t).sin() * (1.0 - (-tb * 20.0).exp());
                }
            }
        }
        *s = v;
    }
    let peak = out.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-6);
    out.iter_mut().for_each(|x| *x = *x / peak * 0.8);
    out
}

/// Writes mono samples as a 16-bit PCM WAV file at 22.05 kHz.
pub fn write_wav(path: &Path, samples: &[f32]) -> std::io::Result<()> {
    write_wav_tagged(path, samples, &[])
}

/// Like [`write_wav`], with RIFF `INFO` tags, e.g. `[("INAM", "Title"), ("IART", "Artist"), ("IGNR", "Genre")]`.
pub fn write_wav_tagged(
    path: &Path,
    samples: &[f32],
    tags: &[(&str, &str)],
) -> std::io::Result<()> {
    let mut info = Vec::new();
    if !tags.is_empty() {
        info.extend_from_slice(b"INFO");
        for (id, value) in tags {
            let mut v = value.as_bytes().to_vec();
            v.push(0);
            info.extend_from_slice(&id.as_bytes()[..4]);
            info.extend_from_slice(&(v.len() as u32).to_le_bytes());
            if v.len() % 2 == 1 {
                v.push(0);
            }
            info.extend_from_slice(&v);
        }
    }
    let list_len = if info.is_empty() {
        0
    } else {
        8 + info.len() as u32
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(path)?);
    let data_len = (samples.len() * 2) as u32;
    w.write_all(b"RIFF")?;
    w.write_all(&(36 + list_len + data_len).to_le_bytes())?;
    w.write_all(b"WAVEfmt ")?;
    w.write_all(&16u32.to_le_bytes())?;
    w.write_all(&1u16.to_le_bytes())?;
    w.write_all(&1u16.to_le_bytes())?;
    w.write_all(&SR.to_le_bytes())?;
    w.write_all(&(SR * 2).to_le_bytes())?;
    w.write_all(&2u16.to_le_bytes())?;
    w.write_all(&16u16.to_le_bytes())?;
    if !info.is_empty() {
        w.write_all(b"LIST")?;
        w.write_all(&(info.len() as u32).to_le_bytes())?;
        w.write_all(&info)?;
    }
    w.write_all(b"data")?;
    w.write_all(&data_len.to_le_bytes())?;
    for s in samples {
        w.write_all(&((s.clamp(-1.0, 1.0) * 32767.0) as i16).to_le_bytes())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_deterministic_normalised_audio() {
        let s = SongSpec::for_style("rock", 1, 2.0);
        let a = render(&s);
        assert_eq!(a.len(), 44_100);
        assert_eq!(a, render(&s));
        let peak = a.iter().fold(0f32, |m, x| m.max(x.abs()));
        assert!((peak - 0.8).abs() < 1e-3);
        assert_ne!(render(&SongSpec::for_style("rock", 2, 2.0)), a);
    }

    #[test]
    fn wav_header_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        write_wav(&p, &[0.0, 0.5, -0.5]).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[..4], b"RIFF");
        assert_eq!(b.len(), 44 + 6);
        assert_eq!(i16::from_le_bytes([b[46], b[47]]), 16383);
    }
}
