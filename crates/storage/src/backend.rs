//! The trait every storage backend implements, in its roles, and the values it speaks in.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::filter::Filter;
use crate::id::SongId;
use crate::metadata::{SongMetadata, VersionEntry};
use crate::model::{Embedding, ModelInfo};
use crate::playlist::SavedPlaylist;
use crate::query::{ListQuery, Match, Page, SearchQuery};

/// Where a song's pieces live: audio bytes, vectors (one per model) and metadata.
///
/// Implementations: the local file layout (`songrec-local`), Astra DB + S3 (`songrec-astra`),
/// and layers that wrap any backend (retry, timeout, metrics, circuit breaker, the disk cache
/// and the offline fallback; chaos and crash injection in tests). Every implementation runs
/// the shared conformance suite (`songrec-conformance`), which is the judge of what follows.
///
/// Contract highlights:
/// - Metadata is the commit point of a song: embeddings and audio without metadata are
///   invisible to `search`, `list` and `count`. Writers store audio, then embeddings, then metadata.
/// - Writes are atomic per call; `put_songs` reports per-song outcomes.
/// - `search` filters first, then ranks (exact filtered search), and returns metadata with each match.
/// - `delete_song` leaves a tombstone visible in `list_versions`, so sync can propagate it.
/// - `Display` names the backend and, for layers, the whole stack (`Retry(Local(/music/data))`).
///
/// ```no_run
/// # async fn demo(backend: &dyn songrec_storage::StorageBackend) -> songrec_storage::StorageResult<()> {
/// use songrec_storage::{Filter, SongId};
/// let n = backend.count(&Filter::default()).await?;
/// let id = SongId::from_bytes(b"...");
/// if let Some(meta) = backend.get_metadata(&id).await? {
///     println!("{n} songs; {} is v{}", meta.title, meta.version);
/// }
/// # Ok(()) }
/// ```
///
/// The trait is written in roles, each a trait of its own: [`AudioStore`], [`VectorStore`],
/// [`SongStore`] (with [`VersionLog`] over it) and [`PlaylistStore`]. A backend implements the
/// five; it is then a `StorageBackend` (the blanket impl below), which is what callers hold
/// (`Arc<dyn StorageBackend>`) and what layers wrap. A layer implements none of them by hand:
/// it implements [`crate::layers::Intercept`], and every role is forwarded through it there,
/// once for all layers.
pub trait StorageBackend:
    AudioStore + VectorStore + SongStore + VersionLog + PlaylistStore + fmt::Display + fmt::Debug
{
}

impl<T> StorageBackend for T where
    T: AudioStore
        + VectorStore
        + SongStore
        + VersionLog
        + PlaylistStore
        + fmt::Display
        + fmt::Debug
        + ?Sized
{
}

/// The songs' audio bytes, kept under the SHA-256 of the bytes ([`SongId`]): stored, read,
/// linked to the user's own file where the library references files, and removed.
#[async_trait]
pub trait AudioStore: Send + Sync {
    /// Stores the audio file at `src` under `id`, streaming it. The bytes must hash to `id`
    /// (else [`crate::StorageError::HashMismatch`] and nothing is stored). Storing a blob that
    /// is already present is a no-op reported as `already_present`.
    async fn put_audio(&self, id: &SongId, src: &Path) -> StorageResult<PutOutcome>;

    /// Writes the song's audio to `dest` atomically, verifying its hash; returns the byte count.
    async fn get_audio(&self, id: &SongId, dest: &Path) -> StorageResult<u64>;

    /// A URL a player can fetch the audio from, valid for at least `expires_in` where the
    /// backend supports expiry (local files: a `file://` URL that does not expire).
    async fn audio_url(&self, id: &SongId, expires_in: Duration) -> StorageResult<String>;

    /// Whether the song's audio is stored.
    async fn has_audio(&self, id: &SongId) -> StorageResult<bool>;

    /// Removes the audio; `false` if there was none. A library that references the user's
    /// file forgets the reference and never touches the file.
    async fn delete_audio(&self, id: &SongId) -> StorageResult<bool>;

