//! `songrec-dataapi-server`: a single-node stand-in for the Astra DB Data API
//! (collections only), persisted in SQLite.
//!
//! It speaks the JSON-over-HTTP protocol described in
//! `shared/reference/data-api.md` ("current" column): `POST
//! /v1/{keyspace}[/{collection}]` (also under `/api/json/v1`), a `Token`
//! header, soft errors with HTTP 200, and the collection commands
//! (`createCollection`, `find`, `insertMany`, `updateOne`, …).
//!
//! Keyspaces: `default_keyspace` always exists; others come from
//! [`ServerConfig::keyspaces`] (`--keyspace` on the command line) or the
//! database-level `createKeyspace` command (`POST /v1`). Commands on any
//! other keyspace fail with `UNKNOWN_KEYSPACE`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), songrec_dataapi_server::ServerError> {
//! use songrec_dataapi_server::{ServerConfig, Token, start};
//! let server = start(ServerConfig::ephemeral(Token::new("secret"))).await?;
//! println!("Data API at {}", server.base_url());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

mod commands;
mod docid;
mod error;
mod filter;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod json;
mod path;
mod projection;
mod schema;
mod shred;
mod sort;
mod store;
mod token;
mod update;
mod vector;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::ServerError;
pub use store::DEFAULT_KEYSPACE;
pub use token::Token;

/// The real service's in-memory sort cap (`maxDocumentSortCount` in stargate/data-api
/// `config/OperationsConfig.java`).
pub const DEFAULT_MAX_SORT_COUNT: usize = commands::MAX_SORT_CANDIDATES;

/// Server settings.
///
/// ```
/// use songrec_dataapi_server::{ServerConfig, Token};
/// let mut cfg = ServerConfig::ephemeral(Token::new("t"));
/// cfg.data_dir = Some("/tmp/dataapi".into());
/// cfg.keyspaces.push("songs_ks".into());
/// assert_eq!(cfg.page_size, 50);
/// assert!(!format!("{cfg:?}").contains("\"t\""));
/// ```
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind; port 0 picks a free port (see [`ServerHandle::addr`]).
    pub addr: SocketAddr,
    /// Directory holding the SQLite database; `None` keeps everything in
    /// memory (lost at shutdown).
    pub data_dir: Option<PathBuf>,
    /// Required `Token` header value.
    pub token: Token,
    /// Keyspaces to create at start (besides `default_keyspace`).
    pub keyspaces: Vec<String>,
    /// Page size of `find` and `updateMany` (the Data API uses 50, formerly 20).
    pub page_size: usize,
    /// Most collections in the database (across keyspaces): 5 on older Astra databases
    /// (stargate/data-api `application.yaml`), 10 on newer ones (`config/DatabaseLimitsConfig.java`).
    pub max_collections: usize,
    /// A find/findOne/… with a regular (in-memory) sort fails with `OVERLOADED_SORT_ROW_LIMIT`
    /// once this many documents match (`maxDocumentSortCount`, 10,000 on the real service;
    /// tests may lower it to stay fast).
    pub max_sort_count: usize,
}

impl ServerConfig {
    /// In-memory server on `127.0.0.1:0` with default limits.
    pub fn ephemeral(token: Token) -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: None,
            token,
            keyspaces: Vec::new(),
            page_size: 50,
            max_collections: 10,
            max_sort_count: DEFAULT_MAX_SORT_COUNT,
        }
    }
}

/// How long [`ServerHandle::shutdown`] waits for open requests.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// A running server. Dropping it also stops the server (without waiting).
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, the API endpoint to give clients (they append
    /// `/v1/{keyspace}` or `/api/json/v1/{keyspace}`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections, let in-flight requests finish (for at
    /// most [`SHUTDOWN_GRACE`], then they are dropped), and close the database.
    pub async fn shutdown(mut self) -> Result<(), ServerError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
            Ok(Ok(r)) => r.map_err(ServerError::Io),
            Ok(Err(e)) => Err(ServerError::Task(e.to_string())),
            Err(_) => {
                tracing::warn!("connections still open after the grace period; dropping them");
                task.abort();
                let _ = task.await;
                Ok(())
            }
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Start the server: open (or create) the database, bind, and serve in a
/// background task on the current Tokio runtime.
pub async fn start(config: ServerConfig) -> Result<ServerHandle, ServerError> {
    if config.page_size == 0 {
        return Err(ServerError::Config("page_size must be > 0".into()));
    }
    if config.max_sort_count == 0 {
        return Err(ServerError::Config("max_sort_count must be > 0".into()));
    }
    let dir = config.data_dir.clone();
    let keyspaces = config.keyspaces.clone();
    let store = tokio::task::spawn_blocking(move || store::Store::open(dir.as_deref(), &keyspaces))
        .await
        .map_err(|e| ServerError::Task(e.to_string()))??;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    let addr = listener.local_addr()?;
    let state = Arc::new(http::AppState {
        store: Arc::new(store),
        limits: commands::Limits {
            page_size: config.page_size,
            max_collections: config.max_collections,
            max_sort_count: config.max_sort_count,
        },
        token: config.token,
    });
    let app = http::router(state);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "Data API server listening");
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}
