//! `songrec list`: songs, with filters.

use anyhow::{Context, Result};
use clap::Args;
use songrec_factory::Backend;
use songrec_storage::query::MAX_PAGE;
use songrec_storage::{ListQuery, SongCount, SortKey, StorageBackendExt};

use crate::args::FilterArgs;
use crate::exit;
use crate::output;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Sort by id, title, artist, created, updated, bpm or duration.
    #[arg(long, default_value = "artist")]
    pub sort: String,
    /// Reverse order.
    #[arg(long)]
    pub desc: bool,
    /// At most this many songs.
    #[arg(short = 'n', long, default_value_t = 50, value_parser = crate::args::at_least_one)]
    pub limit: usize,
    /// Skip this many songs.
    #[arg(long, default_value_t = 0, value_parser = crate::args::count)]
    pub offset: usize,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// `songrec list`.
pub async fn run(args: &ListArgs, backend: Backend) -> Result<u8> {
    let filter = args.filter.to_filter()?;
    let sort: SortKey = args.sort.parse()?;
    let q = ListQuery {
        filter,
        sort,
        descending: args.desc,
        // No bigger pages than the songs shown: `list -n 20` reads 20 songs, not a thousand.
        limit: args.offset.saturating_add(args.limit).clamp(1, MAX_PAGE),
        cursor: None,
    };
    let mut items = Vec::new();
    let (mut skipped, mut seen, mut stopped) = (0usize, 0u64, false);
    backend
        .for_each_page(&q, |page| {
            seen += page.len() as u64;
            for m in page {
                if skipped < args.offset {
                    skipped += 1;
                } else if items.len() < args.limit {
                    items.push(m);
                }
            }
            stopped = items.len() >= args.limit;
            !stopped
        })
        .await
        .context("listing songs")?;
    // A listing that ended is its own count; otherwise one cheap count (exact locally, exact up
    // to 1000 on the cloud, where an exact count of a large library costs a request per
    // thousand songs: `songrec stats` gives it).
    let total = if stopped {
        backend.quick_count(&q.filter).await?.at_least(seen)
    } else {
        SongCount::Exact(seen)
    };
    output::songs(&items, total, args.json)?;
    Ok(exit::OK)
}
