//! Blob store against a real S3-protocol server: s3s-fs 0.14.1 (enforces SigV4) started
//! in-process on a 127.0.0.1 socket.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use songrec_astra::blobs::{BlobError, BlobStore, MIN_PART_SIZE, PutOutcome, S3Config};
use songrec_astra::secret::Secret;
use songrec_testkit::LocalCloud;
use songrec_testkit::cloud::BUCKET;

/// The local cloud's S3 server with this file's blob store settings.
struct S3Server {
    cloud: LocalCloud,
}

impl S3Server {
    async fn start() -> Self {
        Self {
            cloud: LocalCloud::start().await,
        }
    }

    /// Key prefix `lib1`, the smallest part size, no retries; signed with `secret`.
    fn config(&self, secret: &str) -> S3Config {
        S3Config::new(
            BUCKET,
            "us-east-1",
            self.cloud.access_key(),
            Secret::new(secret),
        )
        .with_endpoint(self.cloud.s3_url())
        .with_allow_http(true)
        .with_prefix("lib1")
        .with_part_size(MIN_PART_SIZE)
        .with_max_retries(0)
    }

    fn store(&self) -> BlobStore {
        BlobStore::new(self.config(self.secret())).expect("store")
    }

    fn secret(&self) -> &str {
        self.cloud.secret_key()
    }

    /// Where s3s-fs keeps an object's bytes.
    fn object_file(&self, key: &str) -> PathBuf {
        self.cloud.s3_root().join(BUCKET).join(key)
    }
}

/// Deterministic pseudo-random bytes.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn write_file(dir: &Path, name: &str, data: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write");
    p
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn put_get_round_trip_and_reupload_is_a_noop() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    let data = bytes(300 * 1024, 1);
    let hash = sha256_hex(&data);
    let src = write_file(work.path(), "song.flac", &data);

    assert!(!store.exists(&hash).await.expect("exists"));
    let out = store.put_file(&hash, &src).await.expect("put");
    assert_eq!(
        out,
        PutOutcome::Uploaded {
            bytes: data.len() as u64,
            multipart: false
        }
    );
    assert!(store.exists(&hash).await.expect("exists"));
    let key = store.key_for(&hash).expect("key");
    assert_eq!(key, format!("lib1/audio/{hash}"));
    assert_eq!(
        std::fs::read(server.object_file(&key)).expect("stored"),
        data
    );

    // Same content again: PutMode::Create → AlreadyExists → no-op.
    let again = store.put_file(&hash, &src).await.expect("re-put");
    assert_eq!(again, PutOutcome::AlreadyPresent);

    let dest = work.path().join("out").join("copy.flac");
    std::fs::create_dir(work.path().join("out")).expect("mkdir");
    let n = store.get_to_file(&hash, &dest).await.expect("get");
    assert_eq!(n, data.len() as u64);
    assert_eq!(std::fs::read(&dest).expect("read"), data);
    assert_eq!(
        dir_entries(&work.path().join("out")),
        ["copy.flac"],
        "no temp files left"
    );

    store.delete(&hash).await.expect("delete");
    assert!(!store.exists(&hash).await.expect("exists"));
    store
        .delete(&hash)
        .await
        .expect("delete of a missing blob is fine");
    let e = store
        .get_to_file(&hash, &dest)
        .await
        .expect_err("missing blob");
    assert!(matches!(e, BlobError::NotFound { .. }), "{e:?}");
    assert_eq!(std::fs::read(&dest).expect("read"), data, "dest untouched");
}

#[tokio::test]
async fn large_files_use_multipart_and_verify() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    // 2 full 5 MiB parts + a tail.
    let data = bytes(2 * MIN_PART_SIZE + 123_457, 2);
    let hash = sha256_hex(&data);
    let src = write_file(work.path(), "big.wav", &data);

    let out = store.put_file(&hash, &src).await.expect("put");
    assert_eq!(
        out,
        PutOutcome::Uploaded {
            bytes: data.len() as u64,
            multipart: true
        }
    );
    let key = store.key_for(&hash).expect("key");
    assert_eq!(
        std::fs::metadata(server.object_file(&key))
            .expect("stored")
            .len(),
        data.len() as u64
    );
    assert_eq!(
        store.put_file(&hash, &src).await.expect("re-put"),
        PutOutcome::AlreadyPresent
    );
    let dest = work.path().join("big-copy.wav");
    store.get_to_file(&hash, &dest).await.expect("get");
    assert_eq!(sha256_hex(&std::fs::read(&dest).expect("read")), hash);
}

#[tokio::test]
async fn uploading_under_the_wrong_hash_is_refused() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    for (len, name) in [(1000, "small"), (MIN_PART_SIZE + 10, "large")] {
        let data = bytes(len, 3);
        let wrong = sha256_hex(b"something else");
        let src = write_file(work.path(), name, &data);
        let e = store.put_file(&wrong, &src).await.expect_err("mismatch");
        assert!(
            matches!(e, BlobError::LocalHashMismatch { .. }),
            "{name}: {e:?}"
        );
        assert!(
            !store.exists(&wrong).await.expect("exists"),
            "{name}: nothing stored"
        );
    }
    let e = store
        .put_file("not-a-hash", &work.path().join("small"))
        .await
        .expect_err("bad hash");
    assert!(matches!(e, BlobError::InvalidHash(_)), "{e:?}");
}

