//! Tags: from the file's metadata (ID3v2/v1, Vorbis comments, MP4 atoms, RIFF INFO, APE...)
//! with a pure fallback that parses the file name.
//!
//! Two readers, first value wins: [lofty](https://crates.io/crates/lofty) (`read_lofty`, the
//! more accurate on real files), then symphonia's metadata and this module's RIFF `LIST/INFO`
//! reader (`TagsBuilder`) for what lofty leaves empty (Matroska/WebM, `IPRT 3/12`).

use std::path::Path;

use serde::{Deserialize, Serialize};
use symphonia::core::formats::FormatReader;
use symphonia::core::meta::{MetadataContainer, RawValue, StandardTag};

/// Where a file's tag values came from, taken together (each field's own source is in
/// [`Tags::sources`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TagSource {
    /// Nothing known.
    #[default]
    None,
    /// Embedded metadata.
    Metadata,
    /// Parsed from the file's path (its name, and the folders under the ingested folder).
    FileName,
    /// Some fields from metadata, the rest from the path.
    Mixed,
}

/// Where one field's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum FieldSource {
    /// The file's embedded tags.
    Tag,
    /// The names of the folders the file is in (below the folder given to `ingest`).
    Path,
    /// The file's own name.
    FileName,
}

impl FieldSource {
    /// The name stored with a song and printed (`tag`, `path`, `file_name`).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The source of each field of [`Tags`] that has a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct FieldSources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artist: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genre: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disc: Option<FieldSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<FieldSource>,
}

/// Song tags. Empty fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Tags {
    pub title: Option<String>,
    /// Track artist (album artist when no track artist).
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    pub track: Option<u32>,
    /// Disc number (from a `1-03 Title` file name or a `CD1`/`Disc 2` folder).
    #[serde(default)]
    pub disc: Option<u32>,
    /// Year (first 4-digit year of the date tags).
    pub year: Option<u32>,
    /// Origin of the values.
    pub source: TagSource,
    /// Origin of each value.
    #[serde(default)]
    pub sources: FieldSources,
}

impl Tags {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.artist.is_none()
            && self.album.is_none()
            && self.genre.is_none()
            && self.track.is_none()
            && self.disc.is_none()
            && self.year.is_none()
    }
}

/// Tags read with lofty (audio properties and pictures skipped), `None` when lofty does not
/// know the file (Matroska, WebM) or cannot parse its tags: that is not an error of the file,
/// the other reader still runs. Values of every tag the file carries count, the primary tag
/// first; several artists are joined with `"; "`.
pub(crate) fn read_lofty(path: &Path) -> Option<Tags> {
    use lofty::config::ParseOptions;
    use lofty::file::TaggedFileExt;
    use lofty::tag::{Accessor, ItemKey, Tag};

    let opts = ParseOptions::new()
        .read_properties(false)
        .read_cover_art(false);
    let file = lofty::probe::Probe::open(path)
        .ok()?
        .options(opts)
        .guess_file_type()
        .ok()?
        .read()
        .ok()?;
    let mut tags: Vec<&Tag> = file.primary_tag().into_iter().collect();
    for t in file.tags() {
        if !tags.iter().any(|x| std::ptr::eq(*x, t)) {
            tags.push(t);
        }
    }
    let pick = |get: &dyn Fn(&Tag) -> Option<String>| {
        tags.iter().find_map(|t| get(t).as_deref().and_then(clean))
    };
    let mut out = Tags {
        title: pick(&|t| t.title().map(|s| s.into_owned())),
        artist: pick(&|t| {
            let all: Vec<String> = t
                .get_strings(ItemKey::TrackArtist)
                .filter_map(clean)
                .collect();
            (!all.is_empty()).then(|| all.join("; "))
        })
        .or_else(|| pick(&|t| t.get_string(ItemKey::AlbumArtist).map(str::to_owned))),
        album: pick(&|t| t.album().map(|s| s.into_owned())),
        genre: pick(&|t| t.genre().map(|s| s.into_owned())),
        track: tags.iter().find_map(|t| t.track()).filter(|&n| n > 0),
        disc: tags.iter().find_map(|t| t.disk()).filter(|&n| n > 0),
        year: tags.iter().find_map(|t| {
            t.date()
                .map(|d| u32::from(d.year))
                .filter(|y| (1000..3000).contains(y))
                .or_else(|| {
                    [
                        ItemKey::RecordingDate,
                        ItemKey::Year,
                        ItemKey::ReleaseDate,
                        ItemKey::OriginalReleaseDate,
                    ]
                    .iter()
                    .find_map(|k| t.get_string(*k).and_then(first_year))
                })
        }),
        ..Tags::default()
    };
    if !out.is_empty() {
        out.source = TagSource::Metadata;
    }
    Some(out)
}

