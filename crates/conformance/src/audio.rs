//! Audio: round trips with hash verification.

use std::path::Path;
use std::time::Duration;

use songrec_storage::backend::StorageBackend;
use songrec_storage::error::StorageError;
use songrec_storage::id::SongId;

/// Audio round-trips byte for byte, content-addressed, verified, idempotent.
pub async fn audio_roundtrip(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes: Vec<u8> = (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let src = dir.path().join("track.flac");
    std::fs::write(&src, &bytes).expect("write source");
    let id = SongId::from_bytes(&bytes);

    let out = b.put_audio(&id, &src).await.expect("put_audio");
    assert_eq!(
        (out.bytes, out.already_present),
        (bytes.len() as u64, false)
    );
    let again = b.put_audio(&id, &src).await.expect("put_audio again");
    assert!(again.already_present, "re-upload must be a no-op");
    assert!(b.has_audio(&id).await.expect("has_audio"));

    let dest = dir.path().join("out").join("copy.flac");
    std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
    let n = b.get_audio(&id, &dest).await.expect("get_audio");
    assert_eq!(n, bytes.len() as u64);
    assert_eq!(
        std::fs::read(&dest).expect("read back"),
        bytes,
        "audio round trip"
    );
    let url = b
        .audio_url(&id, Duration::from_secs(600))
        .await
        .expect("audio_url");
    assert!(url.contains(id.as_str()), "URL names the content: {url}");

    // Bytes that do not hash to the id are refused and nothing is stored.
    let wrong = SongId::from_bytes(b"some other song");
    let err = b.put_audio(&wrong, &src).await.expect_err("hash mismatch");
    assert!(
        matches!(err, StorageError::HashMismatch { .. }),
        "want HashMismatch, got {err}"
    );
    assert!(!b.has_audio(&wrong).await.expect("has_audio"));
    // Missing blob: NotFound, and an existing destination is untouched.
    let keep = dir.path().join("keep.bin");
    std::fs::write(&keep, b"precious").expect("write");
    let err = b.get_audio(&wrong, &keep).await.expect_err("missing audio");
    assert!(
        matches!(err, StorageError::NotFound(_)),
        "want NotFound, got {err}"
    );
    assert_eq!(std::fs::read(&keep).expect("read"), b"precious");

    assert!(b.delete_audio(&id).await.expect("delete_audio"));
    assert!(!b.delete_audio(&id).await.expect("delete again"));
    assert!(!b.has_audio(&id).await.expect("has_audio"));
    check_no_temp_files(dir.path());
}

/// `link_audio` keeps a user's file as a song's audio without ever writing, moving or deleting
/// it: the file's bytes and modification time are the same after linking, reading back,
/// linking again and deleting the audio; a file that does not hash to the key is refused.
pub async fn link_audio_leaves_the_file(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("Music").join("Artist");
    std::fs::create_dir_all(&music).expect("mkdir");
    let bytes: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(40_503) >> 7) as u8)
        .collect();
    let src = music.join("01 Song.flac");
    std::fs::write(&src, &bytes).expect("write source");
    let stamp = |p: &Path| {
        let m = std::fs::metadata(p).expect("stat");
        (m.len(), m.modified().expect("mtime"))
    };
    let before = stamp(&src);
    let id = SongId::from_bytes(&bytes);

    let out = b.link_audio(&id, &src).await.expect("link_audio");
    assert_eq!(
        (out.bytes, out.already_present),
        (bytes.len() as u64, false)
    );
    assert!(
        b.link_audio(&id, &src)
            .await
            .expect("again")
            .already_present
    );
    assert!(b.has_audio(&id).await.expect("has_audio"));
    let dest = dir.path().join("back.flac");
    assert_eq!(
        b.get_audio(&id, &dest).await.expect("get_audio"),
        bytes.len() as u64
    );
    assert_eq!(std::fs::read(&dest).expect("read back"), bytes);

    let wrong = SongId::from_bytes(b"another file");
    let err = b.link_audio(&wrong, &src).await.expect_err("hash mismatch");
    assert!(
        matches!(err, StorageError::HashMismatch { .. }),
        "want HashMismatch, got {err}"
    );
    assert!(!b.has_audio(&wrong).await.expect("has_audio"));

    assert!(b.delete_audio(&id).await.expect("delete_audio"));
    assert!(!b.has_audio(&id).await.expect("has_audio"));
    assert_eq!(std::fs::read(&src).expect("source still there"), bytes);
    assert_eq!(stamp(&src), before, "the user's file was never written");
    let names: Vec<_> = std::fs::read_dir(&music)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        names.len(),
        1,
        "nothing written beside the user's file: {names:?}"
    );
}

/// `link_audio_as` keeps this machine's file of a song's recording under other tags (other
/// bytes) under the song's key, checked against the file's own hash, or refuses with
/// `Unsupported` and stores nothing (a backend that keeps copies). Where it keeps the file,
/// what is read back is the file's own bytes, a wrong hash is refused, and deleting the audio
/// leaves the file as it was.
pub async fn link_audio_as_serves_this_file_or_refuses(b: &dyn StorageBackend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let music = dir.path().join("Music");
    std::fs::create_dir_all(&music).expect("mkdir");
    let key = SongId::from_bytes(b"the song's bytes on another machine");
    let bytes: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let mine = music.join("01 Song (other tags).flac");
    std::fs::write(&mine, &bytes).expect("write");
    let own = SongId::from_bytes(&bytes);

    match b.link_audio_as(&key, &mine, &own).await {
        Err(StorageError::Unsupported(_)) => {
            assert!(!b.has_audio(&key).await.expect("has_audio"), "nothing kept");
        }
        Err(e) => panic!("link_audio_as: {e}"),
        Ok(out) => {
            assert_eq!(out.bytes, bytes.len() as u64);
            assert!(b.has_audio(&key).await.expect("has_audio"));
            let dest = dir.path().join("back.flac");
            b.get_audio(&key, &dest).await.expect("get_audio");
            assert_eq!(std::fs::read(&dest).expect("read back"), bytes);
            let other = SongId::from_bytes(b"another song");
            let err = b.link_audio_as(&other, &mine, &key).await;
            assert!(
                matches!(err, Err(StorageError::HashMismatch { .. })),
                "a wrong hash: {err:?}"
            );
            assert!(!b.has_audio(&other).await.expect("has_audio"));
            assert!(b.delete_audio(&key).await.expect("delete_audio"));
            assert!(!b.has_audio(&key).await.expect("has_audio"));
        }
    }
    assert_eq!(std::fs::read(&mine).expect("file still there"), bytes);
}

fn check_no_temp_files(dir: &Path) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default();
                assert!(
                    !name.contains(".tmp"),
                    "temporary file left behind: {}",
                    p.display()
                );
            }
        }
    }
}
