//! `songrec stats`: library statistics (and the disk cache's, for a remote library).

use anyhow::Result;
use songrec_factory::Opened;

use crate::args::JsonFlag;
use crate::exit;
use crate::output;

pub async fn run(j: &JsonFlag, opened: &Opened) -> Result<u8> {
    let backend = opened.backend.clone();
    let stats = songrec_app::stats::library_stats(backend.as_ref()).await?;
    let cache = opened.cache.as_ref().and_then(|c| c.stats().ok());
    output::stats(&opened.description, &stats, cache.as_ref(), j.json)?;
    Ok(exit::OK)
}
