//! Search by words: `songrec similar --text "mellow acoustic guitar"`.
//!
//! Every song analysed by musicnn carries the model's strongest tag probabilities
//! (`extra.style_tags`, see [`crate::ingest::STYLE_TAGS`]) over the 50 Million Song Dataset
//! tags the model was trained on (rock, jazz, chill, Mellow, female vocalists, ambient, 80s…).
//! Songs analysed by `musicnn@2` also carry the MagnaTagATune network's sound tags
//! (`extra.sound_tags`: piano, violin, flute, drums, slow, fast, quiet, female vocal, choir…),
//! so words naming an instrument, a voice or a tempo are understood too ([`TagKind`]).
//! A text query is read as a weighted set of those tags ([`parse`]): each word or phrase is
//! matched to tags by name or through a listener vocabulary kept as data
//! (`vocabulary.txt`, [`vocabulary`]: "orchestral" → strings, classical, violin, cello;
//! "chiptune" and "8-bit" → electronic, electro, synth; "lo-fi" → chill, chillout, Mellow;
//! "relaxing" → chillout and chill; "eighties" → 80s; about 250 words and phrases); "not",
//! "no", "less", "without" turn the next tag into one to avoid. The query says which words
//! it used and which it ignored ([`report`]); only a query with no usable word is an error,
//! and it suggests the nearest tags and words ([`suggestions`]).
//! A song's score ([`TagQuery::score`]) is the weighted sum of its probabilities for those tags
//! (a tag outside its stored strongest ten counts as 0).
//!
//! Alone, the words rank every song that matches the filter ([`by_words`]: one pass over the
//! library's metadata, keeping the best `k`). With a seed song ([`steer`]) they move the
//! query: the seed's nearest neighbours (a wider pool than asked for) are re-ranked by their
//! audio similarity plus the tag score, both standardised over the pool, so "like this song
//! but more electronic" keeps songs that sound like the seed and lifts the electronic ones.
//!
//! The words are also looked for in each song's own text ([`TagQuery::text_score`]: title,
//! artist, album, genre, file name, its tags and free-form fields), so "flute" finds
//! "Divertissement pour flûte" whatever the model heard, and a song analysed by DSP alone can
//! still be found by its title. When nothing matches, [`nothing_matched`] says why and which
//! words would match songs of this library.
//!
//! This is not a text–audio model (CLAP and the like embed free text and audio in one space):
//! only the 100 tags and the vocabulary's words are understood, so "music for a rainy
//! afternoon" matches nothing, and the tags carry the biases of the Last.fm users and
//! MagnaTagATune annotators who made them.

use std::cmp::Ordering;

use songrec_neural::{MTT_TAGS, TAGS};
use songrec_storage::math::TopK;
use songrec_storage::{
    Filter, ListQuery, Match, SongId, SongMetadata, StorageBackend, StorageBackendExt,
};

use crate::ingest::{sound_tags_of, style_tags_of};
use crate::similar::SimilarRequest;
use crate::{AppError, AppResult};

/// Which of the stored tag lists a tag is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// The 50 Million Song Dataset style tags (`extra.style_tags`).
    Style,
    /// The 50 MagnaTagATune sound tags (`extra.sound_tags`: instruments, voice, tempo,
    /// loudness), stored by `musicnn@2`.
    Sound,
}

/// One tag of a query, with its weight (negative: to avoid).
#[derive(Clone, Debug, PartialEq)]
pub struct TagTerm {
    /// The model's tag name, as stored (e.g. `"Mellow"`, `"Hip-Hop"`, `"piano"`).
    pub tag: &'static str,
    /// The list it is looked up in.
    pub kind: TagKind,
    /// Weight; the positive weights of a query sum to 1 (as do the negative ones, to -1).
    pub weight: f32,
    /// The words it came from.
    pub from: String,
}

/// A text query read as tags.
#[derive(Clone, Debug, PartialEq)]
pub struct TagQuery {
    /// The tags, in the order their words appeared.
    pub terms: Vec<TagTerm>,
    /// Words that are not tags, synonyms or filler (shown to the user).
    pub unknown: Vec<String>,
    /// The words and phrases used, in order (`"not sad"` for a tag to avoid).
    pub used: Vec<String>,
    /// Every word that was not used: the unknown ones and filler ("the", "music").
    pub ignored: Vec<String>,
    /// The words looked for in each song's own text (title, artist, album, genre, file name,
    /// its tags and free-form fields): every word wanted, tag or not, less filler.
    pub text_words: Vec<String>,
}

/// The listener vocabulary: words and phrases → tags, as data (`vocabulary.txt`, see its
/// header), read once. A tag's own name is always understood besides (case-insensitively, `-`
/// and spaces alike).
const VOCABULARY: &str = include_str!("vocabulary.txt");

/// One word or phrase of the vocabulary and the tags it means.
#[derive(Clone, Debug, PartialEq)]
pub struct VocabularyEntry {
    /// The phrase, as [`parse`] compares it (lowercase words joined by single spaces).
    pub phrase: String,
    /// Its tags.
    pub tags: Vec<(TagKind, &'static str)>,
}

/// A test query of the vocabulary file (`? QUERY => tag, ... | ignored: word, ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct VocabularyTest {
    /// The query.
    pub query: String,
    /// Tags that must be among the query's.
    pub tags: Vec<String>,
    /// The words it must ignore, exactly.
    pub ignored: Vec<String>,
}

