//! songrec-discover's integration tests, in one test binary.

mod dupes;
mod library;
mod listening;
mod pinned;