#[tokio::test]
async fn tampered_blob_fails_verification_and_keeps_existing_destination() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    let data = bytes(64 * 1024, 4);
    let hash = sha256_hex(&data);
    let src = write_file(work.path(), "a.mp3", &data);
    store.put_file(&hash, &src).await.expect("put");

    // Flip bytes in the server's data directory.
    let stored = server.object_file(&store.key_for(&hash).expect("key"));
    let mut evil = std::fs::read(&stored).expect("read");
    evil[100] ^= 0xFF;
    std::fs::write(&stored, &evil).expect("tamper");

    let dest_dir = work.path().join("dest");
    std::fs::create_dir(&dest_dir).expect("mkdir");
    let dest = write_file(&dest_dir, "a.mp3", b"previous good content");
    let e = store.get_to_file(&hash, &dest).await.expect_err("tampered");
    match &e {
        BlobError::HashMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &hash);
            assert_eq!(actual, &sha256_hex(&evil));
        }
        other => panic!("expected HashMismatch, got {other:?}"),
    }
    assert_eq!(
        std::fs::read(&dest).expect("read"),
        b"previous good content",
        "existing destination untouched"
    );
    assert_eq!(dir_entries(&dest_dir), ["a.mp3"], "temp file removed");
}

#[tokio::test]
async fn presigned_urls_work_and_tampered_ones_are_rejected() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    let data = bytes(10_000, 5);
    let hash = sha256_hex(&data);
    store
        .put_file(&hash, &write_file(work.path(), "x", &data))
        .await
        .expect("put");

    let url = store
        .presigned_get_url(&hash, Duration::from_secs(600))
        .await
        .expect("presign");
    assert!(url.as_str().contains("X-Amz-Signature="), "{url}");
    assert!(!url.as_str().contains(server.secret()));
    let http = reqwest::Client::new();
    let resp = http.get(url.clone()).send().await.expect("GET");
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.bytes().await.expect("body").as_ref(), data.as_slice());

    // Change one hex digit of the signature.
    let mut tampered = url.clone();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "X-Amz-Signature" {
                let mut s = v.into_owned();
                let last = if s.ends_with('0') { "1" } else { "0" };
                s.pop();
                s.push_str(last);
                s
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    assert_ne!(tampered, url);
    let resp = http.get(tampered).send().await.expect("GET");
    assert_eq!(resp.status().as_u16(), 403);

    let e = store
        .presigned_get_url(&hash, Duration::from_secs(8 * 24 * 3600))
        .await
        .expect_err("too long");
    assert!(matches!(e, BlobError::Config(_)));
}

#[tokio::test]
async fn wrong_secret_key_gives_a_clear_error_without_the_key() {
    let server = S3Server::start().await;
    let wrong = "Wrong-Secret-Key-xyz-987654321";
    let store = BlobStore::new(server.config(wrong)).expect("store");
    let work = tempfile::tempdir().expect("tempdir");
    let data = bytes(1000, 6);
    let hash = sha256_hex(&data);
    let src = write_file(work.path(), "x", &data);

    let e = store.put_file(&hash, &src).await.expect_err("auth");
    let e2 = store.exists(&hash).await.expect_err("auth");
    for e in [e, e2] {
        assert!(matches!(e, BlobError::Unauthorized { .. }), "{e:?}");
        let text = format!("{e} / {e:?}");
        assert!(text.contains("secret access key"), "{text}");
        assert!(!text.contains(wrong), "{text}");
        assert!(!text.contains(server.secret()), "{text}");
    }
    assert!(!format!("{store:?}").contains(wrong));
}

#[tokio::test]
async fn conditional_put_check_passes_and_cleans_up() {
    let server = S3Server::start().await;
    let store = server.store();
    store
        .check_conditional_put()
        .await
        .expect("conditional put supported");
    let doctor = server
        .cloud
        .s3_root()
        .join(BUCKET)
        .join("lib1")
        .join("_doctor");
    let left = if doctor.exists() {
        dir_entries(&doctor)
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "probe deleted: {left:?}");
}

#[tokio::test]
async fn blob_futures_are_send() {
    let server = S3Server::start().await;
    let store = server.store();
    let work = tempfile::tempdir().expect("tempdir");
    let data = bytes(100, 7);
    let hash = sha256_hex(&data);
    let src = write_file(work.path(), "x", &data);
    let dest = work.path().join("y");
    let h = hash.clone();
    let handle = tokio::spawn(async move {
        store.put_file(&h, &src).await?;
        store.get_to_file(&h, &dest).await
    });
    assert_eq!(handle.await.expect("join").expect("round trip"), 100);
    assert_eq!(std::fs::read(work.path().join("y")).expect("read"), data);
}
