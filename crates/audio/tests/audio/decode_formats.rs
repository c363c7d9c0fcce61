//! Decoding, tags and error kinds on real files written by ffmpeg.

use std::path::Path;

use songrec_audio::{
    ANALYSIS_RATE, AudioError, DecodeOptions, DspEmbedder, Embedder, TagSource, analyze_file,
    decode_file, decode_file_with,
};
use songrec_testkit::audio::*;

fn make_source(dir: &Path) -> std::path::PathBuf {
    let wav = dir.join("src.wav");
    write_wav(&wav, &stereo_tone(44_100, 3.0), 44_100, 2);
    wav
}

#[test]
fn every_supported_format_decodes_with_right_facts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = make_source(dir.path());
    // (file name, ffmpeg args, expected codec, duration tolerance in s)
    let cases: Vec<(&str, Vec<&str>, &str, f64)> = vec![
        ("a.wav", vec![], "pcm_s16le", 0.001),
        ("a24.wav", vec!["-c:a", "pcm_s24le"], "pcm_s24le", 0.001),
        ("af.wav", vec!["-c:a", "pcm_f32le"], "pcm_f32le", 0.001),
        (
            "a.mp3",
            vec!["-c:a", "libmp3lame", "-b:a", "192k"],
            "mp3",
            0.06,
        ),
        ("a.flac", vec!["-c:a", "flac"], "flac", 0.001),
        ("a.ogg", vec!["-c:a", "libvorbis"], "vorbis", 0.01),
        ("aac.m4a", vec!["-c:a", "aac", "-b:a", "160k"], "aac", 0.1),
        ("alac.m4a", vec!["-c:a", "alac"], "alac", 0.001),
        ("a.aiff", vec![], "pcm_s16be", 0.001),
    ];
    for (name, args, codec, tol) in cases {
        let path = dir.path().join(name);
        if name == "a.wav" {
            std::fs::copy(&src, &path).expect("copy");
        } else {
            convert(&src, &path, &args);
        }
        let d = decode_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!d.info.truncated, "{name}: {:?}", d.info);
        assert_eq!(d.info.sample_rate, 44_100, "{name}");
        assert_eq!(d.info.channels, 2, "{name}");
        assert_eq!(d.info.codec, codec, "{name}");
        assert!(
            (d.info.duration_secs - 3.0).abs() <= tol,
            "{name}: duration {}",
            d.info.duration_secs
        );
        assert_eq!(d.audio.sample_rate, ANALYSIS_RATE);
        assert_eq!(
            d.audio.segments.len(),
            1,
            "{name}: short file is analysed whole"
        );
        // ~3 s of mono 22.05 kHz audio (AAC keeps encoder priming, mp3 keeps padding).
        let secs = d.audio.analysed_secs();
        assert!((secs - 3.0).abs() < 0.12, "{name}: analysed {secs} s");
        // Downmix of 440 Hz + 660 Hz at 0.4 each: RMS of the mono mix is 0.2.
        let s = &d.audio.segments[0].samples;
        let mid = &s[s.len() / 4..3 * s.len() / 4];
        let rms = (mid.iter().map(|v| v * v).sum::<f32>() / mid.len() as f32).sqrt();
        assert!((rms - 0.2).abs() < 0.02, "{name}: rms {rms}");
    }
}

#[test]
fn mono_low_rate_mp3_and_misnamed_file_are_probed_by_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wav = dir.path().join("m.wav");
    write_mono(&wav, &sine(1000.0, 22_050, 2.0, 0.5), 22_050);
    let mp3 = convert(&wav, &dir.path().join("m.mp3"), &["-c:a", "libmp3lame"]);
    let d = decode_file(&mp3).expect("mono mp3");
    assert_eq!((d.info.sample_rate, d.info.channels), (22_050, 1));
    // An mp3 named .flac, and a flac named .mp3.
    let fake_flac = dir.path().join("really_mp3.flac");
    std::fs::copy(&mp3, &fake_flac).expect("copy");
    assert_eq!(
        decode_file(&fake_flac).expect("misnamed mp3").info.codec,
        "mp3"
    );
    let flac = convert(&wav, &dir.path().join("x.flac"), &["-c:a", "flac"]);
    let fake_mp3 = dir.path().join("really_flac.mp3");
    std::fs::copy(&flac, &fake_mp3).expect("copy");
    assert_eq!(
        decode_file(&fake_mp3).expect("misnamed flac").info.codec,
        "flac"
    );
}

