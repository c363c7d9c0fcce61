//! [`FallbackLayer`]: reads fall back to an offline copy when the primary is unavailable;
//! writes never do. The status it shares with the CLI is in [`status`].

mod status;

pub use status::FallbackStatus;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use futures::StreamExt;
use serde::Serialize;

use songrec_storage::backend::{AudioStore, PlaylistStore, SongStore, VectorStore, VersionLog};
use songrec_storage::backend::{
    BatchReport, ChangeCursor, Changes, ModelStats, PutOutcome, SongRecord, StorageBackend,
};
use songrec_storage::error::{StorageError, StorageResult};
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::layers::{Layer, Op};
use songrec_storage::metadata::{SongMetadata, VersionEntry};
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::playlist::SavedPlaylist;
use songrec_storage::query::{ListQuery, Match, Page, SearchQuery};

/// Songs fetched per batch by [`FallbackLayer::refresh_snapshot`].
const REFRESH_BATCH: usize = 100;
/// Concurrent vector reads during a refresh.
const REFRESH_CONCURRENCY: usize = 8;

/// Fallback configuration: the offline copy (`secondary`), whether reads may use it, and
/// where the time of the last sync is kept.
///
/// ```
/// use songrec_cache::Fallback;
/// use songrec_storage::layers::LayerExt;
/// use songrec_conformance::MemoryBackend;
/// let fallback = Fallback::new(MemoryBackend::new());
/// let status = fallback.status();
/// let b = MemoryBackend::new().layer(fallback);
/// assert_eq!(b.to_string(), "Fallback(Memory, Memory)");
/// assert!(status.warning().is_none());
/// ```
#[derive(Debug)]
pub struct Fallback<S> {
    secondary: S,
    reads: bool,
    status: FallbackStatus,
}

impl<S: StorageBackend> Fallback<S> {
    /// Reads fall back to `secondary` when the primary is unavailable.
    pub fn new(secondary: S) -> Self {
        Self {
            secondary,
            reads: true,
            status: FallbackStatus::default(),
        }
    }

    /// Whether reads may be answered by the offline copy (default true; `false` only keeps
    /// the copy up to date, for commands that must see the remote itself).
    pub fn reads(mut self, allow: bool) -> Self {
        self.reads = allow;
        self
    }

    /// Keeps the time of the last sync in `path` (JSON) for later processes.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.status = FallbackStatus::from_state_file(path);
        self
    }

    /// The status handle (clone it before wrapping).
    pub fn status(&self) -> FallbackStatus {
        self.status.clone()
    }
}

impl<P: StorageBackend, S: StorageBackend> Layer<P> for Fallback<S> {
    type Output = FallbackLayer<P, S>;
    fn wrap(self, primary: P) -> FallbackLayer<P, S> {
        FallbackLayer {
            primary,
            secondary: self.secondary,
            reads: self.reads,
            status: self.status,
        }
    }
}

/// Reads go to the primary; when it is unavailable ([`StorageError::is_unavailable`], an open
/// circuit breaker too) the secondary, an offline copy, answers and [`FallbackStatus`] records
/// it. Writes go to the primary only and fail at once while it is unavailable.
///
/// The secondary is kept up to date, best effort, by the traffic (metadata and vectors read,
/// deletions seen in `list_versions`, every successful write) and by
/// [`FallbackLayer::refresh_snapshot`]. Audio is not copied: `get_audio` does not fall back.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use songrec_cache::Fallback;
/// use songrec_storage::layers::{Chaos, LayerExt};
/// use songrec_conformance::MemoryBackend;
/// use songrec_storage::prelude::*;
/// use songrec_storage::{Filter, SongId, SongMetadata};
/// let fallback = Fallback::new(MemoryBackend::new());
/// let status = fallback.status();
/// let remote = MemoryBackend::new().layer(Chaos::new(1));
/// let b = remote.layer(fallback);
/// let m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
/// b.put_metadata(&m).await.unwrap();            // written to the remote, copied offline
/// b.primary().set_config(Chaos::new(1).fail_ratio(1.0)); // the remote goes down
/// assert_eq!(b.count(&Filter::default()).await.unwrap(), 1); // answered by the copy
/// assert!(status.warning().unwrap().starts_with("remote unavailable"));
/// assert!(b.put_metadata(&m).await.is_err());   // writes never fall back
/// # }
/// ```
#[derive(Debug)]
pub struct FallbackLayer<P, S> {
    primary: P,
    secondary: S,
    reads: bool,
    status: FallbackStatus,
}

