//! Library songs and MPD URIs, both ways: a song's URI is its file's path below MPD's music
//! folder (the local library's reference to the user's file); the song a URI plays is the one
//! the file there holds ([`songrec_app::resolve::song_of_file`]: its audio identity, so a
//! retagged file is still its song). URIs already looked up are remembered.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use songrec_storage::{SongMetadata, StorageBackend, StorageError};

use crate::error::MpdResult;
use crate::paths::MusicRoot;

/// What a URI of MPD's is to songrec.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// A song of the library.
    Song(Box<SongMetadata>),
    /// A file songrec sees but has not ingested.
    Unknown(PathBuf),
    /// Nothing songrec can read: a stream, or a file it does not see at that path.
    Unseen,
}

/// Why a song cannot be queued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoUri {
    /// Its audio is not a file on this machine (a remote library's).
    NotLocal,
    /// Its file is outside MPD's music folder.
    Outside(PathBuf),
}

/// The two-way map, over one library and one music folder.
pub struct Songs<'a> {
    backend: &'a dyn StorageBackend,
    root: MusicRoot,
    seen: HashMap<String, Lookup>,
}

impl<'a> Songs<'a> {
    pub fn new(backend: &'a dyn StorageBackend, root: MusicRoot) -> Self {
        Self {
            backend,
            root,
            seen: HashMap::new(),
        }
    }

    pub fn root(&self) -> &MusicRoot {
        &self.root
    }

    /// The URI MPD plays `song` by.
    pub async fn uri_of(&self, song: &SongMetadata) -> MpdResult<Result<String, NoUri>> {
        let url = match self
            .backend
            .audio_url(&song.audio_key(), Duration::from_secs(60))
            .await
        {
            Ok(u) => u,
            Err(StorageError::NotFound(_) | StorageError::Stale { .. }) => {
                return Ok(Err(NoUri::NotLocal));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(file) = url::Url::parse(&url)
            .ok()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok())
        else {
            return Ok(Err(NoUri::NotLocal));
        };
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        Ok(self.root.uri_of(&file).ok_or(NoUri::Outside(file)))
    }

    /// The song `uri` plays (looked up once per URI).
    pub async fn at(&mut self, uri: &str) -> MpdResult<Lookup> {
        if let Some(l) = self.seen.get(uri) {
            return Ok(l.clone());
        }
        let found = match self.root.path_of(uri).filter(|p| p.is_file()) {
            None => Lookup::Unseen,
            Some(path) => match songrec_app::resolve::song_of_file(self.backend, &path).await? {
                Some(m) => Lookup::Song(Box::new(m)),
                None => Lookup::Unknown(path),
            },
        };
        self.seen.insert(uri.to_owned(), found.clone());
        Ok(found)
    }

    /// Remembers that `uri` is `song` (a song just queued by its URI).
    pub fn learn(&mut self, uri: &str, song: &SongMetadata) {
        self.seen
            .insert(uri.to_owned(), Lookup::Song(Box::new(song.clone())));
    }
}
