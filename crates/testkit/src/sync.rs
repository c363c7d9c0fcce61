//! Sync machines and their remote: a local library with its sync record, leases on a cloud's
//! bucket, small songs to sync, and snapshots of a side to compare.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use songrec_astra::AstraBackend;
use songrec_local::LocalBackend;
use songrec_storage::{Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend};
use songrec_sync::lease::Lease;
use songrec_sync::record::{FeedFile, RecordStore};
use songrec_sync::stores::sqlite_record::SqliteRecord;

use crate::LocalCloud;
use crate::data::live;

/// The remote of sync tests: the Astra backend on `cloud` (blobs under `lib/`, request timeout
/// 20 s, fast retries), with its own request counter.
pub fn astra(cloud: &LocalCloud) -> AstraBackend {
    cloud.astra_with(
        cloud
            .api_config()
            .with_request_timeout(Duration::from_secs(20)),
        cloud.s3_config().with_prefix("lib"),
    )
}

/// The sync lease of `machine` in `cloud`'s bucket (under `lib/`).
pub fn lease(cloud: &LocalCloud, machine: &str, ttl: Duration) -> Arc<Lease> {
    Arc::new(Lease::new(
        Arc::new(songrec_factory::sync::lease_store(&astra(cloud))),
        machine,
        ttl,
    ))
}

/// A machine: a local library in a temporary folder and its sync record.
pub struct Machine {
    /// The machine's folder (the library is `library/`).
    pub dir: tempfile::TempDir,
    /// Its library.
    pub lib: LocalBackend,
    /// Its sync record (with the change-feed position, as `songrec sync` keeps it).
    pub record: FeedFile<SqliteRecord>,
}

impl Machine {
    /// A fresh machine with an empty library.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let lib = LocalBackend::open(dir.path().join("library")).expect("a library");
        let record = FeedFile::new(
            SqliteRecord::open(&lib.internal_dir().join("sync.sqlite"), "test remote")
                .expect("a sync record"),
            lib.internal_dir().join("sync-feed.json"),
            "test remote",
        );
        Self { dir, lib, record }
    }

    /// The machine id in its sync record.
    pub fn id(&self) -> String {
        self.record.machine_id()
    }

    /// A scratch folder for sync.
    pub fn scratch(&self) -> PathBuf {
        self.dir.path().join("scratch")
    }
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

/// The model of [`add_songs`]' vectors (8-d).
pub fn model() -> ModelInfo {
    ModelInfo::new("synctest", "1", 8)
}

/// Small, distinct "audio" bytes of song `n` (sync moves bytes; it never decodes them).
pub fn song_bytes(n: usize) -> Vec<u8> {
    let mut b = b"RIFF-test-audio ".to_vec();
    b.extend(format!("song {n} ").repeat(20 + n % 7).into_bytes());
    b
}

/// The id of song `n`.
pub fn sid(n: usize) -> SongId {
    SongId::from_bytes(&song_bytes(n))
}

/// Adds songs `ns` to a library: audio, one [`model`] vector and metadata; with `with_audio`
/// false, metadata only (fast bulk loads). `tmp` is a scratch folder.
pub async fn add_songs(
    b: &dyn StorageBackend,
    ns: impl IntoIterator<Item = usize>,
    with_audio: bool,
    tmp: &Path,
) {
    std::fs::create_dir_all(tmp).unwrap();
    let mut recs = Vec::new();
    for n in ns {
        let id = sid(n);
        if with_audio {
            let f = tmp.join(format!("{n}.wav"));
            std::fs::write(&f, song_bytes(n)).unwrap();
            b.put_audio(&id, &f).await.unwrap();
        }
        let mut m = SongMetadata::new(id, format!("Song {n}"));
        m.artist = Some(format!("Artist {}", n % 5));
        m.file_name = format!("song-{n}.wav");
        m.file_size = song_bytes(n).len() as u64;
        let embeddings = if with_audio {
            vec![Embedding {
                model: model(),
                vector: (0..8).map(|i| ((n * 8 + i) % 13) as f32 + 1.0).collect(),
            }]
        } else {
            Vec::new()
        };
        recs.push(SongRecord {
            metadata: m,
            embeddings,
        });
    }
    for chunk in recs.chunks(500) {
        let r = b.put_songs(chunk).await.unwrap();
        assert!(r.is_complete(), "{:?}", r.failed);
    }
}

/// Everything comparable about a side: listing, full metadata, the [`model`] vector, and
/// whether the audio is there (downloaded and checked against the id).
pub async fn snapshot(
    b: &dyn StorageBackend,
    tmp: &Path,
) -> BTreeMap<SongId, (SongMetadata, bool, Option<Vec<f32>>)> {
    std::fs::create_dir_all(tmp).unwrap();
    let mut out = BTreeMap::new();
    let versions = b.list_versions().await.unwrap();
    for (id, (version, _)) in live(&versions) {
        let m = b
            .get_metadata(&id)
            .await
            .unwrap()
            .expect("listed song has metadata");
        assert_eq!(m.version, version);
        let f = tmp.join(format!("{}.bin", id.short()));
        let audio = match b.get_audio(&id, &f).await {
            Ok(_) => {
                let (got, _) = SongId::from_file(&f).unwrap();
                assert_eq!(got, id, "audio bytes hash to the id");
                std::fs::remove_file(&f).unwrap();
                true
            }
            Err(songrec_storage::StorageError::NotFound(_)) => false,
            Err(e) => panic!("{e}"),
        };
        let v = b
            .get_embedding(&id, &model())
            .await
            .unwrap()
            .map(|e| e.vector);
        out.insert(id, (m, audio, v));
    }
    out
}
