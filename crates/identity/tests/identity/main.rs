//! songrec-identity's integration tests, in one test binary.

mod dupes;
mod pinned;