#[test]
fn tags_read_back_from_metadata() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = make_source(dir.path());
    let meta = [
        "-metadata",
        "title=Test Title",
        "-metadata",
        "artist=Test Artist",
        "-metadata",
        "album=Test Album",
        "-metadata",
        "genre=Jazz",
        "-metadata",
        "track=7",
        "-metadata",
        "date=2019",
    ];
    for (name, codec) in [
        ("t.mp3", vec!["-c:a", "libmp3lame"]),
        ("t.flac", vec!["-c:a", "flac"]),
        ("t.ogg", vec!["-c:a", "libvorbis"]),
        ("t.m4a", vec!["-c:a", "aac"]),
    ] {
        let mut args = codec.clone();
        args.extend_from_slice(&meta);
        let path = convert(&src, &dir.path().join(name), &args);
        let fa = analyze_file(&path, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let t = &fa.tags;
        assert_eq!(t.title.as_deref(), Some("Test Title"), "{name}: {t:?}");
        assert_eq!(t.artist.as_deref(), Some("Test Artist"), "{name}");
        assert_eq!(t.album.as_deref(), Some("Test Album"), "{name}");
        assert_eq!(t.genre.as_deref(), Some("Jazz"), "{name}");
        assert_eq!(t.track, Some(7), "{name}");
        assert_eq!(t.year, Some(2019), "{name}");
        assert_eq!(t.source, TagSource::Metadata, "{name}");
    }
}

#[test]
fn untagged_file_falls_back_to_file_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("04 - Some Band - Night_Drive.wav");
    write_mono(&path, &sine(300.0, 8000, 0.5, 0.5), 8000);
    let fa = analyze_file(&path, &[]).expect("analyse");
    assert_eq!(fa.tags.artist.as_deref(), Some("Some Band"));
    assert_eq!(fa.tags.title.as_deref(), Some("Night Drive"));
    assert_eq!(fa.tags.track, Some(4));
    assert_eq!(fa.tags.source, TagSource::FileName);
}

