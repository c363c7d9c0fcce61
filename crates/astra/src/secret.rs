//! Credentials that never print (`***`): the workspace-wide [`Secret`] type from
//! `songrec-storage`, so a token read by the configuration reaches the Data API client and the
//! S3 store without being copied into a plain string.

pub use songrec_storage::Secret;