impl Tags {
    /// Each field of `self`, or `other`'s where `self` has none (`self` read first).
    pub(crate) fn or(self, other: Tags) -> Tags {
        let mut t = Tags {
            title: self.title.or(other.title),
            artist: self.artist.or(other.artist),
            album: self.album.or(other.album),
            genre: self.genre.or(other.genre),
            track: self.track.or(other.track),
            disc: self.disc.or(other.disc),
            year: self.year.or(other.year),
            ..Tags::default()
        };
        if !t.is_empty() {
            t.source = TagSource::Metadata;
        }
        t
    }
}

fn clean(s: &str) -> Option<String> {
    let t = s.trim().trim_matches('\0').trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn first_year(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    (0..b.len().saturating_sub(3)).find_map(|i| {
        let w = &b[i..i + 4];
        let ok = w.iter().all(u8::is_ascii_digit)
            && (i == 0 || !b[i - 1].is_ascii_digit())
            && (i + 4 == b.len() || !b[i + 4].is_ascii_digit());
        ok.then(|| s[i..i + 4].parse::<u32>().ok())
            .flatten()
            .filter(|y| (1000..3000).contains(y))
    })
}

/// Accumulates tags from symphonia metadata revisions (first value wins).
#[derive(Debug, Default)]
pub(crate) struct TagsBuilder {
    t: Tags,
    album_artist: Option<String>,
}

impl TagsBuilder {
    fn container(&mut self, c: &MetadataContainer) {
        for tag in &c.tags {
            let raw_str = match &tag.raw.value {
                RawValue::String(s) => Some(s.as_str().to_string()),
                RawValue::StringList(l) => Some(l.join("; ")),
                RawValue::SignedInt(i) => Some(i.to_string()),
                _ => None,
            };
            let Some(std) = &tag.std else {
                // Some writers use raw keys only; accept a few common ones.
                if let Some(v) = raw_str.as_deref() {
                    let k = tag.raw.key.to_ascii_lowercase();
                    match k.as_str() {
                        "title" | "inam" => set(&mut self.t.title, v),
                        "artist" | "iart" => set(&mut self.t.artist, v),
                        "album" | "iprd" => set(&mut self.t.album, v),
                        "genre" | "ignr" => set(&mut self.t.genre, v),
                        _ => {}
                    }
                }
                continue;
            };
            match std {
                StandardTag::TrackTitle(s) => set(&mut self.t.title, s),
                StandardTag::Artist(s) => set(&mut self.t.artist, s),
                StandardTag::AlbumArtist(s) => set(&mut self.album_artist, s),
                StandardTag::Album(s) => set(&mut self.t.album, s),
                StandardTag::Genre(s) => set(&mut self.t.genre, s),
                StandardTag::TrackNumber(n) if self.t.track.is_none() => {
                    self.t.track = u32::try_from(*n).ok().filter(|&n| n > 0);
                }
                StandardTag::DiscNumber(n) if self.t.disc.is_none() => {
                    self.t.disc = u32::try_from(*n).ok().filter(|&n| n > 0);
                }
                StandardTag::RecordingYear(y) | StandardTag::ReleaseYear(y)
                    if self.t.year.is_none() =>
                {
                    self.t.year = Some(u32::from(*y));
                }
                StandardTag::RecordingDate(s)
                | StandardTag::ReleaseDate(s)
                | StandardTag::OriginalReleaseDate(s)
                | StandardTag::RecordingTime(s)
                | StandardTag::ReleaseTime(s)
                    if self.t.year.is_none() =>
                {
                    self.t.year = first_year(s);
                }
                _ => {}
            }
        }
    }

    /// Read every metadata revision the reader has queued (probe-time ID3 plus container tags).
    pub(crate) fn collect(&mut self, format: &mut dyn FormatReader, track_id: u32) {
        let mut md = format.metadata();
        loop {
            if let Some(rev) = md.current() {
                let rev = rev.clone();
                self.container(&rev.media);
                for pt in &rev.per_track {
                    if pt.track_id == u64::from(track_id) {
                        self.container(&pt.metadata);
                    }
                }
            }
            if md.pop().is_none() {
                break;
            }
        }
    }

    /// Adds raw `(key, value)` tags such as RIFF INFO's `INAM`/`IART` (first value wins).
    pub(crate) fn add_raw(&mut self, tags: &[(String, String)]) {
        for (k, v) in tags {
            match k.to_ascii_lowercase().as_str() {
                "inam" => set(&mut self.t.title, v),
                "iart" => set(&mut self.t.artist, v),
                "iprd" => set(&mut self.t.album, v),
                "ignr" => set(&mut self.t.genre, v),
                "icrd" if self.t.year.is_none() => self.t.year = first_year(v),
                "itrk" | "iprt" if self.t.track.is_none() => {
                    let d: String = v.trim().chars().take_while(char::is_ascii_digit).collect();
                    self.t.track = d.parse().ok();
                }
                _ => {}
            }
        }
    }

    pub(crate) fn build(mut self) -> Tags {
        if self.t.artist.is_none() {
            self.t.artist = self.album_artist.take();
        }
        if !self.t.is_empty() {
            self.t.source = TagSource::Metadata;
        }
        self.t
    }
}

fn set(slot: &mut Option<String>, v: &str) {
    if slot.is_none() {
        *slot = clean(v);
    }
}

/// Reads the `LIST`/`INFO` chunk of a RIFF/WAVE file (only the chunks before `data`, at most
/// 1 MiB), returning `(id, text)` pairs such as `("INAM", "Title")`.
pub(crate) fn riff_info(path: &Path) -> Option<Vec<(String, String)>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .ok()?
        .take(1 << 20)
        .read_to_end(&mut head)
        .ok()?;
    parse_riff_info(&head)
}

