//! Astra DB Data API + S3 backend.
