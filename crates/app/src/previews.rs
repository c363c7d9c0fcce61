//! `songrec previews`: find songs in the iTunes Search API (`GET {base}/search?term=…
//! &media=music&entity=song&limit=N`; the base URL is configurable so tests can replay it),
//! download their 30-second previews and ingest them with the API's metadata. Every track gets
//! one report (added, already in the library, no preview, or failed with the reason).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use songrec_audio::Embedder;
use songrec_storage::{SongId, SongMetadata, StorageBackend};
use tokio::io::AsyncWriteExt;

use crate::AppError;
use crate::ingest::{IngestOptions, NoProgress, Outcome};

/// The API's largest `limit`.
pub const MAX_LIMIT: usize = 200;
/// Largest preview accepted (they are about 1 MB).
pub const MAX_PREVIEW_BYTES: u64 = 20_000_000;
/// Largest search answer read: 200 tracks (the API's `limit`) take about 400 KB.
pub const MAX_SEARCH_BYTES: u64 = 4 * 1024 * 1024;

/// Errors that stop the whole command (per-track failures are reports, not errors).
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// Bad options.
    #[error("{0}")]
    Invalid(String),
    /// The search request failed.
    #[error("searching the iTunes Search API ({url}) failed: {message}")]
    Search { url: String, message: String },
    /// The search answer was larger than [`MAX_SEARCH_BYTES`]: reading stopped there.
    #[error(
        "the iTunes Search API ({url}) answered with more than {limit} bytes, far more than {MAX_LIMIT} tracks take; stopped reading it (check [previews] base_url)"
    )]
    AnswerTooLarge {
        url: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// The search found nothing usable.
    #[error("the iTunes Search API found no songs for {0:?}; try other words")]
    NoResults(String),
    /// Ingest or storage failed as a whole.
    #[error(transparent)]
    App(#[from] AppError),
}

#[derive(Clone)]
pub struct PreviewOptions {
    /// API base URL (`/search` is appended), e.g. `https://itunes.apple.com`.
    pub base_url: String,
    /// Tracks to ask for (1..=200).
    pub limit: usize,
    /// Store country (`US`, `GB`…), or the API's default.
    pub country: Option<String>,
    /// Embedders run on each preview.
    pub embedders: Vec<Arc<dyn Embedder>>,
    /// Parallel analysis jobs (0 = one per core).
    pub jobs: usize,
    /// Folder for downloads in transit (files are removed afterwards).
    pub staging_dir: PathBuf,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Downloads at the same time.
    pub concurrency: usize,
}

impl PreviewOptions {
    /// Defaults for a base URL and staging folder: 10 tracks, the DSP embedder.
    pub fn new(base_url: &str, staging_dir: PathBuf) -> Self {
        Self {
            base_url: base_url.to_owned(),
            limit: 10,
            country: None,
            embedders: crate::embedders::parse_list("dsp").unwrap_or_default(),
            jobs: 0,
            staging_dir,
            timeout: Duration::from_secs(30),
            concurrency: 4,
        }
    }
}

/// A track as the API describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Track {
    /// iTunes track id.
    pub track_id: u64,
    pub title: String,
    pub artist: String,
    pub album: Option<String>,
    /// Primary genre.
    pub genre: Option<String>,
    /// The 30-second preview, if offered.
    pub preview_url: Option<String>,
    /// Length of the full track.
    pub duration_ms: Option<u64>,
    /// The track's store page.
    pub track_view_url: Option<String>,
    /// Release date as given.
    pub release_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchResponse {
    #[serde(default)]
    results: Vec<RawTrack>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawTrack {
    wrapper_type: Option<String>,
    kind: Option<String>,
    track_id: Option<u64>,
    track_name: Option<String>,
    artist_name: Option<String>,
    collection_name: Option<String>,
    primary_genre_name: Option<String>,
    preview_url: Option<String>,
    track_time_millis: Option<u64>,
    track_view_url: Option<String>,
    release_date: Option<String>,
}

/// What happened to one track.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PreviewOutcome {
    /// Downloaded, analysed and stored.
    Added { id: SongId },
    /// The preview's audio was already in the library; `updated` if its metadata changed.
    AlreadyInLibrary {
        id: SongId,
        /// Whether the API's metadata was written.
        updated: bool,
    },
    /// The API offers no preview for this track.
    NoPreview,
    /// Not ingested.
    Failed {
        /// `http`, `too_large`, `corrupt`, `unsupported_codec`, `storage`…
        kind: String,
        /// What went wrong.
        reason: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PreviewReport {
    pub track: Track,
    #[serde(flatten)]
    pub outcome: PreviewOutcome,
}

impl PreviewReport {
    pub fn failed(&self) -> bool {
        matches!(self.outcome, PreviewOutcome::Failed { .. })
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, PreviewError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("songrec/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PreviewError::Invalid(format!("cannot build an HTTP client: {e}")))
}

/// The search URL for a term.
pub fn search_url(
    base: &str,
    term: &str,
    limit: usize,
    country: Option<&str>,
) -> Result<url::Url, PreviewError> {
    let mut params = vec![
        ("term", term.to_owned()),
        ("media", "music".into()),
        ("entity", "song".into()),
        ("limit", limit.to_string()),
    ];
    if let Some(c) = country.filter(|c| !c.trim().is_empty()) {
        params.push(("country", c.trim().to_owned()));
    }
    url::Url::parse_with_params(&format!("{}/search", base.trim_end_matches('/')), &params).map_err(
        |e| {
            PreviewError::Invalid(format!(
                "the previews base URL {base:?} is not a URL ({e}); set [previews] base_url or SONGREC_PREVIEWS_BASE_URL"
            ))
        },
    )
}

/// Searches the API; tracks without a title are left out, duplicates removed.
pub async fn search(
    client: &reqwest::Client,
    opts: &PreviewOptions,
    term: &str,
) -> Result<Vec<Track>, PreviewError> {
    let invalid = |m: String| Err(PreviewError::Invalid(m));
    if term.trim().is_empty() {
        return invalid("give an artist or song to search for".into());
    }
    if opts.limit == 0 || opts.limit > MAX_LIMIT {
        let n = opts.limit;
        return invalid(format!(
            "-n must be 1..={MAX_LIMIT} (the API's limit), got {n}"
        ));
    }
    let url = search_url(&opts.base_url, term, opts.limit, opts.country.as_deref())?;
    let shown = url.as_str().to_owned();
    let fail = |message: String| PreviewError::Search {
        url: shown.clone(),
        message,
    };
    let sent = client.get(url).send().await;
    let resp = sent.map_err(|e| fail(format!("{e}; check the network or [previews] base_url")))?;
    let status = resp.status();
    let body = read_capped(resp, MAX_SEARCH_BYTES)
        .await
        .map_err(|e| match e {
            Capped::TooLarge => PreviewError::AnswerTooLarge {
                url: shown.clone(),
                limit: MAX_SEARCH_BYTES,
            },
            Capped::Http(e) => fail(e.to_string()),
        })?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        return Err(fail(format!("HTTP {status}: {}", text.trim())));
    }
    let parsed: SearchResponse = serde_json::from_slice(&body)
        .map_err(|e| fail(format!("the answer is not the API's JSON ({e})")))?;
    tracing::debug!(
        "iTunes search: {} results for {term:?}",
        parsed.results.len()
    );
    let mut seen = HashSet::new();
    let tracks: Vec<Track> = parsed
        .results
        .into_iter()
        .filter(|r| r.wrapper_type.as_deref().is_none_or(|w| w == "track"))
        .filter(|r| r.kind.as_deref().is_none_or(|k| k == "song"))
        .filter_map(|r| {
            let title = r.track_name.filter(|t| !t.trim().is_empty())?;
            let track_id = r.track_id?;
            seen.insert(track_id).then(|| Track {
                track_id,
                title,
                artist: r.artist_name.unwrap_or_default(),
                album: r.collection_name,
                genre: r.primary_genre_name,
                preview_url: r.preview_url.filter(|u| !u.trim().is_empty()),
                duration_ms: r.track_time_millis,
                track_view_url: r.track_view_url,
                release_date: r.release_date,
            })
        })
        .collect();
    if tracks.is_empty() {
        return Err(PreviewError::NoResults(term.to_owned()));
    }
    Ok(tracks)
}

/// Why [`read_capped`] stopped.
enum Capped {
    /// More than the cap arrived (or was announced).
    TooLarge,
    Http(reqwest::Error),
}

/// A whole response body of at most `limit` bytes, read as a stream: a `Content-Length` above
/// the cap is refused before reading, a body growing past it is dropped at once.
async fn read_capped(mut resp: reqwest::Response, limit: u64) -> Result<Vec<u8>, Capped> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(Capped::TooLarge);
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Http)? {
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(Capped::TooLarge);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Writes the API's description of a track into a song's metadata; `true` if anything changed.
pub fn apply_track(m: &mut SongMetadata, t: &Track) -> bool {
    let before = m.clone();
    m.title = t.title.clone();
    let mut from_api = vec!["title"];
    if !t.artist.is_empty() {
        m.artist = Some(t.artist.clone());
        from_api.push("artist");
    }
    if t.album.is_some() {
        m.album = t.album.clone();
        from_api.push("album");
    }
    if t.genre.is_some() {
        m.genre = t.genre.clone();
        from_api.push("genre");
    }
    for f in from_api {
        crate::extra::set_field_source(m, f, Some("itunes"));
    }
    let mut extra = |k: &str, v: Option<serde_json::Value>| {
        if let Some(v) = v {
            m.extra.insert(k.to_owned(), v);
        }
    };
    extra("source", Some("itunes-preview".into()));
    extra("source_url", t.preview_url.clone().map(Into::into));
    extra("itunes_track_id", Some(t.track_id.into()));
    extra("track_view_url", t.track_view_url.clone().map(Into::into));
    extra("release_date", t.release_date.clone().map(Into::into));
    extra(
        "full_duration_secs",
        t.duration_ms.map(|ms| (ms as f64 / 1000.0).into()),
    );
    *m != before
}

fn extension_of(url: &str) -> &'static str {
    let path = url::Url::parse(url)
        .map(|u| u.path().to_ascii_lowercase())
        .unwrap_or_default();
    ["m4a", "mp3", "aac", "mp4", "flac", "ogg", "wav"]
        .into_iter()
        .find(|ext| path.ends_with(&format!(".{ext}")))
        .unwrap_or("m4a")
}

/// Downloads one preview to `dest` (atomically: a temporary name, then a rename); on failure,
/// a short kind (`http`, `too_large`, `io`) and the message.
async fn download(
    client: &reqwest::Client,
    url: &str,
    dest: &Path,
) -> Result<(), (&'static str, String)> {
    let http = |e: String| ("http", format!("downloading {url}: {e}"));
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| http(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(http(format!("HTTP {}", resp.status())));
    }
    let body = read_capped(resp, MAX_PREVIEW_BYTES)
        .await
        .map_err(|e| match e {
            Capped::TooLarge => {
                let why = format!("{url} is larger than {MAX_PREVIEW_BYTES} bytes; not a preview");
                ("too_large", why)
            }
            Capped::Http(e) => http(e.to_string()),
        })?;
    let tmp = songrec_fs::temp_path(dest);
    let io = |e: std::io::Error| ("io", format!("{}: {e}", tmp.display()));
    let mut f = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .await
        .map_err(io)?;
    f.write_all(&body).await.map_err(io)?;
    f.sync_all().await.map_err(io)?;
    drop(f);
    tokio::fs::rename(&tmp, dest).await.map_err(io)
}

/// Searches, downloads every preview, ingests them and writes the API's metadata.
pub async fn fetch_and_ingest(
    backend: &dyn StorageBackend,
    term: &str,
    opts: &PreviewOptions,
) -> Result<Vec<PreviewReport>, PreviewError> {
    let client = client(opts.timeout)?;
    let tracks = search(&client, opts, term).await?;
    let staging = opts.staging_dir.display();
    std::fs::create_dir_all(&opts.staging_dir).map_err(|e| {
        PreviewError::Invalid(format!("cannot create the download folder {staging}: {e}"))
    })?;

    let (with_preview, without): (Vec<Track>, Vec<Track>) =
        tracks.into_iter().partition(|t| t.preview_url.is_some());
    let mut reports: Vec<PreviewReport> = without
        .into_iter()
        .map(|track| PreviewReport {
            track,
            outcome: PreviewOutcome::NoPreview,
        })
        .collect();

    // Download concurrently; remember which file belongs to which track.
    let downloads: Vec<_> = futures::stream::iter(with_preview)
        .map(|t| {
            let client = &client;
            let url = t.preview_url.clone().unwrap_or_default();
            let dest = opts
                .staging_dir
                .join(format!("{}.{}", t.track_id, extension_of(&url)));
            async move {
                let r = download(client, &url, &dest).await.map(|_| dest);
                (t, r)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    let mut by_path: HashMap<PathBuf, Track> = HashMap::new();
    for (t, r) in downloads {
        match r {
            Ok(p) => {
                by_path.insert(p, t);
            }
            Err((kind, reason)) => {
                let kind = kind.to_owned();
                let outcome = PreviewOutcome::Failed { kind, reason };
                reports.push(PreviewReport { track: t, outcome });
            }
        }
    }

    let mut paths: Vec<PathBuf> = by_path.keys().cloned().collect();
    paths.sort();
    if !paths.is_empty() {
        let ingest_opts = IngestOptions {
            copy_audio: true,
            ..IngestOptions::new(opts.embedders.clone(), opts.jobs)
        };
        let summary =
            crate::ingest::ingest(backend, &paths, &ingest_opts, Arc::new(NoProgress)).await;
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
        let summary = summary?;
        for f in summary.files {
            let Some(track) = by_path.remove(&f.path) else {
                continue;
            };
            let outcome = match f.outcome {
                Outcome::Added { id, .. } => {
                    label(backend, &id, &track).await?;
                    PreviewOutcome::Added { id }
                }
                Outcome::AlreadyInLibrary { id }
                | Outcome::Moved { id, .. }
                | Outcome::Retagged { id, .. } => {
                    let updated = label(backend, &id, &track).await?;
                    PreviewOutcome::AlreadyInLibrary { id, updated }
                }
                Outcome::Unchanged
                | Outcome::Missing { .. }
                | Outcome::Removed { .. }
                | Outcome::Deleted { .. } => PreviewOutcome::Failed {
                    kind: "internal".into(),
                    reason: "skipped as unchanged".into(),
                },
                Outcome::Failed { kind, reason } => PreviewOutcome::Failed {
                    kind,
                    reason: reason.replace(
                        &f.path.display().to_string(),
                        &format!("preview of {} – {}", track.artist, track.title),
                    ),
                },
            };
            reports.push(PreviewReport { track, outcome });
        }
        backend.flush().await.map_err(AppError::from)?;
    }
    Ok(reports)
}

/// Writes the track's metadata onto the stored song; `true` if it changed.
async fn label(backend: &dyn StorageBackend, id: &SongId, t: &Track) -> Result<bool, AppError> {
    let Some(mut m) = backend.get_metadata(id).await? else {
        return Ok(false);
    };
    if !apply_track(&mut m, t) {
        return Ok(false);
    }
    m.touch();
    backend.put_metadata(&m).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_new() {
        let o = crate::previews::PreviewOptions::new("https://itunes.apple.com", "/tmp/x".into());
        assert_eq!(o.limit, 10);
    }

    #[test]
    fn doc_search_url() {
        let u =
            crate::previews::search_url("http://127.0.0.1:9/", "Daft Punk", 5, Some("US")).unwrap();
        assert_eq!(
            u.as_str(),
            "http://127.0.0.1:9/search?term=Daft+Punk&media=music&entity=song&limit=5&country=US"
        );
    }

    #[test]
    fn doc_apply_track() {
        use crate::previews::{Track, apply_track};
        use songrec_storage::{SongId, SongMetadata};
        let t = Track {
            track_id: 7,
            title: "Song".into(),
            artist: "Band".into(),
            album: None,
            genre: Some("Pop".into()),
            preview_url: Some("https://x/p.m4a".into()),
            duration_ms: None,
            track_view_url: None,
            release_date: None,
        };
        let mut m = SongMetadata::new(SongId::from_bytes(b"a"), "7");
        assert!(apply_track(&mut m, &t));
        assert_eq!(
            (m.title.as_str(), m.genre.as_deref()),
            ("Song", Some("Pop"))
        );
        assert!(!apply_track(&mut m, &t));
    }
}
