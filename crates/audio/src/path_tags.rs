//! Tags from where a file lies: `Artist/Album/03 Title.ext` and `Artist - Title.ext`, for
//! files whose embedded tags say nothing (pure; no I/O).
//!
//! The path is the file's path **below the folder given to `ingest`**: that folder itself is
//! never read as an artist or an album (it is usually "Music" or "Downloads"). The rules, in
//! order:
//!
//! 1. The file name gives what [`parse_file_name`] finds: title, track (`03 `, `03 - `,
//!    `03. `, `1-03 ` with its disc), artist (`Artist - Title`), album (`Artist - Album - 03 -
//!    Title`).
//! 2. Disc folders next to the file (`CD1`, `CD 2`, `Disc 2`, `Disk 3`, any case) give the disc
//!    number and are then passed over.
//! 3. The nearest remaining folder is the **album**; the one above it the **artist**. Higher
//!    folders (`Genre/Artist/Album`) are not read. An album folder's year (`1997 - OK
//!    Computer`, `OK Computer (1997)`, `OK Computer [1997]`) is the year, and a leading
//!    `Artist - ` equal to the artist folder is dropped.
//! 4. One folder alone: `Artist - Album` gives both; otherwise it is the album when the file
//!    name is numbered (`Night Drive/03 Slow Lights.flac`) and the artist when it is not
//!    (`Kevin Rowe/Slow Lights.flac`).
//! 5. A file directly in the ingested folder has no album and no folder artist.
//! 6. An artist folder named `Various Artists`, `Various`, `VA`, `Compilations` or
//!    `Soundtracks` names no artist (the file name's `Artist - Title` still does).
//! 7. The artist of the file name (`Artist - Title`) wins over the artist folder.
//!
//! Values from rule 1 are marked [`FieldSource::FileName`], the others [`FieldSource::Path`].

use std::path::{Component, Path};

use crate::tags::{FieldSource, TagSource, Tags, parse_file_name};

/// What `relative` (a file's path below the ingested folder, the file name last) says about
/// the file: see the [module](self) for the rules. Any path, never a panic.
///
/// ```
/// use songrec_audio::path_tags::parse_path;
/// use std::path::Path;
/// let t = parse_path(Path::new("Kevin Rowe/Night Drive/03 Slow Lights.flac"));
/// assert_eq!(t.artist.as_deref(), Some("Kevin Rowe"));
/// assert_eq!(t.album.as_deref(), Some("Night Drive"));
/// assert_eq!((t.track, t.title.as_deref()), (Some(3), Some("Slow Lights")));
/// let t = parse_path(Path::new("Mara Quinn - Glass Harbour.flac"));
/// assert_eq!((t.artist.as_deref(), t.album), (Some("Mara Quinn"), None));
/// ```
pub fn parse_path(relative: &Path) -> Tags {
    let Some(name) = relative.file_name() else {
        return Tags::default();
    };
    let mut t = parse_file_name(Path::new(name));
    let mut dirs: Vec<String> = relative
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().trim().to_owned()),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .collect();
    while let Some(n) = dirs.last().and_then(|d| disc_folder(d)) {
        if t.disc.is_none() {
            (t.disc, t.sources.disc) = (Some(n), Some(FieldSource::Path));
        }
        dirs.pop();
    }
    let path = Some(FieldSource::Path);
    let (album_dir, artist_dir) = match dirs.as_slice() {
        [] => return t,
        [.., artist, album] => (album.as_str(), Some(artist.as_str())),
        [one] => (one.as_str(), None),
    };
    let (album_dir, year) = split_year(album_dir);
    let mut artist = None;
    let mut album = None;
    match artist_dir {
        Some(a) => {
            artist = (!various(a)).then(|| a.to_owned());
            // Without a leading `<artist> - ` (case-insensitive), when it has one.
            album = match split_dash(album_dir) {
                Some((x, b)) if x.to_lowercase() == a.to_lowercase() => Some(b),
                _ => Some(album_dir),
            };
        }
        None => match split_dash(album_dir) {
            Some((a, b)) => (artist, album) = (Some(a.to_owned()), Some(b)),
            None if t.track.is_some() => album = Some(album_dir),
            None => artist = (!various(album_dir)).then(|| album_dir.to_owned()),
        },
    }
    if t.artist.is_none() && artist.is_some() {
        (t.artist, t.sources.artist) = (artist, path);
    }
    if t.album.is_none()
        && let Some(a) = album.filter(|a| !a.is_empty())
    {
        (t.album, t.sources.album) = (Some(a.to_owned()), path);
    }
    if t.year.is_none() && year.is_some() {
        (t.year, t.sources.year) = (year, path);
    }
    if !t.is_empty() {
        t.source = crate::TagSource::FileName;
    }
    t
}

