//! One recording, several files: which songs are copies of one another.
//!
//! A song's id is the SHA-256 of its file, so an album copy and a compilation copy of one track,
//! or a FLAC and the MP3 made from it, are different songs with nearly the same vectors. Lists
//! meant for listening (playlists, `similar --distinct`) hold one copy of each recording; this
//! module decides what "the same recording" is, in one place:
//!
//! 1. the same audio bytes (equal `content_hash`);
//! 2. when **both** songs carry a fingerprint record ([`crate::fingerprint`]): the same decoded
//!    audio (equal PCM hash), or fingerprints **and** waveform signatures that agree
//!    ([`verdict`]) with one song lying whole within the other ([`within`]: a trim, a
//!    re-encode). Fingerprints that agree over waveforms that do not *sound alike*; fingerprints
//!    that disagree are different recordings, whatever the tags say;
//! 3. otherwise (no fingerprint, or a version 1 record without a signature): the same artist
//!    and title (case and runs of white space ignored; both non-empty) and durations within
//!    [`MAX_DURATION_GAP_SECS`].
//!
//! The relation is **not** closed transitively: a song is a copy of the song it is folded into
//! (or deleted for, by `dupes --delete`) only by its own verdict against that song ([`groups`],
//! [`fold`]). Nothing here decodes audio: it reads only metadata, cheap enough for every query.

use std::collections::{BTreeMap, HashMap};

use songrec_storage::SongMetadata;

use crate::fingerprint::{self, EXTRA_KEY, FingerprintRecord};
use crate::waveform::{self, Signature};

/// Durations of two copies may differ by this much (encoder delay and padding, a container's
/// rounding) for the tag rule to call them one recording.
pub const MAX_DURATION_GAP_SECS: f64 = 1.0;

/// Whether two fingerprints show the same recording (the near-duplicate test of `dupes`).
///
/// ```
/// use songrec_identity::recording::same_fingerprint;
/// let a: Vec<u32> = (0..200u32).map(|i| i.wrapping_mul(2654435761)).collect();
/// assert!(same_fingerprint(&a, &a[20..]));
/// let b: Vec<u32> = (0..200u32).map(|i| i.wrapping_mul(40503).rotate_left(7)).collect();
/// assert!(!same_fingerprint(&a, &b));
/// assert!(!same_fingerprint(&a, &[]));
/// ```
pub fn same_fingerprint(a: &[u32], b: &[u32]) -> bool {
    fingerprint::compare(a, b).is_some_and(|al| fingerprint::same_recording(&al, a.len(), b.len()))
}

/// What the fingerprint and the waveform signature say about two songs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Fingerprints and waveforms agree: one recording.
    Same { waveform: f32 },
    /// Fingerprints agree, waveforms do not: they sound alike but are not copies.
    Alike { waveform: f32 },
    /// Fingerprints disagree: different recordings.
    Different,
    /// Nothing to tell: a fingerprint missing or empty, or a signature missing (a version 1
    /// record) where the fingerprints agree.
    Unknown,
}

/// The verdict of two fingerprints (items) and their waveform signatures.
pub fn verdict(a: &[u32], wa: Option<&Signature>, b: &[u32], wb: Option<&Signature>) -> Verdict {
    if a.is_empty() || b.is_empty() {
        return Verdict::Unknown;
    }
    if !same_fingerprint(a, b) {
        return Verdict::Different;
    }
    match (wa, wb) {
        (Some(x), Some(y)) => match waveform::similarity(x, y) {
            Some(w) if w >= waveform::MIN_SAME => Verdict::Same { waveform: w },
            Some(w) => Verdict::Alike { waveform: w },
            // A signature without excerpts (silence): nothing confirms a copy.
            None => Verdict::Alike { waveform: 0.0 },
        },
        _ => Verdict::Unknown,
    }
}

