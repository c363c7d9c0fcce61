//! Similarity and listing queries.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{StorageError, StorageResult};
use crate::filter::Filter;
use crate::id::SongId;
use crate::math::Metric;
use crate::metadata::SongMetadata;
use crate::model::ModelInfo;

/// Most results one similarity query may reach (`offset + k`) on the Data API (see
/// [`crate::backend::VectorStore::max_results`]).
pub const MAX_RESULTS: usize = 1000;

/// Largest page of a [`ListQuery`].
pub const MAX_PAGE: usize = 1000;
/// Most ids one query may exclude.
pub const MAX_EXCLUDE: usize = 100;

/// What a similarity question asks of a ranking: how many results from where, compared how,
/// above what, among which songs, and how exactly. The default: the 10 nearest by cosine, no
/// offset, threshold or filter, the approximate index where the backend has one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, smart_default::SmartDefault)]
pub struct Ranking {
    #[default = 10]
    pub k: usize,
    /// Skip this many of the best results (paging).
    pub offset: usize,
    pub metric: Metric,
    /// Keep only results with similarity ≥ this.
    pub threshold: Option<f32>,
    /// Metadata conditions on candidates.
    pub filter: Filter,
    /// Rank every candidate exactly, even where the backend keeps an approximate
    /// nearest-neighbour index (see [`Match::approximate`]). Backends without one always do.
    #[serde(default)]
    pub exact: bool,
}

impl Ranking {
    /// How far the ranking reaches (`k + offset`) when a search may reach at most
    /// `max_results`: the one check of that limit for every door and backend.
    ///
    /// ```
    /// use songrec_storage::Ranking;
    /// let r = Ranking { k: 10, offset: 990, ..Ranking::default() };
    /// assert_eq!(r.reach(1000).unwrap(), 1000);
    /// let e = r.reach(999).unwrap_err().to_string();
    /// assert!(e.contains("k + offset must be at most 999"), "{e}");
    /// assert!(Ranking { k: 0, ..Ranking::default() }.reach(1000).is_err());
    /// ```
    pub fn reach(&self, max_results: usize) -> StorageResult<usize> {
        if self.k == 0 {
            return Err(StorageError::InvalidInput("k must be at least 1".into()));
        }
        self.k
            .checked_add(self.offset)
            .filter(|&n| n <= max_results)
            .ok_or_else(|| {
                StorageError::InvalidInput(format!(
                    "k + offset must be at most {max_results} here, got k = {} and offset = {}",
                    self.k, self.offset
                ))
            })
    }
}

/// "Which stored songs are closest to this vector?"
///
/// Filtering is exact: the filter selects candidates first and ranking happens among them,
/// so a filter never drops matches that a "top-N then intersect" approach would lose.
/// Results are ordered by similarity (descending), ties by id (ascending).
///
/// ```
/// use songrec_storage::{ModelInfo, SearchQuery};
/// let q = SearchQuery::new(ModelInfo::new("m", "1", 2), vec![1.0, 0.0], 10);
/// assert!(q.validate().is_ok());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SearchQuery {
    /// Model whose vectors are searched.
    pub model: ModelInfo,
    /// The query vector (`model.dim` values).
    pub vector: Vec<f32>,
    /// Never return these songs (e.g. the query song itself).
    pub exclude: Vec<SongId>,
    /// What is asked of the ranking.
    #[serde(flatten)]
    pub ranking: Ranking,
}

impl SearchQuery {
    /// A cosine query with no filter.
    pub fn new(model: ModelInfo, vector: Vec<f32>, k: usize) -> Self {
        Self {
            model,
            vector,
            exclude: Vec::new(),
            ranking: Ranking {
                k,
                ..Ranking::default()
            },
        }
    }

    /// The query with its ranking changed by `f`: `q.with(|r| r.exact = true)`.
    pub fn with(mut self, f: impl FnOnce(&mut Ranking)) -> Self {
        f(&mut self.ranking);
        self
    }

    /// Checks the query against the limits every backend shares.
    pub fn validate(&self) -> StorageResult<()> {
        self.validate_for(usize::MAX)
    }

