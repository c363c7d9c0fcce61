//! Putting songs into MPD's queue: connecting with the music folder known
//! ([`Connected::open`]), appending songs by their URIs ([`Connected::append`]), and
//! `songrec playlist --mpd` ([`queue_mix`]).

use std::path::Path;

use songrec_storage::{SongMetadata, StorageBackend};

use crate::address::Address;
use crate::client::{Mpd, can_carry};
use crate::error::{MpdError, MpdResult};
use crate::paths::MusicRoot;
use crate::songs::{NoUri, Songs};

/// MPD's error code for "no such song or file".
const NO_EXIST: u64 = 50;

/// A connection and the map between its URIs and the library.
pub struct Connected<'a> {
    pub mpd: Mpd,
    pub songs: Songs<'a>,
}

/// Where MPD's music is as songrec sees it: `configured` (`[mpd] music_directory`) when given,
/// else what MPD says over a local socket.
pub async fn music_root(mpd: &mut Mpd, configured: Option<&Path>) -> MpdResult<MusicRoot> {
    if let Some(dir) = configured {
        return Ok(MusicRoot::resolved(dir));
    }
    match mpd.music_directory().await? {
        Some(dir) => Ok(MusicRoot::resolved(&dir)),
        None => Err(MpdError::MusicDirectory(format!(
            "MPD at {} tells its music folder only over a local socket: set [mpd] \
             music_directory in config.toml (or SONGREC_MPD_MUSIC_DIRECTORY) to the folder as \
             this machine sees it",
            mpd.address()
        ))),
    }
}

/// What happened to one song given to [`Connected::append`].
#[derive(Clone, Debug, PartialEq)]
pub enum Appended {
    /// In the queue now, by this URI.
    Added(String),
    /// Not queued, and why (one line).
    Refused(String),
}

/// Why a song has no URI, in words.
pub fn why_no_uri(n: &NoUri, root: &MusicRoot) -> String {
    match n {
        NoUri::NotLocal => "its audio is not a file on this machine".to_owned(),
        NoUri::Outside(p) => format!(
            "its file {} is not below MPD's music folder {}",
            p.display(),
            root.dir().display()
        ),
    }
}

impl<'a> Connected<'a> {
    /// Connects to `addr` and learns where its music is.
    pub async fn open(
        backend: &'a dyn StorageBackend,
        addr: &Address,
        music_directory: Option<&Path>,
    ) -> MpdResult<Connected<'a>> {
        let mut mpd = Mpd::open(addr).await?;
        let root = music_root(&mut mpd, music_directory).await?;
        Ok(Connected {
            mpd,
            songs: Songs::new(backend, root),
        })
    }

    /// Appends `song` to the queue. A song songrec cannot name to MPD, or that MPD does not
    /// have (not in its database, or vanished), is refused with a reason; a lost connection
    /// is an error.
    pub async fn append(&mut self, song: &SongMetadata, uri: Option<&str>) -> MpdResult<Appended> {
        let uri = match uri {
            Some(u) => u.to_owned(),
            None => match self.songs.uri_of(song).await? {
                Ok(u) => u,
                Err(n) => return Ok(Appended::Refused(why_no_uri(&n, self.songs.root()))),
            },
        };
        if !can_carry(&uri) {
            return Ok(Appended::Refused(format!(
                "its file name {uri:?} holds a line break, which MPD's protocol cannot carry: \
                 not queued (rename the file to queue it)"
            )));
        }
        match self.mpd.add(&uri).await {
            Ok(_) => {
                self.songs.learn(&uri, song);
                Ok(Appended::Added(uri))
            }
            Err(MpdError::Refused { code: NO_EXIST, .. }) => Ok(Appended::Refused(format!(
                "MPD has no {uri} in its database (a vanished or new file: `mpc update` reads \
                 the folder again)"
            ))),
            Err(e) if e.is_passing() => Ok(Appended::Refused(e.to_string())),
            Err(e) => Err(e),
        }
    }
}

/// What [`queue_mix`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueReport {
    /// Songs deleted after the current one (`--replace`).
    pub removed: usize,
    /// Songs appended (their names).
    pub added: Vec<String>,
    /// Songs not queued: name and reason.
    pub refused: Vec<(String, String)>,
}

/// Appends `songs` to MPD's queue at `addr`; with `replace`, first deletes what follows the
/// current song (the whole queue when nothing is current).
pub async fn queue_mix(
    backend: &dyn StorageBackend,
    addr: &Address,
    music_directory: Option<&Path>,
    songs: &[SongMetadata],
    replace: bool,
) -> MpdResult<QueueReport> {
    let mut c = Connected::open(backend, addr, music_directory).await?;
    let mut report = QueueReport::default();
    if replace {
        let len = c.mpd.queue().await?.len();
        let from = c.mpd.player().await?.current.map_or(0, |(pos, _)| pos + 1);
        if from < len {
            c.mpd.delete_from(from).await?;
            report.removed = len - from;
        }
    }
    for s in songs {
        match c.append(s, None).await? {
            Appended::Added(_) => report.added.push(s.display_name()),
            Appended::Refused(why) => report.refused.push((s.display_name(), why)),
        }
    }
    Ok(report)
}
