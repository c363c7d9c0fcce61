//! The sync lease in the S3 bucket: `<prefix>/locks/sync.lease`, created with
//! `PutMode::Create` (`If-None-Match: *`) and replaced with `PutMode::Update`
//! (`If-Match: <etag>`), so two machines can never both hold it
//! ([`songrec_sync::lease`] has the protocol).

use std::fmt;

use async_trait::async_trait;
use object_store::path::Path as ObjectPath;
use object_store::{
    ObjectStore as _, ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use songrec_storage::{StorageError, StorageResult};
use songrec_sync::lease::{LeaseStore, LeaseTag};

use crate::blobs::{BlobError, BlobStore};

/// Key of the lease object under the store's prefix.
pub const LEASE_KEY: &str = "locks/sync.lease";
/// Largest lease object read (a lease songrec writes is a few hundred bytes).
const MAX_LEASE_BYTES: u64 = 64 * 1024;

/// The sync lease as an object in the audio bucket.
///
/// ```no_run
/// # async fn demo(blobs: songrec_astra::blobs::BlobStore) -> songrec_storage::StorageResult<()> {
/// use songrec_astra::S3LeaseStore;
/// use songrec_sync::lease::LeaseStore;
/// let lease = S3LeaseStore::new(blobs);
/// if let Some((bytes, _tag)) = lease.read().await? {
///     println!("{}", String::from_utf8_lossy(&bytes));
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct S3LeaseStore {
    blobs: BlobStore,
    key: String,
}

impl S3LeaseStore {
    /// The lease at `<prefix>/locks/sync.lease` of `blobs`' bucket.
    pub fn new(blobs: BlobStore) -> Self {
        let key = blobs.object_key(LEASE_KEY);
        Self { blobs, key }
    }

    /// The object key.
    pub fn key(&self) -> &str {
        &self.key
    }

    fn path(&self) -> StorageResult<ObjectPath> {
        ObjectPath::parse(&self.key).map_err(|e| {
            StorageError::InvalidInput(format!("invalid lease key {:?}: {e}", self.key))
        })
    }

    fn fail(&self, e: object_store::Error) -> StorageError {
        match self.blobs.error(&self.key, e) {
            e @ BlobError::Unauthorized { .. } => StorageError::Unauthorized(format!(
                "{e}; the key comes from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
            )),
            e @ BlobError::ResponseTooLarge(_) => StorageError::Backend {
                backend: "s3".into(),
                message: format!("{}: {e}", self.key),
                transient: false,
            },
            e => StorageError::Unavailable {
                backend: "s3".into(),
                message: format!("{}: {e}", self.key),
                transient: true,
            },
        }
    }

    /// A conditional put of the lease object; the outer error is a bad key, the inner one
    /// what the S3 server said (the callers tell a lost race from a failure).
    async fn put(
        &self,
        body: &[u8],
        mode: PutMode,
    ) -> StorageResult<Result<object_store::PutResult, object_store::Error>> {
        let opts = PutOptions {
            mode,
            ..PutOptions::default()
        };
        Ok(self
            .blobs
            .raw()
            .put_opts(&self.path()?, PutPayload::from(body.to_vec()), opts)
            .await)
    }

    fn tag(&self, e_tag: Option<String>) -> StorageResult<LeaseTag> {
        e_tag.map(LeaseTag).ok_or_else(|| {
            StorageError::Unsupported(format!(
                "the S3 server returned no ETag for {}; sync needs conditional writes (If-Match)",
                self.key
            ))
        })
    }
}

impl fmt::Display for S3LeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.blobs.bucket(), self.key)
    }
}

#[async_trait]
impl LeaseStore for S3LeaseStore {
    async fn read(&self) -> StorageResult<Option<(Vec<u8>, LeaseTag)>> {
        let path = self.path()?;
        match self.blobs.raw().get(&path).await {
            Ok(r) => {
                let tag = self.tag(r.meta.e_tag.clone())?;
                // A lease is a few hundred bytes; its size (Content-Length, which bounds the
                // body) is checked before it is read whole.
                if r.meta.size > MAX_LEASE_BYTES {
                    return Err(StorageError::Backend {
                        backend: "s3".into(),
                        message: format!(
                            "the sync lease {} is {} bytes, not a lease songrec wrote (at most {MAX_LEASE_BYTES}); delete it if no sync is running",
                            self, r.meta.size
                        ),
                        transient: false,
                    });
                }
                let bytes = r.bytes().await.map_err(|e| self.fail(e))?;
                Ok(Some((bytes.to_vec(), tag)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn create(&self, body: &[u8]) -> StorageResult<Option<LeaseTag>> {
        match self.put(body, PutMode::Create).await? {
            Ok(r) => self.tag(r.e_tag).map(Some),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }

    async fn replace(&self, body: &[u8], expected: &LeaseTag) -> StorageResult<Option<LeaseTag>> {
        let mode = PutMode::Update(UpdateVersion {
            e_tag: Some(expected.0.clone()),
            version: None,
        });
        match self.put(body, mode).await? {
            Ok(r) => self.tag(r.e_tag).map(Some),
            Err(
                object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. },
            ) => Ok(None),
            Err(e) => Err(self.fail(e)),
        }
    }
}
