//! songrec's test kit: what the workspace's integration tests, examples and benchmarks share,
//! written once. A dev-dependency only (`publish = false`); product code never uses it, and
//! neither do `#[cfg(test)]` unit tests inside a crate's `src/` (they would see a second copy of
//! that crate's types).
//!
//! - [`cloud`]: [`LocalCloud`], the local Data API server and S3 server on 127.0.0.1 with fresh
//!   credentials, optionally behind [`FaultProxy`]s, and the [`Config`](songrec_config::Config),
//!   environment and backends that reach them.
//! - [`cli`]: the `songrec` binary run as a user runs it, and assertions on what it printed.
//! - [`data`]: deterministic songs, vectors and libraries, and deep comparisons of two backends.
//! - [`sync`]: sync machines (a local library with its sync record) and leases on a cloud.
//! - [`server`]: `songrec-server` on an ephemeral port, over a shared synthesised library.
//! - [`audio`]: synthesised song folders, WAV writing, test signals and ffmpeg.
//! - [`fixtures`]: what `scripts/test-deps.sh` provides (real recordings, the Python with astrapy
//!   and numpy, ONNX Runtime) — missing is a failure that says how to get it, never a skip.
//! - [`dataapi`]: a raw HTTP + JSON client for the Data API server's own tests.
//! - [`flood`]: an HTTP server whose answers never end, for the clients' body caps.
//! - [`mpd`]: a real MPD on a Unix socket, for `songrec radio` and `playlist --mpd`.
//! - [`neural`]: the musicnn reference values and hand-made ONNX files.
//! - [`process`]: running one test in a process of its own.
//!
//! ```no_run
//! # async fn demo() {
//! let cloud = songrec_testkit::LocalCloud::start().await;
//! let backend = cloud.astra();
//! backend.init_schema(&[]).await.unwrap();
//! println!("Data API at {}, S3 at {}", cloud.api_url(), cloud.s3_url());
//! # }
//! ```

pub mod audio;
pub mod cli;
pub mod cloud;
pub mod damage;
pub mod data;
pub mod dataapi;
pub mod fixtures;
pub mod flood;
pub mod mpd;
pub mod neural;
pub mod process;
pub mod server;
pub mod sync;

pub use cloud::{Endpoints, LocalCloud};
pub use songrec_audio::synth;
pub use songrec_devservers::{Fault, FaultKind, FaultPlan, FaultProxy, Rule, When};