    /// [`SearchQuery::validate`] for a backend whose searches reach at most `max_results`
    /// (`offset + k`; see [`crate::backend::VectorStore::max_results`]).
    pub fn validate_for(&self, max_results: usize) -> StorageResult<()> {
        let r = &self.ranking;
        let invalid = |m: &str| Err(StorageError::InvalidInput(m.into()));
        r.reach(max_results)?;
        if self.exclude.len() > MAX_EXCLUDE {
            return Err(StorageError::InvalidInput(format!(
                "at most {MAX_EXCLUDE} songs can be excluded, got {}",
                self.exclude.len()
            )));
        }
        (self.model).check_dim(self.model.dim, self.vector.len())?;
        if self.vector.iter().any(|v| !v.is_finite()) {
            return invalid("query vector has non-finite values");
        }
        if r.metric == Metric::Cosine && crate::math::norm(&self.vector) == 0.0 {
            return invalid("cosine similarity is undefined for an all-zero query vector");
        }
        if r.threshold.is_some_and(|t| !t.is_finite()) {
            return invalid("threshold must be a finite number");
        }
        r.filter.validate()
    }
}

/// One similarity result, with the song's metadata (no second round trip needed).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Match {
    pub id: SongId,
    /// Similarity under the query's metric (see [`Metric`]).
    pub similarity: f32,
    /// Euclidean distance, for `l2` queries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance: Option<f32>,
    pub metadata: SongMetadata,
    /// The list came from an approximate index: the similarity is exact, but a better match
    /// may be missing (see [`Ranking::exact`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approximate: bool,
}

/// Orders for listings.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SortKey {
    /// By id (stable, cheap).
    #[default]
    Id,
    /// By title, case-insensitively.
    Title,
    /// By artist, then title.
    Artist,
    /// By ingest time.
    Created,
    /// By last change.
    Updated,
    /// By tempo (songs without one last).
    Bpm,
    Duration,
}

impl SortKey {
    /// Every order a listing can take, in the order help texts name them.
    ///
    /// ```
    /// use songrec_storage::SortKey;
    /// assert_eq!(SortKey::ALL.len(), 7);
    /// assert!(SortKey::ALL.iter().all(|k| k.name().parse::<SortKey>().unwrap() == *k));
    /// ```
    pub const ALL: &[SortKey] = <Self as strum::VariantArray>::VARIANTS;

    /// The key's name, as `list --sort`, the REST API's `sort=` and JSON write it.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl FromStr for SortKey {
    type Err = StorageError;
    fn from_str(s: &str) -> StorageResult<Self> {
        let lower = s.to_ascii_lowercase();
        let alias = match lower.as_str() {
            "added" => "created",
            "tempo" => "bpm",
            other => other,
        };
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.name() == alias)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|k| k.name()).collect();
                let (last, rest) = names.split_last().expect("keys");
                StorageError::InvalidInput(format!(
                    "unknown sort key {s:?}; use {} or {last}",
                    rest.join(", ")
                ))
            })
    }
}

/// A page of a metadata listing.
///
/// ```
/// use songrec_storage::ListQuery;
/// let q = ListQuery { limit: 50, ..ListQuery::default() };
/// assert!(q.cursor.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, smart_default::SmartDefault)]
pub struct ListQuery {
    pub filter: Filter,
    pub sort: SortKey,
    /// Reverse the order.
    pub descending: bool,
    /// Page size (1 ..= 1000).
    #[default = 100]
    pub limit: usize,
    /// Where to continue: the `next` of the previous page (opaque, backend-specific).
    pub cursor: Option<String>,
}

impl ListQuery {
    /// Checks limits.
    pub fn validate(&self) -> StorageResult<()> {
        if self.limit == 0 || self.limit > MAX_PAGE {
            return Err(StorageError::InvalidInput(format!(
                "page size must be 1..={MAX_PAGE}, got {}",
                self.limit
            )));
        }
        self.filter.validate()
    }
}

/// Items plus where the next page starts (`None` at the end).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// Digits a digit run is padded to in [`text_sort_key`] (`u64::MAX` has 20).
pub const SORT_DIGITS: usize = 20;
/// Characters a [`text_sort_key`] keeps: texts that agree on this much order by id.
pub const SORT_KEY_CHARS: usize = 256;

