//! An in-memory [`StorageBackend`] for testing layers (and anything else) without a disk layout.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use songrec_storage::backend::{AudioStore, PlaylistStore, SongStore, VectorStore, VersionLog};
use songrec_storage::backend::{BatchReport, ModelStats, PutOutcome, SongRecord};
use songrec_storage::error::{StorageError, StorageResult};
use songrec_storage::filter::Filter;
use songrec_storage::id::SongId;
use songrec_storage::math::{self, TopK};
use songrec_storage::metadata::{SongMetadata, VersionEntry};
use songrec_storage::model::{Embedding, ModelInfo};
use songrec_storage::playlist::SavedPlaylist;
use songrec_storage::query::{
    ListQuery, ListStart, Match, Page, SearchQuery, position_cursor, sort_position, sort_songs,
};

#[derive(Debug, Default)]
struct State {
    metadata: BTreeMap<SongId, SongMetadata>,
    /// Model key (`name@version`) → (model with its dimension, vectors).
    vectors: BTreeMap<String, (ModelInfo, BTreeMap<SongId, Vec<f32>>)>,
    audio: HashMap<SongId, Vec<u8>>,
    /// Deleted songs and their tombstone versions.
    tombstones: BTreeMap<SongId, (u64, String)>,
    /// Change feed: the sequence number of the last song change (metadata or tombstone).
    seq: u64,
    /// Song → sequence number of its last change.
    changed: HashMap<SongId, u64>,
    playlists: BTreeMap<String, SavedPlaylist>,
}

impl State {
    fn check_dim(&self, e: &Embedding) -> StorageResult<()> {
        e.validate()?;
        if let Some((m, _)) = self.vectors.get(&e.model.key())
            && m.dim != e.vector.len()
        {
            return Err(StorageError::DimensionMismatch {
                model: e.model.key(),
                expected: m.dim,
                got: e.vector.len(),
            });
        }
        Ok(())
    }

    fn put_vector(&mut self, id: &SongId, e: &Embedding) {
        self.vectors
            .entry(e.model.key())
            .or_insert_with(|| (e.model.clone(), BTreeMap::new()))
            .1
            .insert(id.clone(), e.vector.clone());
    }

    fn put_meta(&mut self, m: &SongMetadata) {
        self.tombstones.remove(&m.id);
        self.metadata.insert(m.id.clone(), m.clone());
        self.touch(&m.id);
    }

    fn touch(&mut self, id: &SongId) {
        self.seq += 1;
        self.changed.insert(id.clone(), self.seq);
    }

    fn version_entry(&self, id: &SongId) -> Option<VersionEntry> {
        if let Some(m) = self.metadata.get(id) {
            return Some(VersionEntry {
                id: m.id.clone(),
                version: m.version,
                content_hash: m.content_hash.clone(),
                deleted: false,
            });
        }
        self.tombstones.get(id).map(|(v, h)| VersionEntry {
            id: id.clone(),
            version: *v,
            content_hash: h.clone(),
            deleted: true,
        })
    }
}

/// A complete, exact, in-memory backend; it passes [`crate::run_all`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use songrec_conformance::MemoryBackend;
/// use songrec_storage::prelude::*;
/// use songrec_storage::Filter;
/// let b = MemoryBackend::new();
/// assert_eq!(b.count(&Filter::default()).await.unwrap(), 0);
/// assert_eq!(b.to_string(), "Memory");
/// # }
/// ```
///
/// It has a change feed ([`StorageBackend::changes_since`]): cursors are
/// `mem:<instance>:<sequence>`, so a cursor of another instance is unknown (`None`);
/// [`MemoryBackend::without_feed`] has none, like the local files.
#[derive(Debug)]
pub struct MemoryBackend {
    state: Mutex<State>,
    /// Search cap (`None`: none), to stand in for a remote store's.
    max_results: Option<usize>,
    /// Change-feed instance id (`None`: no feed).
    feed: Option<u64>,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            state: Mutex::default(),
            max_results: None,
            feed: Some(INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)),
        }
    }
}