/// The tags a RIFF/WAVE file's header bytes give: [`riff_info`]'s pure part followed by the
/// same tag handling as decoding. For the fuzz targets and their replay test.
#[doc(hidden)]
pub fn riff_info_tags(head: &[u8]) -> Option<Tags> {
    let raw = parse_riff_info(head)?;
    let mut b = TagsBuilder::default();
    b.add_raw(&raw);
    Some(b.build())
}

/// Pure part of [`riff_info`].
pub(crate) fn parse_riff_info(b: &[u8]) -> Option<Vec<(String, String)>> {
    if b.len() < 12 || &b[..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return None;
    }
    let le32 = |at: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?) as usize)
    };
    let mut out = Vec::new();
    let mut pos = 12;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let len = le32(pos + 4)?;
        let body = pos + 8;
        if id == b"data" {
            break;
        }
        if id == b"LIST" && b.get(body..body + 4) == Some(b"INFO") {
            let end = (body + len).min(b.len());
            let mut p = body + 4;
            while p + 8 <= end {
                let key = String::from_utf8_lossy(&b[p..p + 4]).into_owned();
                let n = le32(p + 4)?;
                let v = b.get(p + 8..(p + 8 + n).min(end))?;
                let text = String::from_utf8_lossy(v)
                    .trim_end_matches('\0')
                    .trim()
                    .to_owned();
                if !text.is_empty() {
                    out.push((key, text));
                }
                p += 8 + n + (n & 1);
            }
        }
        pos = body + len + (len & 1);
    }
    (!out.is_empty()).then_some(out)
}

