//! `songrec radio`: keeps MPD's queue [`Rules::ahead`] songs ahead of the song playing.
//!
//! The loop: look at the player and the queue, judge the song just left ([`Tracker`]), top
//! the queue up with a mix seeded by what plays and what played before it
//! ([`songrec_app::views::playlist`], the mix of `songrec playlist`), then wait for MPD's next
//! player or queue change (its `idle`; no polling). Songs are only ever appended: what the
//! listener queued by hand is never moved or removed, and counts towards the songs ahead.
//! A dropped connection is retried with backoff (`backon`) until MPD answers again.
//!
//! Skips steer the [`Session`]: a skipped song and its nearest songs (the playlist mix seeded by
//! it alone) are left out of every later mix. Plays and skips are kept in the library's
//! listening history ([`songrec_storage::listening`]): a later radio starts by leaving out the
//! songs skipped more than played and their neighbours ([`RadioOptions::history_skips`]), and
//! every mix leaves such songs out.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use songrec_app::similar::Choice;
use songrec_app::views::{PlaylistAsk, PlaylistShape};
use songrec_discover::playlist::Constraints;
use songrec_storage::listening::{self, Listening};
use songrec_storage::{
    Condition, Field, Filter, SongId, SongMetadata, SortKey, StorageBackend,
    StorageBackendExt as _, StorageError,
};

use crate::address::Address;
use crate::client::{Entry, Mpd};
use crate::error::{MpdError, MpdResult};
use crate::events::Event;
use crate::plan::{self, Candidate, Rules, Session};
use crate::queue::{Appended, Connected, why_no_uri};
use crate::skips::{Current, Listen, Observation, SkipRule, Tracker, Verdict};
use crate::songs::Lookup;

#[derive(Clone, Debug, smart_default::SmartDefault)]
pub struct RadioOptions {
    pub rules: Rules,
    pub skip: SkipRule,
    /// Fill the queue once and return.
    pub once: bool,
    /// Songs nearest a skipped one that are left out of later mixes.
    #[default = 3]
    pub avoid_per_skip: usize,
    /// Songs always left out (recent playlists) and the metadata filter; the no-repeat rules
    /// are [`Rules`]'.
    pub constraints: Constraints,
    /// Which vectors the mix compares.
    pub choice: Choice,
    /// MPD's music folder as songrec sees it (else asked of MPD).
    pub music_directory: Option<PathBuf>,
    /// Songs skipped before (the library's history) whose neighbours are left out from the
    /// start; 0: the history is not read.
    #[default = 20]
    pub history_skips: usize,
    /// Keep no plays or skips in the library's history (a private session).
    pub private: bool,
    /// Where plays and skips are kept (this machine's id, the pending file); `None`: written
    /// directly, counted under "this machine".
    pub marks: Option<std::sync::Arc<songrec_app::marks::Marks>>,
}

/// The radio's memory between steps.
struct State {
    session: Session,
    tracker: Tracker,
    started: Instant,
    /// URIs and songs already named in a line (each is named once).
    told: HashSet<String>,
    /// Whether the last step said the queue ran short or nothing played (said once a spell).
    ran_out: bool,
    idle: bool,
    /// Songs that cannot be queued (no file MPD can name, or MPD refused them): named once and
    /// left out of the session's later mixes.
    refused: HashSet<SongId>,
}

/// Runs the radio on MPD at `addr`, saying what it does through `say`, until MPD refuses the
/// password, the music folder is unknown, or (`once`) the queue is full.
pub async fn run(
    backend: &dyn StorageBackend,
    addr: &Address,
    opts: &RadioOptions,
    say: &mut (dyn FnMut(Event) + Send),
) -> MpdResult<()> {
    let mut c = Connected::open(backend, addr, opts.music_directory.as_deref()).await?;
    let mut st = State {
        session: Session::default(),
        tracker: Tracker::new(opts.skip),
        started: Instant::now(),
        told: HashSet::new(),
        ran_out: false,
        idle: false,
        refused: HashSet::new(),
    };
    let (skipped, avoid) = from_history(backend, opts).await?;
    if skipped > 0 {
        say(Event::Remembered { skipped });
        st.session.avoid(avoid);
    }
    loop {
        let lost = match st.step(&mut c, backend, opts, say).await {
            Ok(()) => false,
            Err(e) if e.is_disconnect() => true,
            Err(e @ (MpdError::App(_) | MpdError::Refused { .. } | MpdError::Protocol { .. })) => {
                say(Event::Problem(e.to_string()));
                false
            }
            Err(e) => return Err(e),
        };
        if !lost && opts.once {
            return Ok(());
        }
        // A connection lost during the step is found again before the next one; a server that
        // broke the protocol ends the radio.
        let lost = lost
            || match c.mpd.changed().await {
                Ok(()) => false,
                Err(e) if e.is_disconnect() => true,
                Err(e) => return Err(e),
            };
        if lost {
            c.mpd = reconnect(addr, say).await?;
            st.tracker.forget();
        }
    }
}

