//! The local backend's integration tests, in one test binary.

mod ann;
mod conformance;
mod files;
mod references;
