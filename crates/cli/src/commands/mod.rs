//! One module per command (or group of closely related commands), each with its arguments and
//! its `run`; they share only the leaf modules (`args`, `progress`, `output`, `exit`, ...).

pub mod bench;
pub mod bench_stages;
pub mod cache;
pub mod delete;
pub mod doctor;
pub mod dupes;
pub mod edit;
pub mod eval;
pub mod ingest;
pub mod init_astra;
pub mod list;
pub mod map;
pub mod migrate;
pub mod playlist;
pub mod previews;
pub mod radio;
pub mod reembed;
pub mod reindex;
pub mod relink;
pub mod serve;
pub mod show;
pub mod similar;
pub mod stats;
pub mod sync;
pub mod synth;
