//! `songrec-s3`: an S3-compatible server (s3s-fs, SigV4 enforced) on a loopback port, for
//! trying and testing songrec's cloud backend offline.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;

/// Serve a folder over the S3 protocol on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Address to bind (loopback only by default).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0 = any free port; the bound address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Folder holding the buckets.
    #[arg(long)]
    data_dir: PathBuf,
    /// Buckets to create.
    #[arg(long = "bucket")]
    buckets: Vec<String>,
    /// Access key id clients must sign with.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key: String,
    /// Secret key clients must sign with (prefer the environment variable).
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_key: String,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let buckets: Vec<&str> = a.buckets.iter().map(String::as_str).collect();
    let server = match songrec_devservers::S3Server::start(
        SocketAddr::new(a.host, a.port),
        &a.data_dir,
        &buckets,
        &a.access_key,
        &a.secret_key,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("songrec-s3: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {}", server.endpoint());
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
