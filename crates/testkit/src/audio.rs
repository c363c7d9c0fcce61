//! Test audio: folders of synthesised songs ([`songrec_audio::synth`]), WAV files of any
//! samples, simple test signals, and ffmpeg to encode them into other formats.

use std::path::{Path, PathBuf};
use std::process::Command;

use songrec_audio::synth::{SongSpec, render, write_wav_tagged};

/// The title the synthesiser's songs of `style` get (`songrec synth` uses the same).
pub fn title_of(style: &str) -> &'static str {
    match style {
        "techno" => "Warehouse Pulse",
        "ambient" => "Drifting Pads",
        "rock" => "Garage Anthem",
        "ballad" => "Slow Piano",
        _ => "Blue Swing",
    }
}

/// Writes `per_style` synthesised songs of each of `styles` into `dir` (created), seeds
/// `seed0`, `seed0 + 1`, …: `dir/{style}-{seed}.wav`, tagged with title `"{title} {seed}"`,
/// artist `"The {style} band"` and genre `style`.
pub fn write_songs(dir: &Path, styles: &[&str], per_style: usize, seconds: f32, seed0: u64) {
    std::fs::create_dir_all(dir).unwrap();
    for style in styles {
        for i in 0..per_style {
            let seed = seed0 + i as u64;
            let spec = SongSpec::for_style(style, seed, seconds);
            let title = format!("{} {seed}", title_of(style));
            let artist = format!("The {style} band");
            let path = dir.join(format!("{style}-{seed}.wav"));
            write_wav_tagged(
                &path,
                &render(&spec),
                &[("INAM", &title), ("IART", &artist), ("IGNR", style)],
            )
            .unwrap();
        }
    }
}

/// Writes interleaved samples in [-1, 1] as a 16-bit PCM WAV file.
pub fn write_wav(path: &Path, samples: &[f32], rate: u32, channels: u16) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&channels.to_le_bytes());
    b.extend_from_slice(&rate.to_le_bytes());
    b.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    b.extend_from_slice(&(channels * 2).to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        b.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, b).expect("write wav");
}

/// Writes mono samples as a 16-bit PCM WAV file.
pub fn write_mono(path: &Path, samples: &[f32], rate: u32) {
    write_wav(path, samples, rate, 1);
}

