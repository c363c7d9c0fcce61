//! songrec-factory's integration tests (the stacks it builds against the local cloud, the sync
//! engine on it), in one test binary.

mod factory_stack;
mod lease_s3;
mod sync_remote;
