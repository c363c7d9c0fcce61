//! songrec in MPD: `songrec playlist --mpd` appends a mix to MPD's queue ([`queue::queue_mix`]),
//! and `songrec radio` ([`radio::run`]) keeps the queue going with songs like the one playing,
//! learning from what the listener skips.
//!
//! Decisions are pure and unit-tested: the address ([`address`]), URIs and files ([`paths`]),
//! skip or play ([`skips`]), and what the radio queues ([`plan`]). I/O sits at the edges: the
//! connection ([`client`]), the library look-ups ([`songs`]) and the two loops ([`queue`],
//! [`radio`]).
//!
//! The client is songrec's own ([`client`], async on tokio, over TCP or a Unix socket): the
//! radio sends one command at a time and waits on MPD's `idle` between steps, so it needs no
//! background task. `mpd_client` 1.4 was used first and dropped: it sent an argument holding
//! `'`, `"` or `\` unquoted (MPD refuses those), panicked on a line break in an argument, and
//! read a line or an answer of any length. `mpd` 0.1 (blocking, unwraps in places) was not
//! adopted.

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
