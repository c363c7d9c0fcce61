//! Opus: real Ogg Opus recordings (Debian's jami-daemon ringtones, made by opusenc) decoded to
//! the bit, against libopus (ffmpeg's `libopus` decoder) for length and content, in WebM, in
//! 5.1 and mono, with tags and a cover; damaged Opus never panics; the formats songrec still
//! refuses say so in one clear line.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};
use songrec_audio::{AudioError, DecodeOptions, decode_file, decode_file_with};
use songrec_testkit::fixtures::real_recording;

/// Decoding at Opus's own rate: no resampling, so the mono samples are the decoder's output
/// downmixed, and comparable with libopus's sample for sample.
const AT_48K: DecodeOptions = DecodeOptions {
    max_analysed_secs: 240.0,
    excerpt_secs: 30.0,
    sample_rate: 48_000,
};

fn jami(name: &str) -> PathBuf {
    real_recording("jami", name)
}

fn sha(samples: &[f32]) -> String {
    let mut h = Sha256::new();
    for v in samples {
        h.update(v.to_bits().to_le_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn all_samples(d: &songrec_audio::Decoded) -> Vec<f32> {
    assert_eq!(d.audio.segments.len(), 1, "a short file is one segment");
    d.audio.segments[0].samples.clone()
}

fn run_ffmpeg(args: &[&str]) -> std::process::Output {
    let o = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (scripts/test-deps.sh installs it)");
    assert!(
        o.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// libopus's decode of `path` (through ffmpeg, which applies the pre-skip and the end-trim),
/// downmixed to mono the way songrec does: the channels' plain average.
fn libopus_mono(path: &Path, channels: usize) -> Vec<f32> {
    let o = run_ffmpeg(&[
        "-c:a",
        "libopus",
        "-i",
        path.to_str().expect("utf-8 path"),
        "-f",
        "f32le",
        "-",
    ]);
    let pcm: Vec<f32> = o
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    pcm.chunks_exact(channels)
        .map(|f| f.iter().sum::<f32>() / channels as f32)
        .collect()
}

/// Signal-to-difference ratio of `got` against `want`, in dB.
fn snr_db(got: &[f32], want: &[f32]) -> f64 {
    let (mut sig, mut err) = (0f64, 0f64);
    for (g, w) in got.iter().zip(want) {
        sig += f64::from(*w) * f64::from(*w);
        err += f64::from(g - w) * f64::from(g - w);
    }
    10.0 * (sig / err.max(1e-30)).log10()
}

/// (file, frames at 48 kHz after pre-skip and end-trim, SHA-256 of the mono 48 kHz samples,
/// SHA-256 of the mono 22.05 kHz samples the analysis gets).
///
/// The digests are those of x86-64 with AVX and FMA (this project's machines and CI): opus-pure
/// picks its kernels at run time, and its FMA kernels round differently from its SSE and NEON
/// ones, so another CPU checks frames and libopus agreement only (and says so).
const PINNED: [(&str, usize, &str, &str); 2] = [
    (
        "03_AcousticGuitar.opus",
        2_419_501,
        "033b19eac5ea611e3cffad893d1d42caee115cbd4b5083044ea32531c667f462",
        "f9df0bab922ee487f77461621813a209c6a84e23deafe85d7219b7a5cf6ace4b",
    ),
    (
        "10_UrbanTrap.opus",
        1_497_901,
        "05d8b566cae0258a375785d0e42b2c9c804d7cc0d9dd9fe8bd7f2de58fb69dec",
        "65b758a4c2c0e855a11aa3c1dd3d27a36b747a97ea94d94a67468f66e5fc5673",
    ),
];

/// Whether this CPU runs the kernels the digests were taken on.
fn pinned_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[test]
fn real_opus_decodes_to_the_bit_with_libopus_length_and_tags() {
    if !pinned_kernels() {
        eprintln!("no AVX+FMA here: the digests are not checked, the rest is");
    }
    for (name, frames, sha48, sha22) in PINNED {
        let path = jami(name);
        let d = decode_file_with(&path, &AT_48K).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(d.info.codec, "opus", "{name}");
        assert_eq!((d.info.sample_rate, d.info.channels), (48_000, 2), "{name}");
        assert_eq!(d.info.decode_errors, 0, "{name}");
        assert!(!d.info.truncated, "{name}");
        let mono = all_samples(&d);
        // Exactly what the granule positions say: the pre-skip and the end-trim are cut.
        assert_eq!(mono.len(), frames, "{name}: frames");
        assert!(
            (d.info.duration_secs - frames as f64 / 48_000.0).abs() < 1e-9,
            "{name}: duration {}",
            d.info.duration_secs
        );
        // libopus gives the same number of samples and the same audio: opus-pure differs from
        // libopus 1.3.1 only inside a few mode-switch cross-fades (measured: 79 and 50 dB).
        let reference = libopus_mono(&path, 2);
        assert_eq!(reference.len(), frames, "{name}: libopus frames");
        let snr = snr_db(&mono, &reference);
        assert!(snr > 45.0, "{name}: {snr:.1} dB against libopus");
        // To the bit, at 48 kHz and at the analysis rate.
        let d22 = decode_file(&path).expect(name);
        if pinned_kernels() {
            assert_eq!(sha(&mono), sha48, "{name}: 48 kHz samples changed");
            assert_eq!(
                sha(&all_samples(&d22)),
                sha22,
                "{name}: 22.05 kHz samples changed"
            );
        }
        // OpusTags come out as Ogg Vorbis's comments do.
        let t = &d.tags;
        assert!(
            t.title.as_deref().is_some_and(|s| s.starts_with("Sound")),
            "{t:?}"
        );
        assert_eq!(
            t.artist.as_deref(),
            Some("Loïc Bogino - loic.bogino@gmail.com")
        );
        assert_eq!(
            t.album.as_deref(),
            Some("Ringtones for Jami -- Creative Commons")
        );
    }
}

/// Every segment's samples, in order (a stream without a stated length comes as chunks).
fn concat(d: &songrec_audio::Decoded) -> Vec<f32> {
    d.audio
        .segments
        .iter()
        .flat_map(|s| s.samples.iter().copied())
        .collect()
}

#[test]
fn opus_in_webm_decodes_as_in_ogg() {
    // The same packets in WebM (ffmpeg's stream copy): Matroska states the pre-skip as a codec
    // delay, not as Ogg does; the audio must come out the same, sample for sample.
    let dir = tempfile::tempdir().expect("tempdir");
    let (name, frames) = (PINNED[1].0, PINNED[1].1);
    let ogg = decode_file_with(&jami(name), &AT_48K).expect("ogg");
    let webm = dir.path().join("u.webm");
    run_ffmpeg(&[
        "-i",
        jami(name).to_str().expect("utf-8 path"),
        "-c",
        "copy",
        webm.to_str().expect("utf-8 path"),
    ]);
    let d = decode_file_with(&webm, &AT_48K).expect("webm");
    assert_eq!((d.info.codec.as_str(), d.info.channels), ("opus", 2));
    let got = concat(&d);
    assert_eq!(&got[..frames], &all_samples(&ogg)[..], "the same samples");
    // symphonia 0.6 does not read Matroska's DiscardPadding: the encoder's padding (under one
    // 20 ms packet) stays at the end.
    assert!(got.len() - frames < 960, "{} extra", got.len() - frames);
}

/// A few seconds of a real recording (the first asc piece) as WAV, for ffmpeg's encoders.
fn source(dir: &Path) -> PathBuf {
    let wav = dir.join("src.wav");
    let asc = real_recording("asc", "frontiers.mp3");
    run_ffmpeg(&[
        "-i",
        asc.to_str().expect("utf-8 path"),
        "-ss",
        "20",
        "-t",
        "6",
        wav.to_str().expect("utf-8 path"),
    ]);
    wav
}

fn encode(src: &Path, dst: &Path, args: &[&str]) -> PathBuf {
    let mut a = vec!["-i", src.to_str().expect("utf-8 path")];
    a.extend_from_slice(args);
    a.push(dst.to_str().expect("utf-8 path"));
    run_ffmpeg(&a);
    dst.to_path_buf()
}

#[test]
fn mono_and_surround_opus_decode_like_libopus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source(dir.path());
    // (file, ffmpeg arguments, channels): mono and stereo are mapping family 0, 5.1 family 1
    // (4 streams, 2 of them coupled). The source is at 22.05 kHz, which ffmpeg hands libopus at
    // 24 kHz: Matroska then states 24 kHz, and the audio still decodes at 48.
    for (name, args, ch) in [
        ("mono.opus", &["-ac", "1", "-c:a", "libopus"][..], 1usize),
        ("stereo.opus", &["-c:a", "libopus", "-b:a", "96k"], 2),
        ("surround.opus", &["-ac", "6", "-c:a", "libopus"], 6),
        ("surround.webm", &["-ac", "6", "-c:a", "libopus"], 6),
    ] {
        let path = encode(&src, &dir.path().join(name), args);
        let d = decode_file_with(&path, &AT_48K).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(usize::from(d.info.channels), ch, "{name}");
        assert_eq!(d.info.sample_rate, 48_000, "{name}");
        assert_eq!(d.info.decode_errors, 0, "{name}");
        let got = concat(&d);
        let reference = libopus_mono(&path, ch);
        if name.ends_with(".opus") {
            assert_eq!(got.len(), 6 * 48_000, "{name}: exactly the 6 s encoded");
            assert_eq!(reference.len(), got.len(), "{name}: libopus length");
        }
        let snr = snr_db(&got[..reference.len()], &reference);
        assert!(snr > 45.0, "{name}: {snr:.1} dB against libopus");
    }
}

/// Standard base64 (RFC 4648), for a METADATA_BLOCK_PICTURE comment.
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A FLAC picture block (the front cover, `mime`), as Ogg files carry it base64-encoded in
/// their METADATA_BLOCK_PICTURE comment.
fn picture_block(mime: &str, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    let len = |n: usize| u32::try_from(n).expect("small").to_be_bytes();
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(&len(mime.len()));
    b.extend_from_slice(mime.as_bytes());
    b.extend_from_slice(&len(5));
    b.extend_from_slice(b"front");
    for v in [16u32, 16, 24, 0] {
        b.extend_from_slice(&v.to_be_bytes());
    }
    b.extend_from_slice(&len(data.len()));
    b.extend_from_slice(data);
    b
}

#[test]
fn opus_tags_and_cover_come_out_as_vorbis_ones_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source(dir.path());
    let png = dir.path().join("cover.png");
    run_ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=red:s=16x16",
        "-frames:v",
        "1",
        png.to_str().expect("utf-8 path"),
    ]);
    let png = std::fs::read(&png).expect("png");
    let picture = format!(
        "METADATA_BLOCK_PICTURE={}",
        base64(&picture_block("image/png", &png))
    );
    let tags = [
        "-metadata",
        "title=Frontiers (excerpt)",
        "-metadata",
        "artist=ASC",
        "-metadata",
        "album=Soundtrack",
        "-metadata",
        "date=2009",
        "-metadata",
        "tracknumber=3",
        "-metadata",
        &picture,
    ];
    let mut read = Vec::new();
    for (name, codec) in [("a.opus", "libopus"), ("a.ogg", "libvorbis")] {
        let mut args = vec!["-c:a", codec];
        args.extend_from_slice(&tags);
        let path = encode(&src, &dir.path().join(name), &args);
        let t = decode_file(&path)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .tags;
        assert_eq!(t.title.as_deref(), Some("Frontiers (excerpt)"), "{name}");
        assert_eq!(t.artist.as_deref(), Some("ASC"), "{name}");
        assert_eq!(t.album.as_deref(), Some("Soundtrack"), "{name}");
        assert_eq!((t.year, t.track), (Some(2009), Some(3)), "{name}");
        let cover = songrec_audio::tags::cover_art(&path).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(cover.mime.as_deref(), Some("image/png"), "{name}");
        assert_eq!(cover.data, png, "{name}: the cover's bytes");
        read.push(t);
    }
    assert_eq!(read[0], read[1], "Opus and Vorbis tags read alike");
}

/// The Ogg page CRC (RFC 3533: polynomial 0x04C11DB7, not reflected, initial 0).
fn ogg_crc(page: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in page {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// The Ogg pages of `file`: (start, header length, body length).
fn pages(file: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while file.get(at..at + 4) == Some(b"OggS") {
        let Some(&n) = file.get(at + 26) else { break };
        let header = 27 + usize::from(n);
        let Some(lacing) = file.get(at + 27..at + header) else {
            break;
        };
        let body: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        out.push((at, header, body));
        at += header + body;
    }
    out
}

/// A tiny deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn damaged_opus_is_an_error_or_less_audio_never_a_panic() {
    // The first 4 s of a real Opus file (a stream copy: the same packets, a short file).
    let dir = tempfile::tempdir().expect("tempdir");
    let short = dir.path().join("short.opus");
    run_ffmpeg(&[
        "-i",
        jami(PINNED[1].0).to_str().expect("utf-8 path"),
        "-t",
        "4",
        "-c",
        "copy",
        short.to_str().expect("utf-8 path"),
    ]);
    let good = std::fs::read(&short).expect("read");
    let pages = pages(&good);
    assert!(pages.len() > 5, "{} pages", pages.len());
    let bad = dir.path().join("bad.opus");
    let check = |bytes: &[u8], what: &str| {
        std::fs::write(&bad, bytes).expect("write");
        // Any outcome but a panic; an error is one of songrec's own kinds, naming the file.
        if let Err(e) = decode_file(&bad) {
            assert!(e.to_string().contains("bad.opus"), "{what}: {e}");
            assert!(
                matches!(
                    e,
                    AudioError::Corrupt { .. }
                        | AudioError::UnknownFormat { .. }
                        | AudioError::UnsupportedCodec { .. }
                        | AudioError::ZeroLength { .. }
                ),
                "{what}: {e}"
            );
        }
    };
    // Cut anywhere: in the headers, between and inside audio pages.
    for cut in (1..good.len()).step_by(good.len() / 97) {
        check(&good[..cut], &format!("cut at {cut}"));
    }
    // Garbled audio pages with their CRC made right again, so the demuxer hands the damaged
    // packets to the decoder: flipped bits, zeroed runs, random bytes, in 1 to 8 pages at once.
    let mut rng = Rng(0x5eed_0f09);
    let mut decoded_with_errors = 0;
    for round in 0..300 {
        let mut f = good.clone();
        for _ in 0..1 + rng.below(8) {
            // Pages 0 and 1 are OpusHead and OpusTags: those are the header tests above.
            let (start, header, body) = pages[2 + rng.below(pages.len() - 2)];
            if body == 0 {
                continue;
            }
            let b = &mut f[start + header..start + header + body];
            let at = rng.below(b.len());
            match round % 3 {
                0 => b[at] ^= 1 << rng.below(8),
                1 => b[at..(at + 1 + rng.below(64)).min(body)].fill(0),
                _ => {
                    for x in &mut b[at..(at + 1 + rng.below(256)).min(body)] {
                        *x = rng.next() as u8;
                    }
                }
            }
            f[start + 22..start + 26].fill(0);
            let crc = ogg_crc(&f[start..start + header + body]);
            f[start + 22..start + 26].copy_from_slice(&crc.to_le_bytes());
        }
        check(&f, &format!("round {round}"));
        if decode_file(&bad).is_ok_and(|d| d.info.decode_errors > 0) {
            decoded_with_errors += 1;
        }
    }
    // The garbage did reach the decoder: some packets were refused as invalid and skipped.
    assert!(decoded_with_errors > 0, "no packet was ever refused");
}

#[test]
fn formats_songrec_refuses_say_so_in_one_clear_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = source(dir.path());
    // What ffmpeg can write of the formats people have that songrec does not decode.
    for (name, args, codec) in [
        ("a.wma", &["-c:a", "wmav2"][..], "wma (asf)"),
        ("a.wv", &["-c:a", "wavpack"], "wavpack"),
        ("a.tta", &["-c:a", "tta"], "tta (True Audio)"),
        ("a.ac3", &["-c:a", "ac3"], "ac3"),
        ("ac3.mka", &["-c:a", "ac3"], "ac3"),
        ("a.spx", &["-ar", "16000", "-c:a", "libspeex"], "speex"),
        (
            "discrete.opus",
            &["-c:a", "libopus", "-mapping_family", "255"],
            "opus with a channel mapping other than mono, stereo or 3 to 8 surround channels",
        ),
    ] {
        let path = encode(&src, &dir.path().join(name), args);
        let err = decode_file(&path).expect_err(name);
        let AudioError::UnsupportedCodec { codec: ref got, .. } = err else {
            panic!("{name}: {err}");
        };
        assert_eq!(got, codec, "{name}");
        let line = err.to_string();
        assert!(!line.contains('\n'), "{line}");
        assert!(
            line.contains(&format!(
                "{name}: {codec} is not supported; convert to flac/ogg/mp3"
            )),
            "{line}"
        );
    }
}
