//! The local backend's integration tests, in one test binary.

mod conformance;
mod files;
