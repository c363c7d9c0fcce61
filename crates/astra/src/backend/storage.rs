//! `impl StorageBackend for AstraBackend`, generated from the storage crate's list of the
//! trait's methods (`backend_methods!`): each calls the method of the same name of [`Ops`],
//! written in `audio`, `writes`, `listing`, `search`, `registry`, `feed` and `playlists`. `Ops`
//! does not implement the trait and is called by path (no auto-deref), so a missing method is a
//! compile error, never a call of the trait method itself (an endless recursion).

use std::path::Path;

use songrec_storage::{PutOutcome, SongId, StorageError, StorageResult};

use super::AstraBackend;

/// The backend's operations: one inherent method per trait method (the backend's own fields
/// and helpers through `Deref`).
pub(super) struct Ops<'a>(&'a AstraBackend);

impl std::ops::Deref for Ops<'_> {
    type Target = AstraBackend;

    fn deref(&self) -> &AstraBackend {
        self.0
    }
}

macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty, $op:ident;)*) => {
        #[async_trait::async_trait]
        #[deny(clippy::missing_trait_methods)]
        impl songrec_storage::StorageBackend for AstraBackend {
            $(async fn $name(&self, $($arg: $ty),*) -> StorageResult<$out> {
                Ops::$name(&Ops(self), $($arg),*).await
            })*

            /// The Data API's vector-search cap.
            fn max_results(&self) -> usize {
                songrec_storage::query::MAX_RESULTS
            }
        }
    };
}
songrec_storage::backend_methods!(forward! {});

impl Ops<'_> {
    /// The cloud holds copies only: a user's file is uploaded.
    pub(super) async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.put_audio(id, path).await
    }

    /// The cloud keeps each song's own bytes: another file of the same recording is not kept.
    pub(super) async fn link_audio_as(
        &self,
        _key: &SongId,
        _path: &Path,
        _own: &SongId,
    ) -> StorageResult<PutOutcome> {
        Err(StorageError::Unsupported(
            "the cloud keeps each song's own bytes, not another file of the same recording".into(),
        ))
    }

    /// Nothing to flush: every write is sent when it is made.
    pub(super) async fn flush(&self) -> StorageResult<()> {
        Ok(())
    }
}
