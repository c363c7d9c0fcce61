//! songrec in MPD: `songrec playlist --mpd` appends a mix to MPD's queue ([`queue::queue_mix`]),
//! and `songrec radio` ([`radio::run`]) keeps the queue going with songs like the one playing,
//! learning from what the listener skips.
//!
//! Decisions are pure and unit-tested: the address ([`address`]), URIs and files ([`paths`]),
//! skip or play ([`skips`]), and what the radio queues ([`plan`]). I/O sits at the edges: the
//! connection ([`client`], the only module that names the client crate), the library look-ups
//! ([`songs`]) and the two loops ([`queue`], [`radio`]).
//!
//! **The client crate: [`mpd_client`]** (1.4, elomatreb/mpd_client), over the other candidate,
//! `mpd` 0.1 (kstep/rust-mpd, the one blissify uses). `mpd_client` is async on tokio, the
//! runtime every songrec door already runs; it keeps the connection idling in a background
//! task and hands player and queue changes out as a stream (`ConnectionEvents`), so the radio
//! waits on MPD's `idle` with no polling (it idles on every subsystem; the radio acts on
//! `player` and `playlist`) and learns at once that the connection dropped; it
//! connects over any stream (TCP or a Unix socket), reports a refused password as its own
//! error, parses responses (`mpd_protocol`, a nom parser) into typed values (status, queue
//! entries) and returns an error for what it cannot read, and still takes raw commands (`config`, for the music folder). `mpd` 0.1 is blocking
//! (`std::net` streams): its `idle`/`wait` holds the client until something changes, so a
//! radio would need a thread and a second connection to idle on, and its library code
//! unwraps in places (`Client::default` connects and unwraps). Writing a
//! protocol layer here was not needed.

pub mod address;
pub mod client;
pub mod error;
pub mod events;
pub mod paths;
pub mod plan;
pub mod queue;
pub mod radio;
pub mod replay;
pub mod skips;
pub mod songs;

pub use address::Address;
pub use error::{MpdError, MpdResult};
pub use events::Event;
pub use queue::{QueueReport, queue_mix};
pub use radio::RadioOptions;
