//! Search by words: `songrec similar --text "mellow acoustic guitar"`.
//!
//! Every song analysed by musicnn carries the model's strongest tag probabilities
//! (`extra.style_tags`, see [`crate::ingest::STYLE_TAGS`]) over the 50 Million Song Dataset
//! tags the model was trained on (rock, jazz, chill, Mellow, female vocalists, ambient, 80s…).
//! Songs analysed by `musicnn@2` also carry the MagnaTagATune network's sound tags
//! (`extra.sound_tags`: piano, violin, flute, drums, slow, fast, quiet, female vocal, choir…),
//! so words naming an instrument, a voice or a tempo are understood too ([`TagKind`]).
//! A text query is read as a weighted set of those tags ([`parse`]): each word or phrase is
//! matched to a tag by name or synonym ("relaxing" → chillout and chill, "rap" → Hip-Hop,
//! "eighties" → 80s); "not", "no", "less", "without" turn the next tag into one to avoid.
//! A song's score ([`TagQuery::score`]) is the weighted sum of its probabilities for those tags
//! (a tag outside its stored strongest ten counts as 0).
//!
//! Alone, the words rank every song that matches the filter ([`by_words`]: one pass over the
//! library's metadata, keeping the best `k`). With a seed song ([`steer`]) they move the
//! query: the seed's nearest neighbours (a wider pool than asked for) are re-ranked by their
//! audio similarity plus the tag score, both standardised over the pool, so "like this song
//! but more electronic" keeps songs that sound like the seed and lifts the electronic ones.
//!
//! This is not a text–audio model (CLAP and the like embed free text and audio in one space):
//! only the 100 tags are understood, so "song with a saxophone solo" or "music for a rainy
//! afternoon" match nothing or one word, and the tags carry the biases of the Last.fm users
//! who made them.

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
}

