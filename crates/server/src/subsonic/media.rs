//! `stream` and `download`: the song's own bytes, with `Range`, through the REST API's audio
//! answer. `stream` re-encodes only when the client asks for a format other than the file's
//! own and an `ffmpeg` is on `PATH` ([`transcode`]); `download` never does.
//! `getCoverArt`: the picture embedded in the song's file, else the folder's cover file beside
//! the user's file (a song id, or an album id: its first songs'), scaled down to `size`
//! ([`picture`]).

pub mod transcode;

pub use crate::subsonic_core::media::{limits, picture};

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use songrec_audio::tags::Picture;
use songrec_storage::{SongId, SongMetadata};

pub use limits::{MediaOptions, MediaState};

use super::call::{Call, Reply};
use super::render::{self, Format};
use crate::audio::LocalAudio;
use crate::state::AppState;
use crate::subsonic_core::error::Fail;

/// `Retry-After` of a `stream` refused because every re-encoding slot stayed busy (seconds).
pub const BUSY_RETRY_AFTER: u64 = 10;

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

/// `stream`: the file as it is, or re-encoded when another format (or a `timeOffset`) is asked
/// ([`transcode::plan`]).
pub async fn stream(c: &Call<'_>) -> Result<Reply, Fail> {
    let m = song_by_id(c, c.p.required("id")?).await?;
    let transcode::Plan::Transcode {
        target,
        kbps,
        offset,
        asked,
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
        if !asked {
            return Err(Fail {
                code: 10,
                message: format!(
                    "timeOffset {offset} cannot be honoured: starting a song mid-way needs an ffmpeg on the server's PATH; ask without timeOffset (or with a Range)"
                ),
            });
        }
        tracing::warn!(
            "subsonic: a client asked for {}, but no ffmpeg is on PATH: sending the file as it is",
            target.suffix
        );
        return original(c, &m).await;
    };
    let audio = match crate::audio::locate(c.st, &m, false).await {
        Ok(Some(Ok(audio))) => audio,
        Ok(_) => return Ok(gone(c, &m)),
        Err(e) if is_gone(&e) => return Ok(gone(c, &m)),
        Err(e) => return Err(e.into()),
    };
    if !tokio::fs::metadata(audio.path())
        .await
        .is_ok_and(|f| f.is_file())
    {
        return Ok(gone(c, &m));
    }
    let limits = &c.st.opts.media;
    let slots = c.st.media.transcodes.clone();
    let slot = match tokio::time::timeout(limits.transcode_wait, slots.acquire_owned()).await {
        Ok(Ok(slot)) => slot,
        Ok(Err(_)) => return Err(Fail::other("the server is shutting down")),
        Err(_) => return Ok(busy(c)),
    };
    let input = audio.path().to_path_buf();
    let r = transcode::answer(
        slot,
        limits.transcode_idle,
        ffmpeg,
        &input,
        audio,
        target,
        kbps,
        offset,
    )
    .await?;
    Ok(Reply::Raw(r))
}

/// A Subsonic error answered with an HTTP status of its own, for players that read the status
/// and not the body (a `200` with an error is taken for audio).
fn failed_with(c: &Call<'_>, status: StatusCode, f: &Fail) -> axum::response::Response {
    let format = Format::of(c.p).unwrap_or(Format::Xml);
    let mut r = render::failed(&format, f);
    *r.status_mut() = status;
    r
}

/// Every re-encoding slot stayed busy for `transcode_wait`: `503` with `Retry-After` and a
/// Subsonic error 0.
fn busy(c: &Call<'_>) -> Reply {
    let n = c.st.media.transcode_slots;
    let f = Fail::other(format!(
        "all {n} re-encoding slots of the server are busy; try again in {BUSY_RETRY_AFTER} s, or ask for the file as it is (format=raw)"
    ));
    let mut r = failed_with(c, StatusCode::SERVICE_UNAVAILABLE, &f);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER));
    Reply::Raw(r)
}

/// Whether the library could not give a song's audio because it is not there: no stored audio
/// (`404`), or the user's file the library refers to was moved, deleted or changed since it
/// was analysed (`409 audio_changed`: the bytes there are not the song's).
fn is_gone(e: &crate::error::ApiError) -> bool {
    e.status() == StatusCode::NOT_FOUND || e.code() == crate::error::AUDIO_CHANGED
}

/// The song is in the library but its audio is not (the file it refers to was moved, deleted
/// or changed): `404` with a Subsonic error 70, logged once per song, so that a player skips
/// it instead of taking an error inside a `200` for audio.
fn gone(c: &Call<'_>, m: &SongMetadata) -> Reply {
    if c.st.media.first_time_gone(&m.id) {
        tracing::warn!(
            "subsonic: the audio of song {} ({}) is gone: its file was moved, deleted or changed; players asking for it are answered 404 (`songrec ingest` on its folder follows a move or a change)",
            m.id.short(),
            m.file_name
        );
    }
    let f = Fail::not_found(format!(
        "the audio of song {} is not there: its file was moved, deleted or changed",
        m.id.short()
    ));
    Reply::Raw(failed_with(c, StatusCode::NOT_FOUND, &f))
}

async fn original(c: &Call<'_>, m: &SongMetadata) -> Result<Reply, Fail> {
    match crate::audio::song_audio(c.st, m, c.headers).await {
        Ok(r) => Ok(Reply::Raw(r)),
        Err(e) if is_gone(&e) => Ok(gone(c, m)),
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

/// The picture scaled to `size` where it is larger (JPEG and PNG, one decoding and scaling per
/// core at once, kept in memory for the next ask), else as it is.
async fn scaled(st: &AppState, found: Picture, size: u32) -> (Vec<u8>, HeaderValue) {
    let kind = picture::mime_of(&found.data);
    if size > 0 && matches!(kind, Some(picture::JPEG | picture::PNG)) {
        let hash = picture::ScaledCache::hash(&found.data);
        let key = picture::Key::Scaled(hash, size);
        let kept = st.media.scaled.lock().ok().and_then(|c| c.get(&key));
        if let Some(picture::Kept::Scaled(s)) = kept {
            return (s.bytes.clone(), HeaderValue::from_static(s.mime));
        }
        let turn = st.media.covers.clone().acquire_owned().await;
        let st = st.clone();
        let data = found.data;
        let work = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            let r = picture::scale_cached(&data, hash, size, &st.media.scaled);
            (data, r)
        });
        let Ok((data, r)) = work.await else {
            tracing::warn!("subsonic: scaling a picture failed (its task ended)");
            return (
                Vec::new(),
                HeaderValue::from_static("application/octet-stream"),
            );
        };
        match r {
            Ok(Some(s)) => return (s.bytes.clone(), HeaderValue::from_static(s.mime)),
            Ok(None) => {}
            Err(e) => tracing::info!("subsonic: cover art sent as it is: {e}"),
        }
        return (
            data,
            kind.map_or(
                HeaderValue::from_static(picture::JPEG),
                HeaderValue::from_static,
            ),
        );
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
        let found = tokio::task::spawn_blocking(move || picture_of(&audio, &m))
            .await
            .map_err(|_| Fail::other("reading the picture failed; the server log has more"))?;
        if let Some(found) = found {
            let (bytes, mime) = scaled(c.st, found, size).await;
            let cache = HeaderValue::from_static("private, max-age=86400");
            let headers = [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache)];
            return Ok(Reply::Raw((headers, bytes).into_response()));
        }
    }
    Err(Fail::not_found(format!(
        "the {what} {id:?} has no picture: none is embedded in its file and no cover.jpg, folder.jpg, front.jpg or album.jpg (or .png) lies beside it"
    )))
}