/// The key titles and artists are ordered by in every backend: the text lowercased, each run
/// of ASCII digits without leading zeros left-padded to [`SORT_DIGITS`] digits (natural order;
/// longer runs kept whole, so they compare digit by digit), cut to [`SORT_KEY_CHARS`]
/// characters. U+0000..=U+0002 are escaped as U+0002 and U+0002..=U+0004, so the separators of
/// a [`sort_position`] sort below every key. Stored in Astra documents: a change of form is a
/// rewrite of every cloud song's keys.
///
/// ```
/// use songrec_storage::query::text_sort_key;
/// assert!(text_sort_key("Track2") < text_sort_key("track10"));
/// assert_eq!(text_sort_key("a007"), text_sort_key("A7"));
/// assert!(text_sort_key("a") < text_sort_key("a\u{1}\u{1}"));
/// assert!(!text_sort_key("a\u{0}b\u{1}").contains(['\u{0}', '\u{1}']));
/// ```
pub fn text_sort_key(s: &str) -> String {
    use std::fmt::Write as _;
    let lower = s.to_lowercase();
    let mut out = String::with_capacity(lower.len() + SORT_DIGITS);
    let mut chars = 0usize;
    let mut rest = lower.as_str();
    while let Some(c) = rest.chars().next() {
        if chars >= SORT_KEY_CHARS {
            break;
        }
        if c.is_ascii_digit() {
            let end = rest
                .find(|x: char| !x.is_ascii_digit())
                .unwrap_or(rest.len());
            let run = rest[..end].trim_start_matches('0');
            let run = if run.is_empty() { "0" } else { run };
            let _ = write!(out, "{run:0>SORT_DIGITS$}");
            chars += run.len().max(SORT_DIGITS);
            rest = &rest[end..];
        } else {
            if c <= ESCAPED_MAX {
                out.push(ESCAPED_MAX);
                out.push(char::from(c as u8 + 2));
            } else {
                out.push(c);
            }
            chars += 1;
            rest = &rest[c.len_utf8()..];
        }
    }
    // A digit run crossed the end: cut at the character limit (all ASCII there).
    out.truncate(out.len() - chars.saturating_sub(SORT_KEY_CHARS));
    out
}

/// The highest character [`text_sort_key`] escapes (see there).
const ESCAPED_MAX: char = '\u{2}';

/// Separates the parts of a [`sort_position`]: below every character of a [`text_sort_key`],
/// so a text that is the start of another sorts first, as in string comparison.
pub const POSITION_SEP: char = '\u{1}';

/// A song's place in the `key` order as one string, ordered exactly as [`compare_by`] orders
/// songs (the id ends every position); stored by the cloud and carried by keyset cursors.
///
/// ```
/// use songrec_storage::query::sort_position;
/// use songrec_storage::{SongId, SongMetadata, SortKey, compare_by};
/// let a = SongMetadata::new(SongId::from_bytes(b"1"), "Track 2");
/// let b = SongMetadata::new(SongId::from_bytes(b"2"), "track 10");
/// assert_eq!(
///     sort_position(&a, SortKey::Title).cmp(&sort_position(&b, SortKey::Title)),
///     compare_by(SortKey::Title, &a, &b)
/// );
/// ```
pub fn sort_position(m: &SongMetadata, key: SortKey) -> String {
    use std::fmt::Write as _;
    const SEP: char = POSITION_SEP;
    let id = m.id.as_str();
    let mut out = match key {
        SortKey::Id => return id.to_owned(),
        SortKey::Title => text_sort_key(&m.title),
        SortKey::Artist => {
            let artist = match &m.artist {
                Some(a) => format!("1{}", text_sort_key(a)),
                None => "0".to_owned(),
            };
            format!("{artist}{SEP}{}", text_sort_key(&m.title))
        }
        SortKey::Created => sortable_time(&m.created_at),
        SortKey::Updated => sortable_time(&m.updated_at),
        SortKey::Bpm => match m.bpm {
            Some(b) => format!("0{}", sortable_f64(f64::from(b))),
            None => "1".to_owned(),
        },
        SortKey::Duration => sortable_f64(m.duration_secs),
    };
    let _ = write!(out, "{SEP}{id}");
    out
}

/// An f64 as 16 hex digits that sort like `f64::total_cmp`.
fn sortable_f64(x: f64) -> String {
    let bits = x.to_bits();
    let key = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    format!("{key:016x}")
}

