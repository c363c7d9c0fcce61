//! Audio: one S3 object per song, named by its content hash (`blobs`).

use std::path::Path;
use std::time::Duration;

use songrec_storage::{PutOutcome, SongId, StorageError, StorageResult};

use super::errors;
use super::storage::Ops;
use crate::blobs;

impl Ops<'_> {
    pub(super) async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let out = self
            .blobs
            .put_file(id.as_str(), src)
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(match out {
            blobs::PutOutcome::Uploaded { bytes, .. } => PutOutcome::copy(bytes, false),
            blobs::PutOutcome::AlreadyPresent => {
                let meta = tokio::fs::metadata(src).await;
                PutOutcome::copy(meta.map_err(|e| StorageError::io(src, e))?.len(), true)
            }
        })
    }

    pub(super) async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        self.blobs
            .get_to_file(id.as_str(), dest)
            .await
            .map_err(|e| errors::blob(e, id))
    }

    pub(super) async fn audio_url(
        &self,
        id: &SongId,
        expires_in: Duration,
    ) -> StorageResult<String> {
        self.blobs
            .presigned_get_url(id.as_str(), expires_in)
            .await
            .map(String::from)
            .map_err(|e| errors::blob(e, id))
    }

    pub(super) async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.blobs
            .exists(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))
    }

    pub(super) async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        if !self.has_audio(id).await? {
            return Ok(false);
        }
        self.blobs
            .delete(id.as_str())
            .await
            .map_err(|e| errors::blob(e, id))?;
        Ok(true)
    }
}