type VectorRead<'a> =
    std::pin::Pin<Box<dyn Future<Output = StorageResult<(SongId, Option<Embedding>)>> + Send + 'a>>;

/// What [`FallbackLayer::refresh_snapshot`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RefreshReport {
    /// Songs on the primary.
    pub songs: u64,
    /// Songs copied (new or changed).
    pub copied: u64,
    /// Songs removed from the copy (deleted on the primary).
    pub removed: u64,
    pub vectors: u64,
    /// Songs already up to date.
    pub unchanged: u64,
}

/// Brings an offline copy up to date (for a caller holding a [`FallbackLayer`] behind `dyn`).
#[async_trait]
pub trait SnapshotRefresh: Send + Sync {
    /// Copies every song's metadata and vectors from the primary (only what changed since
    /// the last refresh); `progress(done, total)` is called as songs are copied.
    async fn refresh_snapshot(
        &self,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StorageResult<RefreshReport>;

    fn fallback_status(&self) -> FallbackStatus;
}

/// A remote-only call failed because the remote is unavailable: says that nothing was
/// changed (the operation's name is for the log).
fn nothing_written(e: StorageError, op: Op) -> StorageError {
    if let StorageError::Unavailable { message, .. } = &e {
        tracing::debug!(%op, "remote unavailable: {message}");
    }
    unavailable_plus(
        e,
        "nothing was changed (cached and local data are untouched): try again when it is reachable",
    )
}

/// The songs live in `local` but not in the complete listing `remote`.
fn gone<'a>(remote: &[VersionEntry], local: &'a [VersionEntry]) -> Vec<&'a SongId> {
    let live = |v: &'_ VersionEntry| !v.deleted;
    let alive: HashSet<&SongId> = remote.iter().filter(|v| live(v)).map(|v| &v.id).collect();
    let ids = local.iter().filter(|v| live(v)).map(|v| &v.id);
    ids.filter(|id| !alive.contains(id)).collect()
}

/// `e` with `; tail` added to its message when it says the remote is unavailable.
fn unavailable_plus(e: StorageError, tail: &str) -> StorageError {
    match e {
        StorageError::Unavailable {
            backend,
            message,
            transient,
        } => StorageError::Unavailable {
            backend,
            message: format!("{message}; {tail}"),
            transient,
        },
        e => e,
    }
}

/// [`FallbackLayer::read`] of the same call on both sides (`read!`), or just its answer, not
/// copied to the secondary (`answer!`): `answer!(self, Count, count(filter))`.
macro_rules! read {
    ($self:ident, $op:ident, $name:ident($($arg:expr),*)) => {
        $self.read(Op::$op, $self.primary.$name($($arg),*), true, || $self.secondary.$name($($arg),*)).await
    };
}
macro_rules! answer {
    ($self:ident, $op:ident, $name:ident($($arg:expr),*)) => {
        read!($self, $op, $name($($arg),*)).map(|(v, _)| v)
    };
}

impl<P: StorageBackend, S: StorageBackend> FallbackLayer<P, S> {
    pub fn primary(&self) -> &P {
        &self.primary
    }

    /// Copies the playlists the primary answered with into the offline copy, writing only
    /// those the copy holds differently.
    async fn mirror_playlists(&self, playlists: &[SavedPlaylist]) {
        let held: std::collections::HashMap<String, SavedPlaylist> =
            match self.secondary.list_playlists().await {
                Ok(all) => all.into_iter().map(|p| (p.id.clone(), p)).collect(),
                Err(e) => {
                    self.note("reading the copy's playlists", Err::<(), _>(e));
                    return;
                }
            };
        for p in playlists {
            if held.get(&p.id) != Some(p) {
                let r = self.secondary.put_playlist(p).await;
                self.note("copying a playlist", r);
            }
        }
    }

    /// The offline copy.
    pub fn secondary(&self) -> &S {
        &self.secondary
    }

    pub fn status(&self) -> &FallbackStatus {
        &self.status
    }

    /// A read: the primary's answer (`true`: to copy), else, if the primary is unavailable and
    /// reads (and this one: `fall_back`) may fall back, the secondary's (`false`).
    async fn read<T, Fp, Fs, Fut>(
        &self,
        op: Op,
        primary: Fp,
        fall_back: bool,
        secondary: Fs,
    ) -> StorageResult<(T, bool)>
    where
        Fp: Future<Output = StorageResult<T>> + Send,
        Fs: FnOnce() -> Fut + Send,
        Fut: Future<Output = StorageResult<T>> + Send,
        T: Send,
    {
        match primary.await {
            Ok(v) => {
                self.status.contact(false, false);
                Ok((v, true))
            }
            Err(e) if e.is_unavailable() && self.reads && fall_back => {
                let e = self.copy_may_answer(e).await?;
                match secondary().await {
                    Ok(v) => {
                        self.status.served(&e);
                        Ok((v, false))
                    }
                    Err(se) => {
                        tracing::debug!("offline copy could not answer either: {se}");
                        Err(e)
                    }
                }
            }
            // Remote-only mode serves commands that are about to write: say so.
            Err(e) if !self.reads => Err(nothing_written(e, op)),
            Err(e) => Err(e),
        }
    }