/// Connects again, with capped exponential backoff, for as long as MPD is away; a refused
/// password ends it.
async fn reconnect(addr: &Address, say: &mut (dyn FnMut(Event) + Send)) -> MpdResult<Mpd> {
    say(Event::Lost {
        addr: addr.to_string(),
    });
    let backoff = ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(5))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    let mpd = (|| Mpd::open(addr))
        .retry(backoff)
        .when(MpdError::is_disconnect)
        .notify(|e: &MpdError, after: Duration| {
            tracing::debug!(error = %e, ?after, "MPD still away; retrying");
        })
        .await?;
    say(Event::Reconnected {
        addr: addr.to_string(),
    });
    Ok(mpd)
}

impl State {
    /// Says `event` unless `key` was already said.
    fn once(&mut self, key: String, event: Event, say: &mut (dyn FnMut(Event) + Send)) {
        if self.told.insert(key) {
            say(event);
        }
    }

    /// The library song `uri` plays, naming once what is not one.
    async fn song_at(
        &mut self,
        c: &mut Connected<'_>,
        uri: &str,
        say: &mut (dyn FnMut(Event) + Send),
    ) -> MpdResult<Option<SongMetadata>> {
        let event = match c.songs.at(uri).await? {
            Lookup::Song(m) => return Ok(Some(*m)),
            Lookup::Unknown(path) => Event::NotInLibrary {
                uri: uri.to_owned(),
                path,
            },
            Lookup::Unseen => Event::Unseen {
                uri: uri.to_owned(),
            },
        };
        self.once(uri.to_owned(), event, say);
        Ok(None)
    }

    /// One look at MPD, in three phases: judge the song that left ([`Self::judge`]), read the
    /// queue's library songs ([`Self::read_queue`]), then top the queue up ([`Self::fill`]) and
    /// say how that went ([`Self::report`]).
    async fn step(
        &mut self,
        c: &mut Connected<'_>,
        backend: &dyn StorageBackend,
        opts: &RadioOptions,
        say: &mut (dyn FnMut(Event) + Send),
    ) -> MpdResult<()> {
        let player = c.mpd.player().await?;
        let queue = c.mpd.queue().await?;
        let current = player
            .current
            .and_then(|(_, id)| queue.iter().find(|e| e.id == id))
            .cloned();
        let left = self.tracker.observe(Observation {
            at: self.started.elapsed(),
            current: current.as_ref().map(|e| Current {
                entry: e.id,
                uri: e.uri.clone(),
                length: e.length,
            }),
            elapsed: player.elapsed,
            playing: player.playing,
        });
        if let Some(left) = left {
            self.judge(c, backend, opts, &left, say).await?;
        }
        let Some(cur) = current else {
            if !std::mem::replace(&mut self.idle, true) {
                say(Event::NothingPlaying {
                    addr: c.mpd.address().to_string(),
                });
            }
            return Ok(());
        };
        self.idle = false;
        let need = plan::wanted(queue.len(), Some(cur.position), opts.rules.ahead);
        if need == 0 {
            return Ok(());
        }
        let seen = self.read_queue(c, &queue, &cur, say).await?;
        let filled = self.fill(c, backend, opts, seen, need, say).await?;
        self.report(filled, need, say);
        Ok(())
    }

    /// The song that left: kept in the library's history as a play or a skip (unless the
    /// session is private), said, and for a skip its nearest songs are left out of later mixes.
    async fn judge(
        &mut self,
        c: &mut Connected<'_>,
        backend: &dyn StorageBackend,
        opts: &RadioOptions,
        left: &Listen,
        say: &mut (dyn FnMut(Event) + Send),
    ) -> MpdResult<()> {
        let Some(m) = self.song_at(c, &left.uri, say).await? else {
            return Ok(());
        };
        self.session.listened(&m.id, left.verdict);
        if !opts.private
            && let Err(e) = remember(backend, opts.marks.as_deref(), &m.id, left.verdict).await
        {
            say(Event::Problem(format!(
                "could not keep the {} of {} in the library's history: {e}",
                if left.verdict == Verdict::Played {
                    "play"
                } else {
                    "skip"
                },
                m.display_name()
            )));
        }
        match left.verdict {
            Verdict::Played => say(Event::Played {
                song: m.display_name(),
            }),
            Verdict::Skipped => {
                say(Event::Skipped {
                    song: m.display_name(),
                    heard: left.heard,
                });
                let near = neighbours(
                    backend,
                    &m,
                    self.session.avoid_count(opts.avoid_per_skip),
                    opts,
                )
                .await?;
                self.session.avoid(near);
            }
        }
        Ok(())
    }

