//! Cover art: the picture embedded in a song's file (ffmpeg puts a PNG into an MP3's ID3 tag),
//! by song id and by album id; a song or an artist without one is error 70.

use std::process::Command;

use super::*;

fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg (scripts/test-deps.sh installs it)");
    assert!(
        o.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_pictures_by_song_and_album() {
    let dir = tempfile::tempdir().unwrap();
    let album = dir.path().join("music/Painter/Canvas");
    std::fs::create_dir_all(&album).unwrap();
    let png = dir.path().join("cover.png");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "color=c=red:s=16x16",
        "-frames:v",
        "1",
        png.to_str().unwrap(),
    ]);
    let song = album.join("01 Frontiers.mp3");
    let plain = real_recording("asc", "frontiers.mp3");
    ffmpeg(&[
        "-i",
        plain.to_str().unwrap(),
        "-i",
        png.to_str().unwrap(),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c",
        "copy",
        "-id3v2_version",
        "3",
        "-metadata:s:v",
        "comment=Cover (front)",
        "-disposition:v",
        "attached_pic",
        song.to_str().unwrap(),
    ]);
    std::fs::copy(
        real_recording("freedesktop", "bell.oga"),
        album.join("02 Bell.oga"),
    )
    .unwrap();
    let root = dir.path().join("library");
    let music = dir.path().join("music");
    std::thread::spawn(move || songrec_testkit::server::ingest_dsp(&music, &root, 2))
        .join()
        .unwrap();
    let lib = RealLibrary {
        root: dir.path().join("library"),
        music: dir.path().join("music"),
        _dir: dir,
    };
    let srv = serve_on(&lib, |_| {}).await;
    let songs = all_songs(&srv).await;
    let covered = song_from(&songs, "01 Frontiers.mp3");
    let bare = song_from(&songs, "02 Bell.oga");
    let want = std::fs::read(lib.root.parent().unwrap().join("cover.png")).unwrap();
    for id in [
        covered["coverArt"].as_str().unwrap(),
        covered["albumId"].as_str().unwrap(),
    ] {
        let r = reqwest::get(srv.url(&format!("/rest/getCoverArt?{}&id={id}&size=300", signed())))
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "image/png", "{id}");
        assert!(r.bytes().await.unwrap() == want.as_slice(), "{id}");
    }
    let code = |id: String| {
        let srv = &srv;
        async move {
            fails(srv, "getCoverArt", &format!("{}&id={id}", signed()))
                .await
                .0
        }
    };
    assert_eq!(
        code(bare["coverArt"].as_str().unwrap().to_owned()).await,
        70
    );
    assert_eq!(
        code(bare["artistId"].as_str().unwrap().to_owned()).await,
        70
    );
    assert_eq!(code("al-0000000000000000".into()).await, 70);
    srv.stop().await;
}

/// A picture made by ffmpeg from one of its test patterns (`jpg` or `png`, with alpha for png).
fn pattern(to: &Path, w: u32, h: u32) {
    let size = format!("testsrc2=s={w}x{h}");
    let mut args = vec!["-f", "lavfi", "-i", &size, "-frames:v", "1"];
    if to
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"))
    {
        args.extend(["-pix_fmt", "rgba"]);
    }
    args.push(to.to_str().unwrap());
    ffmpeg(&args);
}

/// Width, height and codec of a picture's bytes, as ffprobe reads them.
fn probe(bytes: &[u8]) -> (u64, u64, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("picture");
    std::fs::write(&f, bytes).unwrap();
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-of", "json", "-show_entries"])
        .arg("stream=width,height,codec_name")
        .arg(&f)
        .output()
        .expect("ffprobe");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = &v["streams"][0];
    (
        s["width"].as_u64().unwrap(),
        s["height"].as_u64().unwrap(),
        s["codec_name"].as_str().unwrap().to_owned(),
    )
}

async fn cover(srv: &Running, id: &str, size: Option<u32>) -> (String, Vec<u8>) {
    let size = size.map(|s| format!("&size={s}")).unwrap_or_default();
    let r = reqwest::get(srv.url(&format!("/rest/getCoverArt?{}&id={id}{size}", signed())))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let body = r.bytes().await.unwrap().to_vec();
    assert!(
        !ct.starts_with("application/"),
        "{id}: {ct} {:?}",
        String::from_utf8_lossy(&body)
    );
    (ct, body)
}