    /// Keeps the user's audio file at `path` as the audio stored under `id` (the SHA-256 of its
    /// bytes, as for [`put_audio`](Self::put_audio)), the way the library is set to keep
    /// files ([`AudioMode`]): a reference to the file where it lies, a copy-on-write clone, or
    /// a copy. The file itself is only read, never written, moved or deleted. Backends that
    /// cannot reference a file (the cloud) store a copy, as `put_audio` does (the default).
    /// Audio already kept under `id` in another way is replaced once the new way is in place;
    /// a reference that still holds is left as it is.
    async fn link_audio(&self, id: &SongId, path: &Path) -> StorageResult<PutOutcome> {
        self.put_audio(id, path).await
    }

    /// Keeps this machine's own file at `path` as the audio stored under `key` when the file
    /// holds the same recording as `key`'s audio under other tags, so other bytes: the caller
    /// found it by the song's audio identity (`sync --music` on a machine whose copy was
    /// tagged otherwise). `own` is the SHA-256 of the file's bytes; it is checked now and
    /// stands for `key` on every later read, so what is served here is this file's own bytes,
    /// never another machine's. Only a library that references files can; the others answer
    /// [`StorageError::Unsupported`](crate::StorageError::Unsupported) and the caller copies
    /// the song's own bytes instead.
    async fn link_audio_as(
        &self,
        key: &SongId,
        path: &Path,
        own: &SongId,
    ) -> StorageResult<PutOutcome> {
        let _ = (key, path, own);
        Err(StorageError::Unsupported(
            "this library keeps copies, not references to another file of the same recording"
                .into(),
        ))
    }
}

/// The songs' vectors, one per model, and the exact similarity search over them.
#[async_trait]
pub trait VectorStore: Send + Sync {
    /// Stores (or replaces) the song's vector for `embedding.model`. A dimension that differs
    /// from vectors already stored for the same model is a [`crate::StorageError::DimensionMismatch`].
    async fn put_embedding(&self, id: &SongId, embedding: &Embedding) -> StorageResult<()>;

    /// The song's vector for `model`, if stored.
    async fn get_embedding(
        &self,
        id: &SongId,
        model: &ModelInfo,
    ) -> StorageResult<Option<Embedding>>;

    /// Exact similarity search (see [`SearchQuery`]).
    async fn search(&self, query: &SearchQuery) -> StorageResult<Vec<Match>>;

    /// The most results one [`search`](Self::search) can reach (`offset + k`): the store's own
    /// cap (the Data API's 1000, [`crate::query::MAX_RESULTS`]), or `usize::MAX` when it has
    /// none (the local files). A layer reports its inner backend's; a fallback the smaller of
    /// its two (a search must be answerable by whichever side serves it). Searches beyond it
    /// are refused with `InvalidInput`.
    fn max_results(&self) -> usize;

    /// The models with stored vectors, and how many songs each covers.
    async fn models(&self) -> StorageResult<Vec<ModelStats>>;
}

/// The songs' metadata: the commit point of a song (see [`StorageBackend`]), its listing and
/// counting, deletes that leave tombstones, and batch writes of whole songs.
#[async_trait]
pub trait SongStore: Send + Sync {
    /// Inserts or replaces a song's metadata, stored as given (versions included).
    async fn put_metadata(&self, metadata: &SongMetadata) -> StorageResult<()>;

    /// [`put_metadata`](Self::put_metadata) only if the stored song still has version
    /// `expected` (compare-and-set); otherwise
    /// [`StorageError::Conflict`](crate::StorageError::Conflict) and nothing written.
    /// A read-change-write (a play counted, a field edited) built on a version that another
    /// writer replaced meanwhile is refused, so the caller reads again and no change is lost.
    /// Atomic on every backend: under the write lock (local), as one conditional update of
    /// the song's document (Astra).
    ///
    /// Repeatable while no other write comes between: when the stored song already equals
    /// `metadata` (this very write landed and its acknowledgement was lost, so a retry layer
    /// sent it again) the answer is `Ok`, not a conflict that would make the caller apply its
    /// change a second time (a play counted twice). A repeat after another writer's change
    /// still answers a conflict: with no record of which writes landed, a lost
    /// acknowledgement under contention can count a change twice, never lose one.
    async fn put_metadata_if(&self, metadata: &SongMetadata, expected: u64) -> StorageResult<()>;