impl MemoryBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty backend whose searches reach at most `max` results, like the Data API's.
    pub fn with_max_results(max: usize) -> Self {
        Self {
            max_results: Some(max),
            ..Self::default()
        }
    }

    /// An empty backend without a change feed (`changes_since` answers `None`, the trait's
    /// default), like the local files.
    pub fn without_feed() -> Self {
        Self {
            feed: None,
            ..Self::default()
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl fmt::Display for MemoryBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Memory")
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl AudioStore for MemoryBackend {
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome> {
        let bytes = std::fs::read(src).map_err(|e| StorageError::io(src, e))?;
        let actual = SongId::from_bytes(&bytes);
        if actual != *id {
            return Err(StorageError::HashMismatch {
                id: id.to_string(),
                actual: actual.to_string(),
            });
        }
        let n = bytes.len() as u64;
        let mut s = self.lock();
        let already_present = s.audio.contains_key(id);
        if !already_present {
            s.audio.insert(id.clone(), bytes);
        }
        Ok(PutOutcome::copy(n, already_present))
    }

    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.put_audio(id, path).await
    }

    /// Memory keeps copies: another file of the same recording is not kept.
    async fn link_audio_as(
        &self,
        _key: &SongId,
        _path: &Path,
        _own: &SongId,
    ) -> StorageResult<PutOutcome> {
        Err(StorageError::Unsupported(
            "the memory backend keeps copies only".into(),
        ))
    }

    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64> {
        let bytes = self
            .lock()
            .audio
            .get(id)
            .cloned()
            .ok_or_else(|| StorageError::NotFound(format!("audio of song {id}")))?;
        let mut tmp = dest.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, &bytes).map_err(|e| StorageError::io(&tmp, e))?;
        std::fs::rename(&tmp, dest).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            StorageError::io(dest, e)
        })?;
        Ok(bytes.len() as u64)
    }

    async fn audio_url(&self, id: &SongId, _expires_in: Duration) -> StorageResult<String> {
        if self.lock().audio.contains_key(id) {
            Ok(format!("memory://audio/{id}"))
        } else {
            Err(StorageError::NotFound(format!("audio of song {id}")))
        }
    }

    async fn has_audio(&self, id: &SongId) -> StorageResult<bool> {
        Ok(self.lock().audio.contains_key(id))
    }

    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool> {
        Ok(self.lock().audio.remove(id).is_some())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VectorStore for MemoryBackend {
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()> {
        let mut s = self.lock();
        s.check_dim(embedding)?;
        s.put_vector(id, embedding);
        Ok(())
    }

    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>> {
        let s = self.lock();
        Ok(s.vectors.get(&model.key()).and_then(|(m, vs)| {
            vs.get(id).map(|v| Embedding {
                model: m.clone(),
                vector: v.clone(),
            })
        }))
    }

    fn max_results(&self) -> usize {
        self.max_results.unwrap_or(usize::MAX)
    }

    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>> {
        query.validate_for(self.max_results())?;
        let s = self.lock();
        let Some((model, vectors)) = s.vectors.get(&query.model.key()) else {
            return Ok(Vec::new());
        };
        if model.dim != query.vector.len() {
            return Err(StorageError::DimensionMismatch {
                model: model.key(),
                expected: model.dim,
                got: query.vector.len(),
            });
        }
        let (qn, r) = (math::norm(&query.vector), &query.ranking);
        let mut top = TopK::new(r.offset + r.k);
        for (id, v) in vectors {
            let Some(m) = s.metadata.get(id) else {
                continue;
            };
            if query.exclude.contains(id) || !r.filter.matches(m) {
                continue;
            }
            let (score, _) = math::score(r.metric, math::dot(&query.vector, v), qn, math::norm(v));
            if r.threshold.is_some_and(|t| score < t) {
                continue;
            }
            top.push(score, id.clone());
        }
        Ok(top
            .into_sorted()
            .into_iter()
            .skip(r.offset)
            .filter_map(|sc| {
                let v = &vectors[&sc.key];
                let (similarity, distance) =
                    math::score(r.metric, math::dot(&query.vector, v), qn, math::norm(v));
                s.metadata.get(&sc.key).map(|m| Match {
                    id: sc.key.clone(),
                    similarity,
                    distance,
                    metadata: m.clone(),
                    approximate: false,
                })
            })
            .collect())
    }

    async fn models(&self) -> StorageResult<Vec<ModelStats>> {
        Ok(self
            .lock()
            .vectors
            .values()
            .filter(|(_, vs)| !vs.is_empty())
            .map(|(m, vs)| ModelStats {
                model: m.clone(),
                count: vs.len() as u64,
            })
            .collect())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SongStore for MemoryBackend {
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()> {
        metadata.check_storable()?;
        self.lock().put_meta(metadata);
        Ok(())
    }

    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()> {
        metadata.check_storable()?;
        let mut s = self.lock();
        let stored = s.metadata.get(&metadata.id);
        if stored == Some(metadata) {
            return Ok(()); // a repeat of this write, which landed
        }
        let stored = stored.map(|m| m.version);
        if stored != Some(expected) {
            return Err(songrec_storage::StorageError::version_conflict(
                &metadata.id,
                expected,
                stored,
            ));
        }
        s.put_meta(metadata);
        Ok(())
    }

    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>> {
        Ok(self.lock().metadata.get(id).cloned())
    }

    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>> {
        query.validate()?;
        let start = ListStart::parse(query.cursor.as_deref())?;
        let s = self.lock();
        let mut hits: Vec<((), &SongMetadata)> = s
            .metadata
            .values()
            .filter(|m| query.filter.matches(m))
            .map(|m| ((), m))
            .collect();
        sort_songs(&mut hits, query.sort, query.descending, None);
        let items: Vec<&SongMetadata> = hits.into_iter().map(|(_, m)| m).collect();
        let start = start.index_in(&items, query.descending, |m| sort_position(m, query.sort));
        let end = start.saturating_add(query.limit).min(items.len());
        let page: Vec<SongMetadata> = items[start..end].iter().map(|m| (*m).clone()).collect();
        Ok(Page {
            next: page
                .last()
                .filter(|_| end < items.len())
                .map(|m| position_cursor(m, query.sort)),
            items: page,
        })
    }

    async fn count(&self, filter: &Filter) -> StorageResult<u64> {
        filter.validate()?;
        Ok(self
            .lock()
            .metadata
            .values()
            .filter(|m| filter.matches(m))
            .count() as u64)
    }

    /// In memory every count is cheap: exact.
    async fn quick_count(
        &self,
        filter: &Filter,
    ) -> StorageResult<songrec_storage::backend::SongCount> {
        Ok(songrec_storage::backend::SongCount::Exact(
            self.count(filter).await?,
        ))
    }

    async fn delete_song(&self, id: &SongId) -> StorageResult<bool> {
        let mut s = self.lock();
        for (_, vs) in s.vectors.values_mut() {
            vs.remove(id);
        }
        s.vectors.retain(|_, (_, vs)| !vs.is_empty());
        match s.metadata.remove(id) {
            Some(m) => {
                s.audio.remove(&m.audio_key());
                s.tombstones
                    .insert(id.clone(), (m.version + 1, m.content_hash.clone()));
                s.touch(id);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport> {
        let mut s = self.lock();
        let mut report = BatchReport::default();
        for song in songs {
            let id = &song.metadata.id;
            let check = song.metadata.check_storable();
            match check.and_then(|()| song.embeddings.iter().try_for_each(|e| s.check_dim(e))) {
                Ok(()) => {
                    for e in &song.embeddings {
                        s.put_vector(id, e);
                    }
                    s.put_meta(&song.metadata);
                    report.stored.push(id.clone());
                }
                Err(e) => report.failed.push((id.clone(), e.to_string())),
            }
        }
        Ok(report)
    }

    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>> {
        let s = self.lock();
        Ok(ids
            .iter()
            .filter_map(|id| s.metadata.get(id).cloned())
            .collect())
    }

    async fn flush(&self) -> StorageResult<()> {
        Ok(())
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl VersionLog for MemoryBackend {
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>> {
        let s = self.lock();
        let live = s.metadata.values().map(|m| VersionEntry {
            id: m.id.clone(),
            version: m.version,
            content_hash: m.content_hash.clone(),
            deleted: false,
        });
        let dead = s.tombstones.iter().map(|(id, (v, h))| VersionEntry {
            id: id.clone(),
            version: *v,
            content_hash: h.clone(),
            deleted: true,
        });
        Ok(live.chain(dead).collect())
    }

    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        let s = self.lock();
        let unique: std::collections::BTreeSet<&SongId> = ids.iter().collect();
        Ok(unique
            .into_iter()
            .filter_map(|id| s.version_entry(id))
            .collect())
    }

    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        let prefix = prefix.to_ascii_lowercase();
        let s = self.lock();
        let mut ids: Vec<SongId> = s
            .metadata
            .keys()
            .filter(|id| id.as_str().starts_with(&prefix))
            .cloned()
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    async fn summary(&self) -> StorageResult<songrec_storage::backend::LibrarySummary> {
        let s = self.lock();
        let mut out = songrec_storage::backend::LibrarySummary::default();
        s.metadata.values().for_each(|m| out.add(m));
        out.tombstones = s.tombstones.len() as u64;
        Ok(out)
    }

    async fn changes_since(
        &self,
        since: Option<&songrec_storage::backend::ChangeCursor>,
    ) -> StorageResult<Option<songrec_storage::backend::Changes>> {
        let Some(instance) = self.feed else {
            return Ok(None);
        };
        let s = self.lock();
        let cursor =
            songrec_storage::backend::ChangeCursor::new(format!("mem:{instance}:{}", s.seq));
        let Some(since) = since else {
            return Ok(Some(songrec_storage::backend::Changes {
                entries: Vec::new(),
                cursor,
            }));
        };
        let from = since
            .as_str()
            .strip_prefix(&format!("mem:{instance}:"))
            .and_then(|n| n.parse::<u64>().ok())
            .filter(|n| *n <= s.seq);
        let Some(from) = from else {
            return Ok(None);
        };
        if s.metadata.is_empty() && s.tombstones.is_empty() {
            return Ok(None); // an emptied store: the caller lists it whole
        }
        let mut ids: Vec<(&u64, &SongId)> = s
            .changed
            .iter()
            .filter(|(_, n)| **n > from)
            .map(|(id, n)| (n, id))
            .collect();
        ids.sort();
        Ok(Some(songrec_storage::backend::Changes {
            entries: ids
                .into_iter()
                .filter_map(|(_, id)| s.version_entry(id))
                .collect(),
            cursor,
        }))
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl PlaylistStore for MemoryBackend {
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()> {
        playlist.validate()?;
        self.lock()
            .playlists
            .insert(playlist.id.clone(), playlist.clone());
        Ok(())
    }

    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>> {
        Ok(self.lock().playlists.get(id).cloned())
    }

    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        Ok(self.lock().playlists.values().cloned().collect())
    }
}