/// Parse tags from a file name alone (pure; no I/O; any name, never a panic).
///
/// Understands `Artist - Title`, `01 - Title`, `01. Title`, `01 Title`, `1-03 Title` (disc 1,
/// track 3), `Artist - 01 - Title`, `01 - Artist - Title`, `Artist - Album - 01 - Title`,
/// en and em dashes as separators, and underscores as spaces. A number is a track number only
/// with one to three digits and a separator after it (`1999.mp3` and `2Pac - Changes.mp3`
/// are names). Every value found is marked [`FieldSource::FileName`].
pub fn parse_file_name(path: &Path) -> Tags {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let s = stem.replace('_', " ");
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut t = Tags::default();
    let mut parts: Vec<String> = s
        .split(" - ")
        .flat_map(|p| p.split(" – "))
        .flat_map(|p| p.split(" — "))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect();
    // A part that is only a track number ("05", "1-03"): the first one found.
    let alone = parts.iter().enumerate().find_map(|(i, p)| {
        numbering(p)
            .filter(|n| n.2.is_empty())
            .map(|n| (i, n.0, n.1))
    });
    if let Some((i, disc, track)) = alone {
        (t.disc, t.track) = (disc, Some(track));
        let whole = parts.len();
        parts.remove(i);
        // "Artist - Album - 03 - Title".
        if whole == 4 && i == 2 {
            t.album = clean(&parts.remove(1));
        }
    } else if let Some(first) = parts.first_mut()
        && let Some((disc, track, rest)) = numbering(first)
        && !rest.is_empty()
    {
        // "01 Title" / "01. Title" / "1-03 Title" in the first part.
        (t.disc, t.track) = (disc, Some(track));
        *first = rest.to_string();
    }
    match parts.len() {
        0 => {}
        1 => t.title = clean(&parts[0]),
        _ => {
            t.artist = clean(&parts[0]);
            t.title = clean(&parts[1..].join(" - "));
        }
    }
    let f = Some(FieldSource::FileName);
    let is = |b: bool| if b { f } else { None };
    t.sources = FieldSources {
        title: is(t.title.is_some()),
        artist: is(t.artist.is_some()),
        album: is(t.album.is_some()),
        track: is(t.track.is_some()),
        disc: is(t.disc.is_some()),
        ..FieldSources::default()
    };
    if !t.is_empty() {
        t.source = TagSource::FileName;
    }
    t
}

/// A leading track number of `s`: `03`, `03.`, `03)`, `1-03` (disc and track), followed by
/// the end or a separator; the disc (if any), the track and the rest of `s` after the
/// separators. `None` for `1999 …`, `2Pac`, `0`, and a number without a separator.
fn numbering(s: &str) -> Option<(Option<u32>, u32, &str)> {
    let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
    let n = digits(s);
    if !(1..=3).contains(&n) {
        return None;
    }
    let (mut disc, mut track, mut after) = (None, s[..n].parse::<u32>().ok(), &s[n..]);
    // "1-03": a disc of one or two digits, then a track of exactly two.
    if n <= 2
        && let Some(r) = after.strip_prefix('-')
        && digits(r) == 2
        && !r[2..].starts_with(|c: char| c.is_ascii_digit())
    {
        (disc, track, after) = (track, r[..2].parse().ok(), &r[2..]);
    }
    // A separator, and not a decimal number ("3.14 Pi").
    let decimal = after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
    if decimal || !(after.is_empty() || after.starts_with([' ', '.', ')', '-'])) {
        return None;
    }
    let rest = after.trim_start_matches(['.', ')', '-', ' ']).trim();
    Some((disc.filter(|&d| d > 0), track.filter(|&t| t > 0)?, rest))
}

#[cfg(test)]
#[path = "../../../fuzz/replay.rs"]
mod fuzz_inputs;

#[cfg(test)]
mod riff_tests {
    use super::{fuzz_inputs, parse_file_name, parse_riff_info, riff_info_tags};

    /// What the `riff_info` fuzz target does with an input.
    fn fuzz_one(data: &[u8]) -> bool {
        let tags = riff_info_tags(data);
        let name = String::from_utf8_lossy(data);
        let _ = parse_file_name(std::path::Path::new(name.as_ref()));
        tags.is_some()
    }