/// A time as text whose order is the time's for every chrono year: RFC 3339 with nine fraction
/// digits for 0000–9999 (as stored keys hold), a later year as `~` and six digits, an earlier
/// one as `!` and six digits of 1,000,000 plus the year.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use songrec_storage::{SongId, SongMetadata, SortKey, compare_by, query::sort_position};
/// let at = |y: i32| {
///     let mut m = SongMetadata::new(SongId::from_bytes(&y.to_le_bytes()), "x");
///     m.created_at = Utc.with_ymd_and_hms(y, 1, 1, 0, 0, 0).unwrap();
///     m
/// };
/// let years = [-262_143, -1, 0, 1970, 9999, 10_000, 262_142];
/// for w in years.windows(2) {
///     let (a, b) = (at(w[0]), at(w[1]));
///     let keys = sort_position(&a, SortKey::Created).cmp(&sort_position(&b, SortKey::Created));
///     assert_eq!(keys, compare_by(SortKey::Created, &a, &b), "{w:?}");
/// }
/// ```
fn sortable_time(t: &chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Datelike as _;
    let rest = t.format("-%m-%dT%H:%M:%S%.9fZ");
    match t.year() {
        y @ 0..=9999 => format!("{y:04}{rest}"),
        y @ 10_000.. => format!("~{y:06}{rest}"),
        y => format!("!{:06}{rest}", 1_000_000 + i64::from(y)),
    }
}

/// The cursor of a listing page that ended with song `last`, in `key` order: its
/// [`sort_position`] in hex (keyset paging: the next page starts after that position).
pub fn position_cursor(last: &SongMetadata, key: SortKey) -> String {
    format!("{POSITION_CURSOR}{}", hex::encode(sort_position(last, key)))
}

const POSITION_CURSOR: &str = "p";

/// Where a listing page starts, read from its cursor: an offset or after a [`sort_position`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListStart {
    /// This many songs into the order.
    Offset(usize),
    /// After the song at this position.
    After(String),
}

impl ListStart {
    /// Reads a listing cursor ([`position_cursor`], or a number).
    pub fn parse(cursor: Option<&str>) -> StorageResult<Self> {
        let Some(c) = cursor else {
            return Ok(Self::Offset(0));
        };
        let bad = || StorageError::InvalidInput(format!("bad list cursor {c:?}"));
        if let Some(h) = c.strip_prefix(POSITION_CURSOR) {
            let bytes = hex::decode(h).map_err(|_| bad())?;
            return String::from_utf8(bytes).map(Self::After).map_err(|_| bad());
        }
        c.parse().map(Self::Offset).map_err(|_| bad())
    }

    /// The index in `order` (sorted by [`sort_position`], descending if `descending`) where
    /// the page starts: binary search, `position` computed for O(log n) items.
    pub fn index_in<T>(
        &self,
        order: &[T],
        descending: bool,
        position: impl Fn(&T) -> String,
    ) -> usize {
        match self {
            Self::Offset(n) => (*n).min(order.len()),
            Self::After(after) => order.partition_point(|t| {
                let p = position(t);
                if descending { p >= *after } else { p <= *after }
            }),
        }
    }
}

/// Compares two songs under a sort key (ties broken by id, so orders are total). Titles and
/// artists compare by [`text_sort_key`] (case-insensitive, natural order for numbers).
pub fn compare_by(key: SortKey, a: &SongMetadata, b: &SongMetadata) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let by = match key {
        SortKey::Id => Ordering::Equal,
        SortKey::Title => text_sort_key(&a.title).cmp(&text_sort_key(&b.title)),
        SortKey::Artist => a
            .artist
            .as_deref()
            .map(text_sort_key)
            .cmp(&b.artist.as_deref().map(text_sort_key))
            .then_with(|| text_sort_key(&a.title).cmp(&text_sort_key(&b.title))),
        SortKey::Created => a.created_at.cmp(&b.created_at),
        SortKey::Updated => a.updated_at.cmp(&b.updated_at),
        SortKey::Bpm => match (a.bpm, b.bpm) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            // Songs without a tempo last.
            _ => a.bpm.is_none().cmp(&b.bpm.is_none()),
        },
        SortKey::Duration => a.duration_secs.total_cmp(&b.duration_secs),
    };
    by.then_with(|| a.id.cmp(&b.id))
}

