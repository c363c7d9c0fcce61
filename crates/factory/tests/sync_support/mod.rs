//! Shared support for the sync tests: the local Data API server and s3s-fs (SigV4) in-process
//! on 127.0.0.1, Astra backends on them, and machines (a local library + its sync record).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig, RetryPolicy};
use songrec_astra::secret::Secret;
use songrec_astra::{AstraBackend, S3LeaseStore};
use songrec_local::LocalBackend;
use songrec_local::syncrecord::SqliteRecord;
use songrec_storage::{
    Embedding, ModelInfo, SongId, SongMetadata, SongRecord, StorageBackend, VersionEntry,
};
use songrec_sync::lease::Lease;
use songrec_sync::record::RecordStore;

pub const TOKEN: &str = "AstraCS:sync-test-token-0123456789";
pub const BUCKET: &str = "songrec-sync";
pub const AK: &str = "AKIDSYNCTEST";
pub const SK: &str = "sync-test-secret-key-0123456789";

pub struct Cloud {
    pub api: songrec_dataapi_server::ServerHandle,
    pub s3: songrec_devservers::S3Server,
    _dir: tempfile::TempDir,
}

impl Cloud {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let api = songrec_dataapi_server::start(songrec_dataapi_server::ServerConfig::ephemeral(
            songrec_dataapi_server::Token::new(TOKEN),
        ))
        .await
        .unwrap();
        let s3 = songrec_devservers::S3Server::start(
            "127.0.0.1:0".parse().unwrap(),
            &dir.path().join("s3"),
            &[BUCKET],
            AK,
            SK,
        )
        .await
        .unwrap();
        let c = Self { api, s3, _dir: dir };
        c.astra().init_schema(&[]).await.unwrap();
        c
    }

    pub fn blobs(&self) -> BlobStore {
        BlobStore::new(
            S3Config::new(BUCKET, "us-east-1", AK, Secret::new(SK))
                .with_endpoint(self.s3.endpoint())
                .with_allow_http(true)
                .with_prefix("lib"),
        )
        .unwrap()
    }

    /// A fresh client (its own request counter).
    pub fn astra(&self) -> AstraBackend {
        let cfg = DataApiConfig::new(self.api.base_url(), Secret::new(TOKEN))
            .with_api_path("/v1")
            .with_retry(
                RetryPolicy::default()
                    .with_max_retries(6)
                    .with_delays(Duration::from_millis(5), Duration::from_millis(50)),
            )
            .with_request_timeout(Duration::from_secs(20));
        AstraBackend::from_parts(DataApiClient::new(cfg).unwrap(), self.blobs(), "songrec").unwrap()
    }

    pub fn lease(&self, machine: &str, ttl: Duration) -> Arc<Lease> {
        Arc::new(Lease::new(
            Arc::new(S3LeaseStore::new(self.blobs())),
            machine,
            ttl,
        ))
    }
}

pub struct Machine {
    pub dir: tempfile::TempDir,
    pub lib: LocalBackend,
    pub record: SqliteRecord,
}

impl Machine {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lib = LocalBackend::open(dir.path().join("library")).unwrap();
        let record =
            SqliteRecord::open(&lib.internal_dir().join("sync.sqlite"), "test remote").unwrap();
        Self { dir, lib, record }
    }

    pub fn id(&self) -> String {
        self.record.machine_id()
    }

    pub fn scratch(&self) -> std::path::PathBuf {
        self.dir.path().join("scratch")
    }
}

pub fn model() -> ModelInfo {
    ModelInfo::new("synctest", "1", 8)
}

pub fn song_bytes(n: usize) -> Vec<u8> {
    // Small, distinct "audio" files (sync moves bytes; it never decodes them).
    let mut b = b"RIFF-test-audio ".to_vec();
    b.extend(format!("song {n} ").repeat(20 + n % 7).into_bytes());
    b
}

pub fn sid(n: usize) -> SongId {
    SongId::from_bytes(&song_bytes(n))
}

/// Adds songs `ns` (audio + one vector + metadata) to a library; `with_audio` false: metadata
/// only (fast bulk loads).
pub async fn add_songs(
    b: &dyn StorageBackend,
    ns: impl IntoIterator<Item = usize>,
    with_audio: bool,
    tmp: &std::path::Path,
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

/// Live entries (id → (version, content hash)) of a listing.
pub fn live(v: &[VersionEntry]) -> BTreeMap<SongId, (u64, String)> {
    v.iter()
        .filter(|e| !e.deleted)
        .map(|e| (e.id.clone(), (e.version, e.content_hash.clone())))
        .collect()
}

/// Everything comparable about a side: listing, full metadata, vectors and audio verified by
/// hash (downloaded and re-hashed).
pub async fn snapshot(
    b: &dyn StorageBackend,
    tmp: &std::path::Path,
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