    /// A song's metadata.
    async fn get_metadata(&self, id: &SongId) -> StorageResult<Option<SongMetadata>>;

    /// Metadata of several songs (unknown ids are left out).
    async fn get_metadata_many(&self, ids: &[SongId]) -> StorageResult<Vec<SongMetadata>>;

    /// A page of songs matching a filter.
    async fn list(&self, query: &ListQuery) -> StorageResult<Page<SongMetadata>>;

    /// How many songs match a filter, exactly (on a remote backend this may take many requests:
    /// the Data API counts at most 1000 documents per request).
    async fn count(&self, filter: &Filter) -> StorageResult<u64>;

    /// How many songs match a filter, as far as one cheap request tells: the exact number when
    /// the store counts it at once, otherwise a lower bound ([`SongCount::AtLeast`]). What a
    /// listing's "of N songs" line needs; [`count`](Self::count) for the exact figure. The
    /// default counts exactly (the local files count cheaply at any size).
    async fn quick_count(&self, filter: &Filter) -> StorageResult<SongCount> {
        Ok(SongCount::Exact(self.count(filter).await?))
    }

    /// Deletes a song's metadata, vectors and audio, leaving a tombstone; `false` if unknown.
    async fn delete_song(&self, id: &SongId) -> StorageResult<bool>;

    /// Stores several songs' vectors and metadata (audio goes through `put_audio`).
    /// Each song is stored whole or not at all; failures are reported per song.
    async fn put_songs(&self, songs: &[SongRecord]) -> StorageResult<BatchReport>;

    /// Makes buffered state durable and compact (e.g. the local journal). Cheap when idle.
    async fn flush(&self) -> StorageResult<()>;
}

/// Every song's version, tombstones included: what `sync` compares, the change feed that
/// spares it a full listing, and what is read off the whole library at once (short ids,
/// totals). Its provided methods are written over [`SongStore`]'s and the version listing.
#[async_trait]
pub trait VersionLog: SongStore {
    /// Every song's (id, version, content hash) plus tombstones, without reading whole songs.
    async fn list_versions(&self) -> StorageResult<Vec<VersionEntry>>;

    /// The [`list_versions`](Self::list_versions) entries of some songs (live or tombstone;
    /// unknown ids are left out), in no particular order. The default filters the full listing;
    /// remote backends answer with a lookup by id (one request per 100 ids on Astra).
    async fn versions_of(&self, ids: &[SongId]) -> StorageResult<Vec<VersionEntry>> {
        let wanted: std::collections::HashSet<&SongId> = ids.iter().collect();
        Ok(self
            .list_versions()
            .await?
            .into_iter()
            .filter(|v| wanted.contains(&v.id))
            .collect())
    }

