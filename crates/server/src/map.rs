//! The library map's projection: the one `songrec map` draws
//! ([`songrec_discover::projection`]), so the web page and the CLI place every song alike.
//! [`Projector`] is the seam a server can swap ([`crate::ServerOptions::projector`]).

pub use songrec_discover::projection::{PcaProjector, Projector};
