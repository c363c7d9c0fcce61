//! The records the library keeps in its bookkeeping files, shared by the in-memory state and
//! the operations that read and write them: a line of the metadata journal ([`JournalRecord`],
//! `journal.jsonl`) and the music folders references are relative to ([`MusicRecord`],
//! `music.json`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use songrec_storage::{SongId, SongMetadata};

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JournalRecord {
    Put(Box<SongMetadata>),
    Delete { id: SongId, version: u64 },
}

/// The music folders the library's references are relative to (`data/.songrec/music.json`).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct MusicRecord {
    /// The first one recorded: what references without a `root` of their own are relative to.
    /// Never changed once set.
    pub(crate) root: Option<PathBuf>,
    /// Every folder a reference was written against: a reference naming a folder not listed
    /// here (a hand-edited file) is only ever served after its bytes are hashed.
    #[serde(default)]
    pub(crate) roots: Vec<PathBuf>,
}

impl MusicRecord {
    pub(crate) fn knows(&self, root: &Path) -> bool {
        self.root.as_deref() == Some(root) || self.roots.iter().any(|r| r == root)
    }
}
