//! Astra DB Data API + S3 backend.

pub mod blobs;
pub mod dataapi;
pub mod secret;