    /// Every seed and regression input of the `riff_info` fuzz target is handled without a
    /// panic; the valid seeds give tags.
    #[test]
    fn fuzz_corpus_and_regressions_replay() {
        for (path, bytes) in fuzz_inputs::inputs("riff_info") {
            let tagged = fuzz_one(&bytes);
            let valid = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("valid"));
            assert!(tagged || !valid, "{}: no tags", path.display());
        }
    }

    /// A few thousand mutants of the seeds (fixed seed): none panics.
    #[test]
    fn fuzz_random_riff_headers_never_panic() {
        let seeds = fuzz_inputs::inputs("riff_info");
        for input in fuzz_inputs::mutants(&seeds, 5000, 0x0000_5249_4646) {
            fuzz_one(&input);
        }
    }

    #[test]
    fn reads_info_chunks_before_data() {
        let mut info = b"INFO".to_vec();
        for (k, v) in [("INAM", "Song\0"), ("IGNR", "Rock\0\0")] {
            info.extend_from_slice(k.as_bytes());
            info.extend_from_slice(&(v.len() as u32).to_le_bytes());
            info.extend_from_slice(v.as_bytes());
            if v.len() % 2 == 1 {
                info.push(0);
            }
        }
        let mut f = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
        f.extend_from_slice(&16u32.to_le_bytes());
        f.extend_from_slice(&[0u8; 16]);
        f.extend_from_slice(b"LIST");
        f.extend_from_slice(&(info.len() as u32).to_le_bytes());
        f.extend_from_slice(&info);
        f.extend_from_slice(b"data\x04\0\0\0\0\0\0\0");
        let tags = parse_riff_info(&f).unwrap();
        assert_eq!(
            tags,
            vec![
                ("INAM".to_string(), "Song".to_string()),
                ("IGNR".to_string(), "Rock".to_string())
            ]
        );
        assert!(parse_riff_info(b"RIFF\0\0\0\0WAVE").is_none());
        assert!(parse_riff_info(b"fLaC").is_none());
        // A length pointing past the end is tolerated (truncated header).
        let mut bad = f.clone();
        bad.truncate(60);
        let _ = parse_riff_info(&bad);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Tags {
        parse_file_name(Path::new(s))
    }

    #[test]
    fn file_name_patterns() {
        let t = p("/music/Artist Name - Song Title.mp3");
        assert_eq!(t.artist.as_deref(), Some("Artist Name"));
        assert_eq!(t.title.as_deref(), Some("Song Title"));
        assert_eq!(t.track, None);
        let t = p("01 Title Here.flac");
        assert_eq!(
            (t.track, t.title.as_deref(), t.artist.as_deref()),
            (Some(1), Some("Title Here"), None)
        );
        let t = p("12. Another.ogg");
        assert_eq!((t.track, t.title.as_deref()), (Some(12), Some("Another")));
        let t = p("05 - Band - Tune.mp3");
        assert_eq!(
            (t.track, t.artist.as_deref(), t.title.as_deref()),
            (Some(5), Some("Band"), Some("Tune"))
        );
        let t = p("the_artist_-_the_title.wav");
        assert_eq!(
            (t.artist.as_deref(), t.title.as_deref()),
            (Some("the artist"), Some("the title"))
        );
        let t = p("1999.mp3");
        assert_eq!((t.track, t.title.as_deref()), (None, Some("1999")));
        let t = p("2Pac - Changes.mp3");
        assert_eq!(
            (t.artist.as_deref(), t.title.as_deref()),
            (Some("2Pac"), Some("Changes"))
        );
        assert_eq!(p("").title, None);
        assert_eq!(p("x.mp3").source, TagSource::FileName);
        let t = p("03_My_Song.flac");
        assert_eq!((t.track, t.title.as_deref()), (Some(3), Some("My Song")));
        let t = p("Artist - 07 - Title.ogg");
        assert_eq!(
            (t.artist.as_deref(), t.track, t.title.as_deref()),
            (Some("Artist"), Some(7), Some("Title"))
        );
    }

    #[test]
    fn fallback_only_fills_missing_fields() {
        let t = Tags {
            title: Some("Real".into()),
            source: TagSource::Metadata,
            ..Default::default()
        }
        .with_file_name_fallback(Path::new("Someone - Fake.mp3"));
        assert_eq!(t.title.as_deref(), Some("Real"));
        assert_eq!(t.artist.as_deref(), Some("Someone"));
        assert_eq!(t.source, TagSource::Mixed);
    }

    #[test]
    fn years() {
        assert_eq!(first_year("2019-05-01"), Some(2019));
        assert_eq!(first_year("May 1987"), Some(1987));
        assert_eq!(first_year("12345"), None);
        assert_eq!(first_year(""), None);
    }
}

/// The two readers together, on files written here byte by byte: what each reader alone
/// misses, the pair reads.
#[cfg(test)]
mod two_readers {
    use crate::decode::decode_file;

    /// An ID3v2.4 text frame, UTF-8, several values separated by NUL.
    fn frame(id: &[u8; 4], values: &[&str]) -> Vec<u8> {
        let mut data = vec![3u8]; // UTF-8
        data.extend_from_slice(values.join("\0").as_bytes());
        let mut f = id.to_vec();
        f.extend_from_slice(&synchsafe(data.len()));
        f.extend_from_slice(&[0, 0]);
        f.extend(data);
        f
    }

    fn synchsafe(n: usize) -> [u8; 4] {
        let n = n as u32;
        [
            ((n >> 21) & 0x7f) as u8,
            ((n >> 14) & 0x7f) as u8,
            ((n >> 7) & 0x7f) as u8,
            (n & 0x7f) as u8,
        ]
    }

