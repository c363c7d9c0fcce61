//! Shared test support for the `backend_*` tests: the local Data API server and s3s-fs
//! (SigV4 on), both in-process on 127.0.0.1 sockets. Fault injection uses
//! [`songrec_devservers::FaultProxy`].

#![allow(dead_code)]

use std::time::Duration;

use songrec_astra::AstraBackend;
use songrec_astra::blobs::{BlobStore, S3Config};
use songrec_astra::dataapi::{DataApiClient, DataApiConfig, RetryPolicy};
use songrec_astra::secret::Secret;
use songrec_dataapi_server::{ServerConfig, ServerHandle, Token};

pub const TOKEN: &str = "AstraCS:test-token-0123456789abcdef";
pub const BUCKET: &str = "songrec-test";
pub const ACCESS_KEY: &str = "AKIDSONGRECTEST";
pub const SECRET_KEY: &str = "s3cr3t-Key-For-Tests-0123456789";

/// An s3s-fs server with one bucket.
pub struct S3Server {
    pub endpoint: String,
    _root: tempfile::TempDir,
    _server: songrec_devservers::S3Server,
}

impl S3Server {
    pub async fn start() -> Self {
        let root = tempfile::tempdir().expect("tempdir");
        let server = songrec_devservers::S3Server::start(
            "127.0.0.1:0".parse().expect("addr"),
            root.path(),
            &[BUCKET],
            ACCESS_KEY,
            SECRET_KEY,
        )
        .await
        .expect("s3s-fs");
        Self {
            endpoint: server.endpoint(),
            _root: root,
            _server: server,
        }
    }

    pub fn store(&self) -> BlobStore {
        BlobStore::new(
            S3Config::new(BUCKET, "us-east-1", ACCESS_KEY, Secret::new(SECRET_KEY))
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_prefix("lib")
                .with_max_retries(0),
        )
        .expect("blob store")
    }
}

pub fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_retries(6)
        .with_delays(Duration::from_millis(5), Duration::from_millis(50))
}

pub fn api_config(base_url: &str, token: &str) -> DataApiConfig {
    DataApiConfig::new(base_url, Secret::new(token))
        .with_api_path("/v1")
        .with_retry(fast_retry())
        .with_request_timeout(Duration::from_secs(10))
        .with_operation_timeout(Duration::from_secs(60))
        .with_insert_chunk_size(100)
}

/// Both servers and a backend on them.
pub struct Env {
    pub api: ServerHandle,
    pub s3: S3Server,
    pub backend: AstraBackend,
}

impl Env {
    /// Fresh servers; the schema is created unless `init` is false.
    pub async fn start(init: bool) -> Self {
        let api = songrec_dataapi_server::start(ServerConfig::ephemeral(Token::new(TOKEN)))
            .await
            .expect("data api server");
        let s3 = S3Server::start().await;
        let backend = backend_at(&api.base_url(), TOKEN, &s3);
        if init {
            backend.init_schema(&[]).await.expect("init");
        }
        Self { api, s3, backend }
    }

    pub fn base_url(&self) -> String {
        self.api.base_url()
    }
}

pub fn backend_at(base_url: &str, token: &str, s3: &S3Server) -> AstraBackend {
    backend_with(api_config(base_url, token), s3)
}

pub fn backend_with(cfg: DataApiConfig, s3: &S3Server) -> AstraBackend {
    let client = DataApiClient::new(cfg).expect("client");
    AstraBackend::from_parts(client, s3.store(), "songrec").expect("backend")
}

// ---- data --------------------------------------------------------------------------------

/// Deterministic pseudo-random vector.
pub fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A song with varied metadata.
pub fn song(n: usize) -> songrec_storage::SongMetadata {
    use songrec_storage::{SongId, SongMetadata};
    let id = SongId::from_bytes(format!("backend test song {n}").as_bytes());
    let mut m = SongMetadata::new(id, format!("Track {n:05}"));
    m.artist = Some(format!("Artist {}", n % 7));
    m.genre = Some(["Rock", "Jazz", "Pop"][n % 3].to_owned());
    m.bpm = (!n.is_multiple_of(5)).then_some(70.0 + (n % 90) as f32);
    m.duration_secs = 100.0 + n as f64;
    m.tags = vec![format!("tag{}", n % 4)];
    m.file_name = format!("t{n}.flac");
    m
}

/// A record with one vector of `model`.
pub fn record(n: usize, model: &songrec_storage::ModelInfo) -> songrec_storage::SongRecord {
    songrec_storage::SongRecord {
        metadata: song(n),
        embeddings: vec![
            songrec_storage::Embedding::new(model.clone(), vector(n as u64 + 1, model.dim))
                .expect("embedding"),
        ],
    }
}
