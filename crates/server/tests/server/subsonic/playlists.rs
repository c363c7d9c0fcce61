//! Playlists are library data: made, changed and deleted through the API, kept over a
//! restart, stored through the backend (what `sync` carries), with Subsonic's error codes.

use songrec_storage::prelude::*;

use super::*;

fn backend(lib: &RealLibrary) -> songrec_local::LocalBackend {
    songrec_local::LocalBackend::open(&lib.root).unwrap()
}

fn names(v: &Value) -> Vec<String> {
    v["playlists"]["playlist"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn playlists_are_kept_with_the_library() {
    let lib = std::thread::spawn(build).join().unwrap();
    let srv = serve_on(&lib, |_| {}).await;
    let songs = all_songs(&srv).await;
    let id = |name: &str| song_from(&songs, name)["id"].as_str().unwrap().to_owned();
    let (bell, kick) = (id("01 Bell.oga"), id("02 Kick Med.wav"));
    assert!(names(&call(&srv, "getPlaylists", "").await).is_empty());

    // Made with a repeated song; answered with its entries in order.
    let made = call(
        &srv,
        "createPlaylist",
        &format!("name=Road%20trip&songId={bell}&songId={kick}&songId={bell}"),
    )
    .await;
    let pl = &made["playlist"];
    let pid = pl["id"].as_str().unwrap().to_owned();
    assert_eq!(pl["songCount"], 3, "{pl}");
    assert_eq!(
        ids(&pl["entry"]),
        [bell.clone(), kick.clone(), bell.clone()]
    );
    assert_eq!(pl["owner"], USER);
    assert_eq!(names(&call(&srv, "getPlaylists", "").await), ["Road trip"]);

    // Changed: renamed, commented, made public, index 0 removed, a song added.
    call(
        &srv,
        "updatePlaylist",
        &format!(
            "playlistId={pid}&name=Night%20drive&comment=for%20the%20car&public=true&songIndexToRemove=0&songIdToAdd={kick}"
        ),
    )
    .await;
    let got = call(&srv, "getPlaylist", &format!("id={pid}")).await["playlist"].clone();
    assert_eq!(
        ids(&got["entry"]),
        [kick.clone(), bell.clone(), kick.clone()]
    );
    assert_eq!(
        (&got["name"], &got["comment"], &got["public"]),
        (
            &serde_json::json!("Night drive"),
            &serde_json::json!("for the car"),
            &serde_json::json!(true)
        )
    );
    // createPlaylist with an id replaces the songs.
    call(
        &srv,
        "createPlaylist",
        &format!("playlistId={pid}&songId={bell}"),
    )
    .await;
    let got = call(&srv, "getPlaylist", &format!("id={pid}")).await["playlist"].clone();
    assert_eq!(ids(&got["entry"]), std::slice::from_ref(&bell));
    assert_eq!(got["name"], "Night drive");

    // Subsonic's error codes.
    let s = signed();
    assert_eq!(fails(&srv, "createPlaylist", &s).await.0, 10);
    assert_eq!(
        fails(&srv, "createPlaylist", &format!("{s}&name=x&songId=beef"))
            .await
            .0,
        70
    );
    assert_eq!(
        fails(&srv, "getPlaylist", &format!("{s}&id=pl-0000000000000000"))
            .await
            .0,
        70
    );
    assert_eq!(
        fails(
            &srv,
            "updatePlaylist",
            &format!("{s}&playlistId={pid}&songIndexToRemove=7")
        )
        .await
        .0,
        0
    );
    assert_eq!(fails(&srv, "deletePlaylist", &s).await.0, 10);

    // Kept over a restart, and stored where the library's playlists are.
    srv.stop().await;
    let again = serve_on(&lib, |_| {}).await;
    assert_eq!(
        names(&call(&again, "getPlaylists", "").await),
        ["Night drive"]
    );
    let stored = backend(&lib).find_playlist("night drive").await.unwrap();
    assert_eq!(stored.id, pid);
    assert_eq!(stored.songs.len(), 1);

    // Deleted: gone from the lists, a tombstone stays for sync.
    call(&again, "deletePlaylist", &format!("id={pid}")).await;
    assert!(names(&call(&again, "getPlaylists", "").await).is_empty());
    assert_eq!(
        fails(&again, "deletePlaylist", &format!("{s}&id={pid}"))
            .await
            .0,
        70
    );
    let tomb = backend(&lib).get_playlist(&pid).await.unwrap().unwrap();
    assert!(tomb.deleted);
    again.stop().await;
}
