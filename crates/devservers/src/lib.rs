//! Local servers for trying songrec's cloud backend without an account: an S3-compatible
//! object store ([s3s-fs](https://crates.io/crates/s3s-fs) 0.14.1, which checks SigV4
//! signatures) bound to a loopback address. The Data API stand-in is `songrec-dataapi`
//! (crate `songrec-dataapi-server`).
//!
//! Also a fault-injecting HTTP proxy ([`FaultProxy`], binary `songrec-faultproxy`) to put in
//! front of either server: seeded random 429/503/timeouts/resets before or after forwarding,
//! deterministic rules, and a freeze point for crash tests.

mod error;
mod faultproxy;

pub use error::DevServerError;
pub use faultproxy::{Fault, FaultKind, FaultPlan, FaultProxy, ProxyStats, Rule, When};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;

/// A running S3 server; stops when dropped.
///
/// ```no_run
/// # async fn demo() -> Result<(), songrec_devservers::DevServerError> {
/// let s3 = songrec_devservers::S3Server::start("127.0.0.1:0".parse().unwrap(), "/tmp/s3".as_ref(), &["music"], "AK", "SK").await?;
/// println!("S3 at {}", s3.endpoint());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    root: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl S3Server {
    /// Starts serving `root` (buckets are folders in it; `buckets` are created) on `addr`.
    pub async fn start(
        addr: SocketAddr,
        root: &Path,
        buckets: &[&str],
        access_key: &str,
        secret_key: &str,
    ) -> Result<Self, DevServerError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |source| DevServerError::Io { what, source }
        };
        std::fs::create_dir_all(root).map_err(io("creating the data folder"))?;
        for b in buckets {
            std::fs::create_dir_all(root.join(b)).map_err(io("creating a bucket"))?;
        }
        let fs = s3s_fs::FileSystem::new(root).map_err(|e| DevServerError::S3(format!("{e:?}")))?;
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(access_key, secret_key));
        let service = builder.build();
        let listener = TcpListener::bind(addr)
            .await
            .map_err(io("binding the S3 port"))?;
        let addr = listener
            .local_addr()
            .map_err(io("reading the bound address"))?;
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let service = service.clone();
                tokio::spawn(async move {
                    let conn = ConnBuilder::new(TokioExecutor::new());
                    let _ = conn.serve_connection(TokioIo::new(sock), service).await;
                });
            }
        });
        Ok(Self {
            addr,
            root: root.to_path_buf(),
            task,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