    /// Live songs whose id starts with `prefix` (hex digits, either case), in id order, at most
    /// `limit`: what resolving a short id needs. The default filters
    /// [`list_versions`](Self::list_versions); the local backend scans its id table without
    /// reading songs.
    async fn ids_with_prefix(&self, prefix: &str, limit: usize) -> StorageResult<Vec<SongId>> {
        let prefix = prefix.to_ascii_lowercase();
        let mut ids: Vec<SongId> = self
            .list_versions()
            .await?
            .into_iter()
            .filter(|v| !v.deleted && v.id.as_str().starts_with(&prefix))
            .map(|v| v.id)
            .collect();
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    /// The change feed: the songs (live or tombstone) whose [`VersionEntry`] changed since
    /// `since`, and where the next call starts. `since = None` asks for a cursor at the current
    /// head (no entries): take it *before* a full listing, and every change the listing misses
    /// is in the feed from that cursor.
    ///
    /// `Ok(None)` means "no feed here" (the default, e.g. the local files, which list cheaply)
    /// or "this cursor is unknown or too old" (another library, a wiped collection): the caller
    /// falls back to [`list_versions`](Self::list_versions). A feed also answers `None` to a
    /// cursor when the store holds no songs at all, not even tombstones (songs removed without
    /// tombstones never show up in a feed; the full listing and sync's empty-listing rail see
    /// an emptied store). Entries may repeat changes already seen (a feed reads with an overlap
    /// so that it never skips one) and may be a song's latest state rather than every
    /// intermediate one. A layer that caches must not serve feed answers from its cache: a
    /// stale answer would hide changes from sync for good.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use songrec_storage::prelude::*;
    /// use songrec_storage::{SongId, SongMetadata};
    /// use songrec_conformance::MemoryBackend;
    /// let b = MemoryBackend::new();
    /// let head = b.changes_since(None).await.unwrap().expect("the memory backend has a feed");
    /// assert!(head.entries.is_empty());
    /// b.put_metadata(&SongMetadata::new(SongId::from_bytes(b"x"), "X")).await.unwrap();
    /// let ch = b.changes_since(Some(&head.cursor)).await.unwrap().unwrap();
    /// assert_eq!(ch.entries.len(), 1);
    /// // A backend without a feed (the trait's default) says so; the caller lists everything.
    /// assert!(MemoryBackend::without_feed().changes_since(None).await.unwrap().is_none());
    /// # }
    /// ```
    async fn changes_since(&self, since: Option<&ChangeCursor>) -> StorageResult<Option<Changes>> {
        let _ = since;
        Ok(None)
    }

    /// Totals over the library: live songs, their summed duration and file size, songs per
    /// genre, and tombstones (what `songrec stats` shows). The default walks every page of
    /// [`list`](Self::list) and the version listing ([`summarize_by_walking`]); the local
    /// backend adds up its records without decoding their free-form fields.
    async fn summary(&self) -> StorageResult<LibrarySummary> {
        summarize_by_walking(self).await
    }
}

/// Saved playlists, tombstones included (sync carries deletes).
#[async_trait]
pub trait PlaylistStore: Send + Sync {
    /// Stores a saved playlist as given (version and tombstone included), replacing the one
    /// with its id; an invalid one ([`SavedPlaylist::validate`]) is refused with
    /// [`crate::StorageError::InvalidInput`] and nothing is stored.
    async fn put_playlist(&self, playlist: &SavedPlaylist) -> StorageResult<()>;

    /// The saved playlist with `id` (a tombstone too), if any.
    async fn get_playlist(&self, id: &str) -> StorageResult<Option<SavedPlaylist>>;

    /// Every saved playlist, tombstones included, in id order.
    async fn list_playlists(&self) -> StorageResult<Vec<SavedPlaylist>>;
}

/// What [`SongStore::quick_count`] returns: an exact count, or a lower bound when the
/// exact one would cost many requests.
///
/// ```
/// use songrec_storage::SongCount;
/// assert_eq!(SongCount::AtLeast(1000).to_string(), "1000+");
/// assert_eq!(SongCount::Exact(7).at_least(9), SongCount::Exact(7));
/// assert_eq!(SongCount::AtLeast(0).at_least(21), SongCount::AtLeast(21));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SongCount {
    /// Exactly this many.
    Exact(u64),
    /// At least this many (the exact count was not asked for).
    AtLeast(u64),
}

impl SongCount {
    /// The figure: the count, or the lower bound.
    pub fn value(self) -> u64 {
        match self {
            Self::Exact(n) | Self::AtLeast(n) => n,
        }
    }

    /// Whether the figure is the exact count.
    pub fn is_exact(self) -> bool {
        matches!(self, Self::Exact(_))
    }

    /// A lower bound raised to `n` (songs known to match); an exact count is kept.
    pub fn at_least(self, n: u64) -> Self {
        match self {
            Self::Exact(_) => self,
            Self::AtLeast(m) => Self::AtLeast(m.max(n)),
        }
    }
}

impl fmt::Display for SongCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(n) => write!(f, "{n}"),
            Self::AtLeast(n) => write!(f, "{n}+"),
        }
    }
}