/// `CD1`, `CD 2`, `cd_3`, `Disc 2`, `Disk 10`: the disc number.
fn disc_folder(name: &str) -> Option<u32> {
    let lower = name.to_lowercase();
    let rest = ["disc", "disk", "cd"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))?
        .trim_start_matches([' ', '_', '-', '.']);
    (!rest.is_empty() && rest.len() <= 2 && rest.chars().all(|c| c.is_ascii_digit()))
        .then(|| rest.parse().ok())
        .flatten()
        .filter(|&n| n > 0)
}

/// Folder names that stand for many artists.
fn various(name: &str) -> bool {
    let n = name.to_lowercase();
    [
        "various artists",
        "various",
        "va",
        "compilations",
        "compilation",
        "soundtracks",
    ]
    .contains(&n.as_str())
}

/// `1997 - Album`, `Album (1997)`, `Album [1997]`: the album without the year, and the year.
fn split_year(name: &str) -> (&str, Option<u32>) {
    let year = |s: &str| {
        (s.len() == 4 && s.chars().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
            .filter(|y| (1000..3000).contains(y))
    };
    if let Some((y, rest)) = split_dash(name)
        && let Some(y) = year(y)
    {
        return (rest, Some(y));
    }
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(inner) = name.strip_suffix(close)
            && let Some(at) = inner.rfind(open)
            && let Some(y) = year(&inner[at + 1..])
        {
            let rest = inner[..at].trim();
            if !rest.is_empty() {
                return (rest, Some(y));
            }
        }
    }
    (name, None)
}

/// `A - B` (or an en or em dash): both sides, trimmed and not empty, at the first dash.
fn split_dash(name: &str) -> Option<(&str, &str)> {
    [" - ", " – ", " — "]
        .iter()
        .filter_map(|sep| name.split_once(sep))
        .min_by_key(|(a, _)| a.len())
        .map(|(a, b)| (a.trim(), b.trim()))
        .filter(|(a, b)| !a.is_empty() && !b.is_empty())
}

/// The fallbacks of embedded tags, filled from the path.
impl Tags {
    /// Fill missing fields from the file name alone (see [`parse_file_name`]); the folders
    /// count only with [`Tags::with_path_fallback`], which knows the ingested folder.
    ///
    /// ```
    /// use songrec_audio::Tags;
    /// let t = Tags::default().with_file_name_fallback(std::path::Path::new("/m/Daft Punk - Da Funk.mp3"));
    /// assert_eq!(t.artist.as_deref(), Some("Daft Punk"));
    /// assert_eq!(t.title.as_deref(), Some("Da Funk"));
    /// ```
    pub fn with_file_name_fallback(self, path: &Path) -> Tags {
        self.with_path_fallback(Path::new(path.file_name().unwrap_or_default()))
    }

