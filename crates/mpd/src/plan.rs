//! The radio's decisions, as pure functions of the queue, the session and the mix: how many
//! songs to add, which songs seed the mix, which are left out, and which of the mix's songs
//! go into the queue. No I/O here; [`crate::radio`] feeds these from MPD and the library.

use std::collections::HashSet;

use songrec_storage::{SongId, SongMetadata};

use crate::skips::Verdict;

#[derive(Clone, Debug, PartialEq, smart_default::SmartDefault)]
pub struct Rules {
    /// Songs kept queued after the one playing.
    #[default(songrec_config::MpdConfig::default().ahead)]
    pub ahead: usize,
    /// Songs played just before the current one that seed the mix with it.
    #[default = 2]
    pub seed_depth: usize,
    /// No two songs of one artist among the current song, those queued after it and the
    /// songs just played.
    pub no_repeat_artist: bool,
    /// The same for albums.
    pub no_repeat_album: bool,
}

/// Songs to add to a queue of `len` songs whose current song is at `current`: enough for
/// `ahead` after it, counting every song there, queued by hand or not. Nothing without a
/// current song (the radio follows what plays).
pub fn wanted(len: usize, current: Option<usize>, ahead: usize) -> usize {
    match current {
        Some(p) => ahead.saturating_sub(len.saturating_sub(p + 1)),
        None => 0,
    }
}

/// What a radio session has done and heard.
#[derive(Clone, Debug, Default)]
pub struct Session {
    queued: HashSet<SongId>,
    skipped: Vec<SongId>,
    avoided: HashSet<SongId>,
    /// Songs played to a verdict of "played", oldest first.
    played: Vec<SongId>,
    /// Skips since the last play.
    skip_run: usize,
}

impl Session {
    /// The radio queued `id`: never again in this session.
    pub fn queued(&mut self, id: &SongId) {
        self.queued.insert(id.clone());
    }

    /// The listener left `id` with `verdict`.
    pub fn listened(&mut self, id: &SongId, verdict: Verdict) {
        match verdict {
            Verdict::Played => {
                self.played.retain(|p| p != id);
                self.played.push(id.clone());
                self.skip_run = 0;
            }
            Verdict::Skipped => {
                if !self.skipped.contains(id) {
                    self.skipped.push(id.clone());
                }
                self.skip_run += 1;
            }
        }
    }

    /// How many of a just-skipped song's nearest songs to leave out, `per_skip` for a first
    /// skip: the circle grows with each skip in a row (a listener who skips song after song
    /// means the whole region, not one song), up to 8 times.
    pub fn avoid_count(&self, per_skip: usize) -> usize {
        per_skip.saturating_mul(self.skip_run.clamp(1, 8))
    }

    /// Songs that sound like a skipped one: left out of later mixes.
    pub fn avoid(&mut self, ids: impl IntoIterator<Item = SongId>) {
        self.avoided.extend(ids);
    }

    /// The mix's seeds: the current song, then the songs played just before it, newest first
    /// (a seed that drifts with the listening); never a skipped song, nor a played one that
    /// sounds like a song skipped since; the current song when it sounds like a skipped one
    /// only if nothing else seeds.
    pub fn seeds(&self, current: &SongId, depth: usize) -> Vec<SongId> {
        let mut out = vec![current.clone()];
        for p in self.played.iter().rev() {
            if out.len() > depth {
                break;
            }
            if !out.contains(p) && !self.skipped.contains(p) && !self.avoided.contains(p) {
                out.push(p.clone());
            }
        }
        // A current song that sounds like a skipped one seeds only when nothing else does.
        if out.len() > 1 && self.avoided.contains(current) {
            out.remove(0);
        }
        out
    }

    /// Whether `id` may seed a mix when the current song cannot: not skipped in the session,
    /// and not sounding like a song skipped.
    pub fn may_seed(&self, id: &SongId) -> bool {
        !self.skipped.contains(id) && !self.avoided.contains(id)
    }

    /// Songs the mix must leave out: those the radio queued, the skipped ones and their
    /// neighbours, plus `also` (the songs in MPD's queue, recent playlists).
    pub fn exclusions(&self, also: impl IntoIterator<Item = SongId>) -> HashSet<SongId> {
        let mut out: HashSet<SongId> = also.into_iter().collect();
        out.extend(self.queued.iter().cloned());
        out.extend(self.skipped.iter().cloned());
        out.extend(self.avoided.iter().cloned());
        out
    }
}

/// A song of the mix, with the URI MPD plays it by (`None`: it cannot be queued).
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub song: &'a SongMetadata,
    pub uri: Option<String>,
}

fn key(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(|x| x.trim().to_lowercase())
        .filter(|x| !x.is_empty())
}