/// What [`VersionLog::summary`] returns.
///
/// `total_secs` is a floating-point sum, so two backends that add the same durations in a
/// different order may differ in the last bits (the conformance suite allows 1e-9 relative).
///
/// ```
/// use songrec_storage::{LibrarySummary, SongId, SongMetadata};
/// let mut s = LibrarySummary::default();
/// let mut m = SongMetadata::new(SongId::from_bytes(b"x"), "X");
/// m.genre = Some("jazz".into());
/// m.duration_secs = 61.5;
/// s.add(&m);
/// assert_eq!((s.songs, s.total_secs, s.genres["jazz"]), (1, 61.5, 1));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LibrarySummary {
    pub songs: u64,
    /// Summed duration in seconds.
    pub total_secs: f64,
    /// Summed audio file sizes in bytes.
    pub total_bytes: u64,
    /// Live songs per genre, as stored (songs without one are not counted here).
    pub genres: std::collections::BTreeMap<String, u64>,
    /// Deleted songs remembered for sync.
    pub tombstones: u64,
}

impl LibrarySummary {
    /// Counts one live song.
    pub fn add(&mut self, m: &SongMetadata) {
        self.songs += 1;
        self.total_secs += m.duration_secs;
        self.total_bytes += m.file_size;
        if let Some(g) = &m.genre {
            *self.genres.entry(g.clone()).or_default() += 1;
        }
    }
}

/// [`VersionLog::summary`] by walking every page of the listing (pages of 1000) and the
/// version listing: the trait's default, and the oracle the conformance suite compares
/// backends' own answers with.
pub async fn summarize_by_walking<B: VersionLog + ?Sized>(
    backend: &B,
) -> StorageResult<LibrarySummary> {
    let mut q = ListQuery {
        limit: crate::query::MAX_PAGE,
        ..ListQuery::default()
    };
    let mut s = LibrarySummary::default();
    loop {
        let page = backend.list(&q).await?;
        page.items.iter().for_each(|m| s.add(m));
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => break,
        }
    }
    s.tombstones = backend
        .list_versions()
        .await?
        .iter()
        .filter(|v| v.deleted)
        .count() as u64;
    Ok(s)
}

/// A position in a backend's change feed (see [`VersionLog::changes_since`]): opaque to
/// callers, who store it and hand it back unchanged.
///
/// ```
/// use songrec_storage::ChangeCursor;
/// let c = ChangeCursor::new("astra:v1:…");
/// let json = serde_json::to_string(&c).unwrap();
/// assert_eq!(serde_json::from_str::<ChangeCursor>(&json).unwrap(), c);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChangeCursor(String);

impl ChangeCursor {
    /// A cursor from its backend-defined text.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The backend-defined text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ChangeCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An answer of the change feed ([`VersionLog::changes_since`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changes {
    /// Songs (live and tombstones) changed since the cursor asked for; may repeat some already
    /// seen (overlap), never misses one.
    pub entries: Vec<VersionEntry>,
    /// Where the next call starts (pass it as `since`).
    pub cursor: ChangeCursor,
}

/// What `put_audio` or `link_audio` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PutOutcome {
    /// Bytes in the blob.
    pub bytes: u64,
    /// The blob was already stored; nothing was written.
    pub already_present: bool,
    /// How the library holds the audio now: its own copy, a clone, or a reference to the
    /// user's file (what [`AudioStore::link_audio`] asked for, or the copy it fell back to).
    #[serde(default)]
    pub kept: AudioMode,
}

impl PutOutcome {
    /// A copy of `bytes` bytes, stored now or found stored.
    pub fn copy(bytes: u64, already_present: bool) -> Self {
        Self {
            bytes,
            already_present,
            kept: AudioMode::Copy,
        }
    }
}