/// Whether the recording of fingerprint `b` (`secs_b` long) lies whole within that of `a`
/// (`secs_a` long): at their best alignment `b` starts no earlier than `a` and ends no later,
/// each within [`MAX_DURATION_GAP_SECS`] (encoder delay and padding). A trim or a re-encode
/// lies within its original; a file joined from the end of one track and the start of another
/// lies within neither, though its fingerprint agrees with both.
///
/// ```
/// use songrec_identity::fingerprint::items_per_sec;
/// use songrec_identity::recording::within;
/// let a: Vec<u32> = (0..400u32).map(|i| i.wrapping_mul(2654435761)).collect();
/// let secs = |items: usize| f64::from(items as f32 / items_per_sec());
/// assert!(within(&a, secs(400), &a[40..], secs(360)), "a trim");
/// assert!(!within(&a[40..], secs(360), &a, secs(400)), "the original is longer");
/// let joined: Vec<u32> = a[200..].iter().chain(&a[..100]).copied().collect();
/// assert!(!within(&a, secs(400), &joined, secs(300)), "runs past the end");
/// ```
pub fn within(a: &[u32], secs_a: f64, b: &[u32], secs_b: f64) -> bool {
    let Some(al) = fingerprint::compare(a, b) else {
        return false;
    };
    let start = f64::from(al.offset_secs());
    secs_a.is_finite()
        && secs_b.is_finite()
        && start >= -MAX_DURATION_GAP_SECS
        && start + secs_b <= secs_a + MAX_DURATION_GAP_SECS
}

/// Lower case with white space trimmed and runs of it made one space; `None` when empty.
///
/// ```
/// use songrec_identity::recording::normalise;
/// assert_eq!(normalise("  The  Beatles\t"), Some("the beatles".to_string()));
/// assert_eq!(normalise(" \n "), None);
/// ```
pub fn normalise(s: &str) -> Option<String> {
    let n = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase();
    (!n.is_empty()).then_some(n)
}

/// What the grouping reads of one song.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    content_hash: Option<String>,
    pcm: Option<String>,
    items: Vec<u32>,
    wave: Option<Signature>,
    tags: Option<(String, String)>,
    duration_secs: f64,
}

impl Identity {
    /// Reads a song's metadata (an unreadable fingerprint record counts as none).
    pub fn of(m: &SongMetadata) -> Self {
        let rec = m
            .extra
            .get(EXTRA_KEY)
            .and_then(FingerprintRecord::from_extra_any);
        let wave = rec.as_ref().and_then(FingerprintRecord::waveform);
        let (pcm, items) = match rec {
            Some(r) => (Some(r.pcm), fingerprint::decode(&r.fp).unwrap_or_default()),
            None => (None, Vec::new()),
        };
        let artist = m.artist.as_deref().and_then(normalise);
        let tags = artist.zip(normalise(&m.title));
        Self {
            content_hash: Some(m.content_hash.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty()),
            pcm: pcm.filter(|p| !p.is_empty()),
            items,
            wave,
            tags,
            duration_secs: m.duration_secs,
        }
    }

    /// What fingerprints and signatures say of this pair ([`Verdict::Unknown`] unless both
    /// songs are fingerprinted).
    fn verdict(&self, other: &Self) -> Verdict {
        if self.pcm.is_none() || other.pcm.is_none() {
            return Verdict::Unknown;
        }
        verdict(
            &self.items,
            self.wave.as_ref(),
            &other.items,
            other.wave.as_ref(),
        )
    }

    /// One is a copy of the other: their verdict is "same recording" and one lies whole
    /// within the other ([`within`]).
    fn copy_of(&self, other: &Self) -> bool {
        let holds =
            |a: &Self, b: &Self| within(&a.items, a.duration_secs, &b.items, b.duration_secs);
        matches!(self.verdict(other), Verdict::Same { .. })
            && (holds(self, other) || holds(other, self))
    }

    fn same_by_tags(&self, other: &Self) -> bool {
        self.tags.is_some()
            && self.tags == other.tags
            && self.duration_secs.is_finite()
            && other.duration_secs.is_finite()
            && (self.duration_secs - other.duration_secs).abs() <= MAX_DURATION_GAP_SECS
    }
}

