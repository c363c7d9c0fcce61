//! songrec's application layer, the use cases between the doors (the thin CLI, the server, the
//! MPD radio) and the library crates:
//!
//! - [`ingest`]: scan folders, analyse files in parallel, store songs, report per file;
//! - [`resolve`]: find a song from what a user typed (title, "artist - title", id prefix, path);
//! - [`similar`]: similarity queries by song, by an outside audio file or by words, one answer
//!   for every door;
//! - [`views`]: playlists, clusters and maps over the chosen vectors, for every door;
//! - [`words`]: search by words, over the style tags musicnn stored with each song;
//! - [`filters`]: the song filters users type, shared by the CLI and the REST API;
//! - [`marks`]: a play, skip or star recorded for every door (the radio, the Subsonic server),
//!   read afresh and written over the version read, kept in a pending file while the library
//!   is held by another process;
//! - [`stats`]: library statistics;
//! - [`previews`]: 30-second previews from the iTunes Search API, ingested with their metadata;
//! - [`embedders`]: the embedders songrec can run, by name;
//! - [`explain`]: why two songs match, in words;
//! - [`eval`]: precision@k of each embedder on a labelled folder;
//! - [`reembed`]: recompute one embedder's vectors for the whole library, resumably;
//! - [`migrate`]: copy a library to another backend, verified, resumable, with a ledger;
//! - [`relink`]: turn a library of copies into references to the user's files;
//! - [`music`]: this machine's music folder, indexed by file hash and audio identity (for
//!   `sync --music`);
//! - [`extra`]: the vocabulary of the metadata's free-form `extra` fields songrec writes;
//! - [`musickey`]: parsing and normalising musical keys ("Am" → "A minor");
//! - [`edit`]: metadata edits, written over the version read (no concurrent change lost).
//!
//! It names no concrete backend: it works on any [`songrec_storage::StorageBackend`], and the
//! stacks it is handed are built by the composition root, `songrec-factory`.

pub mod edit;
pub mod embedders;
mod error;
pub mod eval;
pub mod explain;
pub mod extra;
pub mod filters;
pub mod ingest;
pub mod marks;
pub mod migrate;
pub mod music;
pub mod musickey;
pub mod previews;
mod probe;
pub mod reembed;
pub mod relink;
pub mod resolve;
pub mod similar;
pub mod stats;
pub mod views;
pub mod words;

pub use error::{AppError, AppResult};