/// How a library keeps the audio of a song that came from the user's own file (`[library]
/// audio`; [`AudioStore::link_audio`]).
///
/// Hard links are not offered: a tagger that rewrites a file in place (mutagen, TagLib) would
/// change the library's copy too, and one that writes a new file and renames it (metaflac
/// when the padding is short, mp3gain's default) splits the link without a word.
///
/// ```
/// use songrec_storage::AudioMode;
/// assert_eq!("reflink".parse::<AudioMode>().unwrap(), AudioMode::Reflink);
/// assert_eq!(AudioMode::default().to_string(), "reference");
/// assert!("hardlink".parse::<AudioMode>().unwrap_err().contains("taggers"));
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, strum::Display,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AudioMode {
    /// The file stays where it is; the library records its path and checks it on every read.
    #[default]
    Reference,
    /// A copy-on-write clone inside the library (Btrfs, XFS, APFS): no space used until one
    /// side changes; a plain copy where the file system cannot clone.
    Reflink,
    /// A copy inside the library (what the cloud does).
    Copy,
}

impl std::str::FromStr for AudioMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "reference" | "ref" | "in-place" => Ok(Self::Reference),
            "reflink" | "clone" => Ok(Self::Reflink),
            "copy" => Ok(Self::Copy),
            "hardlink" | "hard-link" | "link" => Err(
                "hard links are not offered: taggers that rewrite a file in place would change the library's copy too, and those that write a new file would silently split the link; use reference (the default) or reflink".into(),
            ),
            other => Err(format!(
                "unknown audio mode {other:?}: use reference (the default), reflink or copy"
            )),
        }
    }
}

/// A model and how many vectors it has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelStats {
    pub model: ModelInfo,
    /// Songs with a vector of this model.
    pub count: u64,
}

/// A song's metadata and vectors, for batch writes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SongRecord {
    /// Metadata (the commit point).
    pub metadata: SongMetadata,
    /// Vectors, at most one per model.
    pub embeddings: Vec<Embedding>,
}

/// Per-song outcome of a batch write.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    pub stored: Vec<SongId>,
    /// Songs not stored, with the reason.
    pub failed: Vec<(SongId, String)>,
}

impl BatchReport {
    /// Whether every song was stored.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// Conveniences over any [`StorageBackend`], written once (like `object_store`'s extension
/// traits): implemented for every backend, never overridden.
#[async_trait]
pub trait StorageBackendExt: StorageBackend {
    /// Every song matching `filter`, in id order, paging through [`SongStore::list`]
    /// with the largest page (pages of 1000 songs; on the Data API each is read in server
    /// pages of 20–50 documents, so about one request per 50 songs plus the key samples that
    /// keep each sorted request under the sort cap).
    async fn list_all(&self, filter: &Filter) -> StorageResult<Vec<SongMetadata>> {
        let mut out = Vec::new();
        let q = ListQuery {
            filter: filter.clone(),
            limit: crate::query::MAX_PAGE,
            ..ListQuery::default()
        };
        self.for_each_page(&q, |items| {
            out.extend(items);
            true
        })
        .await?;
        Ok(out)
    }

    /// Calls `f` with each page of songs matching `query` (its cursor is the start, its
    /// `limit` the page size) until the pages end or `f` returns `false`. Returns the pages
    /// seen. For walking a library without holding all of it.
    async fn for_each_page<F>(&self, query: &ListQuery, mut f: F) -> StorageResult<usize>
    where
        F: FnMut(Vec<SongMetadata>) -> bool + Send,
    {
        let mut q = query.clone();
        let mut pages = 0;
        loop {
            let page = self.list(&q).await?;
            pages += 1;
            if !f(page.items) || page.next.is_none() {
                return Ok(pages);
            }
            q.cursor = page.next;
        }
    }

