//! `stream` with `format`, `maxBitRate` and `timeOffset` on real recordings: the file's own
//! bytes unless another format is asked; a re-encoding by ffmpeg otherwise (the bytes ffmpeg
//! makes from the file with the same arguments, decodable, of the asked codec and length);
//! `download` never re-encodes.

use std::process::Command;

use songrec_server::subsonic::media::transcode::{TARGETS, arguments};

use super::*;

const FRONTIERS: &str = "ASC Music/Soundtrack/01 Frontiers.mp3";
const BELL: &str = "Freedesktop/Stereo/01 Bell.oga";
const KICK: &str = "GMRockKit/Hits/02 Kick Med.wav";

async fn get(srv: &Running, endpoint: &str, query: &str) -> reqwest::Response {
    let r = reqwest::get(srv.url(&format!("/rest/{endpoint}?{}&{query}", signed())))
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{endpoint}?{query}");
    r
}

/// What ffprobe says of the bytes: codec, duration (s) and bit rate (bit/s, 0 when unknown).
fn probe(bytes: &[u8]) -> (String, f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("audio");
    std::fs::write(&f, bytes).unwrap();
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg("stream=codec_name,bit_rate:format=duration,bit_rate")
        .arg(&f)
        .output()
        .expect("ffprobe (scripts/test-deps.sh installs it)");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let num = |x: &Value| x.as_str().and_then(|s| s.parse::<f64>().ok());
    let codec = v["streams"][0]["codec_name"].as_str().unwrap().to_owned();
    // Decoded, not read from the headers: a FLAC written to a pipe does not know its length.
    let pcm = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&f)
        .args(["-f", "s16le", "-ac", "1", "-ar", "8000", "-"])
        .output()
        .unwrap();
    assert!(
        pcm.status.success(),
        "{}",
        String::from_utf8_lossy(&pcm.stderr)
    );
    let duration = pcm.stdout.len() as f64 / 16_000.0;
    let rate = num(&v["streams"][0]["bit_rate"])
        .or_else(|| num(&v["format"]["bit_rate"]))
        .unwrap_or(0.0);
    (codec, duration, rate as u64)
}

/// What ffmpeg writes for `file` with the server's arguments.
fn by_hand(file: &Path, suffix: &str, kbps: u32, offset: u32) -> Vec<u8> {
    let t = TARGETS.iter().find(|t| t.suffix == suffix).unwrap();
    let o = Command::new("ffmpeg")
        .args(arguments(file, t, kbps, offset))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_files_bytes_unless_another_format_is_asked() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    for (to, own) in [(FRONTIERS, "mp3"), (BELL, "oga"), (KICK, "wav")] {
        let bytes = std::fs::read(real_library().music.join(to)).unwrap();
        let id = song_from(&songs, to)["id"].as_str().unwrap().to_owned();
        for q in [
            String::new(),
            "format=raw".into(),
            "format=raw&maxBitRate=64".into(),
            "maxBitRate=64".into(),
            format!("format={own}"),
            format!("format={}&maxBitRate=32", own.to_uppercase()),
        ] {
            let r = get(&srv, "stream", &format!("id={id}&{q}")).await;
            assert_eq!(r.headers()["accept-ranges"], "bytes", "{to} {q}");
            assert!(r.bytes().await.unwrap() == bytes.as_slice(), "{to} {q}");
        }
        // `download` is always the file.
        let r = get(
            &srv,
            "download",
            &format!("id={id}&format=flac&maxBitRate=64"),
        )
        .await;
        assert!(r.bytes().await.unwrap() == bytes.as_slice(), "{to}");
    }
    // `.oga` and `ogg` are one format.
    let id = song_from(&songs, BELL)["id"].as_str().unwrap().to_owned();
    let bell = std::fs::read(real_library().music.join(BELL)).unwrap();
    let r = get(&srv, "stream", &format!("id={id}&format=ogg")).await;
    assert!(r.bytes().await.unwrap() == bell.as_slice());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_formats_are_re_encoded_by_ffmpeg() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let id = |to: &str| song_from(&songs, to)["id"].as_str().unwrap().to_owned();
    let file = |to: &str| real_library().music.join(to);
    let (_, frontiers_secs, _) = probe(&std::fs::read(file(FRONTIERS)).unwrap());

    // A WAV as MP3 at 96 kbit/s: exactly what ffmpeg makes of the file with those arguments.
    let r = get(
        &srv,
        "stream",
        &format!("id={}&format=mp3&maxBitRate=96", id(KICK)),
    )
    .await;
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    assert!(r.headers().get("content-length").is_none());
    let b = r.bytes().await.unwrap();
    assert!(
        b == by_hand(&file(KICK), "mp3", 96, 0),
        "the bytes ffmpeg makes"
    );
    let (codec, _, rate) = probe(&b);
    assert_eq!((codec.as_str(), rate), ("mp3", 96_000));

    // An MP3 as Opus (Ogg: its serial numbers differ from run to run, so decoded instead):
    // the codec asked, the whole length; a range asked is ignored.
    let r = reqwest::Client::new()
        .get(srv.url(&format!(
            "/rest/stream?{}&id={}&format=opus&maxBitRate=64",
            signed(),
            id(FRONTIERS)
        )))
        .header("range", "bytes=100-1099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/ogg");
    assert_eq!(r.headers()["accept-ranges"], "none");
    let b = r.bytes().await.unwrap();
    assert!(b.starts_with(b"OggS"));
    let (codec, secs, _) = probe(&b);
    assert_eq!(codec, "opus");
    assert!(
        (secs - frontiers_secs).abs() < 0.2,
        "{secs} vs {frontiers_secs}"
    );

    // timeOffset: 10 s in. FLAC is lossless: no bit rate, bytes as ffmpeg makes them.
    let r = get(
        &srv,
        "stream",
        &format!(
            "id={}&format=flac&timeOffset=10&maxBitRate=64",
            id(FRONTIERS)
        ),
    )
    .await;
    assert_eq!(r.headers()["content-type"], "audio/flac");
    let b = r.bytes().await.unwrap();
    assert!(b == by_hand(&file(FRONTIERS), "flac", 64, 10));
    let (codec, secs, _) = probe(&b);
    assert_eq!(codec, "flac");
    assert!((secs - (frontiers_secs - 10.0)).abs() < 0.2, "{secs}");

    // An Ogg Vorbis file as AAC (ADTS) and as MP3 at the default 192 kbit/s.
    let r = get(&srv, "stream", &format!("id={}&format=aac", id(BELL))).await;
    assert_eq!(r.headers()["content-type"], "audio/aac");
    assert_eq!(probe(&r.bytes().await.unwrap()).0, "aac");
    let r = get(&srv, "stream", &format!("id={}&format=mp3", id(BELL))).await;
    assert!(r.bytes().await.unwrap() == by_hand(&file(BELL), "mp3", 192, 0));

    // What cannot be done says so with error 0; an unknown song is 70.
    let (code, msg) = fails(
        &srv,
        "stream",
        &format!("{}&id={}&format=wma", signed(), id(KICK)),
    )
    .await;
    assert_eq!(code, 0);
    assert!(msg.contains("mp3") && msg.contains("raw"), "{msg}");
    let (code, _) = fails(
        &srv,
        "stream",
        &format!("{}&id={}&format=mp3&timeOffset=999", signed(), id(KICK)),
    )
    .await;
    assert_eq!(code, 0);
    let (code, _) = fails(
        &srv,
        "stream",
        &format!("{}&id=feedface&format=mp3", signed()),
    )
    .await;
    assert_eq!(code, 70);
    srv.stop().await;
}