/// The vocabulary file, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Vocabulary {
    /// Its entries, in file order.
    pub entries: Vec<VocabularyEntry>,
    /// Its test queries.
    pub tests: Vec<VocabularyTest>,
    /// Lines that could not be read, or that name no tag of the models (for the tests).
    pub problems: Vec<String>,
}

/// The stored tag called `name` in the list of `kind`.
fn tag_named(kind: TagKind, name: &str) -> Option<&'static str> {
    let list: &[&'static str] = match kind {
        TagKind::Style => &TAGS,
        TagKind::Sound => &MTT_TAGS,
    };
    list.iter().copied().find(|t| *t == name)
}

fn comma_list(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Reads a vocabulary (the format of `vocabulary.txt`); lines it cannot use are listed in
/// [`Vocabulary::problems`], never a panic.
///
/// ```
/// use songrec_app::words::{read_vocabulary, TagKind};
/// let v = read_vocabulary("# comment\nLo-Fi = chill, sound:beats\nbad line\nx = nosuchtag\n");
/// assert_eq!(v.entries[0].phrase, "lo fi");
/// assert_eq!(v.entries[0].tags, [(TagKind::Style, "chill"), (TagKind::Sound, "beats")]);
/// assert_eq!(v.problems.len(), 2);
/// ```
pub fn read_vocabulary(text: &str) -> Vocabulary {
    let mut v = Vocabulary::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(test) = line.strip_prefix('?') {
            let (query, rest) = test.split_once("=>").unwrap_or((test, ""));
            let (tags, ignored) = rest.split_once("| ignored:").unwrap_or((rest, ""));
            v.tests.push(VocabularyTest {
                query: query.trim().to_owned(),
                tags: comma_list(tags),
                ignored: comma_list(ignored),
            });
            continue;
        }
        let Some((phrase, tags)) = line.split_once('=') else {
            v.problems.push(format!("line {}: no `=`: {line}", n + 1));
            continue;
        };
        let mut found = Vec::new();
        for t in comma_list(tags) {
            let (kind, name) = match t.strip_prefix("sound:") {
                Some(name) => (TagKind::Sound, name.trim()),
                None => (TagKind::Style, t.as_str()),
            };
            match tag_named(kind, name) {
                Some(tag) => found.push((kind, tag)),
                None => v
                    .problems
                    .push(format!("line {}: {t:?} is not a model tag", n + 1)),
            }
        }
        let phrase = words(phrase).join(" ");
        if phrase.is_empty() || comma_list(tags).is_empty() {
            v.problems
                .push(format!("line {}: no phrase or no tag: {line}", n + 1));
            continue;
        }
        if found.is_empty() {
            continue;
        }
        v.entries.push(VocabularyEntry {
            phrase,
            tags: found,
        });
    }
    v
}

/// songrec's vocabulary (`vocabulary.txt`), read once.
pub fn vocabulary() -> &'static Vocabulary {
    static V: std::sync::OnceLock<Vocabulary> = std::sync::OnceLock::new();
    V.get_or_init(|| read_vocabulary(VOCABULARY))
}

/// Words that carry no tag and are dropped silently.
const FILLER: &[&str] = &[
    "a",
    "an",
    "the",
    "and",
    "or",
    "but",
    "more",
    "most",
    "very",
    "really",
    "some",
    "bit",
    "little",
    "lot",
    "lots",
    "of",
    "with",
    "in",
    "on",
    "for",
    "to",
    "like",
    "that",
    "is",
    "it",
    "music",
    "song",
    "songs",
    "track",
    "tracks",
    "tune",
    "tunes",
    "sound",
    "sounds",
    "sounding",
    "style",
    "feel",
    "feeling",
    "vibe",
    "vibes",
    "kind",
    "sort",
    "something",
    "stuff",
    "please",
    "rather",
    "slightly",
    "quite",
    "vocals",
    "vocal",
    "voice",
    "singing",
    "singer",
    "genre",
];

/// Words that are no filler for tags but too common to look for in titles.
const TEXT_STOP: &[&str] = &[
    "from", "by", "at", "as", "into", "than", "this", "these", "those", "my", "me", "i", "you",
    "your", "we", "our", "its", "be", "are", "was", "up", "out", "about", "just", "too", "so",
];

/// Words that make the next tag one to avoid.
const NEGATIONS: &[&str] = &["not", "no", "less", "without", "non", "never", "fewer"];

/// Lowercase words of `text`, `-`, `_` and `/` read as spaces, other punctuation dropped
/// (`&` kept for "r&b").
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            '-' | '_' | '/' | ',' | ';' | '.' | '!' | '?' | '"' | '\'' | '(' | ')' => ' ',
            c => unaccented(c),
        })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A Latin letter without its accent (`é` → `e`, `ø` → `o`), so "flute" finds "flûte";
/// any other character as it is.
fn unaccented(c: char) -> char {
    const FROM: &str = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżž";
    const TO: &str = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzz";
    FROM.chars()
        .position(|f| f == c)
        .and_then(|i| TO.chars().nth(i))
        .unwrap_or(c)
}

