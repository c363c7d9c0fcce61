//! Building an [`AstraBackend`] from its [`AstraOptions`]: the Data API and S3 settings (with
//! messages naming the variable to set), and the accessors of its client and stores.

use std::time::Duration;

use songrec_storage::{Secret, StorageError, StorageResult};
use tokio::sync::Mutex;

use super::handle::AstraBackend;
use super::{errors, schema};
use crate::blobs::{self, BlobStore};
use crate::dataapi::INSERT_CHUNK;
use crate::dataapi::{DataApiClient, DataApiConfig};

/// Where the Astra library is: the Data API database and the S3 bucket of the audio (the
/// composition root fills them from the `[astra]` and `[s3]` settings).
#[derive(Clone, Debug)]
pub struct AstraOptions {
    /// `https://<db-id>-<region>.apps.astra.datastax.com` (or a local Data API server).
    pub api_endpoint: String,
    pub token: Secret,
    pub keyspace: String,
    /// Prefix of collection names.
    pub collection_prefix: String,
    /// API path prefix: `/api/json/v1` on Astra, `/v1` on self-hosted servers.
    pub api_path: String,
    /// Per-request timeout (at least a second).
    pub request_timeout: Duration,
    /// Allow a plain `http://` endpoint on another machine.
    pub allow_http: bool,
    /// The bucket of the audio.
    pub s3: S3Options,
}

/// The S3-compatible bucket of an [`AstraOptions`].
#[derive(Clone, Debug)]
pub struct S3Options {
    /// Endpoint URL (empty for AWS).
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Key prefix inside the bucket.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    /// Allow a plain `http://` endpoint on another machine.
    pub allow_http: bool,
    /// Per-request timeout (at least a second).
    pub request_timeout: Duration,
}

fn missing(var: &str, what: &str) -> StorageError {
    StorageError::InvalidInput(format!(
        "{what} is not set: set {var} (environment or .env) to use the astra backend"
    ))
}

/// Refuses a value still holding the placeholder `.env.example` ships (`https://<db-id>-...`,
/// `AstraCS:...`, `...`, `s3.example.com`, `my-music`), naming the variable. The value itself is
/// never printed (it may be a secret).
fn placeholder(var: &str, value: &str) -> StorageResult<()> {
    let v = value.trim();
    let is_placeholder = (v.contains('<') && v.contains('>'))
        || v.ends_with("...")
        || v.contains("example.com")
        || v == "my-music";
    if is_placeholder {
        return Err(StorageError::InvalidInput(format!(
            "{var} still holds the placeholder from .env.example: set it to your own value \
             (environment or .env)"
        )));
    }
    Ok(())
}

/// The Data API client settings (validated: endpoint and token set).
pub(crate) fn data_api_config(a: &AstraOptions) -> StorageResult<DataApiConfig> {
    if a.api_endpoint.trim().is_empty() {
        return Err(missing(
            "ASTRA_DB_API_ENDPOINT",
            "the Astra Data API endpoint",
        ));
    }
    if a.token.is_empty() {
        return Err(missing(
            "ASTRA_DB_APPLICATION_TOKEN",
            "the Astra application token",
        ));
    }
    placeholder("ASTRA_DB_API_ENDPOINT", &a.api_endpoint)?;
    placeholder("ASTRA_DB_APPLICATION_TOKEN", a.token.expose())?;
    let timeout = a.request_timeout.max(Duration::from_secs(1));
    Ok(DataApiConfig::new(a.api_endpoint.trim(), a.token.clone())
        .with_keyspace(&a.keyspace)
        .with_api_path(&a.api_path)
        .with_allow_http(a.allow_http)
        .with_request_timeout(timeout)
        .with_operation_timeout(timeout.max(Duration::from_secs(10)) * 3)
        .with_insert_chunk_size(INSERT_CHUNK))
}

/// The S3 settings (validated: bucket and credentials set).
pub(crate) fn s3_config(s: &S3Options) -> StorageResult<blobs::S3Config> {
    if s.bucket.trim().is_empty() {
        return Err(missing("SONGREC_S3_BUCKET", "the S3 bucket for audio"));
    }
    if s.access_key_id.is_empty() {
        return Err(missing("AWS_ACCESS_KEY_ID", "the S3 access key id"));
    }
    if s.secret_access_key.is_empty() {
        return Err(missing("AWS_SECRET_ACCESS_KEY", "the S3 secret key"));
    }
    placeholder("SONGREC_S3_ENDPOINT", &s.endpoint)?;
    placeholder("SONGREC_S3_BUCKET", &s.bucket)?;
    placeholder("AWS_ACCESS_KEY_ID", &s.access_key_id)?;
    placeholder("AWS_SECRET_ACCESS_KEY", s.secret_access_key.expose())?;
    let mut c = blobs::S3Config::new(
        s.bucket.trim(),
        &s.region,
        &s.access_key_id,
        s.secret_access_key.clone(),
    )
    .with_allow_http(s.allow_http)
    .with_prefix(&s.prefix)
    .with_request_timeout(s.request_timeout.max(Duration::from_secs(1)));
    if !s.endpoint.trim().is_empty() {
        c = c.with_endpoint(s.endpoint.trim());
    }
    Ok(c)
}

