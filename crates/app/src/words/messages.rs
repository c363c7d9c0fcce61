//! Suggestions and messages: the nearest known words, how a query was read, and why nothing
//! matched.

use songrec_neural::{MTT_TAGS, TAGS};
use songrec_storage::{Filter, StorageBackend, StorageBackendExt};

use super::query::{TagQuery, words};
use super::rank::every_page;
use super::vocab::vocabulary;
use crate::ingest::{sound_tags_of, style_tags_of};
use crate::{AppError, AppResult};

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
pub(super) fn no_tag_message(text: &str, unknown: &[String]) -> String {
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

pub(super) fn no_tags() -> AppError {
    AppError::Invalid(
        "no song in the library (or passing the filter) has style tags to search by words: they \
         come from the musicnn embedder; add them with `songrec reembed --embedder musicnn`"
            .into(),
    )
}