#[test]
fn error_kinds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = |n: &str| dir.path().join(n);

    let err = decode_file(&p("missing.mp3")).expect_err("missing");
    assert!(matches!(err, AudioError::Io { .. }), "{err}");
    assert!(err.to_string().contains("missing.mp3"));

    std::fs::write(p("empty.mp3"), b"").expect("write");
    let err = decode_file(&p("empty.mp3")).expect_err("empty");
    assert!(matches!(err, AudioError::Empty { .. }), "{err}");

    std::fs::write(
        p("notes.mp3"),
        "This is a text file, not audio.\n".repeat(50),
    )
    .expect("write");
    let err = decode_file(&p("notes.mp3")).expect_err("text");
    assert!(matches!(err, AudioError::UnknownFormat { .. }), "{err}");
    assert!(err.to_string().contains("notes.mp3"));

    let bytes: Vec<u8> = noise(40_000, 3)
        .iter()
        .map(|v| (v * 127.0) as i8 as u8)
        .collect();
    std::fs::write(p("random.flac"), &bytes).expect("write");
    let err = decode_file(&p("random.flac")).expect_err("random");
    assert!(
        matches!(err, AudioError::UnknownFormat { .. }),
        "random bytes: {err}"
    );

    // WMA in ASF: a format songrec knows and cannot decode (more in opus.rs).
    let src = make_source(dir.path());
    let wma = convert(&src, &p("a.wma"), &["-c:a", "wmav2"]);
    let err = decode_file(&wma).expect_err("wma");
    assert!(
        matches!(err, AudioError::UnsupportedCodec { ref codec, .. } if codec == "wma (asf)"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("wma (asf) is not supported; convert to flac/ogg/mp3"),
        "{err}"
    );

    // Truncated: a FLAC cut right after its headers yields no audio.
    let flac = convert(&src, &p("full.flac"), &["-c:a", "flac"]);
    let data = std::fs::read(&flac).expect("read");
    std::fs::write(p("cut.flac"), &data[..8300.min(data.len() / 4)]).expect("write");
    let err = decode_file(&p("cut.flac")).expect_err("truncated flac");
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("truncated"), "{err}");
    // Only the first 600 bytes of an mp3 (Xing header, no complete audio frame).
    let mp3 = convert(&src, &p("full.mp3"), &["-c:a", "libmp3lame"]);
    let data = std::fs::read(&mp3).expect("read");
    std::fs::write(p("tiny.mp3"), &data[..600.min(data.len())]).expect("write");
    let err = decode_file(&p("tiny.mp3")).expect_err("tiny mp3");
    assert!(matches!(err, AudioError::Corrupt { .. }), "{err}");

    // A valid WAV with zero frames.
    write_mono(&p("zero.wav"), &[], 44_100);
    let err = decode_file(&p("zero.wav")).expect_err("zero-length");
    assert!(matches!(err, AudioError::ZeroLength { .. }), "{err}");
}

#[test]
fn truncated_stream_keeps_decoded_audio() {
    // Cut an mp3 in half: players play the first half, so do we (no error).
    let dir = tempfile::tempdir().expect("tempdir");
    let src = make_source(dir.path());
    let mp3 = convert(&src, &dir.path().join("a.mp3"), &["-c:a", "libmp3lame"]);
    let data = std::fs::read(&mp3).expect("read");
    let half = dir.path().join("half.mp3");
    std::fs::write(&half, &data[..data.len() / 2]).expect("write");
    let d = decode_file(&half).expect("half mp3 still decodes");
    let secs = d.audio.analysed_secs();
    assert!(
        secs > 1.0 && secs < 2.0,
        "decoded {secs} s of a 3 s file cut in half"
    );
    // The header (Xing frame count) says 3 s: the file is reported as truncated, with the
    // length that was there.
    assert!(d.info.truncated, "{:?}", d.info);
    assert!(
        (d.info.duration_secs - secs).abs() < 0.1,
        "duration {} s, decoded {secs} s",
        d.info.duration_secs
    );
    let whole = decode_file(&mp3).expect("whole mp3");
    assert!(!whole.info.truncated, "{:?}", whole.info);
}

