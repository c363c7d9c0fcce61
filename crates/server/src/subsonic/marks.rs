//! Stars and plays, kept as library data: the song's free-form fields `starred` (when, RFC
//! 3339), `play_count` and `played` (the last play, RFC 3339), written through the backend by
//! `songrec edit`'s rules (the version is bumped, so `songrec sync` carries them to other
//! machines). Only songs carry stars. What is playing now is kept in memory.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde_json::json;
use songrec_app::edit::{Edit, apply};
use songrec_storage::SongMetadata;

use super::catalog::extra_number;
use super::media::song_by_id;
use super::{Call, Fail, Reply, entries};

/// When the song was starred.
pub const STARRED: &str = "starred";
/// How often the song was played through the Subsonic API.
pub const PLAY_COUNT: &str = "play_count";
/// When it was last played.
pub const PLAYED: &str = "played";

/// A song's plays.
pub fn plays(m: &SongMetadata) -> u64 {
    extra_number(m, PLAY_COUNT).map_or(0, |n| n.max(0) as u64)
}

/// A free-form text field of the song (`starred`, `played`).
pub fn text<'a>(m: &'a SongMetadata, key: &str) -> Option<&'a str> {
    m.extra.get(key).and_then(|v| v.as_str())
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Applies `edit` to the song and stores it when anything changed.
async fn change(
    c: &Call<'_>,
    id: &str,
    edit: impl FnOnce(&SongMetadata) -> Edit,
) -> Result<(), Fail> {
    let mut m = song_by_id(c, id).await?;
    let e = edit(&m);
    if apply(&mut m, &e)? {
        c.st.backend.put_metadata(&m).await?;
    }
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
    let now = stamp(Utc::now());
    for id in ids {
        change(c, id, |_| {
            if on {
                Edit {
                    set: vec![(STARRED.into(), now.clone())],
                    ..Edit::default()
                }
            } else {
                Edit {
                    unset: vec![STARRED.into()],
                    ..Edit::default()
                }
            }
        })
        .await?;
    }
    Ok(Reply::empty())
}

/// The song playing now, and since when.
#[derive(Default)]
pub struct NowPlaying(Mutex<Option<(SongMetadata, DateTime<Utc>)>>);

impl NowPlaying {
    fn set(&self, m: SongMetadata) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some((m, Utc::now()));
    }

    fn get(&self) -> Option<(SongMetadata, DateTime<Utc>)> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
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
        c.st.subsonic.now_playing.set(m);
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
        change(c, id, |m| Edit {
            set: vec![
                (PLAY_COUNT.into(), (plays(m) + 1).to_string()),
                (PLAYED.into(), stamp(at)),
            ],
            ..Edit::default()
        })
        .await?;
    }
    Ok(Reply::empty())
}

/// `getNowPlaying`: the song last said to be playing.
pub fn now_playing(c: &Call<'_>) -> Reply {
    let entries: Vec<serde_json::Value> =
        c.st.subsonic
            .now_playing
            .get()
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
