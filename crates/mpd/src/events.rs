//! What the radio tells its listener: one [`Event`] per action, each one line in plain words
//! (its `Display`), printed by the door that runs the radio.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// One thing the radio did or noticed.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Songs appended to the queue, after the song playing.
    Queued { after: String, songs: Vec<String> },
    /// The listener left a song early.
    Skipped { song: String, heard: Duration },
    /// The listener heard a song out.
    Played { song: String },
    /// MPD plays a file the library does not hold (said once per file).
    NotInLibrary { uri: String, path: PathBuf },
    /// MPD plays something songrec cannot read (a stream, a file it does not see).
    Unseen { uri: String },
    /// A song of the mix cannot be queued (said once per song).
    CannotQueue { song: String, why: String },
    /// No current song: the radio waits for one.
    NothingPlaying { addr: String },
    /// Nothing seeds: not the current song (not in the library, or no vector), nor the
    /// queue's songs, nor the history's.
    NoSeed { uri: String },
    /// Fewer songs fit than the queue needs.
    RanOut { queued: usize, wanted: usize },
    /// Songs the listening history says the listener turns away from: they and their nearest
    /// songs are left out from the start.
    Remembered { skipped: usize },
    /// One command or look-up failed; the radio goes on.
    Problem(String),
    /// The connection dropped; reconnecting.
    Lost { addr: String },
    /// Connected again.
    Reconnected { addr: String },
}

/// `m:ss`.
fn mmss(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}:{:02}", s / 60, s % 60)
}

/// `s` on one line: a control character (a line break in a file or song name) written as its
/// escape, so that each event stays one line.
fn line(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_control) {
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect::<String>()
            .into()
    } else {
        s.into()
    }
}

/// A shell word for `s` (single quotes when it needs any).
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@".contains(c))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.text();
        f.write_str(&line(&text))
    }
}

impl Event {
    /// The line before control characters are escaped.
    fn text(&self) -> String {
        let f = &mut String::new();
        self.write(f).unwrap_or_default();
        std::mem::take(f)
    }

    fn write(&self, f: &mut String) -> fmt::Result {
        use std::fmt::Write as _;
        match self {
            Event::Queued { after, songs } => write!(
                f,
                "queued {} after {after}: {}",
                songs.len(),
                songs.join(", ")
            ),
            Event::Skipped { song, heard } => write!(
                f,
                "skipped {song} after {}: not queued again, and songs like it are left out",
                mmss(*heard)
            ),
            Event::Played { song } => write!(f, "played {song}"),
            Event::NotInLibrary { uri, path } => write!(
                f,
                "not in the library: {uri} (add it with: songrec ingest {})",
                shell_word(&path.to_string_lossy())
            ),
            Event::Unseen { uri } => write!(
                f,
                "cannot read {uri}: not a file songrec sees below MPD's music folder \
                 (set [mpd] music_directory to where songrec sees it)"
            ),
            Event::CannotQueue { song, why } => write!(f, "cannot queue {song}: {why}"),
            Event::NothingPlaying { addr } => write!(
                f,
                "nothing is playing on MPD at {addr}: the radio follows the next song played"
            ),
            Event::NoSeed { uri } => write!(
                f,
                "nothing to seed the radio with: {uri} cannot seed (not in the library, or no \
                 vector to compare), and no song of the queue or of the listening history can"
            ),
            Event::RanOut { queued, wanted } => write!(
                f,
                "queued {queued} of {wanted}: no more songs fit (the library, the rules and the \
                 skips leave none)"
            ),
            Event::Remembered { skipped } => write!(
                f,
                "remembering {skipped} {} skipped more than played before: {} and songs like {} \
                 are left out",
                if *skipped == 1 { "song" } else { "songs" },
                if *skipped == 1 { "it" } else { "they" },
                if *skipped == 1 { "it" } else { "them" }
            ),
            Event::Problem(p) => write!(f, "{p}"),
            Event::Lost { addr } => write!(f, "lost MPD at {addr}; reconnecting"),
            Event::Reconnected { addr } => write!(f, "reconnected to MPD at {addr}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_plain_line_each() {
        let e = Event::NotInLibrary {
            uri: "a/it's.ogg".into(),
            path: "/m/a/it's.ogg".into(),
        };
        assert_eq!(
            e.to_string(),
            r"not in the library: a/it's.ogg (add it with: songrec ingest '/m/a/it'\''s.ogg')"
        );
        let e = Event::Skipped {
            song: "A – B".into(),
            heard: Duration::from_secs(75),
        };
        assert!(e.to_string().starts_with("skipped A – B after 1:15"), "{e}");
        let e = Event::Queued {
            after: "X".into(),
            songs: vec!["a".into(), "b".into()],
        };
        assert_eq!(e.to_string(), "queued 2 after X: a, b");
        assert_eq!(e.to_string().lines().count(), 1);
        assert_eq!(
            Event::Remembered { skipped: 2 }.to_string(),
            "remembering 2 songs skipped more than played before: they and songs like them are \
             left out"
        );
        let e = Event::CannotQueue {
            song: "line\nbreak".into(),
            why: "x".into(),
        };
        assert_eq!(e.to_string(), r"cannot queue line\nbreak: x");
        assert_eq!(
            Event::Remembered { skipped: 1 }.to_string(),
            "remembering 1 song skipped more than played before: it and songs like it are left out"
        );
    }
}
