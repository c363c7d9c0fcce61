//! The Subsonic API's parts below the server's state: its protocol (parameters, errors, ids,
//! sign-in) and what `/rest/` keeps between requests (the sign-in limiter, the write budgets,
//! the catalog, the media limits), which the state holds. The handlers, in
//! [`crate::subsonic`], stand above the state and read these through it.

pub mod auth;
pub mod catalog;
pub mod error;
pub mod ids;
pub mod listened;
pub mod media;
pub mod params;
pub mod state;
pub mod writes;
