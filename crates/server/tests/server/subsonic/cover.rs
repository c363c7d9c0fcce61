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
