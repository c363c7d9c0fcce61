//! `stream` and `download`: the song's own bytes (no transcoding: `format` and `maxBitRate` are
//! not honoured, the file is sent as it is), with `Range`, through the REST API's audio answer.
//! `getCoverArt`: songrec keeps no pictures yet (error 70).

use axum::http::StatusCode;
use songrec_storage::{SongId, SongMetadata};

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

/// `getCoverArt`: none kept yet.
pub async fn cover_art(c: &Call<'_>) -> Result<Reply, Fail> {
    let id = c.p.required("id")?;
    Err(Fail::not_found(format!("no cover art for {id:?}")))
}
