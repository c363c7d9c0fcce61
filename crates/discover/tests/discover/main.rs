//! songrec-discover's integration tests, in one test binary.

mod library;
mod listening;
