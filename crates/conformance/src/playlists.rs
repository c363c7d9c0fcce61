//! Saved playlists: stored whole and exactly, replaced by id, deleted as tombstones, refused
//! when invalid, and never seen by the song listings.

use chrono::{DateTime, Utc};
use songrec_storage::backend::{StorageBackend, StorageBackendExt};
use songrec_storage::error::StorageError;
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::playlist::{MAX_SONGS, SavedPlaylist};

/// A time with nanoseconds, which must come back exactly.
fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
    DateTime::from_timestamp(1_780_000_000 + secs, nanos).expect("a valid time")
}

/// Playlists round-trip exactly (order, repeats, odd names, times to the nanosecond), are
/// replaced by id, found by name or id, deleted as tombstones, refused when invalid (nothing
/// stored), and leave the songs' count, versions and summary untouched.
pub async fn playlists_roundtrip(b: &dyn StorageBackend) {
    let songs_before = b.count(&Filter::default()).await.expect("count");
    let versions_before = b.list_versions().await.expect("list_versions").len();
    let summary_before = b.summary().await.expect("summary");
    let held_before = b.list_playlists().await.expect("list_playlists");
    assert!(
        b.get_playlist("pl-0000000000000000")
            .await
            .expect("get unknown")
            .is_none()
    );
    assert!(
        b.get_playlist("../../etc/passwd")
            .await
            .expect("get a non-id")
            .is_none(),
        "a string that is not a playlist id names no playlist"
    );

    let s = |n: u8| SongId::from_bytes(&[n]);
    let mut a = SavedPlaylist::new(
        "Évening — «mix» 夜",
        vec![s(1), s(2), s(1), s(3)],
        at(0, 123_456_789),
    )
    .expect("new playlist");
    a.comment = Some("made on a phone\ttabbed".into());
    a.owner = Some("ann".into());
    a.public = true;
    b.put_playlist(&a).await.expect("put_playlist");
    assert_eq!(
        b.get_playlist(&a.id).await.expect("get").as_ref(),
        Some(&a),
        "a playlist comes back exactly"
    );

    // Replaced whole by id.
    let mut a2 = a.clone();
    a2.name = "Evening".into();
    a2.songs = vec![s(3), s(2)];
    a2.comment = None;
    a2.touch(at(5, 1));
    b.put_playlist(&a2).await.expect("replace");
    assert_eq!(
        b.get_playlist(&a.id).await.expect("get").as_ref(),
        Some(&a2)
    );

    // Found by id and by name, case-insensitively; a shared name must be named by id.
    let other = SavedPlaylist::new("Morning", vec![], at(1, 0)).expect("new");
    b.put_playlist(&other).await.expect("put other");
    assert_eq!(b.find_playlist("evening").await.expect("by name").id, a.id);
    assert_eq!(b.find_playlist(&other.id).await.expect("by id"), other);
    let twin = SavedPlaylist::new("MORNING", vec![s(9)], at(2, 0)).expect("new");
    b.put_playlist(&twin).await.expect("put twin");
    match b.find_playlist("morning").await {
        Err(StorageError::InvalidInput(msg)) => {
            assert!(msg.contains(&other.id) && msg.contains(&twin.id), "{msg}");
        }
        r => panic!("a shared name is ambiguous, got {r:?}"),
    }
    assert!(matches!(
        b.find_playlist("no such list").await,
        Err(StorageError::NotFound(_))
    ));

    // Invalid playlists are refused and nothing is stored.
    let mut bad = SavedPlaylist::new("Bad", vec![], at(3, 0)).expect("new");
    bad.id = "pl-../../x".into();
    assert!(matches!(
        b.put_playlist(&bad).await,
        Err(StorageError::InvalidInput(_))
    ));
    let mut huge = SavedPlaylist::new("Huge", vec![], at(3, 0)).expect("new");
    huge.songs = vec![s(1); MAX_SONGS + 1];
    assert!(matches!(
        b.put_playlist(&huge).await,
        Err(StorageError::InvalidInput(_))
    ));
    assert!(b.get_playlist(&huge.id).await.expect("get").is_none());

    // Deleted: a tombstone stays (what sync carries), the live listing drops it.
    assert!(b.delete_playlist(&twin.id).await.expect("delete"));
    assert!(!b.delete_playlist(&twin.id).await.expect("delete again"));
    let gone = b
        .get_playlist(&twin.id)
        .await
        .expect("get")
        .expect("tombstone");
    assert!(gone.deleted && gone.songs.is_empty() && gone.version == twin.version + 1);
    let live: Vec<String> = b
        .playlists()
        .await
        .expect("playlists")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert!(live.contains(&a.id) && live.contains(&other.id) && !live.contains(&twin.id));
    assert_eq!(
        b.find_playlist("morning").await.expect("now one").id,
        other.id
    );

    // Saving under a name replaces that playlist's songs (a new version), or makes one.
    let saved = b
        .save_playlist("EVENING", vec![s(4)])
        .await
        .expect("save_playlist");
    assert_eq!(
        (saved.id.as_str(), saved.version),
        (a.id.as_str(), a2.version + 1)
    );
    assert_eq!(
        b.get_playlist(&a.id).await.expect("get").as_ref(),
        Some(&saved)
    );
    let fresh = b
        .save_playlist("Night", vec![s(5)])
        .await
        .expect("save new");
    assert_eq!((fresh.name.as_str(), fresh.version), ("Night", 1));
    assert!(b.delete_playlist(&fresh.id).await.expect("delete"));
    let fresh = b
        .get_playlist(&fresh.id)
        .await
        .expect("get")
        .expect("tombstone");

    let all = b.list_playlists().await.expect("list_playlists");
    assert_eq!(all.len(), held_before.len() + 4, "tombstones are listed");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "in id order");
    for p in [&saved, &other, &gone, &fresh] {
        assert!(all.contains(p), "{} listed exactly", p.id);
    }

    // The songs never see playlists.
    assert_eq!(
        b.count(&Filter::default()).await.expect("count"),
        songs_before
    );
    assert_eq!(
        b.list_versions().await.expect("list_versions").len(),
        versions_before
    );
    assert_eq!(
        b.summary().await.expect("summary").songs,
        summary_before.songs
    );
}
