//! `songrec cache stats | clear | refresh`: the disk cache and offline copies of remote
//! libraries (see `songrec_cache`).

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use songrec_cache::CacheStore;
use songrec_config::Config;
use songrec_factory::{self as factory, Reads};
use songrec_storage::plural::count;

use crate::exit;
use crate::progress::progress_bar;

#[derive(Args, Debug)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub what: CacheWhat,
}

#[derive(Subcommand, Debug)]
pub enum CacheWhat {
    /// Hits, misses, bytes served and fetched, evictions, size; the offline copies and
    /// when they were last synced. Works offline.
    Stats {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
        /// Also check the index against the files (exit 1 if inconsistent).
        #[arg(long)]
        check: bool,
    },
    /// Empty the cache (cached audio and vectors, counters) and the offline copies.
    Clear {
        /// Keep the offline copies of remote libraries.
        #[arg(long)]
        keep_offline: bool,
    },
    /// Copy every song's metadata and vectors of the remote library into its offline copy
    /// (only what changed since the last refresh), so `list`, `show`, `similar` and `stats`
    /// work completely while the remote is unreachable.
    Refresh,
}

/// One offline copy in the cache folder.
#[derive(serde::Serialize)]
struct OfflineCopy {
    remote: String,
    songs: Option<u64>,
    synced_at: Option<String>,
    full_refresh_at: Option<String>,
}

async fn offline_copies(cfg: &Config) -> Vec<OfflineCopy> {
    factory::offline_copies(cfg)
        .await
        .into_iter()
        .map(|c| OfflineCopy {
            remote: c.remote,
            songs: c.songs,
            synced_at: c.status.synced_at().map(|t| t.to_rfc3339()),
            full_refresh_at: c.status.full_refresh_at().map(|t| t.to_rfc3339()),
        })
        .collect()
}

fn open_store(cfg: &Config) -> Result<CacheStore> {
    factory::cache_store(cfg)
        .with_context(|| format!("opening the cache in {}", cfg.cache.path.display()))
}

pub async fn run(args: &CacheArgs, cfg: &Config) -> Result<u8> {
    match &args.what {
        CacheWhat::Stats { json, check } => {
            let store = open_store(cfg)?;
            let stats = store.stats()?;
            let copies = offline_copies(cfg).await;
            let problems = if *check { store.check()? } else { Vec::new() };
            if *json {
                crate::output::print_json(&serde_json::json!({
                    "cache": stats, "offline_copies": copies,
                    "hit_ratio": stats.total.hit_ratio(), "problems": problems}))?;
            } else {
                print!("{stats}");
                for c in &copies {
                    println!(
                        "offline copy {}: {}, last synced {}, last full refresh {}",
                        c.remote,
                        c.songs
                            .map_or_else(|| "? songs".into(), |n| count(n, "song")),
                        c.synced_at.as_deref().unwrap_or("never"),
                        c.full_refresh_at.as_deref().unwrap_or("never")
                    );
                }
                for p in &problems {
                    println!("problem: {p}");
                }
                if *check && problems.is_empty() {
                    println!("check: index and files agree");
                }
            }
            Ok(exit::ok_or(problems.is_empty(), exit::ERROR))
        }
        CacheWhat::Clear { keep_offline } => {
            let freed = open_store(cfg)?.clear()?;
            println!(
                "cleared the cache in {} ({:.1} MB)",
                cfg.cache.path.display(),
                freed as f64 / 1e6
            );
            if !keep_offline {
                remove_tree(&factory::remotes_dir(cfg))?;
                println!("removed the offline copies of remote libraries");
            }
            Ok(exit::OK)
        }
        CacheWhat::Refresh => {
            if !cfg.cache.enabled {
                bail!(
                    "the cache is disabled (--no-cache, SONGREC_CACHE=off or [cache] enabled = false)"
                );
            }
            if cfg.backend == songrec_config::BackendKind::Local {
                bail!(
                    "the {} backend has no offline copy: only remote libraries (--storage-backend astra) are cached",
                    cfg.backend
                );
            }
            println!("{}", refresh_offline(cfg, true).await?);
            Ok(exit::OK)
        }
    }
}

/// Brings the offline copy of the remote library named by `cfg` up to date (every song's
/// metadata and vectors; only what changed is copied) and says what it holds.
pub(crate) async fn refresh_offline(cfg: &Config, bar: bool) -> Result<String> {
    let mut remote = cfg.clone();
    remote.backend = songrec_config::BackendKind::Astra;
    let opened = factory::open(&remote, Reads::RemoteOnly)
        .with_context(|| format!("opening the {}", factory::describe(&remote, remote.backend)))?;
    let Some(offline) = &opened.offline else {
        bail!("the cloud library has no offline copy here (the cache is off)");
    };
    let bar = progress_bar(
        bar,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} songs, eta {eta}",
    );
    let b = bar.clone();
    let report = offline
        .refresh_snapshot(&move |done, total| {
            b.set_length(total);
            b.set_position(done);
        })
        .await
        .context("refreshing the offline copy")?;
    bar.finish_and_clear();
    Ok(format!(
        "offline copy of the {}: {} ({} copied, {}, {} removed, {} unchanged)",
        opened.description,
        count(report.songs, "song"),
        report.copied,
        count(report.vectors, "vector"),
        report.removed,
        report.unchanged
    ))
}

fn remove_tree(p: &Path) -> Result<()> {
    match std::fs::remove_dir_all(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("removing {}", p.display())),
    }
}
