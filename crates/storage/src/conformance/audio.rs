//! Audio: round trips with hash verification.

use super::*;

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