    /// The primary is unavailable (`e`): whether the copy may answer instead (not an empty
    /// copy never completely refreshed: its "0 songs" would be wrong).
    async fn copy_may_answer(&self, e: StorageError) -> StorageResult<StorageError> {
        if self.status.full_refresh_at().is_some()
            || matches!(self.secondary.count(&Filter::default()).await, Ok(n) if n > 0)
        {
            return Ok(e);
        }
        Err(unavailable_plus(
            e,
            "this machine has no offline copy of the library to answer from (it never synced \
             with it): check the settings and the network with `songrec doctor`; once it \
             answers, `songrec cache refresh` keeps a copy for offline use",
        ))
    }

    async fn write<T>(
        &self,
        op: Op,
        f: impl Future<Output = StorageResult<T>> + Send,
    ) -> StorageResult<T> {
        let r = f.await.map_err(|e| nothing_written(e, op))?;
        self.status.contact(false, false);
        Ok(r)
    }

    fn note<T>(&self, what: &str, r: StorageResult<T>) -> Option<T> {
        r.inspect_err(|e| self.status.mirror_failed(what, e)).ok()
    }

    /// Copies metadata that differs from the secondary's.
    async fn mirror_metadata<'a>(&self, ms: impl IntoIterator<Item = &'a SongMetadata>) {
        let ms: Vec<&SongMetadata> = ms.into_iter().collect();
        if ms.is_empty() {
            return;
        }
        let ids: Vec<SongId> = ms.iter().map(|m| m.id.clone()).collect();
        let have = self.secondary.get_metadata_many(&ids).await;
        let Some(have) = self.note("reading the copy", have) else {
            return;
        };
        let have: HashMap<&SongId, &SongMetadata> = have.iter().map(|m| (&m.id, m)).collect();
        let mut seen = HashSet::new();
        let changed: Vec<SongRecord> = ms
            .into_iter()
            .filter(|m| have.get(&m.id) != Some(m) && seen.insert(&m.id))
            .map(|m| SongRecord {
                metadata: m.clone(),
                embeddings: Vec::new(),
            })
            .collect();
        if !changed.is_empty() {
            let r = self.secondary.put_songs(&changed).await;
            if self.note("copying metadata", r).is_some() {
                self.status.contact(true, false);
            }
        }
    }

    async fn mirror_embedding(&self, id: &SongId, e: &Embedding) {
        match self.secondary.get_embedding(id, &e.model).await {
            Ok(Some(have)) if have.vector == e.vector => {}
            _ => {
                let r = self.secondary.put_embedding(id, e).await;
                self.note("copying a vector", r);
            }
        }
    }

    async fn mirror_delete(&self, id: &SongId) {
        let r = self.secondary.delete_song(id).await;
        self.note("copying a deletion", r);
    }

    /// Removes songs from the copy that the primary's complete listing no longer has.
    async fn mirror_versions(&self, remote: &[VersionEntry]) {
        let local = self.secondary.list_versions().await;
        let Some(local) = self.note("reading the copy's versions", local) else {
            return;
        };
        for id in gone(remote, &local) {
            self.mirror_delete(id).await;
        }
    }

    /// Copies every song's metadata and vectors that the secondary lacks or has at another
    /// version, and removes songs the primary no longer has; fails if the primary fails.
    pub async fn refresh_snapshot(
        &self,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StorageResult<RefreshReport> {
        let remote = self.primary.list_versions().await?;
        let local = self.secondary.list_versions().await?;
        let have: HashMap<&SongId, &VersionEntry> = local.iter().map(|v| (&v.id, v)).collect();
        let alive: Vec<&VersionEntry> = remote.iter().filter(|v| !v.deleted).collect();
        let mut report = RefreshReport {
            songs: alive.len() as u64,
            ..RefreshReport::default()
        };
        let todo: Vec<SongId> = alive
            .iter()
            .filter(|v| {
                have.get(&v.id)
                    .is_none_or(|l| l.deleted || l.version != v.version)
            })
            .map(|v| v.id.clone())
            .collect();
        report.unchanged = report.songs - todo.len() as u64;
        let models = self.primary.models().await?;
        let models: Vec<ModelInfo> = models.into_iter().map(|s| s.model).collect();
        progress(0, todo.len() as u64);
        let mut done = 0u64;
        for chunk in todo.chunks(REFRESH_BATCH) {
            let metas = self.primary.get_metadata_many(chunk).await?;
            let primary = &self.primary;
            let reads: Vec<VectorRead<'_>> = metas
                .iter()
                .flat_map(|m| {
                    models
                        .iter()
                        .map(move |model| (m.id.clone(), model.clone()))
                })
                .map(|(id, model)| -> VectorRead<'_> {
                    Box::pin(
                        async move { primary.get_embedding(&id, &model).await.map(|e| (id, e)) },
                    )
                })
                .collect();
            let mut vectors: HashMap<SongId, Vec<Embedding>> = HashMap::new();
            let mut stream = futures::stream::iter(reads).buffer_unordered(REFRESH_CONCURRENCY);
            while let Some(r) = stream.next().await {
                if let (id, Some(e)) = r? {
                    vectors.entry(id).or_default().push(e);
                }
            }
            let records: Vec<SongRecord> = metas
                .into_iter()
                .map(|m| SongRecord {
                    embeddings: vectors.remove(&m.id).unwrap_or_default(),
                    metadata: m,
                })
                .collect();
            report.vectors += records
                .iter()
                .map(|r| r.embeddings.len() as u64)
                .sum::<u64>();
            let stored = self.secondary.put_songs(&records).await?;
            if let Some((id, why)) = stored.failed.first() {
                return Err(StorageError::backend(
                    "offline copy",
                    format!(
                        "copying song {} into the offline copy failed: {why}",
                        id.short()
                    ),
                ));
            }
            report.copied += stored.stored.len() as u64;
            done += chunk.len() as u64;
            progress(done, todo.len() as u64);
        }
        for id in gone(&remote, &local) {
            report.removed += u64::from(self.secondary.delete_song(id).await?);
        }
        self.secondary.flush().await?;
        self.status.contact(true, true);
        Ok(report)
    }
}

