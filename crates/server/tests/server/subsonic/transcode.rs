//! `stream` with `format`, `maxBitRate` and `timeOffset` on real recordings: the file's own
//! bytes unless another format is asked; a re-encoding by ffmpeg otherwise (the bytes ffmpeg
//! makes from the file with the same arguments, decodable, of the asked codec and length);
//! `download` never re-encodes.

use std::process::Command;
use std::time::Duration;

use songrec_server::subsonic::media::transcode::{TARGETS, arguments};
use songrec_storage::SongId;

use super::*;

const FRONTIERS: &str = "ASC Music/Soundtrack/01 Frontiers.mp3";
const BELL: &str = "Freedesktop/Stereo/01 Bell.oga";
const KICK: &str = "GMRockKit/Hits/02 Kick Med.wav";
const RIDE: &str = "GMRockKit/Hits/04 Ride Med.wav";

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

/// A client that asks for `path` on a socket with a small receive buffer, reads the head and a
/// little of the body, then stops reading (a paused player): the open connection, and what it
/// read.
async fn stalled(srv: &Running, path: &str) -> (tokio::net::TcpStream, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(srv.addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        srv.addr
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let until = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    // The head and at least 1 kB of audio.
    while !got.windows(4).any(|w| w == b"\r\n\r\n") || got.len() < 2048 {
        let n = tokio::time::timeout_at(until, s.read(&mut buf))
            .await
            .expect("the stream's first bytes within 60 s")
            .unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    (s, got)
}

/// The pids of this process's `ffmpeg` children whose command line holds every one of `words`
/// and none of `not`.
fn ffmpeg_children(words: &[&str], not: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let (Ok(stat), Ok(cmd)) = (
            std::fs::read_to_string(e.path().join("stat")),
            std::fs::read(e.path().join("cmdline")),
        ) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split(' ').nth(1).unwrap_or("");
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if comm.ends_with("(ffmpeg")
            && ppid == me
            && words.iter().all(|w| cmd.contains(w))
            && !cmd.contains(not)
        {
            found.extend(e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()));
        }
    }
    found
}

/// Two players that open re-encoded streams and pause (stop reading) cannot hold the two
/// re-encoding slots: with a short `transcode_wait` a third asker is answered at once with
/// `503`, `Retry-After` and a Subsonic error; with a short `transcode_idle` the paused streams
/// give their slots up (ffmpeg killed and reaped, their connections cut) and a third plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_players_do_not_hold_the_re_encoding_slots() {
    use tokio::io::AsyncReadExt;
    let deadline = |s| tokio::time::Instant::now() + Duration::from_secs(s);

    // A short wait, a long idle time: the third is refused, saying why, within the bound.
    let srv = serve_real(|o| {
        o.media.transcode_slots = Some(2);
        o.media.transcode_wait = Duration::from_millis(300);
        o.media.transcode_idle = Duration::from_secs(600);
    })
    .await;
    let songs = all_songs(&srv).await;
    let id = song_from(&songs, FRONTIERS)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/rest/stream?{}&id={id}&format=flac", signed());
    let a = stalled(&srv, &path).await;
    let b = stalled(&srv, &path).await;
    let third = reqwest::get(srv.url(&format!(
        "/rest/stream?{}&id={id}&format=ogg&f=json",
        signed()
    )));
    let r = tokio::time::timeout_at(deadline(30), third)
        .await
        .expect("an answer, not a wait without end")
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "10");
    let v: Value = r.json().await.unwrap();
    let e = &v["subsonic-response"]["error"];
    assert_eq!(v["subsonic-response"]["status"], "failed", "{v}");
    assert!(
        e["message"].as_str().unwrap().contains("re-encoding slots"),
        "{v}"
    );
    // The file as it is needs no slot.
    let r = reqwest::get(srv.url(&format!("/rest/stream?{}&id={id}", signed())))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop((a, b));
    // Not a graceful stop: it would wait for the streams still open here.
    drop(srv);

    // A short idle time: the paused streams are stopped and a third plays.
    let srv = serve_real(|o| {
        o.media.transcode_slots = Some(2);
        o.media.transcode_wait = Duration::from_secs(60);
        o.media.transcode_idle = Duration::from_secs(2);
    })
    .await;
    // Their ffmpegs: the re-encodings of this song to FLAC from its start that appear now.
    let mine = || ffmpeg_children(&["01 Frontiers.mp3", "flac"], "-ss");
    let mut theirs: Vec<u32> = mine();
    let before = theirs.len();
    let mut paused = Vec::new();
    for _ in 0..2 {
        paused.push(stalled(&srv, &path).await);
        theirs.extend(
            mine()
                .into_iter()
                .filter(|p| !theirs.contains(p))
                .collect::<Vec<_>>(),
        );
    }
    let theirs = theirs.split_off(before);
    assert_eq!(theirs.len(), 2, "{theirs:?}");
    let third = async {
        let r = reqwest::get(srv.url(&format!("/rest/stream?{}&id={id}&format=ogg", signed())))
            .await
            .unwrap();
        let status = r.status();
        let mut r = r;
        let first = r.chunk().await.unwrap().unwrap_or_default();
        (status, first)
    };
    let (status, first) = tokio::time::timeout_at(deadline(60), third)
        .await
        .expect("the third player's first bytes while two others pause");
    assert_eq!(status, 200);
    assert!(!first.is_empty());
    // The paused players find their streams cut short (not a whole song): reading on, they
    // reach the end of what was sent before the cut.
    let whole = by_hand(&real_library().music.join(FRONTIERS), "flac", 192, 0).len();
    for (s, got) in &mut paused {
        let mut rest = Vec::new();
        let read = tokio::time::timeout_at(deadline(60), s.read_to_end(&mut rest)).await;
        let read = read.expect("the cut connection ends");
        let total = got.len() + rest.len();
        assert!(
            read.is_err() || total < whole,
            "{total} bytes of {whole}: the stream was not cut"
        );
    }
    // The stopped streams' ffmpegs are killed and reaped: gone from /proc, no zombie left.
    let until = deadline(30);
    while theirs
        .iter()
        .any(|p| Path::new(&format!("/proc/{p}")).exists())
    {
        assert!(
            tokio::time::Instant::now() < until,
            "{theirs:?} still there"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Not a graceful stop: it would wait for the streams still open here.
    drop(srv);
}

/// `timeOffset` without a format is honoured (the song re-encoded from there to its own
/// format), refused with error 10 with `format=raw`; bad numbers in `timeOffset` and
/// `maxBitRate` are error 10, never a `500` or a silent whole file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn time_offsets_are_honoured_or_refused_and_bad_numbers_are_error_10() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let id = song_from(&songs, FRONTIERS)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let file = real_library().music.join(FRONTIERS);
    let (_, secs, _) = probe(&std::fs::read(&file).unwrap());
    // No format, or the file's own: from 30 s on, as MP3 (the file's own format).
    for q in ["timeOffset=30", "timeOffset=30&format=mp3"] {
        let r = get(&srv, "stream", &format!("id={id}&{q}")).await;
        assert_eq!(r.headers()["content-type"], "audio/mpeg", "{q}");
        let b = r.bytes().await.unwrap();
        assert!(b == by_hand(&file, "mp3", 192, 30), "{q}");
        let (codec, got, _) = probe(&b);
        assert_eq!(codec, "mp3");
        assert!((got - (secs - 30.0)).abs() < 0.3, "{q}: {got} vs {secs}");
    }
    // A WAV from an offset: FLAC, the same samples from there.
    let ride = song_from(&songs, RIDE)["id"].as_str().unwrap().to_owned();
    let r = get(&srv, "stream", &format!("id={ride}&timeOffset=1")).await;
    assert_eq!(r.headers()["content-type"], "audio/flac");
    let b = r.bytes().await.unwrap();
    assert!(b == by_hand(&real_library().music.join(RIDE), "flac", 192, 1));
    // `format=raw` is the file from its start: an offset cannot be honoured.
    let (code, msg) = fails(
        &srv,
        "stream",
        &format!("{}&id={id}&format=raw&timeOffset=30", signed()),
    )
    .await;
    assert_eq!(code, 10);
    assert!(msg.contains("timeOffset") && msg.contains("raw"), "{msg}");
    // 0 is the file as it is.
    let whole = std::fs::read(&file).unwrap();
    for q in ["timeOffset=0", "maxBitRate=0", "timeOffset=0&maxBitRate=0"] {
        let r = get(&srv, "stream", &format!("id={id}&{q}")).await;
        assert!(r.bytes().await.unwrap() == whole.as_slice(), "{q}");
    }
    for name in ["timeOffset", "maxBitRate"] {
        for v in ["-1", "9223372036854775808", "1e3", "soon", "0x10"] {
            for format in ["", "&format=mp3", "&format=raw"] {
                let q = format!("{}&id={id}&{name}={v}{format}", signed());
                let (code, msg) = fails(&srv, "stream", &q).await;
                assert_eq!(code, 10, "{q}: {msg}");
                assert!(msg.contains(name), "{msg}");
            }
        }
    }
    srv.stop().await;
}

