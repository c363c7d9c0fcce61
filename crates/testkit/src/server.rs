//! `songrec-server` on an ephemeral 127.0.0.1 port, and a small synthesised library (built once
//! per test process) to serve.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use songrec_app::ingest::{IngestOptions, IngestSummary, NoProgress};
use songrec_server::{AppState, Server, ServerOptions};
use songrec_storage::StorageBackend;
use songrec_storage::prelude::*;

use crate::audio::write_songs;

/// Styles of the shared library.
pub const STYLES: &[&str] = &["techno", "ambient", "rock"];
/// Songs per style in the shared library.
pub const PER_STYLE: usize = 2;
/// Seconds per song of the shared library.
pub const SECONDS: f32 = 6.0;

/// The shared library: [`STYLES`] × [`PER_STYLE`] songs (`music/techno-1.wav`, …, see
/// [`write_songs`]) ingested with the `dsp` embedder into a local library.
pub struct Library {
    /// The local library.
    pub root: PathBuf,
    /// The songs' WAV files.
    pub music: PathBuf,
    _dir: tempfile::TempDir,
}

fn build() -> Library {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    write_songs(&music, STYLES, PER_STYLE, SECONDS, 1);
    let root = dir.path().join("library");
    ingest_dsp(&music, &root, STYLES.len() * PER_STYLE);
    Library {
        root,
        music,
        _dir: dir,
    }
}

/// Ingests the audio files under `music` into a new local library at `root` with the `dsp`
/// embedder (references to the files, not copies), on a runtime of its own (call it from a
/// plain thread); asserts that `expected` songs were added.
pub fn ingest_dsp(music: &Path, root: &Path, expected: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let backend = songrec_local::LocalBackend::open(root).unwrap();
        let s = ingest_dsp_into(&backend, music).await;
        assert_eq!(s.added(), expected, "{s:?}");
        backend.flush().await.unwrap();
    });
}

/// Ingests the audio files under `music` into `backend` with the `dsp` embedder (a library
/// that can reference files does; the cloud stores copies).
pub async fn ingest_dsp_into(backend: &dyn StorageBackend, music: &Path) -> IngestSummary {
    let opts = IngestOptions::new(songrec_app::embedders::parse_list("dsp").unwrap(), 2);
    songrec_app::ingest::ingest(backend, &[music.to_path_buf()], &opts, Arc::new(NoProgress))
        .await
        .unwrap()
}

/// The shared library (built on first use, once per process).
pub fn library() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    // Built on a plain thread: callers are inside async runtimes.
    LIB.get_or_init(|| {
        std::thread::spawn(build)
            .join()
            .expect("building the test library")
    })
}

/// A running server; stops when dropped.
pub struct Running {
    /// Its address.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its state (metrics, backend).
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// The URL of `path` (`/api/v1/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits until it has.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Serves `backend` on 127.0.0.1 (2 analysis jobs; `tweak` changes any option) on the current
/// Tokio runtime.
pub async fn serve(
    backend: Arc<dyn StorageBackend>,
    tweak: impl FnOnce(&mut ServerOptions),
) -> Running {
    let mut opts = ServerOptions::new(SocketAddr::from(([127, 0, 0, 1], 0)));
    opts.analysis_jobs = 2;
    tweak(&mut opts);
    let server = Server::bind(backend, opts).await.unwrap();
    let addr = server.local_addr();
    let state = server.state().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        base: format!("http://{addr}"),
        state,
        stop: Some(tx),
        task: Some(task),
    }
}

/// A server over the shared [`library`].
pub async fn serve_library(tweak: impl FnOnce(&mut ServerOptions)) -> Running {
    let backend = songrec_local::LocalBackend::open(&library().root).unwrap();
    serve(Arc::new(backend), tweak).await
}
