//! songrec-astra's integration tests, in one test binary: the Astra backend, its Data API
//! client and blob store against the local cloud (the local Data API server and s3s-fs with
//! SigV4, in-process on 127.0.0.1; see `songrec_testkit::LocalCloud`), faults injected by
//! `FaultProxy`s in front of them, and a scripted Data API server.

mod backend_conformance;
mod backend_errors;
mod backend_faults;
mod backend_requests;
mod blobs_s3;
mod cache_layer;
mod collection_budget;
mod credentials;
mod dataapi_client;
mod listing_beyond_sort_cap;
mod model_versions;
mod response_caps;

use std::time::Duration;

use songrec_astra::AstraBackend;
use songrec_astra::blobs::S3Config;
use songrec_astra::dataapi::DataApiConfig;
use songrec_testkit::LocalCloud;

/// The local cloud and an Astra backend on it with these tests' settings.
struct Env {
    cloud: LocalCloud,
    backend: AstraBackend,
}

impl Env {
    /// Fresh servers; the collections are created unless `init` is false.
    async fn start(init: bool) -> Self {
        let cloud = LocalCloud::start().await;
        let backend = backend_at(&cloud, &cloud.api_url(), cloud.token());
        if init {
            backend.init_schema(&[]).await.expect("init");
        }
        Self { cloud, backend }
    }

    fn base_url(&self) -> String {
        self.cloud.api_url()
    }

    fn token(&self) -> &str {
        self.cloud.token()
    }
}

/// These tests' Data API settings: the kit's (local path, fast retries), 10 s per request,
/// 60 s per operation, 100 documents per insert.
fn api_config(base_url: &str, token: &str) -> DataApiConfig {
    songrec_testkit::cloud::api_config(base_url, token)
        .with_request_timeout(Duration::from_secs(10))
        .with_operation_timeout(Duration::from_secs(60))
        .with_insert_chunk_size(100)
}

/// These tests' blob store settings on `cloud`: key prefix `lib`, no retries.
fn s3_config(cloud: &LocalCloud) -> S3Config {
    cloud.s3_config().with_prefix("lib").with_max_retries(0)
}

/// An Astra backend on `cloud`'s blobs, its Data API reached at `base_url` with `token`.
fn backend_at(cloud: &LocalCloud, base_url: &str, token: &str) -> AstraBackend {
    cloud.astra_with(api_config(base_url, token), s3_config(cloud))
}
