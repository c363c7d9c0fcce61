//! `songrec serve`: the web page and REST API over the configured library.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use songrec_config::Config;
use songrec_factory::Backend;

use crate::exit;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default [server] bind, else 127.0.0.1:8080; port 0 picks a free one).
    #[arg(long)]
    pub bind: Option<String>,
    /// Allow an address other machines can reach. The web page, /api/v1 (every song's metadata
    /// and audio, uploads) and /metrics then require the Subsonic user's password (HTTP Basic)
    /// or the API key (Authorization: Bearer); refused when neither is set. /healthz stays open;
    /// Subsonic apps (/rest/) always sign in.
    #[arg(long)]
    pub public: bool,
    /// Allow an address other machines can reach, with the web page, /api/v1 (every song's
    /// metadata and audio, uploads) and /metrics open to anyone who can reach it, no password.
    /// Subsonic apps (/rest/) still sign in.
    #[arg(long, conflicts_with = "public")]
    pub public_read: bool,
    /// Also answer requests for this host name (NAME or NAME:PORT; repeatable), e.g. the
    /// machine's name with --public, a reverse proxy's name, or localhost:9000 behind a tunnel.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Largest upload for "songs like this file", in MB (default [server] max_upload_bytes: 50 MB).
    #[arg(long)]
    pub max_upload_mb: Option<f64>,
    /// Embedders started with the server to analyse uploaded files: auto (dsp now, the others
    /// on the first upload that needs them), mix, dsp, musicnn or both. Which vectors a ranking
    /// compares is chosen per request, exactly as in the CLI: the embedder, blend and model
    /// parameters, auto by default (the mix vectors once every song has them).
    #[arg(long, default_value = "auto")]
    pub embedder: String,
}

pub async fn run(args: &ServeArgs, cfg: &Config, backend: Backend) -> Result<u8> {
    let bind = songrec_server::parse_bind(args.bind.as_deref().unwrap_or(&cfg.server.bind))?;
    let mut opts = songrec_server::ServerOptions::new(bind);
    opts.public = args.public;
    opts.public_read = args.public_read;
    opts.allowed_hosts = args.allow_host.clone();
    opts.max_upload_bytes = match args.max_upload_mb {
        Some(mb) if mb.is_finite() && mb > 0.0 => (mb * 1e6) as u64,
        Some(mb) => anyhow::bail!("--max-upload-mb must be a positive number, got {mb}"),
        None => cfg.server.max_upload_bytes,
    };
    // `auto` starts the cheap DSP embedder now; the pool starts musicnn when a query needs it.
    let started = match args.embedder.as_str() {
        "auto" => "dsp",
        other => other,
    };
    opts.embedders = songrec_app::embedders::parse_list_with(started, &cfg.embedder)?;
    opts.embedder_config = cfg.embedder.clone();
    opts.scratch_dir = Some(cfg.cache.path.join("serve"));
    opts.subsonic.credentials = songrec_server::subsonic::Credentials {
        user: cfg.subsonic.user.clone(),
        password: cfg.subsonic.password.clone(),
        api_key: cfg.subsonic.api_key.clone(),
    };
    // Plays and stars are counted under this machine's id, and wait in a file of this
    // server's own while another process holds the library for long.
    opts.machine = songrec_factory::sync::machine_id(cfg)
        .context("reading this machine's id (plays are counted under it)")?;
    opts.pending_marks = Some(songrec_factory::pending_marks_file(
        cfg,
        &backend.to_string(),
        "serve",
    ));
    let credentials = opts.subsonic.credentials.clone();
    let shown = songrec_factory::describe(cfg, cfg.backend);
    let server = songrec_server::Server::bind(Arc::clone(&backend), opts)
        .await
        .context("starting the server")?;
    let addr = server.local_addr();
    // The first line is for people and for scripts that start the server on port 0.
    println!(
        "songrec: serving {shown} at http://{addr}/ (API: http://{addr}/api/v1/openapi.json); Ctrl-C stops"
    );
    // On stderr: stdout's one line is what scripts read (and they may close it after).
    // What is open to whom, exactly.
    eprintln!("songrec: {}", server.state().access.describe(&credentials));
    if credentials.configured() {
        eprintln!("songrec: Subsonic apps: server http://{addr}/ (API under /rest/)");
    } else {
        eprintln!(
            "songrec: the Subsonic API (/rest/) refuses every sign-in: no user is configured (set [subsonic] user or SONGREC_SUBSONIC_USER, and SONGREC_SUBSONIC_PASSWORD)"
        );
    }
    use std::io::Write;
    std::io::stdout().flush().ok();
    server
        .run(async {
            shutdown_signal().await;
            eprintln!("songrec: stopping (finishing requests in flight)");
        })
        .await?;
    Ok(exit::OK)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
