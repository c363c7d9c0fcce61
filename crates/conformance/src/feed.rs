//! The change feed (`changes_since`) and lookups of versions by id (`versions_of`).

use songrec_storage::backend::{ChangeCursor, Changes, SongRecord, StorageBackend};
use songrec_storage::id::SongId;
use songrec_storage::metadata::VersionEntry;
use songrec_storage::model::Embedding;

use crate::fixtures::{model_a, song};

/// The latest entry of `id` in a feed answer (entries may repeat a song).
fn latest<'a>(c: &'a Changes, id: &SongId) -> Option<&'a VersionEntry> {
    c.entries.iter().rev().find(|e| e.id == *id)
}

/// Writes after a cursor show up in the next `changes_since` (live songs with their version,
/// deletions as tombstones); an unknown cursor is `None`, not an error; a backend without a
/// feed says `None` every time. `versions_of` answers live songs and tombstones by id.
pub async fn change_feed(b: &dyn StorageBackend) {
    let bogus = ChangeCursor::new("not a cursor of this backend");
    let Some(head) = b.changes_since(None).await.expect("changes_since(None)") else {
        assert!(
            b.changes_since(Some(&bogus))
                .await
                .expect("changes_since without a feed")
                .is_none(),
            "a backend without a feed answers None to every cursor"
        );
        versions_by_id(b).await;
        return;
    };
    assert!(
        head.entries.is_empty(),
        "the head cursor comes with no entries"
    );
    assert!(
        b.changes_since(Some(&bogus))
            .await
            .expect("an unknown cursor is not an error")
            .is_none(),
        "an unknown cursor is None (the caller lists everything)"
    );

    let mut a = song(911);
    a.version = 1;
    let mut c = song(912);
    c.version = 3;
    b.put_songs(&[SongRecord {
        metadata: a.clone(),
        embeddings: vec![Embedding::new(model_a(), vec![0.2; 8]).expect("valid")],
    }])
    .await
    .expect("put_songs");
    b.put_metadata(&c).await.expect("put_metadata");
    let first = b
        .changes_since(Some(&head.cursor))
        .await
        .expect("changes_since")
        .expect("a cursor of this backend is known");
    for (m, what) in [(&a, "put_songs"), (&c, "put_metadata")] {
        let e = latest(&first, &m.id)
            .unwrap_or_else(|| panic!("a song stored by {what} after the cursor is in the feed"));
        assert!(!e.deleted && e.version == m.version, "{what}: {e:?}");
    }

    a.version = 2;
    a.title = "Changed".into();
    b.put_metadata(&a).await.expect("edit");
    assert!(b.delete_song(&c.id).await.expect("delete"));
    let second = b
        .changes_since(Some(&first.cursor))
        .await
        .expect("changes_since")
        .expect("the cursor just returned is known");
    let e = latest(&second, &a.id).expect("an edit after the cursor is in the feed");
    assert!(!e.deleted && e.version == 2, "edit: {e:?}");
    let t = latest(&second, &c.id).expect("a deletion after the cursor is in the feed");
    assert!(t.deleted && t.version > c.version, "tombstone: {t:?}");

    assert!(b.delete_song(&a.id).await.expect("delete"));
    versions_by_id(b).await;
}

/// `versions_of` answers live songs and tombstones by id and leaves unknown ids out.
async fn versions_by_id(b: &dyn StorageBackend) {
    let mut live = song(913);
    live.version = 5;
    let gone = song(914);
    b.put_metadata(&live).await.expect("put");
    b.put_metadata(&gone).await.expect("put");
    assert!(b.delete_song(&gone.id).await.expect("delete"));
    let unknown = SongId::from_bytes(b"never stored");
    let v = b
        .versions_of(&[live.id.clone(), gone.id.clone(), unknown.clone()])
        .await
        .expect("versions_of");
    let find = |id: &SongId| v.iter().find(|e| e.id == *id);
    let l = find(&live.id).expect("a live song");
    assert!(!l.deleted && l.version == 5, "{l:?}");
    let t = find(&gone.id).expect("a tombstone");
    assert!(t.deleted && t.version > gone.version, "{t:?}");
    assert!(find(&unknown).is_none(), "unknown ids are left out");
    assert!(b.delete_song(&live.id).await.expect("delete"));
}
