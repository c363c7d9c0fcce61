//! What bounds the media answers ([`limits`]) and the scaled pictures they keep ([`picture`]);
//! the answers are `crate::subsonic::media`'s.

pub mod limits;
pub mod picture;
