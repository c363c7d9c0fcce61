//! The storage traits at once, for code that calls a backend's methods on a concrete type
//! (`LocalBackend`, a layer): `use songrec_storage::prelude::*;`. Code that holds a
//! `dyn StorageBackend` or a `B: StorageBackend` needs no import for the roles' methods.

pub use crate::backend::{
    AudioStore, PlaylistStore, SongStore, StorageBackend, StorageBackendExt, VectorStore,
    VersionLog,
};
pub use crate::layers::{Intercept, LayerExt};