/// A song whose file was deleted: `stream` (as it is or re-encoded) and `download` answer HTTP
/// `404` with a Subsonic error 70 (XML and JSON), not an error inside a `200` that a player
/// takes for audio; the other songs still play.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_song_whose_file_is_gone_is_a_404_with_error_70() {
    let lib = std::thread::spawn(build).join().unwrap();
    let srv = serve_on(&lib, |_| {}).await;
    let songs = all_songs(&srv).await;
    let id = song_from(&songs, FRONTIERS)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = song_from(&songs, BELL)["id"].as_str().unwrap().to_owned();
    // The file the library serves: its own copy (this library copies what it ingests) or the
    // user's file (a library that references files), whichever the backend names.
    let backend = srv.state.backend.clone();
    let m = backend
        .get_metadata(&SongId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let url = backend
        .audio_url(&m.audio_key(), Duration::from_secs(60))
        .await
        .unwrap();
    let served = url::Url::parse(&url).unwrap().to_file_path().unwrap();
    std::fs::remove_file(&served).unwrap();
    for (endpoint, q) in [
        ("stream", ""),
        ("stream", "&format=mp3"),
        ("stream", "&timeOffset=1"),
        ("download", ""),
        ("stream", "&f=json"),
        ("download", "&f=json"),
    ] {
        let r = reqwest::get(srv.url(&format!("/rest/{endpoint}?{}&id={id}{q}", signed())))
            .await
            .unwrap();
        let status = r.status();
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        let body = r.text().await.unwrap();
        assert_eq!(status, 404, "{endpoint}{q}: {ct} {body:.300}");
        if q.contains("json") {
            assert!(ct.starts_with("application/json"), "{ct}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(v["subsonic-response"]["error"]["code"], 70, "{body}");
        } else {
            assert!(ct.contains("xml"), "{ct}");
            assert!(body.contains(r#"code="70""#), "{body}");
        }
        assert!(!body.contains("/tmp"), "{body}");
        assert!(!body.contains(&*served.to_string_lossy()), "{body}");
    }
    let r = get(&srv, "stream", &format!("id={other}")).await;
    assert!(r.bytes().await.unwrap() == std::fs::read(lib.music.join(BELL)).unwrap());
    srv.stop().await;
}
