//! MPD's song URIs and songrec's files: a URI is a path relative to MPD's `music_directory`,
//! which songrec may see at another path (`[mpd] music_directory`). Pure path arithmetic; the
//! look-ups that read files or the library are in [`crate::songs`].

use std::path::{Component, Path, PathBuf};

/// MPD's music folder as songrec sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MusicRoot {
    dir: PathBuf,
}

impl MusicRoot {
    /// The folder as given (see [`MusicRoot::resolved`] to follow links first).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The folder with its links followed, as ingest stores file paths (`dir` as given when it
    /// cannot be read).
    pub fn resolved(dir: &Path) -> Self {
        Self::new(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URI MPD knows `file` by, if it is below the folder (and is valid UTF-8).
    pub fn uri_of(&self, file: &Path) -> Option<String> {
        let rel = file.strip_prefix(&self.dir).ok()?;
        let mut parts = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_str()?),
                _ => return None,
            }
        }
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    /// The file a URI names, if it names one below the folder (not a stream's URL, not an
    /// absolute path, no `..`).
    pub fn path_of(&self, uri: &str) -> Option<PathBuf> {
        if uri.is_empty() || uri.contains("://") {
            return None;
        }
        let rel = Path::new(uri);
        rel.components()
            .all(|c| matches!(c, Component::Normal(_)))
            .then(|| self.dir.join(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_uris_name_no_file() {
        let root = MusicRoot::new("/m");
        for uri in [
            "",
            "/etc/passwd",
            "../x.ogg",
            "a/../../x",
            "./a",
            "https://x/y",
        ] {
            assert_eq!(root.path_of(uri), None, "{uri}");
        }
        assert_eq!(
            root.uri_of(Path::new("/m")),
            None,
            "the folder itself is no song"
        );
        assert_eq!(root.uri_of(Path::new("/m/../x.ogg")), None);
        assert_eq!(
            root.uri_of(Path::new("/music/x.ogg")),
            None,
            "a sibling with a longer name"
        );
    }

    #[test]
    fn round_trips() {
        let root = MusicRoot::new("/m/Music Library");
        let p = Path::new("/m/Music Library/Ça/01 – é.flac");
        let uri = root.uri_of(p).unwrap();
        assert_eq!(uri, "Ça/01 – é.flac");
        assert_eq!(root.path_of(&uri).as_deref(), Some(p));
        assert_eq!(root.uri_of(Path::new("/elsewhere/x.ogg")), None);
        assert_eq!(root.path_of("http://radio/stream"), None);
    }
}
