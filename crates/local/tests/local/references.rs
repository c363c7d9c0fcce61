//! References to the user's files (`[library] audio = "reference"`): checked on every read,
//! relative to the music folder, never written; clones and copies as the other modes.

use std::path::Path;
use std::time::Duration;

use songrec_local::{LocalBackend, LocalOptions};
use songrec_storage::prelude::*;
use songrec_storage::{AudioMode, SongId, StorageError};

fn open(lib: &Path, audio: AudioMode, music: Option<&Path>) -> LocalBackend {
    LocalBackend::open_with(
        lib,
        LocalOptions {
            audio,
            music: music.map(Path::to_path_buf),
            ..Default::default()
        },
    )
    .unwrap()
}

fn song_file(dir: &Path, name: &str, seed: u8) -> (std::path::PathBuf, SongId) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    let bytes: Vec<u8> = (0..100_000u32)
        .map(|i| (i as u8).wrapping_mul(seed))
        .collect();
    std::fs::write(&p, &bytes).unwrap();
    (p, SongId::from_bytes(&bytes))
}

fn stale(r: Result<impl std::fmt::Debug, StorageError>) -> String {
    match r {
        Err(e @ StorageError::Stale { .. }) => e.to_string(),
        other => panic!("want Stale, got {other:?}"),
    }
}

#[tokio::test]
async fn a_reference_is_served_only_while_it_is_the_file_that_was_hashed() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("Music");
    let (song, key) = song_file(&music, "Artist/Album/01 Song.flac", 7);
    let b = open(&dir.path().join("lib"), AudioMode::Reference, Some(&music));
    let out = b.link_audio(&key, &song).await.unwrap();
    assert_eq!(out.kept, AudioMode::Reference);
    // The reference is relative to the music folder, and nothing audio-sized was written.
    let refs: Vec<_> = std::fs::read_dir(dir.path().join("lib/data/audio"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(refs.len(), 1);
    let text = std::fs::read_to_string(refs[0].path()).unwrap();
    assert!(
        text.contains("\"music\":\"Artist/Album/01 Song.flac\""),
        "{text}"
    );
    assert!(refs[0].metadata().unwrap().len() < 512);
    let url = b.audio_url(&key, Duration::from_secs(1)).await.unwrap();
    assert!(url.ends_with("Artist/Album/01%20Song.flac"), "{url}");

    // Touched only (same bytes, another time): hashed again and still served.
    let f = std::fs::File::options().write(true).open(&song).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    assert!(b.get_audio(&key, &dir.path().join("out1")).await.is_ok());

    // The same size, other bytes (a tag value rewritten in place).
    let mut bytes = std::fs::read(&song).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&song, &bytes).unwrap();
    let msg = stale(b.get_audio(&key, &dir.path().join("out2")).await);
    assert!(msg.contains("bytes changed"), "{msg}");
    stale(b.audio_url(&key, Duration::from_secs(1)).await);
    assert!(
        !dir.path().join("out2").exists(),
        "nothing written on a refusal"
    );

    // Another size (a retag that grew the tags), then gone.
    bytes.push(0);
    std::fs::write(&song, &bytes).unwrap();
    assert!(stale(b.get_audio(&key, &dir.path().join("o")).await).contains("retagged"));
    assert!(!b.has_audio(&key).await.unwrap());
    std::fs::remove_file(&song).unwrap();
    assert!(stale(b.audio_url(&key, Duration::from_secs(1)).await).contains("gone"));

    // Forgetting the audio removes the reference, never a file in the music folder.
    let (other, key2) = song_file(&music, "Artist/Album/02 Other.flac", 9);
    b.link_audio(&key2, &other).await.unwrap();
    assert!(b.delete_audio(&key2).await.unwrap());
    assert!(other.is_file());
}

#[tokio::test]
async fn a_moved_collection_follows_its_music_folder_setting() {
    let dir = tempfile::tempdir().unwrap();
    let (music, moved) = (dir.path().join("Music"), dir.path().join("NAS/Music"));
    let (song, key) = song_file(&music, "A/B/01 x.mp3", 3);
    let lib = dir.path().join("lib");
    open(&lib, AudioMode::Reference, Some(&music))
        .link_audio(&key, &song)
        .await
        .unwrap();
    // A process without the setting finds the folder the library recorded.
    let b = open(&lib, AudioMode::Reference, None);
    assert!(b.has_audio(&key).await.unwrap());
    std::fs::create_dir_all(moved.parent().unwrap()).unwrap();
    std::fs::rename(&music, &moved).unwrap();
    assert!(!b.has_audio(&key).await.unwrap());
    // Pointing the setting at the new place is all it takes.
    let b = open(&lib, AudioMode::Reference, Some(&moved));
    let n = b.get_audio(&key, &dir.path().join("out")).await.unwrap();
    assert_eq!(n, 100_000);
}

