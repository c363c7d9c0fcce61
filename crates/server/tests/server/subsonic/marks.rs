//! Stars and plays are library data: written with the songs (their version bumped, as sync
//! wants), seen by every list that uses them, and still there after a restart.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stars_and_plays_are_kept_with_the_songs() {
    // A library of its own: the shared one must stay unstarred and unplayed.
    let lib = std::thread::spawn(build).join().unwrap();
    let srv = serve_on(&lib, |_| {}).await;
    let songs = all_songs(&srv).await;
    let bell = song_from(&songs, "01 Bell.oga")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let kick = song_from(&songs, "02 Kick Med.wav")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let version = |srv: &Running, id: &str| {
        let url = srv.url(&format!("/api/v1/songs/{id}"));
        async move {
            let v: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
            v["song"].clone()
        }
    };
    let before = version(&srv, &bell).await["version"].as_u64().unwrap();

    // Stars: on songs (repeatable id), seen by getStarred2, getSong and the starred albums.
    call(&srv, "star", &format!("id={bell}&id={kick}")).await;
    let starred = call(&srv, "getStarred2", "").await;
    let mut got = ids(&starred["starred2"]["song"]);
    got.sort();
    let mut want = vec![bell.clone(), kick.clone()];
    want.sort();
    assert_eq!(got, want);
    assert!(call(&srv, "getSong", &format!("id={bell}")).await["song"]["starred"].is_string());
    let albums = call(&srv, "getAlbumList2", "type=starred").await;
    assert_eq!(albums["albumList2"]["album"].as_array().unwrap().len(), 2);
    call(&srv, "unstar", &format!("id={kick}")).await;
    assert_eq!(
        ids(&call(&srv, "getStarred", "").await["starred"]["song"]),
        std::slice::from_ref(&bell)
    );
    assert_eq!(
        fails(&srv, "star", &format!("{}&albumId=al-1", signed()))
            .await
            .0,
        0
    );
    assert_eq!(fails(&srv, "star", &signed()).await.0, 10);
    assert_eq!(
        fails(&srv, "star", &format!("{}&id=beef", signed()))
            .await
            .0,
        70
    );

    // Plays: two of the bell (one at a given time), one of the kick.
    call(&srv, "scrobble", &format!("id={bell}&time=1700000000000")).await;
    call(&srv, "scrobble", &format!("id={bell}")).await;
    call(&srv, "scrobble", &format!("id={kick}&submission=true")).await;
    let song = call(&srv, "getSong", &format!("id={bell}")).await["song"].clone();
    assert_eq!(song["playCount"], 2, "{song}");
    let frequent = call(&srv, "getAlbumList2", "type=frequent").await;
    let names: Vec<&str> = frequent["albumList2"]["album"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Stereo", "Hits"]);
    let recent = call(&srv, "getAlbumList2", "type=recent").await;
    assert_eq!(recent["albumList2"]["album"][0]["name"], "Hits");
    let top = call(&srv, "getTopSongs", "artist=Freedesktop&count=2").await;
    assert_eq!(top["topSongs"]["song"][0]["id"], bell.as_str());
    // What is playing now is not a play.
    call(&srv, "scrobble", &format!("id={kick}&submission=false")).await;
    let now = call(&srv, "getNowPlaying", "").await;
    assert_eq!(now["nowPlaying"]["entry"][0]["id"], kick.as_str());
    assert_eq!(now["nowPlaying"]["entry"][0]["username"], USER);
    assert_eq!(
        call(&srv, "getSong", &format!("id={kick}")).await["song"]["playCount"],
        1
    );
    assert_eq!(
        fails(
            &srv,
            "scrobble",
            &format!("{}&id={kick}&time=soon", signed())
        )
        .await
        .0,
        0
    );

    // Stored with the song: its free-form fields, a new version for sync; kept over a restart.
    let stored = version(&srv, &bell).await;
    assert_eq!(stored["play_count"], 2, "{stored}");
    assert!(
        stored["starred"].is_string() && stored["played"].is_string(),
        "{stored}"
    );
    assert_eq!(
        stored["version"].as_u64().unwrap(),
        before + 3,
        "star and two plays: {stored}"
    );
    srv.stop().await;
    let again = serve_on(&lib, |_| {}).await;
    assert_eq!(
        ids(&call(&again, "getStarred2", "").await["starred2"]["song"]),
        std::slice::from_ref(&bell)
    );
    let song = call(&again, "getSong", &format!("id={bell}")).await["song"].clone();
    assert_eq!(song["playCount"], 2);
    assert!(
        call(&again, "getNowPlaying", "").await["nowPlaying"]["entry"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    again.stop().await;
}

/// Writes answered `ok` are applied, however many arrive at once: 40 parallel plays of one
/// song count 40 (each is read afresh and written over the version it read), and a star sent
/// among them is kept; 30 parallel `updatePlaylist` calls adding a song each leave 30 songs,
/// and a rename and a comment sent among them are kept too (one playlist change at a time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_answered_ok_are_all_applied() {
    let lib = std::thread::spawn(build).join().unwrap();
    let srv = std::sync::Arc::new(serve_on(&lib, |_| {}).await);
    let songs = all_songs(&srv).await;
    let bell = song_from(&songs, "01 Bell.oga")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tasks: Vec<_> = (0..41)
        .map(|i| {
            let (srv, bell) = (srv.clone(), bell.clone());
            let method = if i == 20 { "star" } else { "scrobble" };
            tokio::spawn(async move { call(&srv, method, &format!("id={bell}")).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let song = call(&srv, "getSong", &format!("id={bell}")).await["song"].clone();
    assert_eq!(song["playCount"], 40, "{song}");
    assert!(song["starred"].is_string(), "{song}");

    let made = call(&srv, "createPlaylist", "name=Parallel").await;
    let playlist = made["playlist"]["id"].as_str().unwrap().to_owned();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let (srv, bell, playlist) = (srv.clone(), bell.clone(), playlist.clone());
            let change = match i {
                10 => "name=Renamed".to_owned(),
                20 => "comment=Kept".to_owned(),
                _ => format!("songIdToAdd={bell}"),
            };
            tokio::spawn(async move {
                let q = format!("playlistId={playlist}&{change}");
                call(&srv, "updatePlaylist", &q).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let got = call(&srv, "getPlaylist", &format!("id={playlist}")).await;
    assert_eq!(got["playlist"]["songCount"], 30, "{got}");
    assert_eq!(got["playlist"]["name"], "Renamed", "{got}");
    assert_eq!(got["playlist"]["comment"], "Kept", "{got}");
}