/// Union–find over song indexes (the smaller root wins, so a group is named by its first song).
pub(crate) struct UnionFind(Vec<usize>);

impl UnionFind {
    pub(crate) fn new(n: usize) -> Self {
        Self((0..n).collect())
    }

    pub(crate) fn find(&mut self, mut x: usize) -> usize {
        while self.0[x] != x {
            self.0[x] = self.0[self.0[x]]; // path halving
            x = self.0[x];
        }
        x
    }

    pub(crate) fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}

/// Which songs are copies of one another, pair by pair: the songs of equal audio (equal content
/// or PCM hashes, an equivalence: each class is named by its first song) and, between classes,
/// the pairs whose own verdict says "same recording" (fingerprints and waveforms, one lying
/// whole within the other; else tags and duration). Never closed transitively: a copy of a copy
/// is not a copy.
pub(crate) struct Links {
    /// The first song of each song's class of equal audio.
    class: Vec<usize>,
    /// For a class's first song, the other classes (by first song) one recording with it.
    same: Vec<Vec<usize>>,
}

impl Links {
    /// The links of `ids` (only the pairs the fingerprint index or equal tags propose are
    /// compared).
    pub(crate) fn of(ids: &[Identity]) -> Self {
        let n = ids.len();
        let mut eq = UnionFind::new(n);
        let mut by_hash: HashMap<&str, usize> = HashMap::new();
        for (i, s) in ids.iter().enumerate() {
            for h in [&s.content_hash, &s.pcm].into_iter().flatten() {
                match by_hash.get(h.as_str()) {
                    Some(&j) => eq.union(i, j),
                    None => {
                        by_hash.insert(h.as_str(), i);
                    }
                }
            }
        }
        let class: Vec<usize> = (0..n).map(|i| eq.find(i)).collect();
        let mut links = Self {
            class,
            same: vec![Vec::new(); n],
        };
        // Fingerprints, compared only where an inverted index finds shared items.
        let printed: Vec<usize> = (0..n)
            .filter(|&i| ids[i].pcm.is_some() && !ids[i].items.is_empty())
            .collect();
        let fps: Vec<Vec<u32>> = printed.iter().map(|&i| ids[i].items.clone()).collect();
        for (a, b) in fingerprint::candidate_pairs(&fps) {
            let (i, j) = (printed[a], printed[b]);
            if ids[i].copy_of(&ids[j]) {
                links.link(i, j);
            }
        }
        // Tags and duration, for pairs the fingerprints do not decide.
        let mut by_tags: BTreeMap<&(String, String), Vec<usize>> = BTreeMap::new();
        for (i, s) in ids.iter().enumerate() {
            if let Some(t) = &s.tags {
                by_tags.entry(t).or_default().push(i);
            }
        }
        for members in by_tags.values() {
            for (x, &i) in members.iter().enumerate() {
                for &j in &members[x + 1..] {
                    if ids[i].verdict(&ids[j]) == Verdict::Unknown && ids[i].same_by_tags(&ids[j]) {
                        links.link(i, j);
                    }
                }
            }
        }
        links
    }

    fn link(&mut self, i: usize, j: usize) {
        let (a, b) = (self.class[i], self.class[j]);
        if a != b && !self.same[a].contains(&b) {
            self.same[a].push(b);
            self.same[b].push(a);
        }
    }

    /// The first song of `i`'s class of equal audio.
    pub(crate) fn class(&self, i: usize) -> usize {
        self.class[i]
    }

    /// Whether songs `i` and `j` are one recording by their own verdict (or equal audio).
    pub(crate) fn same(&self, i: usize, j: usize) -> bool {
        let (a, b) = (self.class[i], self.class[j]);
        a == b || self.same[a].contains(&b)
    }

    /// The classes (by first song) one recording with `i`'s class.
    pub(crate) fn linked(&self, i: usize) -> &[usize] {
        &self.same[self.class[i]]
    }
}

