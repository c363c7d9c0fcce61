//! songrec storage: domain types and the StorageBackend trait.
