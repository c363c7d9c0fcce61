//! `stream` and `download`: the song's own bytes, with `Range`, through the REST API's audio
//! answer. `stream` re-encodes only when the client asks for a format other than the file's
//! own and an `ffmpeg` is on `PATH` ([`transcode`]); `download` never does.
//! `getCoverArt`: the picture embedded in the song's file, else the folder's cover file beside
//! the user's file (a song id, or an album id: its first songs'), scaled down to `size`
//! ([`picture`]).

pub mod picture;
pub mod transcode;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use songrec_audio::tags::Picture;
use songrec_storage::{SongId, SongMetadata};

use super::{Call, Fail, Reply};
use crate::audio::LocalAudio;

/// The song with this id, read from the library (no catalog needed), or error 70.
pub async fn song_by_id(c: &Call<'_>, id: &str) -> Result<SongMetadata, Fail> {
    let missing = || Fail::no_such("song", id);
    let sid = SongId::parse(&id.to_ascii_lowercase()).map_err(|_| missing())?;
    c.st.backend.get_metadata(&sid).await?.ok_or_else(missing)
}

/// `download`: always the file as it is.
pub async fn download(c: &Call<'_>) -> Result<Reply, Fail> {
    let m = song_by_id(c, c.p.required("id")?).await?;
    original(c, &m).await
}

/// `stream`: the file as it is, or re-encoded when another format is asked
/// ([`transcode::plan`]).
pub async fn stream(c: &Call<'_>) -> Result<Reply, Fail> {
    let m = song_by_id(c, c.p.required("id")?).await?;
    let transcode::Plan::Transcode {
        target,
        kbps,
        offset,
    } = transcode::plan(c.p, &crate::audio::extension(&m.file_name))?
    else {
        return original(c, &m).await;
    };
    if offset > 0 && f64::from(offset) >= m.duration_secs {
        return Err(Fail::other(format!(
            "timeOffset {offset} s is past the end of the song ({:.0} s)",
            m.duration_secs
        )));
    }
    let Some(ffmpeg) = transcode::ffmpeg() else {
        tracing::warn!(
            "subsonic: a client asked for {}, but no ffmpeg is on PATH: sending the file as it is",
            target.suffix
        );
        return original(c, &m).await;
    };
    let Some(Ok(audio)) = crate::audio::locate(c.st, &m, false).await? else {
        return Err(no_audio(&m));
    };
    let input = audio.path().to_path_buf();
    let r = transcode::answer(ffmpeg, &input, audio, target, kbps, offset).await?;
    Ok(Reply::Raw(r))
}

fn no_audio(m: &SongMetadata) -> Fail {
    Fail::not_found(format!("the audio of song {} is not stored", m.id.short()))
}

async fn original(c: &Call<'_>, m: &SongMetadata) -> Result<Reply, Fail> {
    match crate::audio::song_audio(c.st, m, c.headers).await {
        Ok(r) => Ok(Reply::Raw(r)),
        Err(e) if e.status() == StatusCode::NOT_FOUND => Err(no_audio(m)),
        Err(e) => Err(e.into()),
    }
}

/// Songs of an album whose files are looked into for its picture.
pub const ALBUM_COVER_TRIES: usize = 3;

/// The picture embedded in the file, else the folder's cover file beside it when the library
/// references the user's file (not its own copy, whose folder is the library's).
fn picture_of(audio: &LocalAudio, m: &SongMetadata) -> Option<Picture> {
    let embedded = songrec_audio::tags::cover_art(audio.path());
    if embedded.is_some() {
        return embedded;
    }
    let LocalAudio::Kept(file) = audio else {
        return None;
    };
    let own_copy = file
        .file_stem()
        .and_then(|s| s.to_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(&m.audio_key().to_string()));
    if own_copy {
        return None;
    }
    let cover = picture::folder_cover(file)?;
    match std::fs::read(&cover) {
        // Only a picture is sent: a file of another kind under a cover's name is not.
        Ok(data) if picture::mime_of(&data).is_some() => Some(Picture { data, mime: None }),
        Ok(_) => {
            tracing::info!("subsonic: {} is no picture", cover.display());
            None
        }
        Err(e) => {
            tracing::warn!("subsonic: reading {} failed: {e}", cover.display());
            None
        }
    }
}

/// Bytes of scaled pictures kept in memory (a 300-pixel JPEG cover is about 15 kB).
pub const SCALED_CACHE_BYTES: usize = 16 << 20;

fn scaled_cache() -> &'static std::sync::Mutex<picture::ScaledCache> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<picture::ScaledCache>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(|| std::sync::Mutex::new(picture::ScaledCache::new(SCALED_CACHE_BYTES)))
}

/// The picture scaled to `size` where it is larger (JPEG and PNG; kept in memory for the next
/// ask), else as it is.
fn scaled(found: Picture, size: u32) -> (Vec<u8>, HeaderValue) {
    let kind = picture::mime_of(&found.data);
    if size > 0 && matches!(kind, Some(picture::JPEG | picture::PNG)) {
        let key = picture::ScaledCache::key(&found.data, size);
        let kept = scaled_cache().lock().ok().and_then(|c| c.get(&key));
        if let Some(s) = kept {
            return (s.bytes.clone(), HeaderValue::from_static(s.mime));
        }
        match picture::scale(&found.data, size) {
            Ok(Some(s)) => {
                let s = std::sync::Arc::new(s);
                if let Ok(mut c) = scaled_cache().lock() {
                    c.put(key, s.clone());
                }
                return (s.bytes.clone(), HeaderValue::from_static(s.mime));
            }
            Ok(None) => {}
            Err(e) => tracing::info!("subsonic: cover art sent as it is: {e}"),
        }
    }
    let mime = kind
        .map(HeaderValue::from_static)
        .or_else(|| {
            found
                .mime
                .filter(|m| m.starts_with("image/"))
                .and_then(|m| HeaderValue::from_str(&m).ok())
        })
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    (found.data, mime)
}

/// `getCoverArt`.
pub async fn cover_art(c: &Call<'_>) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    // 0 (or absent): as it is; larger than any picture songrec decodes changes nothing.
    let size = c.p.number("size", 0u32, 0, 100_000)?;
    let (songs, what): (Vec<SongMetadata>, &str) = if id.starts_with("al-") {
        let cat = c.catalog().await?;
        let album = cat.album_or_70(id)?;
        let songs = cat
            .songs_at(&album.songs)
            .take(ALBUM_COVER_TRIES)
            .cloned()
            .collect();
        (songs, "album")
    } else {
        (vec![song_by_id(c, id).await?], "song")
    };
    for m in songs {
        let Some(Ok(audio)) = crate::audio::locate(c.st, &m, false).await? else {
            continue;
        };
        // Files are read off the async workers; the spooled copy lives until they are read.
        let picture = tokio::task::spawn_blocking(move || {
            picture_of(&audio, &m).map(|found| scaled(found, size))
        })
        .await
        .map_err(|_| Fail::other("reading the picture failed; the server log has more"))?;
        if let Some((bytes, mime)) = picture {
            let cache = HeaderValue::from_static("private, max-age=86400");
            let headers = [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache)];
            return Ok(Reply::Raw((headers, bytes).into_response()));
        }
    }
    Err(Fail::not_found(format!(
        "the {what} {id:?} has no picture: none is embedded in its file and no cover.jpg, folder.jpg, front.jpg or album.jpg (or .png) lies beside it"
    )))
}
