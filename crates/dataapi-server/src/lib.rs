//! A local Data API server.