/// The text a listing by title or artist compares ([`text_sort_key`]s; artist, NUL, title),
/// or nothing for other orders.
pub fn sort_text(m: &SongMetadata, key: SortKey) -> String {
    match key {
        SortKey::Title => text_sort_key(&m.title),
        SortKey::Artist => format!(
            "{}\u{0}{}",
            m.artist.as_deref().map(text_sort_key).unwrap_or_default(),
            text_sort_key(&m.title)
        ),
        _ => String::new(),
    }
}

/// Sorts like [`compare_by`] (only the `first` n if given), computing each text key once.
pub fn sort_songs<T>(
    hits: &mut Vec<(T, &SongMetadata)>,
    key: SortKey,
    descending: bool,
    first: Option<usize>,
) {
    let text = |m: &SongMetadata| sort_text(m, key);
    let mut keyed: Vec<(String, (T, &SongMetadata))> = std::mem::take(hits)
        .into_iter()
        .map(|(t, m)| (text(m), (t, m)))
        .collect();
    let cmp = |(ka, (_, a)): &(String, (T, &SongMetadata)),
               (kb, (_, b)): &(String, (T, &SongMetadata))| {
        let o = match key {
            SortKey::Title => ka.cmp(kb),
            // Songs without an artist first, as in `compare_by`.
            SortKey::Artist => {
                (a.artist.is_some().cmp(&b.artist.is_some())).then_with(|| ka.cmp(kb))
            }
            _ => compare_by(key, a, b),
        }
        .then_with(|| a.id.cmp(&b.id));
        if descending { o.reverse() } else { o }
    };
    match first {
        // Only the first `n` are wanted: select them (linear), then sort just those.
        Some(n) if n < keyed.len() => {
            if n > 0 {
                keyed.select_nth_unstable_by(n - 1, cmp);
            }
            keyed.truncate(n);
            keyed.sort_by(cmp);
        }
        _ => keyed.sort_by(cmp),
    }
    *hits = keyed.into_iter().map(|(_, tm)| tm).collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_text_keys() {
        let mut titles = vec![
            "track10", "Track2", "track1", "track02", "track", "track 3", "10", "9", "a0", "a00",
        ];
        titles.sort_by_key(|t| text_sort_key(t));
        assert_eq!(
            titles,
            [
                "9", "10", "a0", "a00", "track", "track 3", "track1", "Track2", "track02",
                "track10"
            ]
        );
        let long = "1".repeat(30);
        assert_eq!(
            text_sort_key(&long),
            long,
            "runs over 20 digits are kept whole"
        );
        // The documented limit: exact to 20 digits (every u64), and a longer number is placed
        // above every shorter number that has fewer than 20 digits.
        assert!(text_sort_key(&u64::MAX.to_string()) > text_sort_key(&(u64::MAX - 1).to_string()));
        assert!(text_sort_key("99999999999999999999") > text_sort_key("9999999999999999999"));
        assert!(
            text_sort_key(&format!("1{}", "0".repeat(20))) > text_sort_key("9999999999999999999")
        );
        assert!(
            text_sort_key(&format!("1{}", "0".repeat(20))) < text_sort_key(&"9".repeat(20)),
            "the documented limit: 21 digits against 20 compare digit by digit"
        );
        let many = "7 ".repeat(200);
        assert_eq!(text_sort_key(&many).chars().count(), SORT_KEY_CHARS);
        assert!(text_sort_key(&"x".repeat(300)).len() == SORT_KEY_CHARS);
    }

    #[test]
    fn extreme_offsets_are_refused_without_overflow() {
        let model = ModelInfo::new("m", "1", 2);
        for (k, offset) in [(1, usize::MAX), (usize::MAX, 1), (usize::MAX, usize::MAX)] {
            let mut q = SearchQuery::new(model.clone(), vec![1.0, 0.0], k);
            q.ranking.offset = offset;
            match q.validate() {
                Err(StorageError::InvalidInput(m)) => {
                    assert!(m.contains("k + offset must be at most"), "{m}")
                }
                other => panic!("k {k}, offset {offset}: {other:?}"),
            }
        }
        let mut q = SearchQuery::new(model, vec![1.0, 0.0], 1);
        q.ranking.offset = MAX_RESULTS - 1;
        assert!(q.validate_for(MAX_RESULTS).is_ok());
        q.ranking.k = 2;
        assert!(q.validate_for(MAX_RESULTS).is_err());
        assert!(q.validate().is_ok(), "no limit of its own");
    }
}