#[async_trait]
impl<P: StorageBackend, S: StorageBackend> SnapshotRefresh for FallbackLayer<P, S> {
    async fn refresh_snapshot(
        &self,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> StorageResult<RefreshReport> {
        FallbackLayer::refresh_snapshot(self, progress).await
    }

    fn fallback_status(&self) -> FallbackStatus {
        self.status.clone()
    }
}

impl<P: fmt::Display, S: fmt::Display> fmt::Display for FallbackLayer<P, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fallback({}, {})", self.primary, self.secondary)
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: StorageBackend, S: StorageBackend> AudioStore for FallbackLayer<P, S> {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        self.write(Op::PutAudio, self.primary.put_audio(id, src))
            .await
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        // The copy holds no audio; the cache below the primary serves what it has.
        let r = self.primary.get_audio(id, dest).await?;
        self.status.contact(false, false);
        Ok(r)
    }

    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String> {
        self.primary.audio_url(id, expires_in).await
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        answer!(self, HasAudio, has_audio(id))
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        self.write(Op::DeleteAudio, self.primary.delete_audio(id))
            .await
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.write(Op::PutAudio, self.primary.link_audio(id, path))
            .await
    }

    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        self.write(Op::PutAudio, self.primary.link_audio_as(key, path, own))
            .await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: StorageBackend, S: StorageBackend> VectorStore for FallbackLayer<P, S> {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        self.write(Op::PutEmbedding, self.primary.put_embedding(id, embedding))
            .await?;
        self.mirror_embedding(id, embedding).await;
        Ok(())
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let (v, fresh) = read!(self, GetEmbedding, get_embedding(id, model))?;
        if fresh && let Some(e) = &v {
            self.mirror_embedding(id, e).await;
        }
        Ok(v)
    }

