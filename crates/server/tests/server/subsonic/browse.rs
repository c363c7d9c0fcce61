//! Browsing the real library: artists, albums, songs, directories, genres, lists, search, and
//! the audio itself (bytes equal to the file's, ranges, content types).

use std::collections::HashSet;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artists_albums_and_songs_cover_the_library() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    assert_eq!(songs.len(), LAYOUT.len());
    let v = call(&srv, "getArtists", "").await;
    let index = v["artists"]["index"].as_array().unwrap();
    let letters: Vec<&str> = index.iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(letters, ["A", "F", "G", "#"]);
    let artists: Vec<&Value> = index
        .iter()
        .flat_map(|i| i["artist"].as_array().unwrap())
        .collect();
    let names: Vec<&str> = artists
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ASC Music", "Freedesktop", "GMRockKit", "[Unknown Artist]"]
    );
    // Every song is reached through its artist and album, once, in track order.
    let mut reached = Vec::new();
    for a in &artists {
        let artist = call(
            &srv,
            "getArtist",
            &format!("id={}", a["id"].as_str().unwrap()),
        )
        .await;
        for al in artist["artist"]["album"].as_array().unwrap() {
            assert_eq!(al["artistId"], a["id"]);
            let album = call(
                &srv,
                "getAlbum",
                &format!("id={}", al["id"].as_str().unwrap()),
            )
            .await;
            let tracks: Vec<i64> = album["album"]["song"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["track"].as_i64().unwrap_or(0))
                .collect();
            let mut sorted = tracks.clone();
            sorted.sort();
            assert_eq!(tracks, sorted);
            assert_eq!(
                album["album"]["songCount"].as_u64().unwrap() as usize,
                tracks.len()
            );
            reached.extend(ids(&album["album"]["song"]));
        }
    }
    let unique: HashSet<&String> = reached.iter().collect();
    assert_eq!((reached.len(), unique.len()), (LAYOUT.len(), LAYOUT.len()));
    // A song and its fields.
    let s = song_from(&songs, "02 Machine Wars.mp3");
    let one = call(
        &srv,
        "getSong",
        &format!("id={}", s["id"].as_str().unwrap()),
    )
    .await;
    let song = &one["song"];
    assert_eq!(song["title"], "Machine Wars");
    assert_eq!(song["artist"], "ASC Music");
    assert_eq!(song["album"], "Soundtrack");
    assert_eq!(song["track"], 2);
    assert_eq!(song["suffix"], "mp3");
    assert_eq!(song["contentType"], "audio/mpeg");
    assert_eq!(song["isDir"], false);
    assert_eq!(song["type"], "music");
    let size = std::fs::metadata(
        real_library()
            .music
            .join("ASC Music/Soundtrack/02 Machine Wars.mp3"),
    )
    .unwrap()
    .len();
    assert_eq!(song["size"], size);
    assert!(song["duration"].as_u64().unwrap() > 10, "{song}");
    // Ids are derived from names: the same on another server over the same library.
    let again = serve_real(|_| {}).await;
    assert_eq!(
        call(&again, "getArtists", "").await["artists"],
        v["artists"]
    );
    again.stop().await;
    // The folder view agrees: indexes, an artist's directory, an album's directory.
    let idx = call(&srv, "getIndexes", "").await;
    let folder_artists: Vec<&Value> = idx["indexes"]["index"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|i| i["artist"].as_array().unwrap())
        .collect();
    assert_eq!(folder_artists.len(), 4);
    let asc = s["artistId"].as_str().unwrap();
    let dir = call(&srv, "getMusicDirectory", &format!("id={asc}")).await;
    let albums = dir["directory"]["child"].as_array().unwrap();
    assert_eq!(albums.len(), 1);
    assert_eq!(albums[0]["isDir"], true);
    let dir = call(
        &srv,
        "getMusicDirectory",
        &format!("id={}", albums[0]["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(dir["directory"]["child"].as_array().unwrap().len(), 3);
    let folders = call(&srv, "getMusicFolders", "").await;
    assert_eq!(folders["musicFolders"]["musicFolder"][0]["id"], 1);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_and_search() {
    let srv = serve_real(|_| {}).await;
    let list = |kind: &str, extra: &str| {
        let q = format!("type={kind}&size=500&{extra}");
        let srv = &srv;
        async move { call(srv, "getAlbumList2", &q).await["albumList2"]["album"].clone() }
    };
    let all = list("alphabeticalByArtist", "").await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    let by_name: Vec<String> = list("alphabeticalByName", "")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(by_name, ["[Unknown Album]", "Hits", "Soundtrack", "Stereo"]);
    for kind in ["random", "newest"] {
        let mut got = ids(&list(kind, "").await);
        let mut want = ids(&all);
        got.sort();
        want.sort();
        assert_eq!(got, want, "{kind}");
    }
    // Nothing is played or starred in the shared library.
    for kind in ["frequent", "recent", "starred", "highest"] {
        assert!(
            list(kind, "").await.as_array().unwrap().is_empty(),
            "{kind}"
        );
    }
    // Paging.
    let page = call(
        &srv,
        "getAlbumList2",
        "type=alphabeticalByArtist&size=2&offset=1",
    )
    .await;
    assert_eq!(ids(&page["albumList2"]["album"]), ids(&all)[1..3]);
    // The classic list has the albums as directories.
    let classic = call(&srv, "getAlbumList", "type=alphabeticalByArtist&size=500").await;
    assert_eq!(ids(&classic["albumList"]["album"]), ids(&all));
    assert_eq!(classic["albumList"]["album"][0]["isDir"], true);
    // byYear and byGenre want their parameters; none of these files has a year or genre.
    assert_eq!(
        fails(&srv, "getAlbumList2", &format!("{}&type=byYear", signed()))
            .await
            .0,
        10
    );
    assert_eq!(
        fails(&srv, "getAlbumList2", &format!("{}&type=byGenre", signed()))
            .await
            .0,
        10
    );
    assert_eq!(fails(&srv, "getAlbumList2", &signed()).await.0, 10);
    assert_eq!(
        fails(&srv, "getAlbumList2", &format!("{}&type=best", signed()))
            .await
            .0,
        0
    );
    assert!(
        list("byYear", "fromYear=1990&toYear=2000")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        call(&srv, "getGenres", "").await["genres"]["genre"]
            .as_array()
            .is_some()
    );

    let random = call(&srv, "getRandomSongs", "size=5").await;
    let r = ids(&random["randomSongs"]["song"]);
    assert_eq!(r.len(), 5);
    assert_eq!(r.iter().collect::<HashSet<_>>().len(), 5);

    // Search: names, paging, and the empty query that lists everything.
    let found = call(&srv, "search3", "query=machine").await;
    let songs = found["searchResult3"]["song"].as_array().unwrap();
    assert_eq!(songs.len(), 1);
    assert_eq!(songs[0]["title"], "Machine Wars");
    let found = call(
        &srv,
        "search3",
        "query=freedesktop&songCount=3&songOffset=6",
    )
    .await;
    assert_eq!(found["searchResult3"]["song"].as_array().unwrap().len(), 2);
    assert_eq!(found["searchResult3"]["artist"][0]["name"], "Freedesktop");
    assert_eq!(found["searchResult3"]["album"][0]["name"], "Stereo");
    let everything = call(&srv, "search3", "query=%22%22&songCount=500").await;
    assert_eq!(
        everything["searchResult3"]["song"]
            .as_array()
            .unwrap()
            .len(),
        LAYOUT.len()
    );
    assert_eq!(
        everything["searchResult3"]["artist"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let s2 = call(&srv, "search2", "query=kick").await;
    assert_eq!(s2["searchResult2"]["song"][0]["title"], "Kick Med");
    let none = call(&srv, "search3", "query=zzzzqqq").await;
    assert!(none["searchResult3"]["song"].as_array().unwrap().is_empty());
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_the_files_bytes_with_ranges() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let c = reqwest::Client::new();
    for (to, mime) in [
        ("ASC Music/Soundtrack/01 Frontiers.mp3", "audio/mpeg"),
        ("Freedesktop/Stereo/01 Bell.oga", "audio/ogg"),
        ("GMRockKit/Hits/02 Kick Med.wav", "audio/wav"),
    ] {
        let bytes = std::fs::read(real_library().music.join(to)).unwrap();
        let id = song_from(&songs, to)["id"].as_str().unwrap().to_owned();
        for endpoint in ["stream", "stream.view", "download"] {
            let r = c
                .get(srv.url(&format!("/rest/{endpoint}?{}&id={id}", signed())))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], mime, "{to}");
            assert_eq!(r.headers()["accept-ranges"], "bytes");
            assert!(
                r.bytes().await.unwrap() == bytes.as_slice(),
                "{endpoint} {to}"
            );
        }
        let r = c
            .get(srv.url(&format!("/rest/stream?{}&id={id}", signed())))
            .header("range", "bytes=100-1099")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(
            r.headers()["content-range"],
            format!("bytes 100-1099/{}", bytes.len()).as_str()
        );
        assert!(r.bytes().await.unwrap() == bytes[100..1100], "{to}");
        // POSTed like py-sonic does.
        let r = post_form(
            &srv.url("/rest/stream.view"),
            &[("u", USER), ("p", PASSWORD), ("id", &id)],
        )
        .await;
        assert!(r.bytes().await.unwrap() == bytes.as_slice());
    }
    // Wrong credentials get an error envelope, never audio.
    let id = songs[0]["id"].as_str().unwrap();
    let v = answer(&srv, "stream", &format!("u=ann&p=x&id={id}")).await;
    assert_eq!(v["error"]["code"], 40);
    srv.stop().await;
}
