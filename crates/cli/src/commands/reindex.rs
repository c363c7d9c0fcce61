//! `songrec reindex`: rebuild the local vector index from the .npy files.

use anyhow::Result;
use songrec_config::Config;
use songrec_factory as factory;

use crate::exit;

/// `songrec reindex`.
pub async fn run(cfg: &Config) -> Result<u8> {
    let local = factory::open_local_for_reindex(cfg)?;
    local.reindex().await?;
    println!("rebuilt the vector index of {local}");
    Ok(exit::OK)
}
