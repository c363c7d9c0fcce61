//! Search by words: `songrec similar --text "mellow acoustic guitar"`.
//!
//! A text is read as a weighted set of the tags musicnn stores with each song ([`parse`]): its
//! style tags (`extra.style_tags`, [`crate::extra::STYLE_TAGS`]) and, for `musicnn@2`, its sound
//! tags (`extra.sound_tags`: instruments, voice, tempo; [`TagKind`]), matched by name or through
//! the listener vocabulary kept as data (`vocabulary.txt`, [`vocabulary`]); "not", "no", "less",
//! "without" turn the next tag into one to avoid. The words are also looked for in each song's
//! own text ([`TagQuery::text_score`]). Alone they rank every song passing the filter
//! ([`by_words`]); with a seed song ([`steer`]) they re-rank the seed's nearest neighbours by
//! standardised audio similarity plus tag score. This is not a text–audio model: only the tags
//! and the vocabulary's words are understood ([`report`], [`nothing_matched`] say so).

mod messages;
mod query;
mod rank;
mod vocab;

pub use messages::{no_match_message, nothing_matched, report};
pub use query::{
    MAX_QUERY_BYTES, MAX_QUERY_WORDS, TagQuery, TagTerm, check_query, parse, parse_off_workers,
};
pub(crate) use rank::steer;
pub use rank::{STYLE_TAGS_MODEL, Steered, by_words, steer_order, steer_pool};
pub use vocab::{
    MAX_SUGGESTIONS, TagKind, Vocabulary, VocabularyEntry, VocabularyTest, read_vocabulary,
    suggestions, vocabulary,
};