/// The tags a phrase (words joined by single spaces) means, if any: a style tag's name, else a
/// phrase of the [`vocabulary`], else a sound tag's name (so "guitar" and "rock", in both lists,
/// mean the style tag, and "piano" or "slow" the sound tag).
fn lookup(phrase: &str) -> Option<Vec<(TagKind, &'static str)>> {
    let named = |list: &[&'static str]| list.iter().copied().find(|t| words(t).join(" ") == phrase);
    if let Some(t) = named(&TAGS) {
        return Some(vec![(TagKind::Style, t)]);
    }
    if let Some(e) = vocabulary().entries.iter().find(|e| e.phrase == phrase) {
        return Some(e.tags.clone());
    }
    named(&MTT_TAGS).map(|t| vec![(TagKind::Sound, t)])
}

/// The longest phrase matched (in words) at the start of `ws`.
const LONGEST_PHRASE: usize = 3;

/// Reads `text` as tags and words to find in the songs' own text (see the module docs). An
/// error only when no word is left once filler is dropped ("the music"); a word that names no
/// tag (`kazoo`) is still looked for in titles, albums and the other fields.
///
/// ```
/// let q = songrec_app::words::parse("mellow acoustic guitar").unwrap();
/// let tags: Vec<&str> = q.terms.iter().map(|t| t.tag).collect();
/// assert_eq!(tags, ["Mellow", "acoustic", "guitar"]);
/// let q = songrec_app::words::parse("but more electronic, less female vocals").unwrap();
/// assert_eq!(q.terms[0].tag, "electronic");
/// assert!(q.terms[0].weight > 0.0 && q.terms[1].weight < 0.0);
/// let q = songrec_app::words::parse("epic orchestral kazoo").unwrap();
/// assert_eq!((q.used.join(" "), q.ignored.join(" ")), ("epic orchestral".into(), "kazoo".into()));
/// assert_eq!(songrec_app::words::parse("kazoo").unwrap().text_words, ["kazoo"]);
/// assert!(songrec_app::words::parse("the music").is_err());
/// ```
pub fn parse(text: &str) -> AppResult<TagQuery> {
    let ws = words(text);
    let mut raw: Vec<((TagKind, &'static str), bool, String)> = Vec::new();
    let (mut unknown, mut used, mut ignored) = (Vec::new(), Vec::new(), Vec::new());
    let mut text_words: Vec<String> = Vec::new();
    // The negation word waiting for its tag, if any.
    let mut negate: Option<String> = None;
    let mut i = 0;
    while i < ws.len() {
        let found = (1..=LONGEST_PHRASE.min(ws.len() - i))
            .rev()
            .find_map(|n| lookup(&ws[i..i + n].join(" ")).map(|tags| (n, tags)));
        match found {
            Some((n, tags)) => {
                let from = ws[i..i + n].join(" ");
                for t in tags {
                    raw.push((t, negate.is_some(), from.clone()));
                }
                if negate.is_none() {
                    text_words.extend(
                        ws[i..i + n]
                            .iter()
                            .filter(|w| {
                                !FILLER.contains(&w.as_str()) && !TEXT_STOP.contains(&w.as_str())
                            })
                            .cloned(),
                    );
                }
                used.push(match negate.take() {
                    Some(neg) => format!("{neg} {from}"),
                    None => from,
                });
                i += n;
            }
            None => {
                let w = ws[i].as_str();
                if NEGATIONS.contains(&w) {
                    if let Some(earlier) = negate.replace(w.to_owned()) {
                        ignored.push(earlier);
                    }
                } else {
                    if !FILLER.contains(&w) {
                        unknown.push(w.to_owned());
                        if negate.is_none() && !TEXT_STOP.contains(&w) {
                            text_words.push(w.to_owned());
                        }
                    }
                    ignored.push(w.to_owned());
                }
                i += 1;
            }
        }
    }
    ignored.extend(negate);
    text_words.dedup();
    if raw.is_empty() && text_words.is_empty() {
        return Err(AppError::Invalid(no_tag_message(text, &unknown)));
    }
    // One term per tag (the first mention decides its sign), weights normalised per sign.
    let mut terms: Vec<TagTerm> = Vec::new();
    for ((kind, tag), neg, from) in raw {
        if terms.iter().any(|t| t.tag == tag && t.kind == kind) {
            continue;
        }
        terms.push(TagTerm {
            tag,
            kind,
            weight: if neg { -1.0 } else { 1.0 },
            from,
        });
    }
    for sign in [1.0f32, -1.0] {
        let n = terms.iter().filter(|t| t.weight * sign > 0.0).count() as f32;
        for t in terms.iter_mut().filter(|t| t.weight * sign > 0.0) {
            t.weight = sign / n;
        }
    }
    Ok(TagQuery {
        terms,
        unknown,
        used,
        ignored,
        text_words,
    })
}

/// Words suggested for a query that named no tag at most.
pub const MAX_SUGGESTIONS: usize = 6;

/// Levenshtein distance of two words, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// The tags and vocabulary words nearest to `word`: within an edit distance of a third of its
/// length (at least 1), or sharing its first four letters (all of a shorter word), nearest
/// first.
///
/// ```
/// let s = songrec_app::words::suggestions("orchestrall");
/// assert_eq!(s[0], "orchestral");
/// assert!(songrec_app::words::suggestions("jaz").contains(&"jazz".to_owned()));
/// assert!(songrec_app::words::suggestions("kazoo").is_empty());
/// ```
pub fn suggestions(word: &str) -> Vec<String> {
    let word = word.to_lowercase();
    let known = TAGS
        .iter()
        .chain(MTT_TAGS.iter())
        .map(|t| words(t).join(" "))
        .chain(vocabulary().entries.iter().map(|e| e.phrase.clone()));
    let len = word.chars().count();
    let mut near: Vec<(usize, usize, String)> = Vec::new();
    for k in known {
        if near.iter().any(|(_, _, n)| *n == k) {
            continue;
        }
        let d = edit_distance(&word, &k);
        let prefix = word
            .chars()
            .zip(k.chars())
            .take_while(|(a, b)| a == b)
            .count();
        if d <= (len / 3).max(1) || prefix >= 4.min(len).max(3) {
            near.push((d, usize::MAX - prefix, k));
        }
    }
    near.sort();
    near.into_iter()
        .map(|(_, _, k)| k)
        .take(MAX_SUGGESTIONS)
        .collect()
}

/// The error of a query without a usable word: what was ignored and what is near.
fn no_tag_message(text: &str, unknown: &[String]) -> String {
    let mut near: Vec<String> = Vec::new();
    for w in unknown {
        for s in suggestions(w) {
            if !near.contains(&s) {
                near.push(s);
            }
        }
    }
    near.truncate(MAX_SUGGESTIONS);
    let hint = if near.is_empty() {
        "listeners' words such as orchestral, chiptune, lo-fi, ambient, chill, epic, dark, \
         happy, sad, retro, synthwave, acoustic, piano, jazz or rock work"
            .to_owned()
    } else {
        format!("did you mean: {}?", near.join(", "))
    };
    format!(
        "no word of {text:?} names a style or sound tag songrec knows{}; {hint} \
         (see `songrec similar --help`)",
        if unknown.is_empty() {
            String::new()
        } else {
            format!(" (ignored: {})", unknown.join(", "))
        }
    )
}

/// The model named in answers to words alone (ranked by the stored tags, not by vectors).
pub const STYLE_TAGS_MODEL: &str = "style_tags";

/// One line on how words were read: "words used: epic, orchestral; ignored: the, kazoo".
///
/// ```
/// let q = songrec_app::words::parse("the epic kazoo").unwrap();
/// assert_eq!(songrec_app::words::report(&q), "words used: epic; ignored: the, kazoo");
/// ```
pub fn report(q: &TagQuery) -> String {
    let mut line = format!("words used: {}", q.used.join(", "));
    if !q.ignored.is_empty() {
        line.push_str(&format!("; ignored: {}", q.ignored.join(", ")));
    }
    line
}

/// Free-form fields that are songrec's own bookkeeping, not words about the song.
const NOT_TEXT: &[&str] = &[
    crate::ingest::STYLE_TAGS,
    crate::ingest::SOUND_TAGS,
    crate::ingest::TAG_SOURCES,
    songrec_discover::fingerprint::EXTRA_KEY,
    "descriptors",
    "codec",
];

/// The words of a song's own text: title, artist, album, genre, file name, its tags and its
/// free-form text fields (strings and lists of strings).
fn text_of(m: &SongMetadata) -> Vec<String> {
    let mut all: Vec<&str> = vec![m.title.as_str(), m.file_name.as_str()];
    all.extend(
        [&m.artist, &m.album, &m.genre]
            .into_iter()
            .flatten()
            .map(String::as_str),
    );
    all.extend(m.tags.iter().map(String::as_str));
    for (k, v) in &m.extra {
        if NOT_TEXT.contains(&k.as_str()) {
            continue;
        }
        match v {
            serde_json::Value::String(t) => all.push(t),
            serde_json::Value::Array(a) => all.extend(a.iter().filter_map(|x| x.as_str())),
            _ => {}
        }
    }
    all.into_iter().flat_map(words).collect()
}

/// `word` or its plural/singular (`flute`, `flutes`) is among `text`.
fn mentions(text: &[String], word: &str) -> bool {
    text.iter().any(|t| {
        t == word || t.strip_suffix('s') == Some(word) || word.strip_suffix('s') == Some(t.as_str())
    })
}

impl TagQuery {
    /// The share of [`TagQuery::text_words`] the song's own text holds (0..1), by whole
    /// words, plurals and accents aside: "flute" finds "Divertissement pour flûte", "battle"
    /// a title, album, genre or field with that word.
    pub fn text_score(&self, m: &SongMetadata) -> f32 {
        if self.text_words.is_empty() {
            return 0.0;
        }
        let text = text_of(m);
        let found = self
            .text_words
            .iter()
            .filter(|w| mentions(&text, w))
            .count();
        found as f32 / self.text_words.len() as f32
    }

    /// The song's score: its tag score ([`TagQuery::tag_score`]) plus its text score
    /// ([`TagQuery::text_score`], so a title holding every word counts as much as the
    /// strongest tags); `None` for a song without style tags whose text holds none of the
    /// words.
    pub fn score(&self, m: &SongMetadata) -> Option<f32> {
        let text = self.text_score(m);
        match self.tag_score(m) {
            Some(t) => Some(t + text),
            None => (text > 0.0).then_some(text),
        }
    }

    /// Σ weight × the song's stored probability of the tag (0 when the tag is not among its
    /// stored ones); `None` for a song without style tags (not analysed by musicnn).
    pub fn tag_score(&self, m: &SongMetadata) -> Option<f32> {
        let style = style_tags_of(m);
        if style.is_empty() {
            return None;
        }
        let sound = sound_tags_of(m);
        Some(
            self.terms
                .iter()
                .map(|t| {
                    let tags = match t.kind {
                        TagKind::Style => &style,
                        TagKind::Sound => &sound,
                    };
                    let p = tags
                        .iter()
                        .find(|(name, _)| name == t.tag)
                        .map_or(0.0, |(_, p)| *p);
                    t.weight * p
                })
                .sum(),
        )
    }

    /// Whether `m` is an answer to the words at all: its own text holds one of the words, or,
    /// with a tag to look for, one of its stored tags is one of them (a song carrying none of
    /// them would only be listed at score 0); with only tags to avoid, every tagged song is.
    pub fn relevant(&self, m: &SongMetadata) -> bool {
        if self.text_score(m) > 0.0 {
            return true;
        }
        if self.terms.is_empty() || style_tags_of(m).is_empty() {
            return false;
        }
        let wanted = |kind: TagKind| -> Vec<&str> {
            self.terms
                .iter()
                .filter(|t| t.weight > 0.0 && t.kind == kind)
                .map(|t| t.tag)
                .collect()
        };
        let (style, sound) = (wanted(TagKind::Style), wanted(TagKind::Sound));
        let carries = |tags: Vec<(String, f32)>, wanted: &[&str]| {
            tags.iter()
                .any(|(name, p)| *p > 0.0 && wanted.contains(&name.as_str()))
        };
        (style.is_empty() && sound.is_empty())
            || carries(style_tags_of(m), &style)
            || carries(sound_tags_of(m), &sound)
    }

    /// "Mellow, acoustic, guitar, not sad": how the words were read.
    pub fn describe(&self) -> String {
        self.terms
            .iter()
            .map(|t| {
                if t.weight < 0.0 {
                    format!("not {}", t.tag)
                } else {
                    t.tag.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Orders kept songs by id only (for [`TopK`]'s tie-break).
struct ById(SongMetadata);

impl PartialEq for ById {
    fn eq(&self, o: &Self) -> bool {
        self.0.id == o.0.id
    }
}
impl Eq for ById {}
impl PartialOrd for ById {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ById {
    fn cmp(&self, o: &Self) -> Ordering {
        self.0.id.cmp(&o.0.id)
    }
}

/// The best `offset + k` songs for the words alone (skipping `offset`), among songs matching
/// `filter` other than `exclude`; `similarity` is the tag score. One pass over the library's
/// metadata, page by page, holding only the best. An error when no song has style tags.
pub async fn by_words(
    backend: &dyn StorageBackend,
    q: &TagQuery,
    k: usize,
    offset: usize,
    filter: &Filter,
    exclude: &[SongId],
) -> AppResult<Vec<Match>> {
    let mut top: TopK<ById> = TopK::new(k.saturating_add(offset));
    let (mut tagged, mut matched) = (0usize, 0usize);
    backend
        .for_each_page(&every_page(filter), |page| {
            for m in page {
                if exclude.contains(&m.id) {
                    continue;
                }
                if !style_tags_of(&m).is_empty() {
                    tagged += 1;
                }
                if let Some(s) = q.score(&m)
                    && q.relevant(&m)
                {
                    matched += 1;
                    top.push(s, ById(m));
                }
            }
            true
        })
        .await?;
    if tagged == 0 && matched == 0 {
        return Err(no_tags());
    }
    Ok(top
        .into_sorted()
        .into_iter()
        .skip(offset)
        .map(|s| Match {
            id: s.key.0.id.clone(),
            similarity: s.score,
            distance: None,
            metadata: s.key.0,
            approximate: false,
        })
        .collect())
}

/// Every song passing `filter`, in the largest pages (for one pass over the metadata).
fn every_page(filter: &Filter) -> ListQuery {
    ListQuery {
        filter: filter.clone(),
        limit: songrec_storage::query::MAX_PAGE,
        ..ListQuery::default()
    }
}

/// Why words alone found nothing, and what would: the query's tags (no song carries them
/// among its strongest) and words (no song's text holds them), the tags the songs passing
/// `filter` carry most (listener words that do match here), and the known words nearest to
/// the words that name no tag. One pass over the metadata; for the error of an empty answer.
pub async fn nothing_matched(
    backend: &dyn StorageBackend,
    q: &TagQuery,
    filter: &Filter,
) -> AppResult<String> {
    let mut carried: std::collections::BTreeMap<String, usize> = Default::default();
    backend
        .for_each_page(&every_page(filter), |page| {
            for m in page {
                // Each song's three strongest style and sound tags.
                let style = style_tags_of(&m);
                let sound = sound_tags_of(&m);
                let strongest = style.iter().take(3).chain(sound.iter().take(3));
                for t in strongest.filter(|t| t.1 > 0.0) {
                    *carried.entry(words(&t.0).join(" ")).or_insert(0) += 1;
                }
            }
            true
        })
        .await?;
    Ok(no_match_message(q, &carried))
}

/// The message of [`nothing_matched`], from the count of songs carrying each tag. Pure.
///
/// ```
/// let q = songrec_app::words::parse("happy upbeat kazo").unwrap();
/// let carried = [("ambient".to_string(), 4), ("electronic".to_string(), 9)].into_iter().collect();
/// let m = songrec_app::words::no_match_message(&q, &carried);
/// assert!(m.contains("happy"), "{m}");
/// assert!(m.contains("electronic (9 songs), ambient (4 songs)"), "{m}");
/// ```
pub fn no_match_message(
    q: &TagQuery,
    carried: &std::collections::BTreeMap<String, usize>,
) -> String {
    let mut common: Vec<(&String, &usize)> = carried.iter().collect();
    common.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut msg = format!(
        "no song matches {:?}: none carries {} among its strongest style and sound tags, and no \
         title, artist, album, genre or field holds {}",
        q.used
            .iter()
            .chain(&q.unknown)
            .cloned()
            .collect::<Vec<_>>()
            .join(" "),
        if q.terms.is_empty() {
            "a tag of these words".to_owned()
        } else {
            format!("the tags {}", q.describe())
        },
        if q.text_words.is_empty() {
            "them".to_owned()
        } else {
            format!("the words {}", q.text_words.join(", "))
        }
    );
    if common.is_empty() {
        msg.push_str(
            "; no song here has style tags (they come from the musicnn embedder: \
             `songrec reembed --embedder musicnn`)",
        );
    } else {
        let top: Vec<String> = common
            .iter()
            .take(MAX_SUGGESTIONS + 2)
            .map(|(t, n)| format!("{t} ({n} song{})", if **n == 1 { "" } else { "s" }))
            .collect();
        msg.push_str(&format!(
            "; words that match songs here: {}",
            top.join(", ")
        ));
    }
    let mut near: Vec<String> = Vec::new();
    for s in q.unknown.iter().flat_map(|w| suggestions(w)) {
        if !near.contains(&s) {
            near.push(s);
        }
    }
    near.truncate(MAX_SUGGESTIONS);
    if !near.is_empty() {
        msg.push_str(&format!("; did you mean: {}?", near.join(", ")));
    }
    msg
}

fn no_tags() -> AppError {
    AppError::Invalid(
        "no song in the library (or passing the filter) has style tags to search by words: they \
         come from the musicnn embedder; add them with `songrec reembed --embedder musicnn`"
            .into(),
    )
}

/// A match of [`steer`]: the song with its audio similarity to the seed and its tag score.
#[derive(Clone, Debug)]
pub struct Steered {
    /// The match; `similarity` is the audio similarity to the seed.
    pub matched: Match,
    /// The song's tag score ([`TagQuery::score`]; 0 without style tags).
    pub tag_score: f32,
}

/// How many neighbours of the seed are re-ranked for `want` results.
pub fn steer_pool(want: usize, max: usize) -> usize {
    want.saturating_mul(5).max(50).min(max)
}

/// The seed's neighbours moved towards the words (see the module docs): the `steer_pool`
/// nearest by sound, re-ranked by standardised similarity + standardised tag score.
pub async fn steer(
    backend: &dyn StorageBackend,
    req: &SimilarRequest,
    q: &TagQuery,
) -> AppResult<Vec<Steered>> {
    let want = req.k.saturating_add(req.offset);
    let mut wide = req.clone();
    wide.k = steer_pool(want, backend.max_results());
    wide.offset = 0;
    let pool = crate::similar::similar(backend, &wide).await?;
    let scored: Vec<(Match, Option<f32>)> = pool
        .into_iter()
        .map(|m| {
            let s = q.score(&m.metadata);
            (m, s)
        })
        .collect();
    if !scored.is_empty() && scored.iter().all(|(_, s)| s.is_none()) {
        return Err(no_tags());
    }
    let sims: Vec<f32> = scored.iter().map(|(m, _)| m.similarity).collect();
    let tags: Vec<f32> = scored.iter().map(|(_, s)| s.unwrap_or(0.0)).collect();
    let order = steer_order(&sims, &tags);
    let mut scored: Vec<Option<(Match, Option<f32>)>> = scored.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .skip(req.offset)
        .take(req.k)
        .filter_map(|i| scored[i].take())
        .map(|(matched, s)| Steered {
            matched,
            tag_score: s.unwrap_or(0.0),
        })
        .collect())
}

/// Indices of the pool, best first, by z(similarity) + z(tag score) (a constant column counts
/// as 0); ties keep the similarity order. Pure, for the tests.
///
/// ```
/// // Equal sound, so the tag decides; then a big tag lead beats a small sound lead.
/// assert_eq!(songrec_app::words::steer_order(&[0.9, 0.9], &[0.1, 0.8]), vec![1, 0]);
/// assert_eq!(songrec_app::words::steer_order(&[0.95, 0.94, 0.5], &[0.0, 0.9, 0.9]), vec![1, 0, 2]);
/// ```
pub fn steer_order(sims: &[f32], tags: &[f32]) -> Vec<usize> {
    let z = |v: &[f32]| -> Vec<f32> {
        let n = v.len().max(1) as f32;
        let mean = v.iter().sum::<f32>() / n;
        let sd = (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n).sqrt();
        v.iter()
            .map(|x| if sd > 1e-9 { (x - mean) / sd } else { 0.0 })
            .collect()
    };
    let (zs, zt) = (z(sims), z(tags));
    let mut idx: Vec<usize> = (0..sims.len()).collect();
    idx.sort_by(|&a, &b| (zs[b] + zt[b]).total_cmp(&(zs[a] + zt[a])).then(a.cmp(&b)));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(id: u8, tags: &[(&str, f32)]) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(&[id]), format!("song {id}"));
        let t: Vec<(String, f32)> = tags.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect();
        m.extra.insert(
            crate::ingest::STYLE_TAGS.into(),
            crate::ingest::style_tags_value(&t),
        );
        m
    }

    #[test]
    fn every_tag_is_understood_by_its_own_name() {
        for t in TAGS {
            let q = parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            assert!(q.terms.iter().any(|x| x.tag == t), "{t}: {q:?}");
        }
        assert!(
            vocabulary().problems.is_empty(),
            "{:?}",
            vocabulary().problems
        );
        // A sound tag is understood by its own name, as itself unless a style tag or a
        // vocabulary phrase (that does not list it) has that name.
        for t in MTT_TAGS {
            let q = parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            let shadowed = TAGS.iter().any(|s| words(s) == words(t))
                || vocabulary().entries.iter().any(|e| {
                    e.phrase == words(t).join(" ") && !e.tags.contains(&(TagKind::Sound, t))
                });
            assert_eq!(
                q.terms
                    .iter()
                    .any(|x| x.tag == t && x.kind == TagKind::Sound),
                !shadowed,
                "{t}: {q:?}"
            );
        }
    }

    #[test]
    fn sound_words_rank_by_the_sound_tags() {
        let q = parse("slow piano, not drums").unwrap();
        let got: Vec<(&str, TagKind, bool)> = q
            .terms
            .iter()
            .map(|t| (t.tag, t.kind, t.weight > 0.0))
            .collect();
        assert_eq!(
            got,
            [
                ("slow", TagKind::Sound, true),
                ("piano", TagKind::Sound, true),
                ("drums", TagKind::Sound, false)
            ]
        );
        let with_sound = |id: u8, sound: &[(&str, f32)]| {
            let mut m = song(id, &[("ambient", 0.5)]);
            let t: Vec<(String, f32)> = sound.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect();
            m.extra.insert(
                crate::ingest::SOUND_TAGS.into(),
                crate::ingest::style_tags_value(&t),
            );
            m
        };
        let piano = with_sound(1, &[("piano", 0.8), ("slow", 0.6), ("drums", 0.1)]);
        let drums = with_sound(2, &[("drums", 0.9), ("fast", 0.7)]);
        // Analysed before sound tags existed: style tags only.
        let old = song(3, &[("ambient", 0.9)]);
        assert!((q.score(&piano).unwrap() - (0.4 + 0.3 - 0.1)).abs() < 1e-6);
        assert!((q.score(&drums).unwrap() + 0.9).abs() < 1e-6);
        assert_eq!(q.score(&old), Some(0.0));
        assert!(q.relevant(&piano) && !q.relevant(&drums) && !q.relevant(&old));
        // Words naming a tag of both lists keep meaning the style tag.
        let q = parse("guitar").unwrap();
        assert_eq!(
            (q.terms[0].tag, q.terms[0].kind),
            ("guitar", TagKind::Style)
        );
    }

    #[test]
    fn phrases_synonyms_negation_and_unknown_words() {
        let q = parse("Relaxing hip-hop from the eighties, not sad, with a kazoo").unwrap();
        let got: Vec<(&str, bool)> = q.terms.iter().map(|t| (t.tag, t.weight > 0.0)).collect();
        assert_eq!(
            got,
            [
                ("chillout", true),
                ("chill", true),
                ("Hip-Hop", true),
                ("80s", true),
                ("sad", false)
            ]
        );
        assert_eq!(q.unknown, ["from", "kazoo"]);
        assert_eq!(q.used, ["relaxing", "hip hop", "eighties", "not sad"]);
        assert_eq!(q.ignored, ["from", "the", "with", "a", "kazoo"]);
        let pos: f32 = q
            .terms
            .iter()
            .filter(|t| t.weight > 0.0)
            .map(|t| t.weight)
            .sum();
        assert!((pos - 1.0).abs() < 1e-6);
        assert_eq!(q.describe(), "chillout, chill, Hip-Hop, 80s, not sad");
        // The longest phrase wins: "alternative rock" is one tag, not two.
        let q = parse("alternative rock").unwrap();
        assert_eq!(q.terms.len(), 1);
        assert_eq!(q.terms[0].tag, "alternative rock");
        // "no vocals" is a phrase (instrumental), not a negation of what follows.
        let q = parse("no vocals, rock").unwrap();
        assert_eq!(q.describe(), "instrumental, rock");
        // No word at all: an error suggesting listeners' words.
        let e = parse("the a of").unwrap_err().to_string();
        assert!(e.contains("orchestral") && e.contains("chiptune"), "{e}");
        // Words naming no tag are looked for in the songs' text; when nothing matches, the
        // message suggests the nearest known words, not a list of every tag.
        let q = parse("orchestrall jaz kazoo").unwrap();
        assert!(q.terms.is_empty());
        assert_eq!(q.text_words, ["orchestrall", "jaz", "kazoo"]);
        let e = no_match_message(&q, &Default::default());
        assert!(
            e.contains("did you mean: orchestral") && e.contains("jazz"),
            "{e}"
        );
        assert!(!e.contains("female vocalists"), "{e}");
        // A dangling negation is ignored, not an error on its own.
        let q = parse("rock, not").unwrap();
        assert_eq!(
            (q.used.clone(), q.ignored.clone()),
            (vec!["rock".to_owned()], vec!["not".to_owned()])
        );
    }

    /// The vocabulary's own test queries (`? QUERY => tags | ignored: words` in
    /// vocabulary.txt), and its reach: at least 60 listener words beyond the tags' names.
    #[test]
    fn the_vocabulary_reads_its_test_queries() {
        let v = vocabulary();
        assert!(v.problems.is_empty(), "{:?}", v.problems);
        assert!(v.tests.len() >= 8, "{:?}", v.tests);
        for t in &v.tests {
            let q = parse(&t.query).unwrap_or_else(|e| panic!("{}: {e}", t.query));
            for tag in &t.tags {
                assert!(
                    q.terms.iter().any(|x| x.tag == tag),
                    "{:?}: no tag {tag} in {}",
                    t.query,
                    q.describe()
                );
            }
            assert_eq!(q.ignored, t.ignored, "{:?}", t.query);
        }
        let listener = [
            "orchestral",
            "cinematic",
            "epic",
            "battle",
            "chiptune",
            "lo fi",
            "ambient",
            "chill",
            "aggressive",
            "dark",
            "happy",
            "sad",
            "retro",
            "8 bit",
            "synthwave",
            "acoustic",
        ];
        for w in listener {
            assert!(lookup(w).is_some(), "{w}");
        }
        let single_words = v.entries.iter().filter(|e| !e.phrase.contains(' ')).count();
        assert!(
            v.entries.len() >= 150 && single_words >= 120,
            "{}",
            v.entries.len()
        );
        // Every phrase once.
        let mut phrases: Vec<&str> = v.entries.iter().map(|e| e.phrase.as_str()).collect();
        phrases.sort_unstable();
        let n = phrases.len();
        phrases.dedup();
        assert_eq!(phrases.len(), n, "a phrase is listed twice");
    }

    #[test]
    fn words_match_titles_albums_genres_and_free_form_fields() {
        let mut flute = song(1, &[("classical", 0.6)]);
        flute.title = "Divertissement pour flûte".into();
        let mut battle = SongMetadata::new(SongId::from_bytes(&[2]), "Boss Battle");
        battle.album = Some("Arcade Nights".into());
        let mut label = song(3, &[("rock", 0.9)]);
        label.extra.insert("label".into(), "Kazoo Records".into());
        label.genre = Some("Garage".into());
        let plain = song(4, &[("rock", 0.9)]);
        // A tag word found in a title: relevant although the tag is not stored.
        let q = parse("flute").unwrap();
        assert!(q.relevant(&flute) && !q.relevant(&plain));
        assert_eq!(q.score(&flute), Some(1.0));
        // An untagged song (DSP only) found by its title; half the words.
        let q = parse("epic battle").unwrap();
        assert!(q.relevant(&battle));
        assert_eq!(q.score(&battle), Some(0.5));
        assert_eq!(q.tag_score(&battle), None);
        // Plurals, free-form fields, genres; negated words are not looked for.
        assert!(parse("flutes").unwrap().relevant(&flute));
        assert!(parse("kazoo").unwrap().relevant(&label));
        assert!(parse("garage").unwrap().relevant(&label));
        assert!(!parse("rock, not battle").unwrap().relevant(&battle));
        assert_eq!(
            parse("music from the battle").unwrap().text_words,
            ["battle"]
        );
        // songrec's own fields are not text.
        let mut fp = plain.clone();
        fp.extra.insert("codec".into(), "flac".into());
        assert!(!parse("flac").unwrap().relevant(&fp));
    }

    #[test]
    fn scores_weigh_the_stored_probabilities() {
        let q = parse("jazz, not metal").unwrap();
        let jazz = song(1, &[("jazz", 0.8), ("metal", 0.1)]);
        let metal = song(2, &[("metal", 0.9)]);
        let none = SongMetadata::new(SongId::from_bytes(&[3]), "untagged");
        assert!((q.score(&jazz).unwrap() - 0.7).abs() < 1e-6);
        assert!((q.score(&metal).unwrap() + 0.9).abs() < 1e-6);
        assert_eq!(q.score(&none), None);
    }

    #[test]
    fn only_songs_carrying_a_wanted_tag_answer_the_words() {
        let q = parse("jazz, not metal").unwrap();
        let jazz = song(1, &[("jazz", 0.8), ("metal", 0.1)]);
        let metal = song(2, &[("metal", 0.9)]);
        let rock = song(3, &[("rock", 0.9)]);
        assert!(q.relevant(&jazz));
        assert!(!q.relevant(&metal), "carries only the tag to avoid");
        assert!(!q.relevant(&rock), "would be listed at score 0");
        // Only tags to avoid: every tagged song is an answer, ranked least-metal first.
        let avoid = parse("not metal").unwrap();
        assert!(avoid.relevant(&rock) && avoid.relevant(&metal));
    }
}