#[tokio::test]
async fn clones_and_copies_replace_a_reference_once_in_place_and_back() {
    let dir = tempfile::tempdir().unwrap();
    let (song, key) = song_file(&dir.path().join("Music"), "s.ogg", 5);
    let lib = dir.path().join("lib");
    open(&lib, AudioMode::Reference, None)
        .link_audio(&key, &song)
        .await
        .unwrap();
    let names = || -> Vec<String> {
        std::fs::read_dir(lib.join("data/audio"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    for mode in [AudioMode::Reflink, AudioMode::Copy] {
        {
            let b = open(&lib, mode, None);
            let out = b.link_audio(&key, &song).await.unwrap();
            // Where the file system cannot clone, a copy is made and said so.
            assert!(
                out.kept == mode || (mode == AudioMode::Reflink && out.kept == AudioMode::Copy)
            );
        }
        assert_eq!(
            names(),
            [format!("{key}.ogg")],
            "the reference went once the copy stood"
        );
        std::fs::remove_file(lib.join("data/audio").join(format!("{key}.ogg"))).unwrap();
        let b = open(&lib, AudioMode::Reference, None);
        assert!(!b.has_audio(&key).await.unwrap());
        b.link_audio(&key, &song).await.unwrap();
    }
    // A copy held is kept when the mode is reference again: relink replaces it.
    open(&lib, AudioMode::Copy, None)
        .link_audio(&key, &song)
        .await
        .unwrap();
    let b = open(&lib, AudioMode::Reference, None);
    assert!(!b.link_audio(&key, &song).await.unwrap().already_present);
    drop(b);
    assert_eq!(names(), [format!("{key}.ref.json")]);
}

#[tokio::test]
async fn this_machines_copy_under_other_tags_stands_for_the_song_checked_by_its_own_hash() {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("Music");
    // The song's audio as another machine keeps it (key) and this machine's file of the
    // same recording under other tags (own): other bytes.
    let (_, key) = song_file(&dir.path().join("elsewhere"), "song.flac", 7);
    let (mine, own) = song_file(&music, "Artist/01 Song.flac", 11);
    let b = open(&dir.path().join("lib"), AudioMode::Reference, Some(&music));
    // A downloaded copy held before is replaced once the reference stands.
    let (download, _) = song_file(&dir.path().join("dl"), "song.flac", 7);
    b.put_audio(&key, &download).await.unwrap();

    // A file whose bytes are not the hash given is refused, and nothing changes.
    let wrong = b.link_audio_as(&key, &mine, &key).await;
    assert!(
        matches!(wrong, Err(StorageError::HashMismatch { .. })),
        "{wrong:?}"
    );
    let out = b.link_audio_as(&key, &mine, &own).await.unwrap();
    assert_eq!(out.kept, AudioMode::Reference);
    assert!(!out.already_present);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("lib/data/audio"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, [format!("{key}.ref.json")], "the copy is gone");

    // What is served under the song's key is this machine's file, byte for byte.
    let url = b.audio_url(&key, Duration::from_secs(1)).await.unwrap();
    assert!(url.ends_with("Artist/01%20Song.flac"), "{url}");
    let got = dir.path().join("got");
    b.get_audio(&key, &got).await.unwrap();
    assert_eq!(std::fs::read(&got).unwrap(), std::fs::read(&mine).unwrap());
    assert!(b.has_audio(&key).await.unwrap());

    // Checked against its own hash: the same size and other bytes is stale.
    let mut bytes = std::fs::read(&mine).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&mine, &bytes).unwrap();
    assert!(stale(b.get_audio(&key, &dir.path().join("o")).await).contains("bytes changed"));

    // A library that keeps copies keeps each song's own bytes: it refuses.
    let copies = open(&dir.path().join("lib2"), AudioMode::Copy, Some(&music));
    let own2 = SongId::from_bytes(&bytes);
    let r = copies.link_audio_as(&key, &mine, &own2).await;
    assert!(matches!(r, Err(StorageError::Unsupported(_))), "{r:?}");
    assert!(!copies.has_audio(&key).await.unwrap());
}
