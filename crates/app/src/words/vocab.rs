//! The listener vocabulary: words and phrases mapped onto tags, kept as data in
//! `vocabulary.txt`.

use songrec_neural::{MTT_TAGS, TAGS};

use super::query::{TagKind, words};

/// The listener vocabulary: words and phrases → tags, as data (`vocabulary.txt`, see its
/// header), read once. A tag's own name is always understood besides (case-insensitively, `-`
/// and spaces alike).
const VOCABULARY: &str = include_str!("../vocabulary.txt");

/// One word or phrase of the vocabulary and the tags it means.
#[derive(Clone, Debug, PartialEq)]
pub struct VocabularyEntry {
    /// The phrase, as [`parse`](super::parse) compares it (lowercase words joined by single spaces).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::words::parse;
    use crate::words::query::lookup;

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
}
