//! Writing a playlist as an extended M3U (`.m3u8`, UTF-8) that music players open.
//!
//! Where each song's audio is taken from depends on the backend:
//! - a backend whose `audio_url` is a `file://` URL (the local library) is referenced in place,
//!   by an absolute path or one relative to the playlist's folder (`--paths`);
//! - a remote backend (Astra + S3) has its audio **fetched** by default into a folder next to
//!   the playlist (`<name>-audio/`), verified against the content hash, so the playlist works
//!   offline and never expires; files already there are not fetched again. With
//!   [`RemoteAudio::Url`] the playlist holds the backend's (presigned, expiring) URLs instead.

use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use songrec_storage::{SongMetadata, StorageBackend};

use crate::error::{DiscoverError, DiscoverResult};
use crate::fsutil::write_atomic;
use crate::playlist::Playlist;

/// How local files are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathStyle {
    /// Relative to the playlist's folder (the playlist and music can move together).
    #[default]
    Relative,
    Absolute,
}

/// What to do with audio that is not on this machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RemoteAudio {
    /// Download it next to the playlist.
    #[default]
    Fetch,
    /// Write the backend's URL (presigned URLs expire).
    Url,
}

/// Options for [`write()`].
#[derive(Clone, Copy, Debug, PartialEq, smart_default::SmartDefault)]
pub struct M3uOptions {
    pub paths: PathStyle,
    pub remote: RemoteAudio,
    /// Validity asked of remote URLs.
    #[default(Duration::from_secs(7 * 24 * 3600))]
    pub url_expiry: Duration,
}

/// What [`write()`] did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct M3uReport {
    pub written: usize,
    /// Audio files downloaded.
    pub fetched: usize,
    /// Songs written as URLs.
    pub urls: usize,
    /// Songs left out because their audio is not stored (display names).
    pub missing: Vec<String>,
}

/// The text of an extended M3U.
///
/// ```
/// let t = songrec_discover::m3u::render(&[(183.4, "A – B".to_string(), "music/b.mp3".to_string())]);
/// assert_eq!(t, "#EXTM3U\n#EXTINF:183,A – B\nmusic/b.mp3\n");
/// ```
pub fn render(items: &[(f64, String, String)]) -> String {
    let mut s = String::from("#EXTM3U\n");
    for (secs, name, location) in items {
        let clean = |x: &str| x.replace(['\r', '\n'], " ");
        s.push_str(&format!(
            "#EXTINF:{},{}\n{}\n",
            secs.round().max(-1.0) as i64,
            clean(name),
            clean(location)
        ));
    }
    s
}

/// `target` relative to the folder `base` (both absolute); `target` itself when they share no root.
///
/// ```
/// use std::path::Path;
/// use songrec_discover::m3u::relative_path;
/// assert_eq!(relative_path(Path::new("/m/lib/a.mp3"), Path::new("/m/lists")), Path::new("../lib/a.mp3"));
/// assert_eq!(relative_path(Path::new("/m/lists/x/a.mp3"), Path::new("/m/lists")), Path::new("x/a.mp3"));
/// ```
pub fn relative_path(target: &Path, base: &Path) -> PathBuf {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return target.to_path_buf();
    }
    let up = std::iter::repeat_n(Component::ParentDir, b.len() - common);
    up.chain(t[common..].iter().copied()).collect()
}

fn file_part(s: &str) -> String {
    let cleaned = s.replace(|c: char| c.is_control() || "/\\:*?\"<>|".contains(c), "_");
    cleaned.trim().chars().take(80).collect()
}

fn extension(m: &SongMetadata) -> String {
    Path::new(&m.file_name)
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.chars().all(|c| c.is_ascii_alphanumeric()))
        .map_or_else(|| "audio".into(), str::to_ascii_lowercase)
}

/// Writes `playlist` to `out` (atomically), fetching or linking audio as [`M3uOptions`] says.
pub async fn write(
    backend: &dyn StorageBackend,
    playlist: &Playlist,
    out: &Path,
    opts: &M3uOptions,
) -> DiscoverResult<M3uReport> {
    let out_dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&out_dir).map_err(|e| DiscoverError::io(&out_dir, e))?;
    let out_dir = std::fs::canonicalize(&out_dir).map_err(|e| DiscoverError::io(&out_dir, e))?;
    let stem = out
        .file_stem()
        .map_or_else(|| "playlist".into(), |s| s.to_string_lossy().into_owned());
    let audio_dir = out_dir.join(format!("{stem}-audio"));
    let mut report = M3uReport::default();
    let mut items = Vec::new();
    for e in &playlist.entries {
        let m = &e.song;
        let url = match backend.audio_url(&m.audio_key(), opts.url_expiry).await {
            Ok(u) => u,
            Err(err) if err.is_fatal() => return Err(err.into()),
            // Gone, changed since analysed, unreadable: named, and the list goes on.
            Err(_) => {
                report.missing.push(m.display_name());
                continue;
            }
        };
        let local = url::Url::parse(&url)
            .ok()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok());
        let location = match (local, opts.remote) {
            (Some(p), _) => p,
            (None, RemoteAudio::Url) => {
                report.urls += 1;
                items.push((m.duration_secs, m.display_name(), url));
                report.written += 1;
                continue;
            }
            (None, RemoteAudio::Fetch) => {
                let dest = audio_dir.join(format!(
                    "{} [{}].{}",
                    file_part(&m.display_name()),
                    m.id.short(),
                    extension(m)
                ));
                let present = std::fs::metadata(&dest).is_ok_and(|md| md.len() == m.file_size);
                if !present {
                    std::fs::create_dir_all(&audio_dir)
                        .map_err(|e| DiscoverError::io(&audio_dir, e))?;
                    match backend.get_audio(&m.audio_key(), &dest).await {
                        Ok(_) => report.fetched += 1,
                        Err(err) if err.is_fatal() => return Err(err.into()),
                        Err(_) => {
                            report.missing.push(m.display_name());
                            continue;
                        }
                    }
                }
                dest
            }
        };
        let shown = match opts.paths {
            PathStyle::Absolute => location,
            PathStyle::Relative => relative_path(&location, &out_dir),
        };
        items.push((
            m.duration_secs,
            m.display_name(),
            shown.to_string_lossy().into_owned(),
        ));
        report.written += 1;
    }
    write_atomic(out, render(&items).as_bytes())?;
    Ok(report)
}