    /// The queue's library songs, as the fill needs them (songs of the queue that are not
    /// library songs are named once and left aside).
    async fn read_queue(
        &mut self,
        c: &mut Connected<'_>,
        queue: &[Entry],
        cur: &Entry,
        say: &mut (dyn FnMut(Event) + Send),
    ) -> MpdResult<QueueSeen> {
        let mut seen = QueueSeen {
            in_queue: Vec::new(),
            window: Vec::new(),
            fallback: Vec::new(),
            current: None,
            current_uri: cur.uri.clone(),
            uris: queue.iter().map(|e| e.uri.clone()).collect(),
        };
        for e in queue {
            if let Some(m) = self.song_at(c, &e.uri, say).await? {
                seen.in_queue.push(m.id.clone());
                if e.id == cur.id {
                    seen.current = Some(m.clone());
                }
                if e.position >= cur.position {
                    seen.window.push(m.clone());
                }
                seen.fallback.push(m);
            }
        }
        seen.fallback.reverse();
        Ok(seen)
    }

    /// Appends up to `need` songs after the queue's end, from mixes that grow until enough
    /// songs the rules allow are in or the library has none left. Every song of the queue is
    /// left out of the mix; those from the current one on are the window the no-repeat rules
    /// look at.
    async fn fill(
        &mut self,
        c: &mut Connected<'_>,
        backend: &dyn StorageBackend,
        opts: &RadioOptions,
        mut seen: QueueSeen,
        need: usize,
        say: &mut (dyn FnMut(Event) + Send),
    ) -> MpdResult<Filled> {
        // Songs of this step's earlier mixes: each was queued, refused or kept out by the
        // rules, and the rules only tighten as songs are added, so a later, longer mix leaves
        // them out.
        let mut tried: Vec<SongId> = Vec::new();
        let mut filled = Filled::default();
        let mut n = need * 2 + seen.window.len() + 5;
        while filled.added.len() < need {
            let also = seen
                .in_queue
                .iter()
                .chain(&tried)
                .chain(&self.refused)
                .cloned()
                .collect();
            let ask = MixAsk {
                current: seen.current.as_ref(),
                fallback: &seen.fallback,
                also,
                n,
            };
            let Some(Mix {
                seeds,
                mut exclude,
                playlist: mix,
            }) = mix(backend, &self.session, &ask, opts).await?
            else {
                let uri = seen.current_uri.clone();
                self.once(format!("seed:{uri}"), Event::NoSeed { uri }, say);
                break;
            };
            filled.after.get_or_insert_with(|| seeds[0].display_name());
            if mix.entries.is_empty() {
                break;
            }
            let mut candidates = Vec::with_capacity(mix.entries.len());
            for e in &mix.entries {
                tried.push(e.song.id.clone());
                let uri = c.songs.uri_of(&e.song).await?;
                if let Err(n) = &uri {
                    let why = why_no_uri(n, c.songs.root());
                    self.refuse(&e.song, why, say);
                }
                candidates.push(Candidate {
                    song: &e.song,
                    uri: uri.ok(),
                });
            }
            // Picks until `need` songs are in or the mix has none left that the rules allow: a
            // song MPD refuses is named once and stepped over, and does not count.
            loop {
                let rules_window: Vec<&SongMetadata> = seen.window.iter().collect();
                let picks = plan::pick(
                    &candidates,
                    need - filled.added.len(),
                    &exclude,
                    &seen.uris,
                    &rules_window,
                    &opts.rules,
                );
                if picks.is_empty() {
                    break;
                }
                for i in picks {
                    let (song, uri) = (candidates[i].song, candidates[i].uri.as_deref());
                    exclude.insert(song.id.clone());
                    match c.append(song, uri).await? {
                        Appended::Added(u) => {
                            self.session.queued(&song.id);
                            seen.uris.insert(u);
                            seen.window.push(song.clone());
                            filled.added.push(song.display_name());
                        }
                        Appended::Refused(why) => self.refuse(song, why, say),
                    }
                }
                if filled.added.len() >= need {
                    break;
                }
            }
            n = n.saturating_mul(2);
        }
        Ok(filled)
    }