/// The recording of each song: `out[i]` is the index of the song `i` is a copy of, the first
/// song of its group in the given order (`out[i] == i` when no earlier song is a copy of it).
/// A song joins a group only when **its own** verdict against the group's first song says
/// "same recording" (or their audio is equal): copies of copies are not copies. Of two
/// groups it could join, the one of the earlier first song.
///
/// ```
/// use songrec_identity::recording::groups;
/// use songrec_storage::{SongId, SongMetadata};
/// let song = |file: &str, artist: &str, title: &str, secs: f64| {
///     let mut m = SongMetadata::new(SongId::from_bytes(file.as_bytes()), title);
///     m.artist = Some(artist.into());
///     m.duration_secs = secs;
///     m
/// };
/// let songs = [
///     song("a.flac", "Nina Simone", "Sinnerman", 622.4),
///     song("b.mp3", "nina  simone", "SINNERMAN", 622.5),
///     song("c.mp3", "Nina Simone", "Sinnerman", 480.0), // another take
/// ];
/// assert_eq!(groups(&songs), vec![0, 0, 2]);
/// ```
pub fn groups(songs: &[SongMetadata]) -> Vec<usize> {
    let ids: Vec<Identity> = songs.iter().map(Identity::of).collect();
    let links = Links::of(&ids);
    let mut out: Vec<usize> = (0..ids.len()).collect();
    for i in 0..ids.len() {
        let c = links.class(i);
        out[i] = if c < i {
            // Equal audio: wherever the first of its class went.
            out[c]
        } else {
            links
                .linked(i)
                .iter()
                .copied()
                .filter(|&d| d < i && out[d] == d)
                .min()
                .unwrap_or(i)
        };
    }
    out
}

/// What [`fold`] made of a ranked list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Folded {
    /// Indexes (into the ranked list) of the songs kept, best first: the best-ranked copy of
    /// each recording that is not a copy of an anchor.
    pub kept: Vec<usize>,
    /// For each kept song, how many lower-ranked copies of its recording were folded into it.
    pub copies: Vec<usize>,
    /// Songs left out because they are copies of an anchor (a seed, the query song).
    pub anchor_copies: usize,
}

