//! Messages: how a query was read, and why nothing matched.

use songrec_storage::{Filter, StorageBackend, StorageBackendExt};

use super::query::TagQuery;
use super::rank::every_page;
use super::vocab::{MAX_SUGGESTIONS, suggestions_for, words};
use crate::AppResult;
use crate::extra::{sound_tags_of, style_tags_of};

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
    // Suggestions are edit distances against every known word: off the async workers.
    let q = q.clone();
    super::query::off_workers(move || no_match_message(&q, &carried)).await
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
    let near = suggestions_for(&q.unknown);
    if !near.is_empty() {
        msg.push_str(&format!("; did you mean: {}?", near.join(", ")));
    }
    msg
}
