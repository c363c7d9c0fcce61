//! One recording, several files: which songs are copies of one another.
//!
//! A song's id is the SHA-256 of its file, so an album copy and a compilation copy of one track,
//! or a FLAC and the MP3 made from it, are different songs with nearly the same vectors. Lists
//! meant for listening (playlists, `similar --distinct`) hold one copy of each recording; this
//! module decides what "the same recording" is, in one place:
//!
//! 1. the same audio bytes (equal `content_hash`);
//! 2. when **both** songs carry a fingerprint record (stored in `extra.fingerprint` at ingest,
//!    by `songrec dupes` or `reembed`, see [`crate::fingerprint`]): the same decoded audio
//!    (equal PCM hash), or fingerprints that agree at some alignment ([`same_fingerprint`])
//!    **and** waveform signatures that agree ([`crate::waveform::MIN_SAME`]): see [`verdict`].
//!    Fingerprints that agree over waveforms that do not are songs that *sound alike*
//!    (velocity layers of one cymbal, two songs made of the same parts): different
//!    recordings. Two fingerprinted songs whose fingerprints disagree are different
//!    recordings, whatever their tags say;
//! 3. otherwise (a song without a fingerprint, a clip too short to give one, or an older
//!    record without a waveform signature whose fingerprint agrees): the same
//!    artist and title (case and runs of white space ignored; both must be non-empty) and
//!    durations within [`MAX_DURATION_GAP_SECS`].
//!
//! Groups are the transitive closure of this relation (union–find). Nothing here decodes audio:
//! it reads only metadata, so it is cheap enough for every query.

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
/// use songrec_discover::recording::same_fingerprint;
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
    Same {
        /// The waveform similarity.
        waveform: f32,
    },
    /// Fingerprints agree, waveforms do not: they sound alike but are not copies.
    Alike {
        /// The waveform similarity.
        waveform: f32,
    },
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

/// Lower case with white space trimmed and runs of it made one space; `None` when empty.
///
/// ```
/// use songrec_discover::recording::normalise;
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
            Some(r) => match fingerprint::decode(&r.fp) {
                Ok(items) => (Some(r.pcm), items),
                Err(_) => (Some(r.pcm), Vec::new()),
            },
            None => (None, Vec::new()),
        };
        let tags = match (m.artist.as_deref().and_then(normalise), normalise(&m.title)) {
            (Some(a), Some(t)) => Some((a, t)),
            _ => None,
        };
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

    pub(crate) fn find(&mut self, x: usize) -> usize {
        let mut r = x;
        while self.0[r] != r {
            r = self.0[r];
        }
        let mut y = x;
        while self.0[y] != r {
            let next = self.0[y];
            self.0[y] = r;
            y = next;
        }
        r
    }

    pub(crate) fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            self.0[hi] = lo;
        }
    }
}

/// The recording of each song: `out[i] == out[j]` when songs `i` and `j` are copies of one
/// recording, and `out[i]` is the index of the group's first song (so `out[i] == i` for the
/// first copy of each recording in the given order).
///
/// ```
/// use songrec_discover::recording::groups;
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
    groups_of(&ids)
}

/// [`groups`] over identities already read.
pub fn groups_of(ids: &[Identity]) -> Vec<usize> {
    let n = ids.len();
    let mut uf = UnionFind::new(n);
    // Equal content hashes or PCM hashes.
    let mut by_hash: HashMap<&str, usize> = HashMap::new();
    for (i, s) in ids.iter().enumerate() {
        for h in [&s.content_hash, &s.pcm].into_iter().flatten() {
            match by_hash.get(h.as_str()) {
                Some(&j) => uf.union(i, j),
                None => {
                    by_hash.insert(h.as_str(), i);
                }
            }
        }
    }
    // Fingerprints, compared only where an inverted index finds shared items.
    let printed: Vec<usize> = (0..n)
        .filter(|&i| ids[i].pcm.is_some() && !ids[i].items.is_empty())
        .collect();
    let fps: Vec<Vec<u32>> = printed.iter().map(|&i| ids[i].items.clone()).collect();
    for (a, b) in fingerprint::candidate_pairs(&fps) {
        let (i, j) = (printed[a], printed[b]);
        if uf.find(i) != uf.find(j) && matches!(ids[i].verdict(&ids[j]), Verdict::Same { .. }) {
            uf.union(i, j);
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
                if ids[i].verdict(&ids[j]) == Verdict::Unknown
                    && ids[i].same_by_tags(&ids[j])
                    && uf.find(i) != uf.find(j)
                {
                    uf.union(i, j);
                }
            }
        }
    }
    (0..n).map(|i| uf.find(i)).collect()
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
/// `anchors` (an anchor listed in `ranked` itself is left out too).
///
/// ```
/// use songrec_discover::recording::fold;
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
    let g = groups_of(&ids);
    let a = anchors.len();
    let anchor_groups: Vec<usize> = g[..a].to_vec();
    let mut out = Folded::default();
    let mut slot: HashMap<usize, usize> = HashMap::new();
    for (r, &grp) in g[a..].iter().enumerate() {
        if anchor_groups.contains(&grp) {
            out.anchor_copies += 1;
            continue;
        }
        match slot.get(&grp) {
            Some(&k) => out.copies[k] += 1,
            None => {
                slot.insert(grp, out.kept.len());
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
    use crate::rng::SplitMix;
    use songrec_storage::SongId;

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
    fn groups_are_transitive_and_named_by_their_first_song() {
        let x = song("x", Some("Other"), "Song", 30.0);
        let a = song("a", Some("A"), "T", 100.0);
        let b = song("b", Some("A"), "T", 100.9);
        let c = song("c", Some("A"), "T", 101.8); // 1.8 s from a, 0.9 s from b
        assert_eq!(groups(&[x, c, a, b]), vec![0, 1, 1, 1]);
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
