//! The sync lease as an object in an object store (songrec's S3 bucket):
//! `<prefix>/locks/sync.lease`, created with `PutMode::Create` (`If-None-Match: *`) and
//! replaced with `PutMode::Update` (`If-Match: <etag>`), so two machines can never both hold
//! it ([`crate::lease`] has the protocol).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt as _, PutMode, PutPayload, UpdateVersion};
use songrec_storage::{StorageError, StorageResult};

use crate::lease::{LeaseStore, LeaseTag};

/// Key of the lease object under the store's prefix.
pub const LEASE_KEY: &str = "locks/sync.lease";
/// Largest lease object read (a lease songrec writes is a few hundred bytes).
const MAX_LEASE_BYTES: u64 = 64 * 1024;

/// How the store's owner reports a failed request on a key (credentials named, secrets
/// scrubbed).
pub type ErrorMap = Arc<dyn Fn(&str, object_store::Error) -> StorageError + Send + Sync>;

/// The sync lease as an object in any [`ObjectStore`].
#[derive(Clone)]
pub struct ObjectLeaseStore {
    store: Arc<dyn ObjectStore>,
    key: String,
    /// Where the store is (`s3://<bucket>`); its scheme names the backend in errors.
    location: String,
    fail: ErrorMap,
}

impl ObjectLeaseStore {
    /// The lease object `key` (the full key, prefix included) in `store`, which is at
    /// `location`; `fail` reports the store's errors.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        key: impl Into<String>,
        location: impl Into<String>,
        fail: ErrorMap,
    ) -> Self {
        Self {
            store,
            key: key.into(),
            location: location.into(),
            fail,
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    fn path(&self) -> StorageResult<ObjectPath> {
        ObjectPath::parse(&self.key).map_err(|e| {
            StorageError::InvalidInput(format!("invalid lease key {:?}: {e}", self.key))
        })
    }

    fn fail(&self, e: object_store::Error) -> StorageError {
        (self.fail)(&self.key, e)
    }

    /// A conditional put of the lease object; the outer error is a bad key, the inner one
    /// what the store said (the callers tell a lost race from a failure).
    async fn put(
        &self,
        body: &[u8],
        mode: PutMode,
    ) -> StorageResult<Result<object_store::PutResult, object_store::Error>> {
        Ok(self
            .store
            .put_opts(&self.path()?, PutPayload::from(body.to_vec()), mode.into())
            .await)
    }

    fn tag(&self, e_tag: Option<String>) -> StorageResult<LeaseTag> {
        e_tag.map(LeaseTag).ok_or_else(|| {
            StorageError::Unsupported(format!(
                "the server of {} returned no ETag for {}; sync needs conditional writes (If-Match)",
                self.location, self.key
            ))
        })
    }
}

impl fmt::Debug for ObjectLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectLeaseStore")
            .field("location", &self.location)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl fmt::Display for ObjectLeaseStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.location, self.key)
    }
}

#[async_trait]
impl LeaseStore for ObjectLeaseStore {
    async fn read(&self) -> StorageResult<Option<(Vec<u8>, LeaseTag)>> {
        let path = self.path()?;
        match self.store.get(&path).await {
            Ok(r) => {
                let tag = self.tag(r.meta.e_tag.clone())?;
                // A lease is a few hundred bytes; its size (Content-Length, which bounds the
                // body) is checked before it is read whole.
                if r.meta.size > MAX_LEASE_BYTES {
                    return Err(StorageError::backend(
                        self.location.split(':').next().unwrap_or_default(),
                        format!(
                            "the sync lease {} is {} bytes, not a lease songrec wrote (at most {MAX_LEASE_BYTES}); delete it if no sync is running",
                            self, r.meta.size
                        ),
                    ));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conditional_create_and_replace_in_memory() {
        let fail: ErrorMap =
            Arc::new(|key: &str, e| StorageError::InvalidInput(format!("{key}: {e}")));
        let store = Arc::new(object_store::memory::InMemory::new());
        let s = ObjectLeaseStore::new(store, "lib/locks/sync.lease", "memory://store", fail);
        assert_eq!(s.to_string(), "memory://store/lib/locks/sync.lease");
        assert!(s.read().await.unwrap().is_none());
        let tag = s.create(b"mine").await.unwrap().unwrap();
        assert!(s.create(b"theirs").await.unwrap().is_none());
        assert_eq!(
            s.read().await.unwrap().unwrap(),
            (b"mine".to_vec(), tag.clone())
        );
        assert!(s.replace(b"renewed", &tag).await.unwrap().is_some());
        assert!(s.replace(b"stale", &tag).await.unwrap().is_none());
    }
}
