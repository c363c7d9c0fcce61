//! Test support: a small synthetic library (built once per test binary) and a server on an
//! ephemeral 127.0.0.1 port over it.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use songrec_app::ingest::{IngestOptions, NoProgress};
use songrec_server::{AppState, Server, ServerOptions};
use songrec_storage::StorageBackend;

/// Styles, songs per style and seconds per song of the test library.
pub const STYLES: &[&str] = &["techno", "ambient", "rock"];
pub const PER_STYLE: usize = 2;
pub const SECONDS: f32 = 6.0;

pub struct Library {
    pub root: PathBuf,
    pub music: PathBuf,
    _dir: tempfile::TempDir,
}

/// Writes `STYLES × PER_STYLE` tagged WAV songs into `dir`.
pub fn write_songs(dir: &Path, styles: &[&str], per_style: usize, seconds: f32, seed0: u64) {
    std::fs::create_dir_all(dir).unwrap();
    for style in styles {
        for i in 0..per_style {
            let spec = songrec_audio::synth::SongSpec::for_style(style, seed0 + i as u64, seconds);
            let title = format!("{} {}", title_of(style), seed0 + i as u64);
            let artist = format!("The {style} band");
            let path = dir.join(format!("{style}-{}.wav", seed0 + i as u64));
            songrec_audio::synth::write_wav_tagged(
                &path,
                &songrec_audio::synth::render(&spec),
                &[("INAM", &title), ("IART", &artist), ("IGNR", style)],
            )
            .unwrap();
        }
    }
}

pub fn title_of(style: &str) -> &'static str {
    match style {
        "techno" => "Warehouse Pulse",
        "ambient" => "Drifting Pads",
        "rock" => "Garage Anthem",
        "ballad" => "Slow Piano",
        _ => "Blue Swing",
    }
}

fn build() -> Library {
    let dir = tempfile::tempdir().unwrap();
    let music = dir.path().join("music");
    write_songs(&music, STYLES, PER_STYLE, SECONDS, 1);
    let root = dir.path().join("library");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let backend = songrec_local::LocalBackend::open(&root).unwrap();
        let opts = IngestOptions {
            jobs: 2,
            embedders: songrec_app::embedders::parse_list("dsp").unwrap(),
            batch_size: 32,
            state_file: None,
        };
        let s = songrec_app::ingest::ingest(
            &backend,
            std::slice::from_ref(&music),
            &opts,
            Arc::new(NoProgress),
        )
        .await
        .unwrap();
        assert_eq!(s.added(), STYLES.len() * PER_STYLE, "{:?}", s.failed());
        backend.flush().await.unwrap();
    });
    Library {
        root,
        music,
        _dir: dir,
    }
}

/// The shared test library (built on first use).
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
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

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

pub async fn serve(
    backend: Arc<dyn StorageBackend>,
    tweak: impl FnOnce(&mut ServerOptions),
) -> Running {
    let mut opts = ServerOptions::new("127.0.0.1:0".parse().unwrap());
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

/// A server over the shared test library.
pub async fn serve_library(tweak: impl FnOnce(&mut ServerOptions)) -> Running {
    let backend = songrec_local::LocalBackend::open(&library().root).unwrap();
    serve(Arc::new(backend), tweak).await
}
