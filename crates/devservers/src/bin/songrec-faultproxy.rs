//! `songrec-faultproxy`: a fault-injecting HTTP proxy on a loopback port, in front of
//! `songrec-dataapi` or `songrec-s3`, for trying songrec's retries by hand.
//!
//! ```text
//! songrec-faultproxy --upstream 127.0.0.1:8181 --ratio 0.2 --seed 7
//! songrec-faultproxy --upstream 127.0.0.1:9000 --ratio 0.3 --faults 503,reset --when after
//! ```

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::Parser;
use songrec_devservers::{Fault, FaultKind, FaultPlan, FaultProxy, When};

/// Forward HTTP to an upstream on 127.0.0.1, failing a seeded share of requests.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Upstream address, e.g. 127.0.0.1:8181.
    #[arg(long)]
    upstream: SocketAddr,
    /// Address to bind (loopback only by default).
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port (0 = any free port; the bound address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Share of requests to fail, 0..1.
    #[arg(long, default_value_t = 0.2)]
    ratio: f64,
    /// Seed of the fault sequence.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fault kinds: 429, 503, timeout, reset (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec!["429".to_owned(), "503".into(), "timeout".into(), "reset".into()])]
    faults: Vec<String>,
    /// When faults strike: before, after or both (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = vec!["before".to_owned(), "after".into()])]
    when: Vec<String>,
    /// Retry-After seconds sent with 429.
    #[arg(long, default_value_t = 0)]
    retry_after: u32,
    /// Longest time a "timeout" holds a connection, seconds.
    #[arg(long, default_value_t = 60)]
    hold_secs: u64,
    /// Only fail requests containing this text (request line, headers or body).
    #[arg(long)]
    only: Option<String>,
    /// Hold every request after the first N (for crash experiments).
    #[arg(long)]
    freeze_after: Option<usize>,
}

fn plan(a: &Args) -> Result<FaultPlan, String> {
    let mut kinds = Vec::new();
    for f in &a.faults {
        kinds.push(match f.trim() {
            "429" => FaultKind::TooManyRequests {
                retry_after_secs: a.retry_after,
            },
            "503" => FaultKind::ServiceUnavailable,
            "timeout" => FaultKind::Timeout,
            "reset" => FaultKind::Reset,
            other => {
                return Err(format!(
                    "unknown fault {other:?}: use 429, 503, timeout, reset"
                ));
            }
        });
    }
    let mut whens = Vec::new();
    for w in &a.when {
        whens.push(match w.trim() {
            "before" => When::Before,
            "after" => When::After,
            other => return Err(format!("unknown --when {other:?}: use before, after")),
        });
    }
    let faults: Vec<Fault> = whens
        .iter()
        .flat_map(|w| kinds.iter().map(|k| Fault::new(*k, *w)))
        .collect();
    if faults.is_empty() {
        return Err("give at least one fault kind and one --when".into());
    }
    let mut p = FaultPlan::random(a.seed, a.ratio)
        .with_faults(faults)
        .with_hold(Duration::from_secs(a.hold_secs));
    if let Some(o) = &a.only {
        p = p.only_matching(o.clone());
    }
    if let Some(n) = a.freeze_after {
        p = p.freeze_after(n, When::Before);
    }
    Ok(p)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let a = Args::parse();
    let plan = match plan(&a) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("songrec-faultproxy: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let proxy = match FaultProxy::start_on(SocketAddr::new(a.host, a.port), a.upstream, plan).await
    {
        Ok(p) => p,
        Err(e) => {
            eprintln!("songrec-faultproxy: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!("listening on {} -> {}", proxy.base_url(), a.upstream);
    let _ = tokio::signal::ctrl_c().await;
    let s = proxy.stats();
    println!(
        "{} requests, {} forwarded, {} faults injected",
        s.requests, s.forwarded, s.injected
    );
    std::process::ExitCode::SUCCESS
}
