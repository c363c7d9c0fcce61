//! The tag query types and [`parse`]: a text read as weighted tags, and the words to look for
//! in each song's own text.

use serde::Serialize;
use songrec_neural::{MTT_TAGS, TAGS};

use super::vocab::{TagKind, suggestions_for, unique, vocabulary, words};
use crate::{AppError, AppResult};

/// One tag of a query, with its weight (negative: to avoid).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TagTerm {
    /// The model's tag name, as stored (e.g. `"Mellow"`, `"Hip-Hop"`, `"piano"`).
    pub tag: &'static str,
    /// The list it is looked up in.
    #[serde(skip)]
    pub kind: TagKind,
    /// Weight; the positive weights of a query sum to 1 (as do the negative ones, to -1).
    pub weight: f32,
    /// The words it came from.
    pub from: String,
}

/// A text query read as tags (serialised as the answers say how the words were read).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TagQuery {
    /// The words as given.
    pub text: String,
    /// The tags, in the order their words appeared.
    #[serde(rename = "tags")]
    pub terms: Vec<TagTerm>,
    /// Words that are not tags, synonyms or filler (shown to the user).
    #[serde(rename = "unknown_words")]
    pub unknown: Vec<String>,
    /// The words and phrases used, in order (`"not sad"` for a tag to avoid).
    #[serde(rename = "used_words")]
    pub used: Vec<String>,
    /// Every word that was not used: the unknown ones and filler ("the", "music").
    #[serde(rename = "ignored_words")]
    pub ignored: Vec<String>,
    /// The words looked for in each song's own text (title, artist, album, genre, file name,
    /// its tags and free-form fields): every word wanted, tag or not, less filler.
    #[serde(skip)]
    pub text_words: Vec<String>,
}

/// Words that carry no tag and are dropped silently (separated by spaces).
const FILLER: &str = "a an the and or but more most very really some bit little lot lots of with \
    in on for to like that is it music song songs track tracks tune tunes sound sounds sounding \
    style feel feeling vibe vibes kind sort something stuff please rather slightly quite vocals \
    vocal voice singing singer genre";

/// Words that are no filler for tags but too common to look for in titles.
const TEXT_STOP: &[&str] = &[
    "from", "by", "at", "as", "into", "than", "this", "these", "those", "my", "me", "i", "you",
    "your", "we", "our", "its", "be", "are", "was", "up", "out", "about", "just", "too", "so",
];

fn is_filler(w: &str) -> bool {
    FILLER.split_whitespace().any(|f| f == w)
}

/// Words that make the next tag one to avoid.
const NEGATIONS: &[&str] = &["not", "no", "less", "without", "non", "never", "fewer"];

/// The tags a phrase (words joined by single spaces) means, if any: a style tag's name, else a
/// phrase of the [`vocabulary`], else a sound tag's name (so "guitar" and "rock", in both lists,
/// mean the style tag, and "piano" or "slow" the sound tag).
pub(super) fn lookup(phrase: &str) -> Option<Vec<(TagKind, &'static str)>> {
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

/// Most bytes of a words query, at every door: longer text is refused before any work.
pub const MAX_QUERY_BYTES: usize = 1024;
/// Most words of a words query (as [`parse`] splits them: `hip-hop` is two, repeats count).
pub const MAX_QUERY_WORDS: usize = 32;

/// Refuses a words query over [`MAX_QUERY_BYTES`] or [`MAX_QUERY_WORDS`], naming the limit;
/// returns its words otherwise (lower case, accents and punctuation dropped).
pub fn check_query(text: &str) -> AppResult<Vec<String>> {
    let limits =
        format!("a words query holds at most {MAX_QUERY_BYTES} bytes and {MAX_QUERY_WORDS} words");
    if text.len() > MAX_QUERY_BYTES {
        return Err(AppError::Invalid(format!(
            "the words are {} bytes long; {limits}: shorten them",
            text.len()
        )));
    }
    let ws = words(text);
    if ws.len() > MAX_QUERY_WORDS {
        return Err(AppError::Invalid(format!(
            "the text holds {} words; {limits}: shorten it",
            ws.len()
        )));
    }
    Ok(ws)
}

/// Reads `text` as tags and words to find in the songs' own text (see the module docs). An error
/// when the text is over [`MAX_QUERY_BYTES`] or [`MAX_QUERY_WORDS`] ([`check_query`]), or when no
/// word is left once filler is dropped ("the music"); a word that names no tag (`kazoo`) is still
/// looked for in titles, albums and the other fields. Repeated words are looked for once.
pub fn parse(text: &str) -> AppResult<TagQuery> {
    let ws = check_query(text)?;
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
                            .filter(|w| !is_filler(w) && !TEXT_STOP.contains(&w.as_str()))
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
                    if !is_filler(w) {
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
    for v in [&mut text_words, &mut unknown, &mut used, &mut ignored] {
        unique(v);
    }
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
        text: text.to_owned(),
        terms,
        unknown,
        used,
        ignored,
        text_words,
    })
}

/// [`parse`] on tokio's blocking pool, for a server: a query's phrase look-ups and suggestions
/// never hold an async worker (text over the byte limit is refused before anything is spawned).
pub async fn parse_off_workers(text: String) -> AppResult<TagQuery> {
    if text.len() > MAX_QUERY_BYTES {
        check_query(&text)?;
    }
    off_workers(move || parse(&text)).await?
}

/// Runs CPU work of a words query (parsing, scoring, suggestions) on tokio's blocking pool, so
/// a long query never holds an async worker that other requests need.
pub(crate) async fn off_workers<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| AppError::Invalid(format!("scoring the words failed: {e}")))
}

/// The error of a query without a usable word: what was ignored and what is near.
pub(super) fn no_tag_message(text: &str, unknown: &[String]) -> String {
    let near = suggestions_for(unknown);
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

#[cfg(test)]
mod tests {
    #[test]
    fn doc_parse() {
        let q = crate::words::parse("mellow acoustic guitar").unwrap();
        let tags: Vec<&str> = q.terms.iter().map(|t| t.tag).collect();
        assert_eq!(tags, ["Mellow", "acoustic", "guitar"]);
    }

    use super::*;
    use crate::words::no_match_message;

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
    fn queries_are_capped_and_repeats_are_read_once() {
        // 16,000 distinct three-letter words: refused at once, naming the limits.
        let many: Vec<String> = (0..16_000)
            .map(|i: u32| {
                [i / 676, (i / 26) % 26, i % 26]
                    .iter()
                    .map(|&d| char::from(b'a' + d as u8))
                    .collect()
            })
            .collect();
        let started = std::time::Instant::now();
        let e = parse(&many.join(" ")).unwrap_err().to_string();
        assert!(e.contains("at most 1024 bytes and 32 words"), "{e}");
        let e = parse(&many[..MAX_QUERY_WORDS + 1].join(" "))
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds 33 words"), "{e}");
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        // At the cap: read, every repeat (adjacent or not) once.
        let q = parse(&["kazoo", "jaz", "rock"].repeat(10).join(" ")).unwrap();
        assert_eq!(q.text_words, ["kazoo", "jaz", "rock"]);
        assert_eq!(q.unknown, ["kazoo", "jaz"]);
        assert_eq!(
            (q.used.clone(), q.terms.len()),
            (vec!["rock".to_owned()], 1)
        );
        assert_eq!(q.ignored, ["kazoo", "jaz"]);
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
}
