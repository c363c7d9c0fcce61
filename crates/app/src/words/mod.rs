//! Search by words: `songrec similar --text "mellow acoustic guitar"`.
//!
//! Every song analysed by musicnn carries the model's strongest tag probabilities
//! (`extra.style_tags`, see [`crate::extra::STYLE_TAGS`]) over the 50 Million Song Dataset tags the
//! model was trained on (rock, jazz, chill, Mellow, female vocalists, ambient, 80s…). Songs
//! analysed by `musicnn@2` also carry the MagnaTagATune network's sound tags (`extra.sound_tags`:
//! piano, violin, flute, drums, slow, fast, quiet, female vocal, choir…), so words naming an
//! instrument, a voice or a tempo are understood too ([`TagKind`]). A text query is read as a
//! weighted set of those tags ([`parse`]): each word or phrase is matched to tags by name or
//! through a listener vocabulary kept as data (`vocabulary.txt`, [`vocabulary`]: "orchestral" →
//! strings, classical, violin, cello; "chiptune" and "8-bit" → electronic, electro, synth; "lo-fi"
//! → chill, chillout, Mellow; "relaxing" → chillout and chill; "eighties" → 80s; about 250 words
//! and phrases); "not", "no", "less", "without" turn the next tag into one to avoid. The query says
//! which words it used and which it ignored ([`report`]); only a query with no usable word is an
//! error, and it suggests the nearest tags and words ([`suggestions`]). A song's score
//! ([`TagQuery::score`]) is the weighted sum of its probabilities for those tags (a tag outside its
//! stored strongest ten counts as 0).
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