/// The folder's cover file (any case) when the file embeds none, the embedded picture first,
/// pictures scaled down to `size` keeping their aspect (JPEG as JPEG, PNG as PNG with its
/// alpha), never enlarged; no folder cover for a library that keeps its own copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn folder_covers_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    let canvas = music.join("Painter/Canvas");
    let loose = music.join("Drifter/Loose");
    let bare = music.join("Nobody/Nothing");
    for d in [&canvas, &loose, &bare] {
        std::fs::create_dir_all(d).unwrap();
    }
    let png = dir.path().join("embedded.png");
    pattern(&png, 40, 20);
    let embedded = canvas.join("01 Frontiers.mp3");
    ffmpeg(&[
        "-i",
        real_recording("asc", "frontiers.mp3").to_str().unwrap(),
        "-i",
        png.to_str().unwrap(),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c",
        "copy",
        "-id3v2_version",
        "3",
        "-disposition:v",
        "attached_pic",
        embedded.to_str().unwrap(),
    ]);
    let copy = |sub: &str, name: &str, to: &Path| {
        std::fs::copy(real_recording(sub, name), to).unwrap();
    };
    copy("freedesktop", "bell.oga", &canvas.join("02 Bell.oga"));
    pattern(&canvas.join("Cover.JPG"), 640, 480);
    // Lower in the order of names than `front`, which is a PNG here: front wins.
    pattern(&loose.join("album.jpg"), 64, 64);
    pattern(&loose.join("FRONT.png"), 300, 600);
    copy(
        "freedesktop",
        "complete.oga",
        &loose.join("01 Complete.oga"),
    );
    copy("gmrockkit", "Kick-Med.wav", &bare.join("01 Kick.wav"));
    std::fs::write(bare.join("cover.txt"), b"not a picture").unwrap();
    std::fs::write(bare.join("folder.jpg"), b"not a picture either").unwrap();

    let root = dir.path().join("library");
    let (m, r) = (music.clone(), root.clone());
    std::thread::spawn(move || songrec_testkit::server::ingest_dsp(&m, &r, 4))
        .join()
        .unwrap();
    let lib = RealLibrary {
        root,
        music: music.clone(),
        _dir: dir,
    };
    let srv = serve_on(&lib, |_| {}).await;
    let songs = all_songs(&srv).await;
    let id = |name: &str, field: &str| song_from(&songs, name)[field].as_str().unwrap().to_owned();

    // The embedded picture wins over the folder's file; so does the album's first song.
    let want_png = std::fs::read(&png).unwrap();
    for i in [
        id("01 Frontiers.mp3", "coverArt"),
        id("01 Frontiers.mp3", "albumId"),
    ] {
        let (ct, b) = cover(&srv, &i, None).await;
        assert_eq!((ct.as_str(), b == want_png), ("image/png", true), "{i}");
    }
    // A song without one: the folder's `Cover.JPG`, as it is, then scaled.
    let bell = id("02 Bell.oga", "coverArt");
    let want_jpg = std::fs::read(canvas.join("Cover.JPG")).unwrap();
    let (ct, b) = cover(&srv, &bell, None).await;
    assert_eq!((ct.as_str(), b == want_jpg), ("image/jpeg", true));
    let t = std::time::Instant::now();
    let (ct, b) = cover(&srv, &bell, Some(160)).await;
    eprintln!("a 640x480 JPEG scaled to 160 in {:?}", t.elapsed());
    assert_eq!(ct, "image/jpeg");
    assert_eq!(probe(&b), (160, 120, "mjpeg".into()));
    // Asked again: the same picture, kept from the first time.
    let t = std::time::Instant::now();
    let (_, again) = cover(&srv, &bell, Some(160)).await;
    eprintln!("and again in {:?}", t.elapsed());
    assert!(again == b);
    // Never enlarged: a size at or above the picture's longer side, or 0, is the file itself.
    for size in [640, 4000, 0] {
        let (_, b) = cover(&srv, &bell, Some(size)).await;
        assert!(b == want_jpg, "size {size}");
    }
    // Nor is the embedded picture (40 x 20).
    let (_, b) = cover(&srv, &id("01 Frontiers.mp3", "coverArt"), Some(30)).await;
    assert_eq!(probe(&b), (30, 15, "png".into()));

    // `FRONT.png` before `album.jpg`; a PNG stays a PNG, with its alpha, aspect kept.
    let complete = id("01 Complete.oga", "coverArt");
    let (ct, b) = cover(&srv, &complete, None).await;
    assert_eq!(ct, "image/png");
    assert!(b == std::fs::read(loose.join("FRONT.png")).unwrap());
    let (ct, b) = cover(&srv, &complete, Some(100)).await;
    assert_eq!(ct, "image/png");
    assert_eq!(probe(&b), (50, 100, "png".into()));

    // Nothing embedded and no cover file (`folder.jpg` holds no picture): 70, saying so; a bad
    // size: 0.
    let kick = id("01 Kick.wav", "coverArt");
    let (code, msg) = fails(&srv, "getCoverArt", &format!("{}&id={kick}", signed())).await;
    assert_eq!(code, 70);
    assert!(
        msg.contains("no picture") && msg.contains("cover.jpg"),
        "{msg}"
    );
    let (code, _) = fails(
        &srv,
        "getCoverArt",
        &format!("{}&id={kick}&size=big", signed()),
    )
    .await;
    assert_eq!(code, 10, "a size that is not a number is a bad parameter");
    let (code, _) = fails(&srv, "getCoverArt", &format!("{}&id=feedface", signed())).await;
    assert_eq!(code, 70);
    srv.stop().await;

    // A library that keeps copies of the files: its copy's folder is the library's, and the
    // user's folder is not looked into.
    let copies = lib.root.parent().unwrap().join("copies");
    let m = music.clone();
    let c = copies.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let opts = songrec_local::LocalOptions {
                audio: songrec_storage::AudioMode::Copy,
                ..Default::default()
            };
            let b = songrec_local::LocalBackend::open_with(&c, opts).unwrap();
            let s = songrec_testkit::server::ingest_dsp_into(&b, &m).await;
            assert_eq!(s.added(), 4, "{s:?}");
            songrec_storage::SongStore::flush(&b).await.unwrap();
        });
    })
    .join()
    .unwrap();
    let backend = songrec_local::LocalBackend::open(&copies).unwrap();
    let srv = songrec_testkit::server::serve(Arc::new(backend), |o| {
        o.subsonic.credentials = credentials();
    })
    .await;
    let (code, _) = fails(&srv, "getCoverArt", &format!("{}&id={bell}", signed())).await;
    assert_eq!(code, 70, "a copy's folder is the library's");
    let (ct, _) = cover(&srv, &id("01 Frontiers.mp3", "coverArt"), None).await;
    assert_eq!(ct, "image/png", "the embedded picture is in the copy too");
    srv.stop().await;
}
