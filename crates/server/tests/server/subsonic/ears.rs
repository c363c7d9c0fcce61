//! songrec's ears through the Subsonic API: similar songs of a song, an album and an artist,
//! similar artists, sonic matches and sonic paths.

use std::collections::HashSet;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn similar_songs_and_sonic_matches() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let seed = song_from(&songs, "01 Bell.oga");
    let id = seed["id"].as_str().unwrap();

    // The same neighbours as the REST API's, which asks the same use case.
    let sim = call(&srv, "getSimilarSongs", &format!("id={id}&count=5")).await;
    let got = ids(&sim["similarSongs"]["song"]);
    assert_eq!(got.len(), 5);
    assert!(!got.iter().any(|s| s == id));
    let rest: Value =
        reqwest::get(srv.url(&format!("/api/v1/songs/{id}/similar?k=5&distinct=true")))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let want: Vec<String> = rest["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["song"]["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, want);

    let m = call(&srv, "getSonicSimilarTracks", &format!("id={id}&count=8")).await;
    let matches = m["sonicMatch"].as_array().unwrap();
    assert_eq!(matches.len(), 8);
    let sims: Vec<f64> = matches
        .iter()
        .map(|x| x["similarity"].as_f64().unwrap())
        .collect();
    assert!(sims.iter().all(|s| (0.0..=1.0).contains(s)), "{sims:?}");
    assert!(
        sims.windows(2).all(|w| w[0] >= w[1]),
        "best first: {sims:?}"
    );
    assert!(matches.iter().all(|x| x["entry"]["id"] != id));
    assert_eq!(
        matches[..5]
            .iter()
            .map(|x| x["entry"]["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>(),
        got
    );
    // XML: each match an element holding its entry.
    let (xml, _) = raw(
        &srv,
        "getSonicSimilarTracks",
        &format!("{}&id={id}&count=2", signed()),
    )
    .await;
    assert_eq!(xml.matches("<sonicMatch similarity=").count(), 2, "{xml}");
    assert_eq!(xml.matches("<entry ").count(), 2, "{xml}");
    assert_eq!(
        fails(
            &srv,
            "getSonicSimilarTracks",
            &format!("{}&id=beef", signed())
        )
        .await
        .0,
        70
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sonic_paths_start_and_end_on_the_asked_songs() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let from = song_from(&songs, "01 Frontiers.mp3")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let to = song_from(&songs, "04 Ride Med.wav")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for count in [2, 5, 8] {
        let v = call(
            &srv,
            "findSonicPath",
            &format!("startSongId={from}&endSongId={to}&count={count}"),
        )
        .await;
        let path = v["sonicMatch"].as_array().unwrap();
        let ids: Vec<&str> = path
            .iter()
            .map(|x| x["entry"]["id"].as_str().unwrap())
            .collect();
        // `count` is the most: the path is shorter where no song lies ahead between the ends.
        let least = if count == 2 { 2 } else { 3 };
        assert!((least..=count).contains(&ids.len()), "{count}: {v}");
        assert_eq!((ids[0], ids[ids.len() - 1]), (from.as_str(), to.as_str()));
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            ids.len(),
            "no song twice"
        );
        assert_eq!(path[0]["similarity"], 1.0);
        assert!(
            path.iter()
                .all(|x| (0.0..=1.0).contains(&x["similarity"].as_f64().unwrap()))
        );
    }
    let q = format!("{}&startSongId={from}", signed());
    assert_eq!(fails(&srv, "findSonicPath", &q).await.0, 10);
    let q = format!("{}&startSongId={from}&endSongId={from}", signed());
    assert_eq!(fails(&srv, "findSonicPath", &q).await.0, 0);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixes_of_albums_and_artists_and_similar_artists() {
    let srv = serve_real(|_| {}).await;
    let songs = all_songs(&srv).await;
    let bell = song_from(&songs, "01 Bell.oga");
    let (artist, album) = (
        bell["artistId"].as_str().unwrap(),
        bell["albumId"].as_str().unwrap(),
    );
    let own: HashSet<String> = songs
        .iter()
        .filter(|s| s["albumId"] == album)
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(own.len(), 8);
    for (endpoint, key, id) in [
        ("getSimilarSongs", "similarSongs", album),
        ("getSimilarSongs", "similarSongs", artist),
        ("getSimilarSongs2", "similarSongs2", artist),
    ] {
        let v = call(&srv, endpoint, &format!("id={id}&count=4")).await;
        let got = ids(&v[key]["song"]);
        assert_eq!(got.len(), 4, "{endpoint} {id}: {v}");
        // The seeds (every song of this album and artist) are never in their own mix.
        assert!(got.iter().all(|s| !own.contains(s)), "{endpoint} {id}: {v}");
    }
    // getSimilarSongs2 takes artists only.
    assert_eq!(
        fails(
            &srv,
            "getSimilarSongs2",
            &format!("{}&id={album}", signed())
        )
        .await
        .0,
        70
    );

    for (endpoint, key) in [
        ("getArtistInfo2", "artistInfo2"),
        ("getArtistInfo", "artistInfo"),
    ] {
        let v = call(&srv, endpoint, &format!("id={artist}&count=10")).await;
        let similar = ids(&v[key]["similarArtist"]);
        assert_eq!(
            similar.len(),
            3,
            "every other artist has a song near one of its songs: {v}"
        );
        assert!(!similar.iter().any(|a| a == artist));
    }
    let top = call(&srv, "getTopSongs", "artist=Freedesktop&count=3").await;
    assert_eq!(ids(&top["topSongs"]["song"]).len(), 3);
    let none = call(&srv, "getTopSongs", "artist=Nobody").await;
    assert!(none["topSongs"]["song"].as_array().unwrap().is_empty());
    srv.stop().await;
}