/// Synonyms and phrases → tags. Longest phrases are matched first; a tag's own name is
/// always understood (case-insensitively, `-` and spaces alike).
const SYNONYMS: &[(&str, &[&str])] = &[
    ("rocky", &["rock"]),
    ("mainstream", &["pop"]),
    ("alt", &["alternative"]),
    ("alt rock", &["alternative rock"]),
    ("independent", &["indie"]),
    ("electronics", &["electronic"]),
    ("synth", &["electronic", "electro"]),
    ("synths", &["electronic", "electro"]),
    ("synthesizer", &["electronic", "electro"]),
    ("edm", &["electronic", "dance"]),
    ("techno", &["electronic", "House"]),
    ("female", &["female vocalists", "female vocalist"]),
    ("woman", &["female vocalists", "female vocalist"]),
    ("women", &["female vocalists", "female vocalist"]),
    ("female vocals", &["female vocalists", "female vocalist"]),
    ("female voice", &["female vocalists", "female vocalist"]),
    ("female singer", &["female vocalists", "female vocalist"]),
    ("male", &["male vocalists"]),
    ("man", &["male vocalists"]),
    ("men", &["male vocalists"]),
    ("male vocals", &["male vocalists"]),
    ("male voice", &["male vocalists"]),
    ("male singer", &["male vocalists"]),
    ("male vocalist", &["male vocalists"]),
    ("dancing", &["dance"]),
    ("danceable", &["dance"]),
    ("club", &["dance", "House"]),
    ("2000s", &["00s"]),
    ("noughties", &["00s"]),
    ("1980s", &["80s"]),
    ("eighties", &["80s"]),
    ("1990s", &["90s"]),
    ("nineties", &["90s"]),
    ("1970s", &["70s"]),
    ("seventies", &["70s"]),
    ("1960s", &["60s"]),
    ("sixties", &["60s"]),
    ("jazzy", &["jazz"]),
    ("swing", &["jazz"]),
    ("pretty", &["beautiful"]),
    ("lovely", &["beautiful"]),
    ("gorgeous", &["beautiful"]),
    ("heavy", &["heavy metal", "hard rock"]),
    ("chilled", &["chillout", "chill"]),
    ("relaxed", &["chillout", "chill"]),
    ("relaxing", &["chillout", "chill"]),
    ("calm", &["chillout", "chill", "Mellow"]),
    ("laid back", &["chillout", "chill"]),
    ("laidback", &["chillout", "chill"]),
    ("lounge", &["chillout", "easy listening"]),
    ("soulful", &["soul"]),
    ("soft", &["Mellow"]),
    ("gentle", &["Mellow"]),
    ("smooth", &["Mellow"]),
    ("quiet", &["Mellow"]),
    ("folky", &["folk"]),
    ("instrumentals", &["instrumental"]),
    ("no vocals", &["instrumental"]),
    ("without vocals", &["instrumental"]),
    ("no singing", &["instrumental"]),
    ("without singing", &["instrumental"]),
    ("punky", &["punk"]),
    ("old", &["oldies"]),
    ("retro", &["oldies"]),
    ("vintage", &["oldies"]),
    ("bluesy", &["blues"]),
    ("atmospheric", &["ambient"]),
    ("drone", &["ambient"]),
    ("soundscape", &["ambient"]),
    ("unplugged", &["acoustic"]),
    ("weird", &["experimental"]),
    ("avant garde", &["experimental"]),
    ("avantgarde", &["experimental"]),
    ("guitars", &["guitar"]),
    ("hiphop", &["Hip-Hop"]),
    ("rap", &["Hip-Hop"]),
    ("partying", &["party"]),
    ("easy", &["easy listening"]),
    ("sensual", &["sexy"]),
    ("hooky", &["catchy"]),
    ("funky", &["funk"]),
    ("prog", &["Progressive rock"]),
    ("progressive", &["Progressive rock"]),
    ("prog rock", &["Progressive rock"]),
    ("r&b", &["rnb"]),
    ("r and b", &["rnb"]),
    ("rhythm and blues", &["rnb"]),
    ("melancholic", &["sad"]),
    ("melancholy", &["sad"]),
    ("gloomy", &["sad"]),
    ("depressing", &["sad"]),
    ("sorrowful", &["sad"]),
    ("cheerful", &["happy"]),
    ("upbeat", &["happy"]),
    ("joyful", &["happy"]),
    ("uplifting", &["happy"]),
    ("house music", &["House"]),
];

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

/// Words that make the next tag one to avoid.
const NEGATIONS: &[&str] = &["not", "no", "less", "without", "non", "never", "fewer"];

/// Lowercase words of `text`, `-`, `_` and `/` read as spaces, other punctuation dropped
/// (`&` kept for "r&b").
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            '-' | '_' | '/' | ',' | ';' | '.' | '!' | '?' | '"' | '\'' | '(' | ')' => ' ',
            c => c,
        })
        .collect::<String>()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The tags a phrase (words joined by single spaces) means, if any: a style tag's name, else a