    /// Each field the embedded tags left empty, from `relative`: the file's path below the
    /// folder given to `ingest` (see [`parse_path`]). Embedded values win
    /// field by field; [`Tags::sources`] says where each value came from. Applying it twice
    /// changes nothing, so a path that names more folders can follow the file name alone.
    ///
    /// ```
    /// use songrec_audio::{FieldSource, Tags};
    /// let t = Tags { album: Some("Tagged".into()), ..Default::default() }
    ///     .with_path_fallback(std::path::Path::new("Kevin Rowe/Night Drive/03 Slow Lights.flac"));
    /// assert_eq!(t.artist.as_deref(), Some("Kevin Rowe"));
    /// assert_eq!((t.album.as_deref(), t.sources.album), (Some("Tagged"), Some(FieldSource::Tag)));
    /// assert_eq!((t.track, t.sources.track), (Some(3), Some(FieldSource::FileName)));
    /// ```
    pub fn with_path_fallback(mut self, relative: &Path) -> Tags {
        let from = parse_path(relative);
        fn fill<T>(
            v: &mut Option<T>,
            s: &mut Option<FieldSource>,
            new: Option<T>,
            ns: Option<FieldSource>,
        ) {
            if v.is_some() {
                s.get_or_insert(FieldSource::Tag);
            } else if new.is_some() {
                *v = new;
                *s = ns;
            }
        }
        let (t, s) = (&mut self, from.sources);
        fill(&mut t.title, &mut t.sources.title, from.title, s.title);
        fill(&mut t.artist, &mut t.sources.artist, from.artist, s.artist);
        fill(&mut t.album, &mut t.sources.album, from.album, s.album);
        fill(&mut t.genre, &mut t.sources.genre, from.genre, s.genre);
        fill(&mut t.track, &mut t.sources.track, from.track, s.track);
        fill(&mut t.disc, &mut t.sources.disc, from.disc, s.disc);
        fill(&mut t.year, &mut t.sources.year, from.year, s.year);
        let all = [
            t.sources.title,
            t.sources.artist,
            t.sources.album,
            t.sources.genre,
            t.sources.track,
            t.sources.disc,
            t.sources.year,
        ];
        let tagged = all.contains(&Some(FieldSource::Tag));
        let derived = all
            .iter()
            .any(|x| matches!(x, Some(FieldSource::Path | FieldSource::FileName)));
        self.source = match (tagged, derived) {
            (true, true) => TagSource::Mixed,
            (true, false) => TagSource::Metadata,
            (false, true) => TagSource::FileName,
            (false, false) => TagSource::None,
        };
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// (path, artist, album, track, disc, year, title), `None` = not found.
    type Row = (
        &'static str,
        Option<&'static str>,
        Option<&'static str>,
        Option<u32>,
        Option<u32>,
        Option<u32>,
        Option<&'static str>,
    );

    #[test]
    fn paths() {
        #[rustfmt::skip]
        let rows: &[Row] = &[
            ("Mara Quinn - Glass Harbour.flac", Some("Mara Quinn"), None, None, None, None, Some("Glass Harbour")),
            ("Kevin Rowe/Night Drive/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/03 - Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/03. Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/1-03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), Some(1), None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/CD2/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), Some(2), None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/Disc 2/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), Some(2), None, Some("Slow Lights")),
            ("Kevin Rowe/Night Drive/cd_1/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), Some(1), None, Some("Slow Lights")),
            // Only the two nearest folders: a genre folder above is not the artist.
            ("Electronic/Kevin Rowe/Night Drive/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            // A file directly in the ingested folder: no album.
            ("03 Slow Lights.flac", None, None, Some(3), None, None, Some("Slow Lights")),
            ("Slow Lights.flac", None, None, None, None, None, Some("Slow Lights")),
            // One folder: the album when the tracks are numbered, else the artist.
            ("Night Drive/03 Slow Lights.flac", None, Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            ("Kevin Rowe/Slow Lights.flac", Some("Kevin Rowe"), None, None, None, None, Some("Slow Lights")),
            ("Kevin Rowe - Night Drive/03 Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            // The album folder's year, and its artist prefix.
            ("Radiohead/1997 - OK Computer/02 Paranoid Android.mp3", Some("Radiohead"), Some("OK Computer"), Some(2), None, Some(1997), Some("Paranoid Android")),
            ("Radiohead/OK Computer (1997)/02 Paranoid Android.mp3", Some("Radiohead"), Some("OK Computer"), Some(2), None, Some(1997), Some("Paranoid Android")),
            ("Radiohead/OK Computer [1997]/02 Paranoid Android.mp3", Some("Radiohead"), Some("OK Computer"), Some(2), None, Some(1997), Some("Paranoid Android")),
            ("Radiohead/Radiohead - OK Computer/02 Paranoid Android.mp3", Some("Radiohead"), Some("OK Computer"), Some(2), None, None, Some("Paranoid Android")),
            ("Prince/1999/01 1999.mp3", Some("Prince"), Some("1999"), Some(1), None, None, Some("1999")),
            // Compilations: the folder is no artist; the file name's is.
            ("Various Artists/Now 12/07 - Kim Wilde - Cambodia.mp3", Some("Kim Wilde"), Some("Now 12"), Some(7), None, None, Some("Cambodia")),
            ("VA/Now 12/07 Cambodia.mp3", None, Some("Now 12"), Some(7), None, None, Some("Cambodia")),
            ("Compilations/Cambodia.mp3", None, None, None, None, None, Some("Cambodia")),
            // The file name's artist wins over the folder's.
            ("Kevin Rowe/Night Drive/03 - Guest Star - Slow Lights.flac", Some("Guest Star"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            // Everything in the file name.
            ("Kevin Rowe - Night Drive - 03 - Slow Lights.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, Some("Slow Lights")),
            ("Artist - 07 - Title.ogg", Some("Artist"), None, Some(7), None, None, Some("Title")),
            ("05 - Band - Tune.mp3", Some("Band"), None, Some(5), None, None, Some("Tune")),
            ("the_artist_-_the_title.wav", Some("the artist"), None, None, None, None, Some("the title")),
            // Numbers that are names.
            ("1999.mp3", None, None, None, None, None, Some("1999")),
            ("2Pac - Changes.mp3", Some("2Pac"), None, None, None, None, Some("Changes")),
            ("Blink-182/Enema of the State/03 - All the Small Things.mp3", Some("Blink-182"), Some("Enema of the State"), Some(3), None, None, Some("All the Small Things")),
            ("00 Intro.mp3", None, None, None, None, None, Some("00 Intro")),
            ("3.14 Pi.mp3", None, None, None, None, None, Some("3.14 Pi")),
            // Unicode and dashes.
            ("Sigur Rós/Ágætis byrjun/02 Svefn-g-englar.flac", Some("Sigur Rós"), Some("Ágætis byrjun"), Some(2), None, None, Some("Svefn-g-englar")),
            ("坂本龍一 – 戦場のメリークリスマス.flac", Some("坂本龍一"), None, None, None, None, Some("戦場のメリークリスマス")),
            ("Björk — Jóga.ogg", Some("Björk"), None, None, None, None, Some("Jóga")),
            ("Mötley Crüe/Dr. Feelgood/01. T.n.T. (Terror ’n Tinseltown).mp3", Some("Mötley Crüe"), Some("Dr. Feelgood"), Some(1), None, None, Some("T.n.T. (Terror ’n Tinseltown)")),
            // Odd names.
            (".hidden.flac", None, None, None, None, None, Some(".hidden")),
            ("Kevin Rowe/Night Drive/03.flac", Some("Kevin Rowe"), Some("Night Drive"), Some(3), None, None, None),
            ("  Spaced   Out  -  Title  .mp3", Some("Spaced Out"), None, None, None, None, Some("Title")),
            (" - .mp3", None, None, None, None, None, Some("-")),
            ("Artist - .mp3", None, None, None, None, None, Some("Artist -")),
        ];
        for &(p, artist, album, track, disc, year, title) in rows {
            let t = parse_path(Path::new(p));
            assert_eq!(
                (
                    t.artist.as_deref(),
                    t.album.as_deref(),
                    t.track,
                    t.disc,
                    t.year,
                    t.title.as_deref()
                ),
                (artist, album, track, disc, year, title),
                "{p}"
            );
        }
    }

    #[test]
    fn sources_say_file_name_or_path() {
        let t = parse_path(Path::new("Kevin Rowe/Night Drive/CD1/03 Slow Lights.flac"));
        let s = t.sources;
        assert_eq!(s.title, Some(FieldSource::FileName));
        assert_eq!(s.track, Some(FieldSource::FileName));
        assert_eq!(s.artist, Some(FieldSource::Path));
        assert_eq!(s.album, Some(FieldSource::Path));
        assert_eq!(s.disc, Some(FieldSource::Path));
        assert_eq!((s.genre, s.year), (None, None));
        let s = parse_path(Path::new("Mara Quinn - Glass Harbour.flac")).sources;
        assert_eq!(s.artist, Some(FieldSource::FileName));
    }

    #[test]
    fn embedded_tags_win_field_by_field() {
        let tagged = Tags {
            title: Some("Tagged Title".into()),
            genre: Some("Jazz".into()),
            ..Tags::default()
        };
        let t = tagged.with_path_fallback(Path::new("Kevin Rowe/Night Drive/03 Slow Lights.flac"));
        assert_eq!(t.title.as_deref(), Some("Tagged Title"));
        assert_eq!(t.sources.title, Some(FieldSource::Tag));
        assert_eq!(t.sources.genre, Some(FieldSource::Tag));
        assert_eq!(
            (t.artist.as_deref(), t.sources.artist),
            (Some("Kevin Rowe"), Some(FieldSource::Path))
        );
        assert_eq!(t.source, crate::TagSource::Mixed);
        // The file name first, then the whole path: the same as the whole path at once.
        let untagged = Tags::default();
        let p = Path::new("Kevin Rowe/Night Drive/03 Slow Lights.flac");
        let twice = untagged
            .clone()
            .with_file_name_fallback(p)
            .with_path_fallback(p);
        assert_eq!(twice, untagged.with_path_fallback(p));
    }

    #[test]
    fn a_root_or_empty_path_gives_nothing() {
        for p in ["", "/", ".", "..", "a/.."] {
            let t = parse_path(Path::new(p));
            assert!(t.artist.is_none() && t.album.is_none(), "{p}: {t:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Any path of any characters (dashes, digits, dots, brackets, separators, non-ASCII
        /// and control characters weighted in): no panic, and no empty value.
        #[test]
        fn never_panics(parts in proptest::collection::vec(
            proptest::string::string_regex("[ -~]{0,12}|[0-9 .()\\[\\]_–—-]{0,10}|(CD|Disc |VA|Various Artists)[0-9]{0,3}|\\PC{0,8}").unwrap(),
            0..5,
        )) {
            let joined = parts.join("/");
            let t = parse_path(Path::new(&joined));
            for v in [&t.title, &t.artist, &t.album].into_iter().flatten() {
                prop_assert!(!v.trim().is_empty(), "{joined:?}: {t:?}");
            }
            prop_assert!(t.track != Some(0) && t.disc != Some(0));
        }
    }
}
