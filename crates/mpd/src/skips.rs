//! Telling a skip from a play: a pure function of what the player reports (the song playing, its
//! position, whether it plays, and when that was seen), so verdicts replay from a log.
//!
//! **The rule**: a song left before [`SkipRule::min_secs`] (30 s) of listening, or before
//! [`SkipRule::min_fraction`] (half) of its length when that comes first (a 40 s song left
//! after 25 s was heard), is a skip; anything longer is a play. How long a song was heard is
//! its position when last seen plus the time it went on playing since, never more than its
//! length, so a song that ran to its end is a play even though the player said nothing while
//! it played.

use std::time::Duration;

/// When a song counts as skipped.
#[derive(Clone, Copy, Debug, PartialEq, smart_default::SmartDefault)]
pub struct SkipRule {
    /// Heard for less than this is a skip (default: `[mpd] skip_secs`'s).
    #[default(songrec_config::MpdConfig::default().skip_secs)]
    pub min_secs: f64,
    /// ... or less than this share of its length, when that is shorter (default: `[mpd]
    /// skip_fraction`'s).
    #[default(songrec_config::MpdConfig::default().skip_fraction)]
    pub min_fraction: f64,
}

impl SkipRule {
    /// Whether a song of `length` (unknown: `None`) heard for `heard` was skipped.
    pub fn is_skip(&self, heard: Duration, length: Option<Duration>) -> bool {
        let half = length.map_or(f64::INFINITY, |l| l.as_secs_f64() * self.min_fraction);
        heard.as_secs_f64() < self.min_secs.min(half)
    }
}

/// The song a player has current.
#[derive(Clone, Debug, PartialEq)]
pub struct Current {
    /// The queue entry's id (the same song queued twice has two).
    pub entry: u64,
    /// What it plays (MPD: the URI).
    pub uri: String,
    pub length: Option<Duration>,
}

/// What the player said at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    /// When, on any clock that only goes forward (e.g. time since the session began).
    pub at: Duration,
    /// The current song, if any.
    pub current: Option<Current>,
    /// Its position.
    pub elapsed: Duration,
    /// Whether it is playing (not paused or stopped).
    pub playing: bool,
}

/// The verdict on a song the player left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Played,
    Skipped,
}

/// A song the player left, and how.
#[derive(Clone, Debug, PartialEq)]
pub struct Listen {
    pub uri: String,
    /// How long it was heard (at most its length).
    pub heard: Duration,
    pub verdict: Verdict,
}

/// Follows the player's observations and judges each song it leaves.
#[derive(Clone, Debug)]
pub struct Tracker {
    rule: SkipRule,
    last: Option<Observation>,
}

impl Tracker {
    pub fn new(rule: SkipRule) -> Self {
        Self { rule, last: None }
    }

    /// Takes the next observation; returns the verdict on the song it shows the player left.
    /// Observations of the same song update how much of it was heard.
    pub fn observe(&mut self, now: Observation) -> Option<Listen> {
        let before = self.last.replace(now);
        let now = self.last.as_ref()?;
        let before = before?;
        let left = before.current.as_ref()?;
        if now.current.as_ref().is_some_and(|c| c.entry == left.entry) {
            return None;
        }
        let ran = if before.playing {
            now.at.saturating_sub(before.at)
        } else {
            Duration::ZERO
        };
        let mut heard = before.elapsed.saturating_add(ran);
        if let Some(l) = left.length {
            heard = heard.min(l);
        }
        let verdict = if self.rule.is_skip(heard, left.length) {
            Verdict::Skipped
        } else {
            Verdict::Played
        };
        Some(Listen {
            uri: left.uri.clone(),
            heard,
            verdict,
        })
    }

    /// Forgets the song playing (after a reconnection, what happened meanwhile is unknown).
    pub fn forget(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    fn obs(at: u64, entry: Option<u64>, elapsed: u64, playing: bool) -> Observation {
        Observation {
            at: s(at),
            current: entry.map(|e| Current {
                entry: e,
                uri: format!("song{e}.ogg"),
                length: Some(s(100)),
            }),
            elapsed: s(elapsed),
            playing,
        }
    }

    /// Replays a log of observations; returns each verdict as (uri, heard secs, skipped).
    fn replay(rule: SkipRule, log: &[Observation]) -> Vec<(String, u64, bool)> {
        let mut t = Tracker::new(rule);
        log.iter()
            .filter_map(|o| t.observe(o.clone()))
            .map(|l| (l.uri, l.heard.as_secs(), l.verdict == Verdict::Skipped))
            .collect()
    }

    #[test]
    fn judges_each_song_left() {
        let log = [
            obs(0, Some(1), 0, true),
            // A pause at 10 s, resumed 60 s later: the pause is not listening.
            obs(10, Some(1), 10, false),
            obs(70, Some(1), 10, true),
            // Left at 10 + 15 = 25 s: a skip.
            obs(85, Some(2), 0, true),
            // Song 2 runs to its end unobserved, then the queue ends: a play, heard 100 s.
            obs(400, None, 0, false),
        ];
        assert_eq!(
            replay(SkipRule::default(), &log),
            vec![
                ("song1.ogg".into(), 25, true),
                ("song2.ogg".into(), 100, false)
            ]
        );
    }

    #[test]
    fn skips_are_short_listens() {
        let r = SkipRule::default();
        assert!(r.is_skip(s(10), Some(s(200))));
        assert!(!r.is_skip(s(31), Some(s(200))));
        assert!(!r.is_skip(s(21), Some(s(40))), "past half of a short song");
        assert!(r.is_skip(s(29), None));
    }

    #[test]
    fn the_rule_is_configurable() {
        let log = [obs(0, Some(1), 0, true), obs(20, Some(2), 0, true)];
        assert!(replay(SkipRule::default(), &log)[0].2);
        let lenient = SkipRule {
            min_secs: 10.0,
            min_fraction: 0.5,
        };
        assert!(!replay(lenient, &log)[0].2);
        let by_share = SkipRule {
            min_secs: 1000.0,
            min_fraction: 0.1,
        };
        assert!(!replay(by_share, &log)[0].2, "20 s of 100 s is past 10 %");
    }

    #[test]
    fn the_same_song_again_is_a_new_entry_and_a_restart_forgets() {
        let log = [obs(0, Some(1), 0, true), obs(5, Some(1), 5, true)];
        assert!(replay(SkipRule::default(), &log).is_empty());
        let mut t = Tracker::new(SkipRule::default());
        t.observe(obs(0, Some(1), 0, true));
        t.forget();
        assert_eq!(t.observe(obs(5, Some(2), 0, true)), None);
        // A clock that went back counts no listening, and nothing panics.
        assert_eq!(
            t.observe(obs(1, Some(3), 0, true)).map(|l| l.heard),
            Some(s(0))
        );
    }
}