/// Files whose header understates their length (10 s declared, 10 minutes there): the decoder
/// keeps no more than the budget, whatever the header says.
#[test]
fn a_header_that_understates_the_length_keeps_memory_within_the_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rate = 8000u32;
    let opts = DecodeOptions {
        max_analysed_secs: 20.0,
        excerpt_secs: 5.0,
        ..DecodeOptions::default()
    };
    let long_wav = dir.path().join("long.wav");
    write_mono(&long_wav, &sine(660.0, rate, 600.0, 0.3), rate);

    // FLAC: STREAMINFO's total-samples field (36 bits at byte 21, low nibble, to byte 25)
    // patched to 10 s; the frames themselves go on for 10 minutes.
    let flac = convert(&long_wav, &dir.path().join("long.flac"), &["-c:a", "flac"]);
    let mut bytes = std::fs::read(&flac).expect("flac");
    assert_eq!(&bytes[..4], b"fLaC");
    let declared = u64::from(rate) * 10;
    bytes[21] = (bytes[21] & 0xf0) | ((declared >> 32) as u8 & 0x0f);
    bytes[22..26].copy_from_slice(&(declared as u32).to_be_bytes());
    let liar_flac = dir.path().join("liar.flac");
    std::fs::write(&liar_flac, &bytes).expect("write");

    // MP3: a 10 s file (its first frame carries a Xing frame count) with 10 minutes of frames
    // appended.
    let short_wav = dir.path().join("short.wav");
    write_mono(&short_wav, &sine(440.0, rate, 10.0, 0.3), rate);
    let low = [
        "-c:a",
        "libmp3lame",
        "-b:a",
        "8k",
        "-ar",
        "8000",
        "-ac",
        "1",
    ];
    let head = convert(&short_wav, &dir.path().join("head.mp3"), &low);
    let mut tail_args = low.to_vec();
    tail_args.extend(["-write_xing", "0", "-id3v2_version", "0"]);
    let tail = convert(&long_wav, &dir.path().join("tail.mp3"), &tail_args);
    let mut bytes = std::fs::read(&head).expect("head");
    bytes.extend(std::fs::read(&tail).expect("tail"));
    let liar_mp3 = dir.path().join("liar.mp3");
    std::fs::write(&liar_mp3, &bytes).expect("write");

    for path in [&liar_flac, &liar_mp3] {
        let d = decode_file_with(path, &opts).expect("decodes");
        let name = path.display();
        assert!(
            d.peak_buffered_samples <= opts.max_buffered_samples(),
            "{name}: held {} samples at once, budget {}",
            d.peak_buffered_samples,
            opts.max_buffered_samples()
        );
        assert!(d.audio.total_samples() <= opts.max_buffered_samples());
        // The whole stream was read: the duration is the real one.
        assert!(
            (d.info.duration_secs - 610.0).abs() < 11.0,
            "{name}: duration {}",
            d.info.duration_secs
        );
        assert!(!d.info.truncated, "{name}");
    }
    // The FLAC frames all decode: the excerpts are spread over the whole 10 minutes, not the
    // first 20 s. (symphonia's mp3 decoder itself drops the frames past the Xing count.)
    let d = decode_file_with(&liar_flac, &opts).expect("decodes");
    assert_eq!(d.audio.segments.len(), opts.max_excerpts());
    let last = d.audio.segments.last().expect("segments").start_secs;
    assert!(last > 300.0, "last excerpt at {last} s");
}

#[test]
fn analyze_file_is_usable_from_rayon_threads() {
    use rayon::prelude::*;
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<DspEmbedder>();
    assert_send_sync::<songrec_audio::FileAnalysis>();
    let dir = tempfile::tempdir().expect("tempdir");
    let files: Vec<_> = (0..6)
        .map(|i| {
            let p = dir.path().join(format!("f{i}.wav"));
            write_mono(
                &p,
                &sine(200.0 + 100.0 * i as f32, 44_100, 1.0, 0.5),
                44_100,
            );
            p
        })
        .collect();
    let dsp = DspEmbedder::new();
    let embs: [&dyn Embedder; 1] = [&dsp];
    let res: Vec<_> = files.par_iter().map(|f| analyze_file(f, &embs)).collect();
    for r in &res {
        let fa = r.as_ref().expect("analysis");
        assert_eq!(fa.analyses.len(), 1);
        assert_eq!(fa.analyses[0].embedder, "songrec-dsp");
        assert_eq!(fa.analyses[0].analysis.vector.len(), dsp.dim());
    }
    // Deterministic: the same file gives the same vector on any thread.
    let again = analyze_file(&files[2], &embs).expect("again");
    let first = res[2].as_ref().expect("first");
    assert_eq!(
        again.analyses[0].analysis.vector,
        first.analyses[0].analysis.vector
    );
    // Serialisable.
    let json = serde_json::to_string(first).expect("json");
    let back: songrec_audio::FileAnalysis = serde_json::from_str(&json).expect("parse");
    assert_eq!(&back, first);
}
