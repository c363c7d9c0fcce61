//! Stars and plays, kept as library data: the song's listening history
//! ([`songrec_storage::listening`]: `starred`, `play_count`, `played`), written by the use case
//! every door shares ([`songrec_app::marks`]: read afresh, written over the version read, kept
//! for later while another process holds the library for long), so concurrent plays all count
//! and `songrec sync` adds them up across machines. Only songs carry stars. What is playing now
//! is kept in memory.

use chrono::{DateTime, Utc};
use serde_json::json;
use songrec_app::marks::Mark;

use super::call::{Call, Reply};
use super::entries;
use super::media::song_by_id;
use crate::subsonic_core::error::Fail;

/// Keeps `mark` of the song `id` names.
async fn keep(c: &Call<'_>, id: &str, mark: Mark) -> Result<(), Fail> {
    let m = song_by_id(c, id).await?;
    c.st.marks.keep(&m.id, mark).await?;
    Ok(())
}

/// `star` (`on`) and `unstar`: the songs named by `id` (repeatable).
pub async fn star(c: &Call<'_>, on: bool) -> Result<Reply, Fail> {
    let ids = c.p.all("id");
    if ids.is_empty() {
        return Err(
            if c.p.get("albumId").is_some() || c.p.get("artistId").is_some() {
                Fail::other("songrec keeps stars on songs only; star the album's or artist's songs")
            } else {
                Fail::missing("id")
            },
        );
    }
    let now = Utc::now();
    for id in ids {
        let mark = if on {
            Mark::Starred { at: now }
        } else {
            Mark::Unstarred
        };
        keep(c, id, mark).await?;
    }
    Ok(Reply::empty())
}

/// `scrobble`: `submission=false` says what is playing now; otherwise each `id` (repeatable)
/// was played (at `time`, milliseconds since 1970, if given): one more play, and when.
pub async fn scrobble(c: &Call<'_>) -> Result<Reply, Fail> {
    let ids = c.p.all("id");
    if ids.is_empty() {
        return Err(Fail::missing("id"));
    }
    if c.p.get("submission") == Some("false") {
        let m = song_by_id(c, ids[ids.len() - 1]).await?;
        *c.st.subsonic.now_playing.slot() = Some((m, Utc::now()));
        return Ok(Reply::empty());
    }
    let times = c.p.all("time");
    for (i, id) in ids.iter().enumerate() {
        let at = match times.get(i) {
            Some(t) => t
                .parse::<i64>()
                .ok()
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .ok_or_else(|| {
                    Fail::other(format!("time must be milliseconds since 1970, got {t:?}"))
                })?,
            None => Utc::now(),
        };
        keep(c, id, Mark::Played { at }).await?;
    }
    Ok(Reply::empty())
}

/// `getNowPlaying`: the song last said to be playing.
pub fn now_playing(c: &Call<'_>) -> Reply {
    let entries: Vec<serde_json::Value> =
        c.st.subsonic
            .now_playing
            .slot()
            .clone()
            .map(|(m, since)| {
                let mut e = entries::song(&m);
                e["username"] = c.st.subsonic.options.credentials.user.clone().into();
                e["minutesAgo"] = (Utc::now() - since).num_minutes().max(0).into();
                e["playerId"] = 0.into();
                e
            })
            .into_iter()
            .collect();
    Reply::one("nowPlaying", json!({ "entry": entries }))
}