    fn id3v24(frames: &[Vec<u8>]) -> Vec<u8> {
        let body: Vec<u8> = frames.concat();
        let mut t = b"ID3\x04\x00\x00".to_vec();
        t.extend_from_slice(&synchsafe(body.len()));
        t.extend(body);
        t
    }

    fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = id.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    /// A second of a 440 Hz tone, mono 16-bit 22.05 kHz, with `extra` chunks after `data`
    /// (where taggers put `id3 ` chunks) and `before` chunks ahead of it (LIST/INFO).
    fn wav(before: &[Vec<u8>], extra: &[Vec<u8>]) -> Vec<u8> {
        let mut fmt = Vec::new();
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&1u16.to_le_bytes());
        fmt.extend_from_slice(&22_050u32.to_le_bytes());
        fmt.extend_from_slice(&44_100u32.to_le_bytes());
        fmt.extend_from_slice(&2u16.to_le_bytes());
        fmt.extend_from_slice(&16u16.to_le_bytes());
        let samples: Vec<u8> = (0..22_050)
            .flat_map(|i| {
                let x = (i as f32 * 440.0 * std::f32::consts::TAU / 22_050.0).sin();
                ((x * 8000.0) as i16).to_le_bytes()
            })
            .collect();
        let mut body = b"WAVE".to_vec();
        body.extend(chunk(b"fmt ", &fmt));
        for c in before {
            body.extend_from_slice(c);
        }
        body.extend(chunk(b"data", &samples));
        for c in extra {
            body.extend_from_slice(c);
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend(body);
        out
    }

    #[test]
    fn an_id3_chunk_with_two_artists_in_a_wav_file_is_read_whole() {
        let tag = id3v24(&[
            frame(b"TIT2", &["Frontiers"]),
            frame(b"TPE1", &["Artist One", "Artist Two"]),
            frame(b"TALB", &["Album", "", ""]),
            frame(b"TCON", &["Soundtrack"]),
            frame(b"TRCK", &["3/12"]),
            frame(b"TDRC", &["2019-05-01"]),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("untitled.wav");
        std::fs::write(&p, wav(&[], &[chunk(b"id3 ", &tag)])).unwrap();
        let t = decode_file(&p).unwrap().tags;
        assert_eq!(t.title.as_deref(), Some("Frontiers"));
        assert_eq!(t.artist.as_deref(), Some("Artist One; Artist Two"));
        assert_eq!(t.album.as_deref(), Some("Album"));
        assert_eq!(t.genre.as_deref(), Some("Soundtrack"));
        assert_eq!(t.track, Some(3));
        assert_eq!(t.year, Some(2019));
        assert_eq!(t.source, super::TagSource::Metadata);
    }

    #[test]
    fn riff_info_fills_what_lofty_leaves_empty() {
        // lofty reads INAM but not the `3/12` form of IPRT; the RIFF INFO reader does.
        let mut info = b"INFO".to_vec();
        info.extend(chunk(b"INAM", b"Named\0"));
        info.extend(chunk(b"IPRT", b"3/12\0"));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.wav");
        std::fs::write(&p, wav(&[chunk(b"LIST", &info)], &[])).unwrap();
        let t = decode_file(&p).unwrap().tags;
        assert_eq!(t.title.as_deref(), Some("Named"));
        assert_eq!(t.track, Some(3));
    }
}

/// A picture embedded in a file's tags: its MIME type (as the tag says, `None` if it says
/// none) and its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Picture {
    pub mime: Option<String>,
    pub data: Vec<u8>,
}

/// The picture embedded in the file's tags: the front cover where one is marked, else the
/// first; `None` when there is none, or lofty does not know the file or cannot read its tags.
pub fn cover_art(path: &Path) -> Option<Picture> {
    use lofty::config::ParseOptions;
    use lofty::file::TaggedFileExt;
    use lofty::picture::PictureType;

    let file = lofty::probe::Probe::open(path)
        .ok()?
        .options(ParseOptions::new().read_properties(false))
        .guess_file_type()
        .ok()?
        .read()
        .ok()?;
    let pictures: Vec<&lofty::picture::Picture> =
        file.tags().iter().flat_map(|t| t.pictures()).collect();
    let p = pictures
        .iter()
        .find(|p| p.pic_type() == PictureType::CoverFront)
        .or_else(|| pictures.first())?;
    Some(Picture {
        mime: p.mime_type().map(|m| m.as_str().to_owned()),
        data: p.data().to_vec(),
    })
}