impl AstraBackend {
    /// Builds the backend from its options (no request is made). Fails with a message naming the
    /// environment variable to set when the endpoint, token, bucket or S3 credentials are missing.
    pub fn connect(opts: &AstraOptions) -> StorageResult<Self> {
        let api = data_api_config(opts)?;
        let s3 = s3_config(&opts.s3)?;
        let client = DataApiClient::new(api).map_err(|e| errors::api(e, "Data API client"))?;
        let blobs = BlobStore::new(s3).map_err(|e| StorageError::InvalidInput(e.to_string()))?;
        Self::from_parts(client, blobs, &opts.collection_prefix)
    }

    /// Builds the backend from a ready client and blob store (tests, benchmarks, custom
    /// retry policies). `prefix` names the collections (`<prefix>_songs`, `<prefix>_v_<model>`).
    pub fn from_parts(
        client: DataApiClient,
        blobs: BlobStore,
        prefix: &str,
    ) -> StorageResult<Self> {
        schema::validate_prefix(prefix)?;
        let display = format!(
            "Astra({}/{}, s3://{})",
            crate::origin::host_of(&client.config().endpoint),
            client.config().keyspace,
            blobs.bucket()
        );
        Ok(Self {
            songs: client.collection(&schema::songs_name(prefix)),
            client,
            blobs,
            prefix: prefix.to_owned(),
            display,
            registry: Mutex::new(None),
            feed_overlap_ms: None,
            sort_cap: None,
            sort_keys_checked: std::sync::atomic::AtomicBool::new(false),
            sort_keys_warned: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The Data API's in-memory sort cap (default 10,000, `maxDocumentSortCount`) that sorted
    /// listings size their key ranges for; tests against a server with a lower cap set it.
    pub fn with_sort_cap(mut self, cap: usize) -> Self {
        self.sort_cap = Some(cap.max(10) as f64);
        self
    }

    /// The change feed's overlap (default [`OVERLAP_MS`](super::feed::OVERLAP_MS)): how long after its change
    /// time a write may still become visible to readers.
    pub fn with_feed_overlap(mut self, overlap: std::time::Duration) -> Self {
        self.feed_overlap_ms = Some(i64::try_from(overlap.as_millis()).unwrap_or(i64::MAX));
        self
    }

    /// Data API requests sent so far (every HTTP attempt, retries included).
    pub fn requests_sent(&self) -> u64 {
        self.client.requests_sent()
    }

    pub fn client(&self) -> &DataApiClient {
        &self.client
    }

    pub fn blob_store(&self) -> &BlobStore {
        &self.blobs
    }

    pub fn songs_collection(&self) -> &str {
        self.songs.name()
    }
}

#[cfg(test)]
mod placeholder_tests {
    use super::placeholder;

    #[test]
    fn env_example_values_are_recognised_and_named() {
        // Every value .env.example ships for the cloud settings.
        let example = include_str!("../../../../.env.example");
        let vars = [
            "ASTRA_DB_API_ENDPOINT",
            "ASTRA_DB_APPLICATION_TOKEN",
            "SONGREC_S3_ENDPOINT",
            "SONGREC_S3_BUCKET",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ];
        for var in vars {
            let line = example
                .lines()
                .find(|l| l.starts_with(&format!("{var}=")))
                .unwrap_or_else(|| panic!("{var} in .env.example"));
            let value = &line[var.len() + 1..];
            let e = placeholder(var, value).unwrap_err().to_string();
            assert!(e.contains(var) && e.contains("placeholder"), "{e}");
            assert!(!e.contains(value), "the value is not echoed: {e}");
        }
        for real in [
            "https://0123-eu-west-1.apps.astra.datastax.com",
            "AstraCS:abcdef:0123456789",
            "http://127.0.0.1:9000",
            "music-bucket",
        ] {
            assert!(placeholder("X", real).is_ok(), "{real}");
        }
    }
}
