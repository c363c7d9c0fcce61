//! The audit's smaller findings on the real server: numbers at their edges.

use super::*;

/// Every numeric parameter of the audit at -1, 0, 2^63, 2^64, `1e3`, a fraction and text: an
/// answer of at most 500 entries or error 10 naming the parameter; never another error, never a
/// server error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_at_their_edges_are_error_10_or_bounded() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let id = songs[0]["id"].as_str().unwrap().to_owned();
    let calls: Vec<(&str, String, &str)> = vec![
        ("getRandomSongs", String::new(), "size"),
        ("getAlbumList2", "type=newest".into(), "size"),
        ("getAlbumList2", "type=newest".into(), "offset"),
        (
            "getAlbumList2",
            "type=byYear&toYear=2000".into(),
            "fromYear",
        ),
        (
            "getAlbumList2",
            "type=byYear&fromYear=1900".into(),
            "toYear",
        ),
        ("getSongsByGenre", "genre=x".into(), "count"),
        ("getSongsByGenre", "genre=x".into(), "offset"),
        ("search3", "query=".into(), "songCount"),
        ("search3", "query=".into(), "songOffset"),
        ("getSimilarSongs", format!("id={id}"), "count"),
        ("getSonicSimilarTracks", format!("id={id}"), "count"),
        ("stream", format!("id={id}"), "maxBitRate"),
        ("getCoverArt", format!("id={id}"), "size"),
    ];
    let edges = [
        "-1",
        "0",
        "9223372036854775808",
        "18446744073709551616",
        "1e3",
        "2.5",
        "ten",
        "%20",
    ];
    for (endpoint, base, name) in &calls {
        for edge in edges {
            let q = format!("{}&f=json&{base}&{name}={edge}", signed());
            let r = reqwest::get(srv.url(&format!("/rest/{endpoint}?{q}")))
                .await
                .unwrap();
            let what = format!("{endpoint}?{base}&{name}={edge}");
            assert!(r.status().is_success(), "{what}: HTTP {}", r.status());
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            if !ct.starts_with("application/json") {
                // The audio itself (maxBitRate alone changes nothing) or a picture.
                assert!(
                    ct.starts_with("audio/") || ct.starts_with("image/"),
                    "{what}: {ct}"
                );
                continue;
            }
            let v: Value = r.json().await.unwrap();
            let v = &v["subsonic-response"];
            if v["status"] == "failed" {
                let code = v["error"]["code"].as_u64().unwrap();
                let msg = v["error"]["message"].as_str().unwrap();
                // 70 only where the song has no picture.
                assert!(
                    code == 10 || (code == 70 && *endpoint == "getCoverArt"),
                    "{what}: {v}"
                );
                if code == 10 {
                    assert!(msg.contains(name), "{what}: {msg}");
                }
                continue;
            }
            // Bounded: no list longer than the largest page.
            let text = v.to_string();
            assert!(text.matches("\"id\":").count() <= 1000, "{what}");
        }
    }
    srv.stop().await;
}

/// Ids in upper case, or with white space around them, are the same ids for the calls that
/// look songs, albums and artists up (before, an upper-case id worked for `stream` but
/// `getSong` answered 70).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_in_upper_case_or_padded_are_the_same_ids() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let song = song_from(&songs, "01 Frontiers.mp3");
    let (id, album, artist) = (
        song["id"].as_str().unwrap(),
        song["albumId"].as_str().unwrap(),
        song["artistId"].as_str().unwrap(),
    );
    for asked in [id.to_uppercase(), format!("%20{id}%20")] {
        let v = call(&srv, "getSong", &format!("id={asked}")).await;
        assert_eq!(v["song"]["id"], song["id"], "getSong {asked}");
    }
    let v = call(&srv, "getAlbum", &format!("id={}", album.to_uppercase())).await;
    assert_eq!(v["album"]["id"], album);
    let v = call(&srv, "getArtist", &format!("id={}", artist.to_uppercase())).await;
    assert_eq!(v["artist"]["id"], artist);
}
