//! `songrec list`: songs, with filters.

use anyhow::{Context, Result};
use clap::Args;
use songrec_factory::Backend;
use songrec_storage::{SortKey, StorageBackendExt};

use crate::args::FilterArgs;
use crate::exit;
use crate::output;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Sort by id, title, artist, created, updated, bpm or duration.
    ///
    /// Titles and artists sort case-insensitively in natural order: numbers in them compare as
    /// numbers (`Track 2` before `Track 10`) up to 20 digits, every 64-bit number. A number of
    /// more than 20 digits compares digit by digit with numbers of 20 digits or more, so
    /// 100000000000000000000 (21 digits) lists before 99999999999999999999 (20 digits).
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

pub async fn run(args: &ListArgs, backend: Backend) -> Result<u8> {
    let filter = args.filter.to_filter()?;
    let sort: SortKey = args.sort.parse()?;
    // Pages no bigger than the songs shown: `list -n 20` reads 20 songs, not a thousand; the
    // total is one cheap count when the listing did not end (exact locally, exact up to 1000 on
    // the cloud, where an exact count of a large library costs a request per thousand songs:
    // `songrec stats` gives it).
    let (items, total) = backend
        .list_window(&filter, sort, args.desc, args.offset, args.limit)
        .await
        .context("listing songs")?;
    output::songs(&items, total, args.json)?;
    Ok(exit::OK)
}