    /// The `limit` songs after the first `offset` matching `filter` in `sort` order, and how
    /// many match: pages no bigger than the window, read until it is full; a listing that
    /// ended is its own count, otherwise one [`SongStore::quick_count`] (exact locally,
    /// a lower bound past the cloud's count limit). The listing of `songrec list` and of the
    /// REST API's offset pages.
    async fn list_window(
        &self,
        filter: &Filter,
        sort: crate::query::SortKey,
        descending: bool,
        offset: usize,
        limit: usize,
    ) -> StorageResult<(Vec<SongMetadata>, SongCount)> {
        let q = ListQuery {
            filter: filter.clone(),
            sort,
            descending,
            limit: offset
                .saturating_add(limit)
                .clamp(1, crate::query::MAX_PAGE),
            cursor: None,
        };
        let (mut items, mut seen) = (Vec::new(), 0u64);
        if limit > 0 {
            self.for_each_page(&q, |page| {
                for m in page {
                    if seen >= offset as u64 && items.len() < limit {
                        items.push(m);
                    }
                    seen += 1;
                }
                items.len() < limit
            })
            .await?;
        }
        let total = if items.len() < limit {
            SongCount::Exact(seen)
        } else {
            self.quick_count(filter).await?.at_least(seen)
        };
        Ok((items, total))
    }

    /// The saved playlists that are not deleted, by name (case-insensitively), then id.
    async fn playlists(&self) -> StorageResult<Vec<SavedPlaylist>> {
        let mut all: Vec<SavedPlaylist> = self
            .list_playlists()
            .await?
            .into_iter()
            .filter(|p| !p.deleted)
            .collect();
        all.sort_by_cached_key(|p| (p.name.to_lowercase(), p.id.clone()));
        Ok(all)
    }

    /// The saved playlist called `name_or_id`: its id, or its name (case-insensitively).
    /// Unknown: [`crate::StorageError::NotFound`]; a name two playlists share:
    /// [`crate::StorageError::InvalidInput`] naming their ids.
    async fn find_playlist(&self, name_or_id: &str) -> StorageResult<SavedPlaylist> {
        let want = name_or_id.trim();
        if crate::playlist::is_playlist_id(want)
            && let Some(p) = self.get_playlist(want).await?
            && !p.deleted
        {
            return Ok(p);
        }
        let lower = want.to_lowercase();
        let mut found: Vec<SavedPlaylist> = self
            .playlists()
            .await?
            .into_iter()
            .filter(|p| p.name.to_lowercase() == lower)
            .collect();
        match found.len() {
            0 => Err(StorageError::NotFound(format!(
                "no saved playlist is called {want:?}"
            ))),
            1 => Ok(found.remove(0)),
            _ => Err(StorageError::InvalidInput(format!(
                "{} saved playlists are called {want:?}; name one by its id: {}",
                found.len(),
                found
                    .iter()
                    .map(|p| p.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The songs of a saved playlist the library holds, in the playlist's order (repeats kept;
    /// songs since deleted are left out).
    async fn playlist_songs(&self, p: &SavedPlaylist) -> StorageResult<Vec<SongMetadata>> {
        let found: std::collections::HashMap<SongId, SongMetadata> = self
            .get_metadata_many(&p.songs)
            .await?
            .into_iter()
            .map(|m| (m.id.clone(), m))
            .collect();
        Ok(p.songs
            .iter()
            .filter_map(|i| found.get(i).cloned())
            .collect())
    }

    /// Saves `songs` as the playlist called `name`: the songs of the saved playlist of that
    /// name (or id) replaced, or a new one. Returns what was stored.
    async fn save_playlist(&self, name: &str, songs: Vec<SongId>) -> StorageResult<SavedPlaylist> {
        let now = chrono::Utc::now();
        let p = match self.find_playlist(name).await {
            Ok(mut p) => {
                p.songs = songs;
                p.touch(now);
                p
            }
            Err(StorageError::NotFound(_)) => SavedPlaylist::new(name, songs, now)?,
            Err(e) => return Err(e),
        };
        self.put_playlist(&p).await?;
        Ok(p)
    }

    /// Deletes the saved playlist `id`, leaving a tombstone that `sync` carries; `false` if
    /// there was none (or it was already deleted).
    async fn delete_playlist(&self, id: &str) -> StorageResult<bool> {
        match self.get_playlist(id).await? {
            Some(mut p) if !p.deleted => {
                p.delete(chrono::Utc::now());
                self.put_playlist(&p).await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

impl<T: StorageBackend + ?Sized> StorageBackendExt for T {}