    /// Says what was queued after which seed, and once that the queue could not be filled
    /// (again after it could).
    fn report(&mut self, filled: Filled, need: usize, say: &mut (dyn FnMut(Event) + Send)) {
        let queued = filled.added.len();
        if let Some(after) = filled.after.filter(|_| queued > 0) {
            say(Event::Queued {
                after,
                songs: filled.added,
            });
        }
        if queued < need {
            if !std::mem::replace(&mut self.ran_out, true) {
                say(Event::RanOut {
                    queued,
                    wanted: need,
                });
            }
        } else {
            self.ran_out = false;
        }
    }

    /// A song that cannot be queued: left out of the session's later mixes, named once.
    fn refuse(&mut self, song: &SongMetadata, why: String, say: &mut (dyn FnMut(Event) + Send)) {
        self.refused.insert(song.id.clone());
        let key = format!("song:{}", song.id.as_str());
        let song = song.display_name();
        self.once(key, Event::CannotQueue { song, why }, say);
    }
}

/// The queue's library songs, read once per step ([`State::read_queue`]).
struct QueueSeen {
    /// Every library song of the queue: left out of the mix.
    in_queue: Vec<SongId>,
    /// The songs from the current one on: the window the no-repeat rules look at.
    window: Vec<SongMetadata>,
    /// The queue's library songs, last first: the seeds when neither the current song nor
    /// the songs played before it seed (the radio's own last songs are at the queue's end).
    fallback: Vec<SongMetadata>,
    /// The song playing, when it is a library song.
    current: Option<SongMetadata>,
    /// What MPD plays (named when nothing seeds a mix).
    current_uri: String,
    /// Every URI of the queue, and those appended since: never queued twice.
    uris: HashSet<String>,
}

/// What a fill appended ([`State::fill`]).
#[derive(Default)]
struct Filled {
    /// The song the first mix was seeded by, named in the "queued after" line.
    after: Option<String>,
    /// The songs appended, by name.
    added: Vec<String>,
}

/// A mix to top a queue up with, and what it was made from.
pub(crate) struct Mix {
    /// The songs that seeded it: the current song (when it seeds) and the songs played just
    /// before it, else the fallback's or the history's.
    pub seeds: Vec<SongMetadata>,
    /// Songs the mix left out (the queue's, the session's, the constraints').
    pub exclude: HashSet<SongId>,
    pub playlist: songrec_discover::playlist::Playlist,
}

/// What a mix is asked for.
pub(crate) struct MixAsk<'a> {
    /// The song playing, when the library has it.
    pub current: Option<&'a SongMetadata>,
    /// Songs to seed from, in order, when neither the current song nor the songs played before
    /// it can (the queue's library songs, last first).
    pub fallback: &'a [SongMetadata],
    /// Songs left out besides the session's and the constraints' (the queue's).
    pub also: Vec<SongId>,
    /// Songs asked of the mix.
    pub n: usize,
}

/// The mix that tops a queue up: seeded by the current song and the songs played before it
/// ([`Session::seeds`]) that have a vector to compare; when none has, by the first of
/// `ask.fallback` that do, else by the songs the library's history says were played last.
/// It leaves out `ask.also`, the session's exclusions and the constraints'
/// ([`Session::exclusions`]). `None` when nothing seeds it.
pub(crate) async fn mix(
    backend: &dyn StorageBackend,
    session: &Session,
    ask: &MixAsk<'_>,
    opts: &RadioOptions,
) -> MpdResult<Option<Mix>> {
    let space = songrec_app::similar::choose_space(backend, &opts.choice, None).await?;
    let seedable = |m: &SongMetadata| {
        let (id, parts) = (m.id.clone(), &space.parts);
        async move {
            for p in parts {
                match backend.get_embedding(&id, &p.model).await? {
                    Some(e) if e.vector.iter().any(|x| *x != 0.0) => {}
                    _ => return Ok::<_, MpdError>(false),
                }
            }
            Ok(true)
        }
    };
    let placeholder = SongId::from_bytes(b"");
    let first = ask.current.map_or(&placeholder, |m| &m.id);
    let mut seeds: Vec<SongMetadata> = Vec::new();
    for id in session.seeds(first, opts.rules.seed_depth) {
        let m = match ask.current {
            Some(m) if m.id == id => Some(m.clone()),
            _ if id == placeholder => None,
            _ => backend.get_metadata(&id).await?,
        };
        if let Some(m) = m
            && seedable(&m).await?
        {
            seeds.push(m);
        }
    }
    let depth = opts.rules.seed_depth + 1;
    // A song that cannot seed plays: the queue's songs, then the history's.
    let usable = |m: &SongMetadata| session.may_seed(&m.id);
    if seeds.is_empty() {
        for m in ask.fallback.iter().filter(|m| usable(m)) {
            if seeds.len() >= depth {
                break;
            }
            if seedable(m).await? {
                seeds.push(m.clone());
            }
        }
    }
    if seeds.is_empty() {
        for m in last_played(backend).await? {
            if seeds.len() >= depth {
                break;
            }
            if usable(&m) && seedable(&m).await? {
                seeds.push(m);
            }
        }
    }
    if seeds.is_empty() {
        return Ok(None);
    }
    let exclude = session.exclusions(
        ask.also
            .iter()
            .cloned()
            .chain(opts.constraints.exclude.iter().cloned()),
    );
    let playlist_ask = PlaylistAsk {
        shape: PlaylistShape::Seeds(seeds.clone()),
        n: ask.n.max(1),
        constraints: Constraints {
            no_repeat_artist: opts.rules.no_repeat_artist,
            no_repeat_album: opts.rules.no_repeat_album,
            exclude: exclude.clone(),
            filter: opts.constraints.filter.clone(),
        },
        choice: opts.choice.clone(),
    };
    let playlist = songrec_app::views::playlist(backend, &playlist_ask).await?;
    Ok(Some(Mix {
        seeds,
        exclude,
        playlist,
    }))
}

