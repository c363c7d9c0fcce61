//! `stream` and `download`: the song's own bytes (no transcoding: `format` and `maxBitRate` are
//! not honoured, the file is sent as it is), with `Range`, through the REST API's audio answer.
//! `getCoverArt`: the picture embedded in the song's file (a song id, or an album id: its first
//! songs'), as it is (`size` is not honoured).

use std::path::{Path, PathBuf};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use songrec_storage::{SongId, SongMetadata, StorageError};

use super::{Call, Fail, Reply};

/// The song with this id, read from the library (no catalog needed), or error 70.
pub async fn song_by_id(c: &Call<'_>, id: &str) -> Result<SongMetadata, Fail> {
    let missing = || Fail::not_found(format!("no song with id {id:?}"));
    let sid = SongId::parse(&id.to_ascii_lowercase()).map_err(|_| missing())?;
    c.st.backend.get_metadata(&sid).await?.ok_or_else(missing)
}

/// `stream` / `download`.
pub async fn stream(c: &Call<'_>) -> Result<Reply, Fail> {
    let m = song_by_id(c, c.p.required("id")?).await?;
    match crate::audio::song_audio(c.st, &m, c.headers).await {
        Ok(r) => Ok(Reply::Raw(r)),
        Err(e) if e.status() == StatusCode::NOT_FOUND => Err(Fail::not_found(format!(
            "the audio of song {} is not stored",
            m.id.short()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Songs of an album whose files are looked into for its picture.
pub const ALBUM_COVER_TRIES: usize = 3;

/// A song's audio as a file on this machine: where the library keeps it, or a download into the
/// server's scratch folder (removed when dropped).
enum LocalAudio {
    Kept(PathBuf),
    Spooled(tempfile::NamedTempFile),
}

impl LocalAudio {
    fn path(&self) -> &Path {
        match self {
            Self::Kept(p) => p,
            Self::Spooled(t) => t.path(),
        }
    }
}

async fn local_audio(c: &Call<'_>, m: &SongMetadata) -> Result<Option<LocalAudio>, Fail> {
    let b = c.st.backend.as_ref();
    let key = m.audio_key();
    let url = match b.audio_url(&key, crate::audio::PRESIGNED_FOR).await {
        Ok(u) => Some(u),
        Err(StorageError::NotFound(_)) => return Ok(None),
        Err(StorageError::Unsupported(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let kept = url
        .and_then(|u| url::Url::parse(&u).ok())
        .filter(|u| u.scheme() == "file")
        .and_then(|u| u.to_file_path().ok());
    if let Some(p) = kept {
        return Ok(Some(LocalAudio::Kept(p)));
    }
    let tmp = tempfile::Builder::new()
        .prefix("cover-")
        .tempfile_in(c.st.scratch.path())
        .map_err(|e| Fail::from(crate::error::ApiError::internal("spooling the audio", e)))?;
    match b.get_audio(&key, tmp.path()).await {
        Ok(_) => Ok(Some(LocalAudio::Spooled(tmp))),
        Err(StorageError::NotFound(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `getCoverArt`.
pub async fn cover_art(c: &Call<'_>) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    let songs: Vec<SongMetadata> = if id.starts_with("al-") {
        let cat = c.catalog().await?;
        let album = cat.album_or_70(id)?;
        cat.songs_at(&album.songs)
            .take(ALBUM_COVER_TRIES)
            .cloned()
            .collect()
    } else {
        vec![song_by_id(c, id).await?]
    };
    for m in songs {
        let Some(audio) = local_audio(c, &m).await? else {
            continue;
        };
        // Tags are read off the async workers; the spooled copy lives until they are read.
        let picture =
            tokio::task::spawn_blocking(move || songrec_audio::tags::cover_art(audio.path()))
                .await
                .map_err(|_| Fail::other("reading the picture failed; the server log has more"))?;
        if let Some(p) = picture {
            let mime = p
                .mime
                .filter(|m| m.starts_with("image/"))
                .and_then(|m| HeaderValue::from_str(&m).ok())
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            let headers = [
                (header::CONTENT_TYPE, mime),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=86400"),
                ),
            ];
            return Ok(Reply::Raw((headers, p.data).into_response()));
        }
    }
    Err(Fail::not_found(format!("no cover art for {id:?}")))
}
