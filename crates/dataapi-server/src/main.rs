//! `songrec-dataapi`: run the Data API stand-in server.

use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use songrec_dataapi_server::{ServerConfig, Token, start};

/// Single-node Astra DB Data API (collections) backed by SQLite.
#[derive(Parser, Debug)]
#[command(name = "songrec-dataapi", version)]
struct Args {
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 picks a free one (printed as `listening on http://HOST:PORT`).
    #[arg(long, default_value_t = 8181)]
    port: u16,
    /// Directory for the SQLite database (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Token clients must send in the `Token` header.
    #[arg(long, env = "SONGREC_DATAAPI_TOKEN", hide_env_values = true)]
    token: String,
    /// Extra keyspace to create (repeatable); `default_keyspace` always exists.
    #[arg(long = "keyspace")]
    keyspaces: Vec<String>,
    /// Page size for find/updateMany.
    #[arg(long, default_value_t = 50)]
    page_size: usize,
    /// Maximum number of collections (5 on older Astra databases, 10 on newer ones).
    #[arg(long, default_value_t = 10)]
    max_collections: usize,
    /// A regularly sorted find fails once this many documents match (the real service: 10000).
    #[arg(long, default_value_t = songrec_dataapi_server::DEFAULT_MAX_SORT_COUNT)]
    max_sort_count: usize,
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // No colour codes into a pipe or a log file (nor with NO_COLOR set).
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let args = Args::parse();
    if args.token.is_empty() {
        eprintln!("error: the token must not be empty");
        return ExitCode::from(2);
    }
    let mut config = ServerConfig::ephemeral(Token::new(args.token));
    config.addr = (args.host, args.port).into();
    config.data_dir = Some(args.data_dir);
    config.keyspaces = args.keyspaces;
    config.page_size = args.page_size;
    config.max_collections = args.max_collections;
    config.max_sort_count = args.max_sort_count;
    let server = match start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.base_url());
        let _ = out.flush();
    }
    shutdown_signal().await;
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error during shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}