/// The songs played at least once.
fn played_filter() -> Filter {
    Filter::default().and(Condition::Range {
        field: Field::Extra(listening::PLAY_COUNT.to_owned()),
        min: Some(1.0),
        max: None,
    })
}

/// Songs the library's history says were played, the last played first (from the 50 songs
/// last changed that were played at least once), leaving out those the listener turns away
/// from.
async fn last_played(backend: &dyn StorageBackend) -> MpdResult<Vec<SongMetadata>> {
    let (mut songs, _) = backend
        .list_window(&played_filter(), SortKey::Updated, true, 0, 50)
        .await?;
    songs.retain(|m| !Listening::of(m).disliked());
    songs.sort_by_key(|m| std::cmp::Reverse(Listening::of(m).last_played));
    Ok(songs)
}

/// The history's word at the start of a radio: how many songs last changed the listener skips
/// more than plays ([`Listening::disliked`], at most [`RadioOptions::history_skips`] of them,
/// looked up by one filtered listing), and those songs with the nearest songs of each.
async fn from_history(
    backend: &dyn StorageBackend,
    opts: &RadioOptions,
) -> MpdResult<(usize, Vec<SongId>)> {
    let (mut skipped, mut avoid) = (0, Vec::new());
    if opts.history_skips == 0 {
        return Ok((skipped, avoid));
    }
    let (songs, _) = backend
        .list_window(
            &listening::skipped_filter(),
            SortKey::Updated,
            true,
            0,
            opts.history_skips * 4,
        )
        .await?;
    for m in songs
        .iter()
        .filter(|m| Listening::of(m).disliked())
        .take(opts.history_skips)
    {
        skipped += 1;
        avoid.push(m.id.clone());
        avoid.extend(neighbours(backend, m, opts.avoid_per_skip, opts).await?);
    }
    Ok((skipped, avoid))
}

/// Keeps a verdict in the library's listening history (a play or a skip, now) through the
/// marks use case every door shares: read afresh and written over the version read, so no
/// other change to the song is lost, and kept for later while another process holds the library.
async fn remember(
    backend: &dyn StorageBackend,
    marks: Option<&songrec_app::marks::Marks>,
    id: &SongId,
    verdict: Verdict,
) -> MpdResult<()> {
    use songrec_app::marks::{self, Mark};
    let mark = match verdict {
        Verdict::Played => Mark::played_now(),
        Verdict::Skipped => Mark::skipped_now(),
    };
    let kept = match marks {
        Some(m) => m.keep(id, mark).await,
        None => marks::keep_now(backend, id, mark, "this machine").await,
    };
    match kept {
        // Deleted meanwhile: nothing left to count it on.
        Ok(_) | Err(songrec_app::AppError::Storage(StorageError::NotFound(_))) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The `n` songs nearest `song` (the playlist mix seeded by it alone).
pub(crate) async fn neighbours(
    backend: &dyn StorageBackend,
    song: &SongMetadata,
    n: usize,
    opts: &RadioOptions,
) -> MpdResult<Vec<SongId>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let ask = PlaylistAsk {
        shape: PlaylistShape::Seeds(vec![song.clone()]),
        n,
        constraints: Constraints::default(),
        choice: opts.choice.clone(),
    };
    let near = songrec_app::views::playlist(backend, &ask).await?;
    Ok(near.ids())
}