/// Keeps one song per recording from a ranked list (best first), and none of the recordings of
/// `anchors` (an anchor listed in `ranked` itself is left out too). A song is left out as a
/// copy of an anchor only when its own verdict against that anchor says "same recording", and
/// folded into a kept song only when its own verdict against that kept song does; otherwise it
/// is kept (see [`groups`]).
///
/// ```
/// use songrec_identity::recording::fold;
/// use songrec_storage::{SongId, SongMetadata};
/// let song = |file: &str, title: &str| {
///     let mut m = SongMetadata::new(SongId::from_bytes(file.as_bytes()), title);
///     m.artist = Some("Orbital".into());
///     m.duration_secs = 300.0;
///     m
/// };
/// let seed = song("seed.flac", "Halcyon");
/// let ranked = [song("seed.mp3", "Halcyon"), song("a.flac", "Belfast"),
///               song("b.flac", "Chime"), song("a.mp3", "Belfast")];
/// let f = fold(&[seed], &ranked);
/// assert_eq!(f.kept, vec![1, 2]);
/// assert_eq!(f.copies, vec![1, 0]);
/// assert_eq!(f.anchor_copies, 1);
/// ```
pub fn fold(anchors: &[SongMetadata], ranked: &[SongMetadata]) -> Folded {
    let ids: Vec<Identity> = anchors.iter().chain(ranked).map(Identity::of).collect();
    let links = Links::of(&ids);
    let a = anchors.len();
    let mut out = Folded::default();
    // Kept songs' classes → their slot; every class seen → the slot its songs go to.
    let mut keeper: HashMap<usize, usize> = HashMap::new();
    let mut placed: HashMap<usize, usize> = HashMap::new();
    for r in 0..ranked.len() {
        let i = a + r;
        if (0..a).any(|x| links.same(x, i)) {
            out.anchor_copies += 1;
            continue;
        }
        let c = links.class(i);
        let slot = placed.get(&c).copied().or_else(|| {
            links
                .linked(i)
                .iter()
                .filter_map(|d| keeper.get(d).copied())
                .min()
        });
        match slot {
            Some(k) => {
                out.copies[k] += 1;
                placed.insert(c, k);
            }
            None => {
                let k = out.kept.len();
                keeper.insert(c, k);
                placed.insert(c, k);
                out.kept.push(r);
                out.copies.push(0);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::SongId;
    use songrec_storage::rng::SplitMix;

    fn song(file: &str, artist: Option<&str>, title: &str, secs: f64) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(file.as_bytes()), title);
        m.artist = artist.map(str::to_owned);
        m.duration_secs = secs;
        m
    }

    /// One signature for every song: only the fingerprints differ.
    fn wave() -> Signature {
        Signature {
            excerpts: vec![waveform::Excerpt {
                at: 0,
                signs: (0..256).map(|i| (i * 7919) % 13 < 6).collect(),
            }],
        }
    }

    fn printed(m: SongMetadata, pcm: &str, items: &[u32]) -> SongMetadata {
        printed_with(m, pcm, items, Some(&wave()))
    }

    fn printed_with(
        mut m: SongMetadata,
        pcm: &str,
        items: &[u32],
        wave: Option<&Signature>,
    ) -> SongMetadata {
        let mut rec = FingerprintRecord::new(items, pcm.into(), m.duration_secs);
        if let Some(w) = wave {
            rec = rec.with_waveform(w);
        }
        m.extra
            .insert(EXTRA_KEY.into(), serde_json::to_value(rec).unwrap());
        m
    }

    fn random_items(seed: u64, n: usize) -> Vec<u32> {
        let mut r = SplitMix::new(seed);
        (0..n).map(|_| r.next_u64() as u32).collect()
    }

    #[test]
    fn duration_must_be_within_a_second() {
        let a = song("a", Some("A"), "T", 100.0);
        let near = song("b", Some("A"), "T", 101.0);
        let far = song("c", Some("A"), "T", 101.01);
        assert_eq!(groups(&[a.clone(), near]), vec![0, 0], "1.0 s apart");
        assert_eq!(groups(&[a.clone(), far]), vec![0, 1], "just over 1 s apart");
        let mut nan = song("d", Some("A"), "T", f64::NAN);
        assert_eq!(groups(&[a.clone(), nan.clone()]), vec![0, 1]);
        nan.duration_secs = f64::INFINITY;
        let mut inf = song("e", Some("A"), "T", f64::INFINITY);
        assert_eq!(groups(&[nan, inf.clone()]), vec![0, 1], "no duration");
        inf.duration_secs = 100.5;
        assert_eq!(groups(&[a, inf]), vec![0, 0]);
    }

    #[test]
    fn tags_are_compared_without_case_and_spacing() {
        let a = song("a", Some("Daft Punk"), "One More Time", 320.0);
        let b = song("b", Some("  daft   PUNK "), "one more\ttime", 320.4);
        let other_title = song("c", Some("Daft Punk"), "One More Time (Live)", 320.0);
        let other_artist = song("d", Some("Daft Punks"), "One More Time", 320.0);
        assert_eq!(groups(&[a, b, other_title, other_artist]), vec![0, 0, 2, 3]);
    }

    #[test]
    fn missing_tags_never_match() {
        // Title only (no artist): two different files that happen to share a file-name title.
        let a = song("a", None, "Track 01", 200.0);
        let b = song("b", None, "Track 01", 200.0);
        let empty = song("c", Some(" "), "Track 01", 200.0);
        let no_title = song("d", Some("X"), "  ", 200.0);
        let no_title2 = song("e", Some("X"), "", 200.0);
        assert_eq!(
            groups(&[a, b, empty, no_title, no_title2]),
            vec![0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn same_bytes_or_same_audio_are_one_recording_whatever_the_tags() {
        let mut a = song("a", Some("A"), "One", 10.0);
        let mut b = song("b", Some("B"), "Two", 50.0);
        a.content_hash = "ab".repeat(32);
        b.content_hash = "AB".repeat(32);
        assert_eq!(groups(&[a, b]), vec![0, 0], "equal content hashes");
        let items = random_items(1, 300);
        let c = printed(song("c", None, "x", 10.0), "p1", &[]);
        let d = printed(song("d", None, "y", 99.0), "p1", &items);
        assert_eq!(groups(&[c, d]), vec![0, 0], "equal PCM hashes");
    }

    #[test]
    fn fingerprints_decide_when_both_songs_have_one() {
        let items = random_items(2, 300);
        let mut noisy = items[30..].to_vec();
        for (i, x) in noisy.iter_mut().enumerate() {
            *x ^= 1 << (i % 32); // one bit in 32 differs: ~3 %
        }
        // Untagged copies: only the fingerprints can tell.
        let a = printed(song("a", None, "clip", 60.0), "p1", &items);
        let b = printed(song("b", None, "clip-trimmed", 50.0), "p2", &noisy);
        // Same tags and duration but other music: the fingerprints say no.
        let c = printed(song("c", Some("A"), "T", 60.0), "p3", &items);
        let d = printed(song("d", Some("A"), "T", 60.0), "p4", &random_items(3, 300));
        assert_eq!(groups(&[a, b]), vec![0, 0]);
        assert_eq!(groups(&[c.clone(), d]), vec![0, 1]);
        // One side without a fingerprint: the tags decide.
        let e = song("e", Some("a"), "t", 60.5);
        assert_eq!(groups(&[c.clone(), e.clone()]), vec![0, 0]);
        // A fingerprint record with no items (a clip too short to fingerprint): tags decide.
        let f = printed(song("f", Some("A"), "T", 60.2), "p5", &[]);
        assert_eq!(groups(&[c, f]), vec![0, 0]);
    }

    #[test]
    fn agreeing_fingerprints_need_agreeing_waveforms() {
        let items = random_items(4, 300);
        let mut r = SplitMix::new(5);
        let other = Signature {
            excerpts: vec![waveform::Excerpt {
                at: 0,
                signs: (0..256).map(|_| r.next_u64() & 1 == 1).collect(),
            }],
        };
        // Same fingerprint, same tags, other waveform: two takes that sound alike, never one.
        let a = printed(song("a", Some("A"), "Crash", 2.0), "p1", &items);
        let b = printed_with(
            song("b", Some("A"), "Crash", 2.0),
            "p2",
            &items,
            Some(&other),
        );
        assert_eq!(groups(&[a.clone(), b]), vec![0, 1]);
        // A version 1 record (no signature): the fingerprint alone no longer folds; tags do.
        let mut old = printed_with(song("c", None, "x", 2.0), "p3", &items, None);
        old.extra.get_mut(EXTRA_KEY).unwrap()["v"] = 1.into();
        assert_eq!(groups(&[a.clone(), old.clone()]), vec![0, 1]);
        old.artist = Some("A".into());
        old.title = "crash".into();
        assert_eq!(groups(&[a.clone(), old.clone()]), vec![0, 0], "tags decide");
        // ... but a version 1 record's disagreeing fingerprint still says "different".
        let mut old2 = printed_with(
            song("d", Some("A"), "Crash", 2.0),
            "p4",
            &random_items(6, 300),
            None,
        );
        old2.extra.get_mut(EXTRA_KEY).unwrap()["v"] = 1.into();
        assert_eq!(groups(&[a, old2]), vec![0, 1]);
    }

    #[test]
    fn groups_are_not_transitive_and_named_by_their_first_song() {
        let x = song("x", Some("Other"), "Song", 30.0);
        let a = song("a", Some("A"), "T", 100.0);
        let b = song("b", Some("A"), "T", 100.9);
        let c = song("c", Some("A"), "T", 101.8); // 1.8 s from a, 0.9 s from b
        // b is a copy of c (0.9 s) and of a (0.9 s); a is no copy of c (1.8 s): a stands apart.
        assert_eq!(
            groups(&[x.clone(), c.clone(), a.clone(), b.clone()]),
            vec![0, 1, 2, 1]
        );
        // Equal audio follows its class: a second file of b's bytes goes where b went.
        let mut b2 = song("b2", None, "b again", 50.0);
        b2.content_hash = "ab".repeat(32);
        let mut b = b;
        b.content_hash = "AB".repeat(32);
        assert_eq!(
            groups(&[a.clone(), b.clone(), b2.clone(), c.clone()]),
            vec![0, 0, 0, 3]
        );
        // With b first, a and c are both copies of b, not of each other.
        assert_eq!(groups(&[b.clone(), a.clone(), c.clone()]), vec![0, 0, 0]);
        let f = fold(std::slice::from_ref(&a), &[b, c, x]);
        assert_eq!(
            (f.kept, f.anchor_copies),
            (vec![1, 2], 1),
            "c is no copy of a"
        );
    }

    #[test]
    fn a_file_joined_from_two_recordings_folds_neither_into_the_other() {
        // B = the end of A then the start of C: its fingerprint agrees with both.
        let a_items = random_items(11, 300);
        let c_items = random_items(12, 300);
        let b_items: Vec<u32> = a_items[100..]
            .iter()
            .chain(&c_items[..200])
            .copied()
            .collect();
        let a = printed(song("a", None, "A", 50.0), "pa", &a_items);
        let b = printed(song("b", None, "B", 43.0), "pb", &b_items);
        let c = printed(song("c", None, "C", 50.0), "pc", &c_items);
        // Its verdict says "same recording" against both, but it lies within neither.
        for (x, y) in [(&a, &b), (&b, &c)] {
            let (ix, iy) = (Identity::of(x), Identity::of(y));
            assert!(matches!(ix.verdict(&iy), Verdict::Same { .. }));
            assert!(!ix.copy_of(&iy));
        }
        assert_eq!(groups(&[a.clone(), b.clone(), c.clone()]), vec![0, 1, 2]);
        let f = fold(std::slice::from_ref(&a), &[b.clone(), c.clone()]);
        assert_eq!(
            (f.kept, f.anchor_copies),
            (vec![0, 1], 0),
            "B and C kept beside A"
        );
        // A trim of A (its first 40 items cut) is a copy of A, not of B.
        let trim = printed(song("t", None, "A trimmed", 45.0), "pt", &a_items[40..]);
        assert_eq!(groups(&[a.clone(), b.clone(), c, trim]), vec![0, 1, 2, 0]);
    }

    #[test]
    fn fold_keeps_the_best_copy_and_drops_the_anchors_recording() {
        let seed = song("seed", Some("S"), "Seed", 60.0);
        let ranked = [
            song("s2", Some("s"), "seed", 60.3),   // copy of the seed
            song("a1", Some("A"), "Alpha", 90.0),  // kept
            song("b1", Some("B"), "Beta", 90.0),   // kept
            song("a2", Some("A"), "ALPHA", 90.5),  // folded into a1
            song("s3", Some("S"), "Seed", 59.5),   // copy of the seed
            song("a3", Some("a"), "alpha", 89.6),  // folded into a1
            song("seed", Some("S"), "Seed", 60.0), // the seed itself
        ];
        let f = fold(std::slice::from_ref(&seed), &ranked);
        assert_eq!(f.kept, vec![1, 2]);
        assert_eq!(f.copies, vec![2, 0]);
        assert_eq!(f.copies.iter().sum::<usize>(), 2);
        assert_eq!(f.anchor_copies, 3);
        // No anchors: the seed's copies are one more group.
        let f = fold(&[], &ranked);
        assert_eq!(f.kept, vec![0, 1, 2]);
        // s2 keeps its group; s3 and the seed are its two copies.
        assert_eq!(f.copies, vec![2, 2, 0]);
        assert_eq!(f.anchor_copies, 0);
    }
}