    /// The smaller of the two: a query either side may answer must fit both.
    fn max_results(&self) -> usize {
        self.primary.max_results().min(self.secondary.max_results())
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        let (v, fresh) = read!(self, Search, search(query))?;
        if fresh {
            self.mirror_metadata(v.iter().map(|m| &m.metadata)).await;
        }
        Ok(v)
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        answer!(self, Models, models())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: StorageBackend, S: StorageBackend> SongStore for FallbackLayer<P, S> {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        self.write(Op::PutMetadata, self.primary.put_metadata(metadata))
            .await?;
        let r = self.secondary.put_metadata(metadata).await;
        self.note("copying metadata", r);
        Ok(())
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        // Compared by the remote only: the copy follows whatever the remote took.
        self.write(
            Op::PutMetadataIf,
            self.primary.put_metadata_if(metadata, expected),
        )
        .await?;
        let r = self.secondary.put_metadata(metadata).await;
        self.note("copying metadata", r);
        Ok(())
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        let (v, fresh) = read!(self, GetMetadata, get_metadata(id))?;
        if fresh {
            match &v {
                Some(m) => self.mirror_metadata([m]).await,
                None if matches!(self.secondary.get_metadata(id).await, Ok(Some(_))) => {
                    self.mirror_delete(id).await;
                }
                None => {}
            }
        }
        Ok(v)
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        // A listing that started on the copy continues there, even if the primary is back.
        if let Some(c) = query
            .cursor
            .as_deref()
            .and_then(|c| c.strip_prefix("offline:"))
        {
            let q = ListQuery {
                cursor: Some(c.to_owned()),
                ..query.clone()
            };
            let mut page = self.secondary.list(&q).await?;
            self.status.lock().served += 1; // a read continued on the copy
            page.next = page.next.map(|c| format!("offline:{c}"));
            return Ok(page);
        }
        let on_copy = || async {
            let mut page = self.secondary.list(query).await?;
            page.next = page.next.map(|c| format!("offline:{c}"));
            Ok(page)
        };
        // A cursor of the primary means nothing to the copy: fail with the primary's error
        // rather than restart the listing.
        let fall_back = query.cursor.is_none();
        let (v, fresh) = self
            .read(Op::List, self.primary.list(query), fall_back, on_copy)
            .await?;
        if fresh {
            self.mirror_metadata(&v.items).await;
        }
        Ok(v)
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        answer!(self, Count, count(filter))
    }

    async fn quick_count(&self, filter: &Filter) -> StorageResult<songrec_storage::SongCount> {
        answer!(self, Count, quick_count(filter))
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let r = self
            .write(Op::DeleteSong, self.primary.delete_song(id))
            .await?;
        self.mirror_delete(id).await;
        Ok(r)
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        let report = self
            .write(Op::PutSongs, self.primary.put_songs(songs))
            .await?;
        let copy = crate::layer::stored_records(songs, &report);
        if !copy.is_empty() {
            let r = self.secondary.put_songs(&copy).await;
            self.note("copying written songs", r);
        }
        Ok(report)
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        let (v, fresh) = read!(self, GetMetadataMany, get_metadata_many(ids))?;
        if fresh {
            self.mirror_metadata(&v).await;
        }
        Ok(v)
    }

    async fn flush(&self) -> StorageResult<()> {
        self.write(Op::Flush, self.primary.flush()).await?;
        let r = self.secondary.flush().await;
        self.note("flushing the copy", r);
        Ok(())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: StorageBackend, S: StorageBackend> VersionLog for FallbackLayer<P, S> {
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let (v, fresh) = read!(self, ListVersions, list_versions())?;
        if fresh {
            self.mirror_versions(&v).await;
        }
        Ok(v)
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        answer!(self, IdsWithPrefix, ids_with_prefix(prefix, limit))
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        answer!(self, VersionsOf, versions_of(ids))
    }

    /// The primary's feed. While the primary is unreachable (and reads fall back) the answer is
    /// `None` ("list everything"), never the copy's feed: its cursors name another store.
    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        let primary = self.primary.changes_since(since);
        Ok(self
            .read(Op::ChangesSince, primary, true, || async { Ok(None) })
            .await?
            .0)
    }

    /// The primary's totals; the copy's while the primary is unreachable (like listings).
    async fn summary(&self) -> StorageResult<songrec_storage::LibrarySummary> {
        answer!(self, Summary, summary())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<P: StorageBackend, S: StorageBackend> PlaylistStore for FallbackLayer<P, S> {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        self.write(Op::PutPlaylist, self.primary.put_playlist(playlist))
            .await?;
        let r = self.secondary.put_playlist(playlist).await;
        self.note("copying a playlist", r);
        Ok(())
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        let (v, fresh) = read!(self, GetPlaylist, get_playlist(id))?;
        if fresh && let Some(p) = &v {
            self.mirror_playlists(std::slice::from_ref(p)).await;
        }
        Ok(v)
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        let (v, fresh) = read!(self, ListPlaylists, list_playlists())?;
        if fresh {
            self.mirror_playlists(&v).await;
        }
        Ok(v)
    }
}