/// The mix's songs that go into the queue (their indices, in the mix's order, at most `need`):
/// not excluded, with a URI not already queued, and, as `rules` ask, of an artist or album
/// not in `window` (the songs around the current one) nor already picked.
pub fn pick(
    mix: &[Candidate<'_>],
    need: usize,
    exclude: &HashSet<SongId>,
    queued_uris: &HashSet<String>,
    window: &[&SongMetadata],
    rules: &Rules,
) -> Vec<usize> {
    let mut artists: HashSet<String> = HashSet::new();
    let mut albums: HashSet<String> = HashSet::new();
    let note = |m: &SongMetadata, artists: &mut HashSet<String>, albums: &mut HashSet<String>| {
        if rules.no_repeat_artist {
            artists.extend(key(&m.artist));
        }
        if rules.no_repeat_album {
            albums.extend(key(&m.album));
        }
    };
    for m in window {
        note(m, &mut artists, &mut albums);
    }
    let mut picked = Vec::new();
    let mut uris: HashSet<&str> = HashSet::new();
    for (i, c) in mix.iter().enumerate() {
        if picked.len() >= need {
            break;
        }
        let Some(uri) = c.uri.as_deref() else {
            continue;
        };
        let m = c.song;
        if exclude.contains(&m.id)
            || queued_uris.contains(uri)
            || uris.contains(uri)
            || key(&m.artist).is_some_and(|a| artists.contains(&a))
            || key(&m.album).is_some_and(|a| albums.contains(&a))
        {
            continue;
        }
        note(m, &mut artists, &mut albums);
        uris.insert(uri);
        picked.push(i);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn song(name: &str, artist: &str, album: &str) -> SongMetadata {
        let mut m = SongMetadata::new(SongId::from_bytes(name.as_bytes()), name);
        m.artist = Some(artist.into());
        m.album = Some(album.into());
        m
    }

    #[test]
    fn counts_what_follows_the_current_song() {
        assert_eq!(wanted(1, Some(0), 3), 3);
        assert_eq!(wanted(4, Some(0), 3), 0);
        assert_eq!(wanted(4, Some(3), 0), 0);
        // A position past the end (a queue that changed meanwhile) asks for the full count.
        assert_eq!(wanted(2, Some(5), 3), 3);
        assert_eq!(wanted(10, Some(7), 5), 3);
        assert_eq!(wanted(0, None, 5), 0, "nothing without a current song");
    }

    #[test]
    fn picks_in_order_and_keeps_the_rules() {
        let songs = [
            song("a", "X", "1"),
            song("b", "Y", "2"),
            song("c", "Y", "3"),
            song("d", "Z", "1"),
            song("e", "W", "4"),
            song("f", "V", "5"),
        ];
        let uris = ["a.ogg", "b.ogg", "c.ogg", "d.ogg", "e.ogg", "f.ogg"];
        let mix: Vec<Candidate> = songs
            .iter()
            .zip(uris)
            .map(|(song, uri)| Candidate {
                song,
                uri: (uri != "e.ogg").then(|| uri.to_owned()),
            })
            .collect();
        let none = HashSet::new();
        let plain = Rules::default();
        assert_eq!(
            pick(&mix, 3, &none, &HashSet::new(), &[], &plain),
            vec![0, 1, 2]
        );
        // Excluded ids and URIs already in the queue are passed over; e has no URI.
        let excl: HashSet<SongId> = [songs[0].id.clone()].into();
        let queued: HashSet<String> = ["b.ogg".to_owned()].into();
        assert_eq!(pick(&mix, 9, &excl, &queued, &[], &plain), vec![2, 3, 5]);
        // One song per artist and album, counting the window.
        let strict = Rules {
            no_repeat_artist: true,
            no_repeat_album: true,
            ..Rules::default()
        };
        assert_eq!(
            pick(&mix, 9, &none, &HashSet::new(), &[&songs[5]], &strict),
            vec![0, 1]
        );
        assert!(pick(&mix, 0, &none, &HashSet::new(), &[], &plain).is_empty());
    }

    #[test]
    fn skips_steer_the_session() {
        let id = |s: &str| SongId::from_bytes(s.as_bytes());
        let mut s = Session::default();
        s.queued(&id("q"));
        s.listened(&id("x"), Verdict::Skipped);
        s.avoid([id("near-x")]);
        s.listened(&id("p"), Verdict::Played);
        let ex = s.exclusions([id("in-queue")]);
        for x in ["q", "x", "near-x", "in-queue"] {
            assert!(ex.contains(&id(x)), "{x}");
        }
        assert!(!ex.contains(&id("p")));
        assert_eq!(
            s.seeds(&id("x"), 3),
            vec![id("x"), id("p")],
            "a skipped song only seeds while it plays"
        );
        // A song played again moves to the newest place.
        s.listened(&id("o"), Verdict::Played);
        s.listened(&id("p"), Verdict::Played);
        assert_eq!(s.seeds(&id("c"), 2), vec![id("c"), id("p"), id("o")]);
        assert_eq!(s.seeds(&id("c"), 1), vec![id("c"), id("p")]);
    }

    #[test]
    fn each_skip_in_a_row_widens_the_circle() {
        let id = |s: &str| SongId::from_bytes(s.as_bytes());
        let mut s = Session::default();
        s.listened(&id("a"), Verdict::Skipped);
        assert_eq!(s.avoid_count(3), 3);
        s.listened(&id("b"), Verdict::Skipped);
        assert_eq!(s.avoid_count(3), 6);
        s.listened(&id("c"), Verdict::Played);
        assert_eq!(s.avoid_count(3), 3);
    }
}