/// Runs ffmpeg quietly (`-nostdin -hide_banner -loglevel error -y ARGS`) and asserts it
/// succeeded. A missing ffmpeg is a failure that says how to install it, never a skip.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("ffmpeg is required for this test but could not be run ({e}); install it: apt-get install ffmpeg (scripts/test-deps.sh does)")
        });
    assert!(
        out.status.success(),
        "ffmpeg {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Encodes `src` into `dst` with extra codec arguments; returns `dst`.
pub fn convert(src: &Path, dst: &Path, codec_args: &[&str]) -> PathBuf {
    let mut a: Vec<&str> = vec!["-i", src.to_str().expect("utf8 path")];
    a.extend_from_slice(codec_args);
    a.push(dst.to_str().expect("utf8 path"));
    ffmpeg(&a);
    dst.to_path_buf()
}

/// The audio stream of `src` with the title `title` written into `dst` (ffmpeg's stream copy:
/// a new file around the same packets, as a tagger that writes a new file does); returns `dst`.
pub fn retagged_copy(src: &Path, dst: &Path, title: &str) -> PathBuf {
    let t = format!("title={title}");
    convert(src, dst, &["-map", "0:a", "-c", "copy", "-metadata", &t])
}

/// A sine of `freq` Hz.
pub fn sine(freq: f32, rate: u32, secs: f32, amp: f32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    (0..n)
        .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
        .collect()
}

/// Stereo interleaved: 440 Hz left, 660 Hz right.
pub fn stereo_tone(rate: u32, secs: f32) -> Vec<f32> {
    let l = sine(440.0, rate, secs, 0.4);
    let r = sine(660.0, rate, secs, 0.4);
    l.iter().zip(&r).flat_map(|(a, b)| [*a, *b]).collect()
}

/// Deterministic pseudo-random noise in [-1, 1].
pub fn noise(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A click track: 5 ms noise bursts every `60/bpm` seconds.
pub fn click_track(bpm: f32, rate: u32, secs: f32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    let mut x = vec![0f32; n];
    let period = 60.0 / bpm * rate as f32;
    let burst = noise((0.005 * rate as f32) as usize, 7);
    let mut k = 0;
    loop {
        let start = (k as f32 * period).round() as usize;
        if start >= n {
            break;
        }
        for (i, b) in burst.iter().enumerate() {
            if start + i < n {
                x[start + i] = 0.8 * b * (1.0 - i as f32 / burst.len() as f32);
            }
        }
        k += 1;
    }
    x
}

/// A harmonic tone (partials with amplitudes `amps`) with an exponential decay.
pub fn note(freq: f32, rate: u32, secs: f32, amps: &[f32], decay: f32) -> Vec<f32> {
    let n = (secs * rate as f32) as usize;
    (0..n)
        .map(|i| {
            let t = i as f32 / rate as f32;
            let env = (-t * decay).exp() * (t / 0.005).min(1.0);
            amps.iter()
                .enumerate()
                .map(|(h, a)| {
                    let f = freq * (h + 1) as f32;
                    if f < rate as f32 / 2.0 {
                        a * (2.0 * std::f32::consts::PI * f * t).sin()
                    } else {
                        0.0
                    }
                })
                .sum::<f32>()
                * env
        })
        .collect()
}

/// The frequency of MIDI note `m`.
pub fn midi_hz(m: f32) -> f32 {
    440.0 * 2f32.powf((m - 69.0) / 12.0)
}

/// Music-like test audio at 22.05 kHz: a chord with a moving bass line and a kick drum.
pub fn music(seconds: f32, seed: u32) -> Vec<f32> {
    let sr = 22_050f32;
    let n = (seconds * sr) as usize;
    let base = 110.0 * (1.0 + seed as f32 * 0.13);
    (0..n)
        .map(|i| {
            let t = i as f32 / sr;
            let bar = (t / 2.0) as usize;
            let root = base * [1.0, 1.335, 1.498, 1.26][bar % 4];
            let chord: f32 = [1.0, 1.26, 1.498, 2.0]
                .iter()
                .map(|m| (2.0 * std::f32::consts::PI * root * 2.0 * m * t).sin())
                .sum::<f32>()
                * 0.08;
            let bass = 0.2 * (2.0 * std::f32::consts::PI * root * 0.5 * t).sin();
            let beat = t % 0.5;
            let kick =
                0.6 * (-beat * 30.0).exp() * (2.0 * std::f32::consts::PI * 60.0 * beat).sin();
            chord + bass + kick
        })
        .collect()
}

/// A lossy-like copy of `orig`: quieter, with low-level noise (about -50 dB), the same every time.
pub fn noisy_copy(orig: &[f32]) -> Vec<f32> {
    let mut r = 12345u64;
    orig.iter()
        .map(|x| {
            r = r.wrapping_mul(6364136223846793005).wrapping_add(1);
            0.9 * x + 0.004 * ((r >> 40) as f32 / (1u64 << 24) as f32 - 0.5)
        })
        .collect()
}

/// The files of a labelled folder (each sub-folder's name is the label of the files in it),
/// sorted by label and name: the layout `songrec eval` and the evaluation examples read.
pub fn labelled_files(dir: &Path) -> std::io::Result<Vec<(String, PathBuf)>> {
    let sorted = |d: &Path| -> std::io::Result<Vec<PathBuf>> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        v.sort();
        Ok(v)
    };
    let mut items = Vec::new();
    for sub in sorted(dir)?.into_iter().filter(|p| p.is_dir()) {
        let label = sub
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        for f in sorted(&sub)?.into_iter().filter(|p| p.is_file()) {
            items.push((label.clone(), f));
        }
    }
    Ok(items)
}
