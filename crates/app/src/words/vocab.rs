//! The listener vocabulary: words and phrases mapped onto tags ([`TagKind`]), kept as data in
//! `vocabulary.txt`; how a text is cut into words, and the known words nearest an unknown one.

use songrec_neural::{MTT_TAGS, TAGS};

/// Which of the stored tag lists a tag is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    /// The 50 Million Song Dataset style tags (`extra.style_tags`).
    Style,
    /// The 50 MagnaTagATune sound tags (`extra.sound_tags`: instruments, voice, tempo,
    /// loudness), stored by `musicnn@2`.
    Sound,
}

/// Lowercase words of `text`, `-`, `_` and `/` read as spaces, other punctuation dropped
/// (`&` kept for "r&b").
pub(super) fn words(text: &str) -> Vec<String> {
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
    if c.is_ascii() {
        return c;
    }
    const FROM: &str = "àáâãäåāăąçćčďèéêëēėęěìíîïīįłñńňòóôõöøōőŕřśšşťùúûüūůűųýÿźżž";
    const TO: &str = "aaaaaaaaacccdeeeeeeeeiiiiiilnnnoooooooorrssstuuuuuuuuyyzzz";
    FROM.chars()
        .position(|f| f == c)
        .and_then(|i| TO.chars().nth(i))
        .unwrap_or(c)
}

/// The listener vocabulary: words and phrases → tags, as data (`vocabulary.txt`, see its
/// header), read once. A tag's own name is always understood besides (case-insensitively, `-`
/// and spaces alike).
const VOCABULARY: &str = include_str!("../vocabulary.txt");

/// One word or phrase of the vocabulary and the tags it means.
#[derive(Clone, Debug, PartialEq)]
pub struct VocabularyEntry {
    /// The phrase, as [`parse`](super::parse) compares it (lowercase words joined by single spaces).
    pub phrase: String,
    pub tags: Vec<(TagKind, &'static str)>,
}

/// A test query of the vocabulary file (`? QUERY => tag, ... | ignored: word, ...`).
#[derive(Clone, Debug, PartialEq)]
pub struct VocabularyTest {
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

/// `v` without repeats, first occurrences kept in order.
pub(super) fn unique(v: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    v.retain(|w| seen.insert(w.clone()));
}

/// The [`suggestions`] for each of `unknown`, each once, at most [`MAX_SUGGESTIONS`].
pub(super) fn suggestions_for(unknown: &[String]) -> Vec<String> {
    let mut near: Vec<String> = unknown.iter().flat_map(|w| suggestions(w)).collect();
    unique(&mut near);
    near.truncate(MAX_SUGGESTIONS);
    near
}

/// The tags and vocabulary words nearest to `word`: within an edit distance of a third of its
/// length (at least 1), or sharing its first four letters (all of a shorter word), nearest first.
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