/// synonym of style tags, else a sound tag's name (so "guitar" and "rock", in both lists, mean
/// the style tag, and "piano" or "slow" the sound tag).
fn lookup(phrase: &str) -> Option<Vec<(TagKind, &'static str)>> {
    let named = |list: &[&'static str]| list.iter().copied().find(|t| words(t).join(" ") == phrase);
    if let Some(t) = named(&TAGS) {
        return Some(vec![(TagKind::Style, t)]);
    }
    if let Some((_, tags)) = SYNONYMS.iter().find(|(s, _)| *s == phrase) {
        return Some(tags.iter().map(|t| (TagKind::Style, *t)).collect());
    }
    named(&MTT_TAGS).map(|t| vec![(TagKind::Sound, t)])
}

/// The longest phrase matched (in words) at the start of `ws`.
const LONGEST_PHRASE: usize = 3;

/// Reads `text` as tags (see the module docs). An error when no word names a tag, listing the
/// tags that are understood.
///
/// ```
/// let q = songrec_app::words::parse("mellow acoustic guitar").unwrap();
/// let tags: Vec<&str> = q.terms.iter().map(|t| t.tag).collect();
/// assert_eq!(tags, ["Mellow", "acoustic", "guitar"]);
/// let q = songrec_app::words::parse("but more electronic, less female vocals").unwrap();
/// assert_eq!(q.terms[0].tag, "electronic");
/// assert!(q.terms[0].weight > 0.0 && q.terms[1].weight < 0.0);
/// assert!(songrec_app::words::parse("saxophone kazoo").is_err());
/// ```
pub fn parse(text: &str) -> AppResult<TagQuery> {
    let ws = words(text);
    let mut raw: Vec<((TagKind, &'static str), bool, String)> = Vec::new();
    let mut unknown = Vec::new();
    let mut negate = false;
    let mut i = 0;
    while i < ws.len() {
        let found = (1..=LONGEST_PHRASE.min(ws.len() - i))
            .rev()
            .find_map(|n| lookup(&ws[i..i + n].join(" ")).map(|tags| (n, tags)));
        match found {
            Some((n, tags)) => {
                let from = ws[i..i + n].join(" ");
                for t in tags {
                    raw.push((t, negate, from.clone()));
                }
                negate = false;
                i += n;
            }
            None => {
                let w = ws[i].as_str();
                if NEGATIONS.contains(&w) {
                    negate = true;
                } else if !FILLER.contains(&w) {
                    unknown.push(w.to_owned());
                }
                i += 1;
            }
        }
    }
    if raw.is_empty() {
        return Err(AppError::Invalid(format!(
            "no word of {text:?} names a tag songrec knows; the style tags (from the musicnn \
             models, with synonyms such as relaxing, rap, eighties, synth) are: {}; the sound \
             tags are: {}",
            TAGS.join(", "),
            MTT_TAGS.join(", ")
        )));
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
    Ok(TagQuery { terms, unknown })
}

impl TagQuery {
    /// The song's score: Σ weight × its stored probability of the tag (0 when the tag is not
    /// among its stored ones); `None` for a song without style tags (not analysed by musicnn).
    pub fn score(&self, m: &SongMetadata) -> Option<f32> {
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

    /// Whether `m` is an answer to the words at all: with a tag to look for, one of its stored
    /// tags must be one of them (a song carrying none of them would only be listed at score
    /// 0); with only tags to avoid, every tagged song is.
    pub fn relevant(&self, m: &SongMetadata) -> bool {
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
    let mut tagged = 0usize;
    let list = ListQuery {
        filter: filter.clone(),
        limit: songrec_storage::query::MAX_PAGE,
        ..ListQuery::default()
    };
    backend
        .for_each_page(&list, |page| {
            for m in page {
                if exclude.contains(&m.id) {
                    continue;
                }
                if let Some(s) = q.score(&m) {
                    tagged += 1;
                    if q.relevant(&m) {
                        top.push(s, ById(m));
                    }
                }
            }
            true
        })
        .await?;
    if tagged == 0 {
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
        for (_, tags) in SYNONYMS {
            for t in *tags {
                assert!(TAGS.contains(t), "synonym target {t} is not a model tag");
            }
        }
        // A sound tag is understood by its own name, as itself unless a style tag or a
        // synonym of style tags has that name.
        for t in MTT_TAGS {
            let q = parse(t).unwrap_or_else(|e| panic!("{t}: {e}"));
            let shadowed = TAGS.iter().any(|s| words(s) == words(t))
                || SYNONYMS.iter().any(|(s, _)| *s == words(t).join(" "));
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
        let q = parse("Relaxing hip-hop from the eighties, not sad, with a saxophone").unwrap();
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
        assert_eq!(q.unknown, ["from", "saxophone"]);
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
        let e = parse("the a of").unwrap_err().to_string();
        assert!(
            e.contains("female vocalists") && e.contains("Hip-Hop"),
            "{e}"
        );
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
