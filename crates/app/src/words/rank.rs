//! Ranking by words: a song's tag and text scores, the best songs for the words alone
//! ([`by_words`]), and a seed's neighbours steered towards the words ([`steer`]).

use std::cmp::Ordering;

use songrec_storage::math::TopK;
use songrec_storage::{Filter, ListQuery, Match, Ranking, SongMetadata, StorageBackend};

use super::query::{TagQuery, TagTerm, off_workers};
use super::vocab::{TagKind, words};
use crate::extra::{sound_tags_of, style_tags_of};
use crate::probe::Probe;
use crate::{AppError, AppResult};

/// The model named in answers to words alone (ranked by the stored tags, not by vectors).
pub const STYLE_TAGS_MODEL: &str = "style_tags";

/// Free-form fields that are songrec's own bookkeeping, not words about the song.
const NOT_TEXT: &[&str] = &[
    crate::extra::STYLE_TAGS,
    crate::extra::SOUND_TAGS,
    crate::extra::TAG_SOURCES,
    songrec_identity::fingerprint::EXTRA_KEY,
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

/// What the scoring reads of one song, each read once: its stored tags and its own text.
struct Read {
    style: Vec<(String, f32)>,
    sound: Vec<(String, f32)>,
    /// The share of the query's words its text holds.
    text: f32,
}

impl TagQuery {
    fn read(&self, m: &SongMetadata) -> Read {
        let style = style_tags_of(m);
        let sound = if style.is_empty() {
            Vec::new()
        } else {
            sound_tags_of(m)
        };
        Read {
            style,
            sound,
            text: self.text_score(m),
        }
    }

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

    /// The song's score: its tag score (Σ weight × stored probability) plus its text score
    /// ([`TagQuery::text_score`], so a title holding every word counts as much as the strongest
    /// tags); `None` for a song without style tags whose text holds none of the words.
    pub fn score(&self, m: &SongMetadata) -> Option<f32> {
        self.score_of(&self.read(m))
    }

    fn score_of(&self, r: &Read) -> Option<f32> {
        match self.tag_score_of(r) {
            Some(t) => Some(t + r.text),
            None => (r.text > 0.0).then_some(r.text),
        }
    }

    /// Σ weight × the song's stored probability of the tag (0 when the tag is not among its
    /// stored ones); `None` for a song without style tags (not analysed by musicnn).
    fn tag_score_of(&self, r: &Read) -> Option<f32> {
        if r.style.is_empty() {
            return None;
        }
        Some(
            self.terms
                .iter()
                .map(|t| {
                    let tags = match t.kind {
                        TagKind::Style => &r.style,
                        TagKind::Sound => &r.sound,
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

    /// Whether the song is an answer to the words at all: its own text holds one of the words,
    /// or, with a tag to look for, one of its stored tags is one of them (a song carrying none
    /// of them would only be listed at score 0); with only tags to avoid, every tagged song is.
    fn relevant_of(&self, r: &Read) -> bool {
        if r.text > 0.0 {
            return true;
        }
        if self.terms.is_empty() || r.style.is_empty() {
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
        let carries = |tags: &[(String, f32)], wanted: &[&str]| {
            tags.iter()
                .any(|(name, p)| *p > 0.0 && wanted.contains(&name.as_str()))
        };
        (style.is_empty() && sound.is_empty())
            || carries(&r.style, &style)
            || carries(&r.sound, &sound)
    }

    /// [`TagQuery::score`] when the song is relevant, reading its tags and its text once; with
    /// whether it has style tags at all.
    fn judge(&self, m: &SongMetadata) -> (Option<f32>, bool) {
        let r = self.read(m);
        let score = self.score_of(&r).filter(|_| self.relevant_of(&r));
        (score, !r.style.is_empty())
    }

    /// "Mellow, acoustic, guitar, not sad": how the words were read.
    pub fn describe(&self) -> String {
        let not = |t: &TagTerm| if t.weight < 0.0 { "not " } else { "" };
        let terms: Vec<String> = self
            .terms
            .iter()
            .map(|t| format!("{}{}", not(t), t.tag))
            .collect();
        terms.join(", ")
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
/// the filter; `similarity` is the tag score. One pass over the library's metadata, page by
/// page, holding only the best; each page is scored on the blocking pool (the words × each
/// song's text), never on the async workers. An error when no song has style tags.
pub async fn by_words(
    backend: &dyn StorageBackend,
    q: &TagQuery,
    r: &Ranking,
) -> AppResult<Vec<Match>> {
    let mut top: TopK<ById> = TopK::new(r.k.saturating_add(r.offset));
    let (mut tagged, mut matched) = (0usize, 0usize);
    let shared = std::sync::Arc::new(q.clone());
    let mut list = every_page(&r.filter);
    loop {
        let page = backend.list(&list).await?;
        let q = shared.clone();
        let (t, scored) = off_workers(move || {
            let mut tagged = 0usize;
            let mut scored = Vec::new();
            for m in page.items {
                let (score, has_tags) = q.judge(&m);
                tagged += usize::from(has_tags);
                if let Some(s) = score {
                    scored.push((s, m));
                }
            }
            (tagged, scored)
        })
        .await?;
        tagged += t;
        matched += scored.len();
        for (s, m) in scored {
            top.push(s, ById(m));
        }
        match page.next {
            Some(c) => list.cursor = Some(c),
            None => break,
        }
    }
    if tagged == 0 && matched == 0 {
        return Err(no_tags());
    }
    Ok(top
        .into_sorted()
        .into_iter()
        .skip(r.offset)
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
pub(super) fn every_page(filter: &Filter) -> ListQuery {
    ListQuery {
        filter: filter.clone(),
        limit: songrec_storage::query::MAX_PAGE,
        ..ListQuery::default()
    }
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
pub(crate) async fn steer(
    backend: &dyn StorageBackend,
    question: &songrec_rank::Question,
    p: &Probe,
    q: &TagQuery,
) -> AppResult<Vec<Steered>> {
    let r = &question.ranking;
    let mut wide = question.clone();
    wide.ranking.k = steer_pool(r.k.saturating_add(r.offset), backend.max_results());
    wide.ranking.offset = 0;
    let pool = songrec_rank::search(backend, &wide, &p.vectors, &p.exclude).await?;
    let q = q.clone();
    let scored: Vec<(Match, Option<f32>)> = off_workers(move || {
        pool.into_iter()
            .map(|m| {
                let s = q.score(&m.metadata);
                (m, s)
            })
            .collect()
    })
    .await?;
    if !scored.is_empty() && scored.iter().all(|(_, s)| s.is_none()) {
        return Err(no_tags());
    }
    let sims: Vec<f32> = scored.iter().map(|(m, _)| m.similarity).collect();
    let tags: Vec<f32> = scored.iter().map(|(_, s)| s.unwrap_or(0.0)).collect();
    let order = steer_order(&sims, &tags);
    let mut scored: Vec<Option<(Match, Option<f32>)>> = scored.into_iter().map(Some).collect();
    Ok(order
        .into_iter()
        .skip(r.offset)
        .take(r.k)
        .filter_map(|i| scored[i].take())
        .map(|(matched, s)| Steered {
            matched,
            tag_score: s.unwrap_or(0.0),
        })
        .collect())
}

/// Indices of the pool, best first, by z(similarity) + z(tag score) (a constant column counts
/// as 0); ties keep the similarity order. Pure, for the tests.
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

pub(super) fn no_tags() -> AppError {
    AppError::Invalid(
        "no song in the library (or passing the filter) has style tags to search by words: they \
         come from the musicnn embedder; add them with `songrec reembed --embedder musicnn`"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn doc_steer_order() {
        // Equal sound, so the tag decides; then a big tag lead beats a small sound lead.
        assert_eq!(
            crate::words::steer_order(&[0.9, 0.9], &[0.1, 0.8]),
            vec![1, 0]
        );
        assert_eq!(
            crate::words::steer_order(&[0.95, 0.94, 0.5], &[0.0, 0.9, 0.9]),
            vec![1, 0, 2]
        );
    }

    use super::*;
    use crate::words::parse;
    use songrec_storage::SongId;

    impl TagQuery {
        fn tag_score(&self, m: &SongMetadata) -> Option<f32> {
            self.tag_score_of(&self.read(m))
        }

        fn relevant(&self, m: &SongMetadata) -> bool {
            self.relevant_of(&self.read(m))
        }
    }

    fn song(id: u8, tags: &[(&str, f32)]) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(&[id]), format!("song {id}"));
        let t: Vec<(String, f32)> = tags.iter().map(|(n, p)| ((*n).to_owned(), *p)).collect();
        m.extra.insert(
            crate::extra::STYLE_TAGS.into(),
            crate::extra::style_tags_value(&t),
        );
        m
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
                crate::extra::SOUND_TAGS.into(),
                crate::extra::style_tags_value(&t),
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
